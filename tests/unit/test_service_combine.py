"""Query parts combined into one vector: the weighted sum of unit vectors minus the counter-examples."""

import numpy as np
import pytest

from stockmind.service.combine import EmptyQuery, Weights, combine
from stockmind.service.text_vectors import TextVectors

E = np.eye(4, dtype=np.float32)


def test_one_part_alone_is_its_own_direction():
    np.testing.assert_allclose(combine(text=3 * E[0]), E[0])
    np.testing.assert_allclose(combine(positive=[E[1], E[1]]), E[1])


def test_parts_add_by_weight_and_counter_examples_subtract():
    vector = combine(text=E[0], positive=[E[1]], negative=[E[2]], weights=Weights(text=2, positive=1, negative=1))
    np.testing.assert_allclose(vector, np.array([2, 1, -1, 0]) / np.sqrt(6), rtol=1e-6)


def test_examples_average_before_they_weigh_in():
    vector = combine(text=E[0], positive=[E[1], E[2]])
    mean = (E[1] + E[2]) / np.sqrt(2)
    np.testing.assert_allclose(vector, (E[0] + mean) / np.linalg.norm(E[0] + mean), rtol=1e-6)


@pytest.mark.parametrize("parts", [{}, {"negative": [E[0]]},
                                   {"text": E[0], "negative": [E[0]], "weights": Weights(negative=1)}])
def test_nothing_to_search_with_is_an_empty_query(parts):
    with pytest.raises(EmptyQuery):
        combine(**parts)


class LengthEmbedder:
    """Each text's vector is its length, `dim` times over; `calls` lists what each forward pass got."""

    def __init__(self, model_id: str = "m", dim: int = 2):
        self.model_id, self.dim, self.calls = model_id, dim, []

    def embed_texts(self, texts):
        self.calls.append(list(texts))
        return np.stack([np.full(self.dim, float(len(t)), np.float32) for t in texts])


def test_text_vectors_embed_what_they_lack_in_one_call_and_evict_the_oldest():
    embedder = LengthEmbedder()
    cache = TextVectors(size=2)
    first = cache.get_many(embedder, ["a", "bb", "a"])
    assert embedder.calls == [["a", "bb"]] and [v[0] for v in first] == [1, 2, 1]
    cache.get_many(embedder, ["bb", "ccc"])
    assert embedder.calls[-1] == ["ccc"]
    cache.get(embedder, "a")  # evicted by "ccc" (the least recently used)
    assert embedder.calls[-1] == ["a"] and not first[0].flags.writeable


def test_text_vectors_of_one_text_are_kept_per_model():
    small, large = LengthEmbedder("small", dim=2), LengthEmbedder("large", dim=3)
    cache = TextVectors()
    assert cache.get(small, "red").shape == (2,)
    assert cache.get(large, "red").shape == (3,)  # not the other model's cached vector
    assert cache.get(small, "red").shape == (2,)
    assert small.calls == [["red"]] and large.calls == [["red"]]

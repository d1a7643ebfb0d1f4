"""Pure checks of the store's boundary: vector validation and partition names."""

import numpy as np
import pytest

from stockmind.errors import InvalidVector
from stockmind.media.keys import parse_media_key
from stockmind.store import MediaVectors
from stockmind.store.partitions import partition_suffix
from stockmind.store.validation import check_dim, checked_vectors


def item(vectors, timestamps=None) -> MediaVectors:
    matrix = np.asarray(vectors)
    return MediaVectors(
        ref=parse_media_key("clients/acme/products/sku/media/image/a.jpg"), bucket="b", etag="e",
        model_id="m", vectors=matrix, timestamps=timestamps if timestamps is not None else [None] * len(matrix),
    )


def test_vectors_come_back_unit_norm_float32():
    vectors = checked_vectors(item([[3.0, 4.0], [0.0, 2.0]]))

    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 1.0]])


@pytest.mark.parametrize(
    "vectors, message",
    [
        ([1.0, 2.0], r"expected a non-empty \(N, D\) array"),
        ([["a", "b"]], "not numbers"),
        ([[1.0, float("nan")]], "vector 0 contains NaN"),
        ([[1.0, 1.0], [1e39, 1.0]], "vector 1 contains NaN or infinity"),
        ([[1.0, 1.0], [0.0, 0.0]], "vector 1 is zero"),
        (np.ones((1, 4001)), "exceed the 4000-d limit"),
    ],
)
def test_malformed_vectors_raise_invalid_vector_naming_the_media(vectors, message):
    with pytest.raises(InvalidVector, match=message) as raised:
        checked_vectors(item(vectors, timestamps=[None] * max(1, len(vectors))))
    assert "b/clients/acme/products/sku/media/image/a.jpg" in str(raised.value)


def test_a_dimension_other_than_the_models_is_refused_naming_where():
    with pytest.raises(InvalidVector, match="b/a.jpg: expected 3-d vectors for model 'm', got 2-d"):
        check_dim(2, 3, "m", "b/a.jpg")
    check_dim(3, 3, "m", "b/a.jpg")


def test_partition_suffixes_are_valid_identifiers_and_distinct_for_similar_ids():
    names = {partition_suffix(client) for client in ["Acme", "acme", "ac-me", "ac me", "a" * 200, "ü客户"]}

    assert len(names) == 6
    assert all(len(f"embeddings_p_{name}_hnsw_12345678") <= 63 for name in names)
    assert all(name.replace("_", "").isalnum() and name.isascii() for name in names)

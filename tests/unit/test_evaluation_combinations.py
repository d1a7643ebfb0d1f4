import numpy as np
import pytest

from stockmind.evaluation.combinations import (
    BEST_SCORE,
    EXAMPLES,
    REFINE,
    WEIGHTED_SUM,
    Photos,
    Strategy,
    Task,
    best,
    best_scores,
    paired,
    refine_tasks,
    run,
    similar,
    table,
    weight_grid,
)
from stockmind.service.combine import Weights, combine


def _unit(*rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _sigmoid(x):  # Qdrant's scaled_fast_sigmoid
    return 0.5 * (x / (1 + abs(x)) + 1)


def test_best_score_takes_the_best_positive_when_it_beats_the_best_negative():
    candidates = _unit([1, 0], [0, 1], [1, 1])
    positive, negative = _unit([1, 0], [0.9, 0.1]), _unit([0, 1])
    scores = best_scores(candidates, positive, negative)
    assert scores[0] == pytest.approx(_sigmoid(1.0))
    assert scores[1] == pytest.approx(-_sigmoid(1.0))  # the negative itself: last
    assert scores[2] == pytest.approx(_sigmoid(float(candidates[2] @ positive[1])))


def test_best_score_ranks_every_positive_winner_above_every_negative_winner_and_those_by_distance():
    candidates = _unit([1, 0.2], [0.1, 1], [-1, 1], [0, 1])
    scores = best_scores(candidates, _unit([1, 0]), _unit([0, 1]))
    assert list(np.argsort(-scores)) == [0, 2, 1, 3]  # [-1, 1] is farther from the negative than [0.1, 1]


def test_best_score_ties_go_to_the_negative_and_without_negatives_it_is_the_best_positive():
    candidates = _unit([1, 1])
    assert best_scores(candidates, _unit([1, 0]), _unit([0, 1]))[0] == pytest.approx(-_sigmoid(np.sqrt(0.5)))
    assert best_scores(candidates, _unit([1, 0]), np.zeros((0, 2)))[0] == pytest.approx(_sigmoid(np.sqrt(0.5)))
    with pytest.raises(ValueError, match="positive"):
        best_scores(candidates, np.zeros((0, 2)), _unit([0, 1]))


def test_the_weighted_sum_strategy_ranks_by_the_services_combined_vector():
    candidates, text, positive, negative = _unit([1, 0, 0], [0, 1, 0], [0, 0, 1]), _unit([1, 1, 0])[0], \
        _unit([0, 1, 0]), _unit([1, 0, 0])
    weights = Weights(negative=1.0)
    scores = Strategy(WEIGHTED_SUM, weights).scores(candidates, text, positive, negative)
    np.testing.assert_allclose(scores, candidates @ combine(text=text, positive=list(positive),
                                                           negative=list(negative), weights=weights))
    assert int(np.argmax(scores)) == 1


def test_similar_products_differ_in_exactly_one_word():
    assert similar("red circle", "blue circle") and similar("red circle", "red star")
    assert not similar("red circle", "blue star")
    assert not similar("red circle", "red circle")
    assert not similar("red", "blue")


PHOTOS = Photos("acme", tuple(f"clients/acme/products/SKU-{i // 2}/media/image/{i}.jpg" for i in range(8)),
                ("red circle", "red circle", "red circle", "blue circle", "blue circle", "green star", "green star",
                 "red circle"),
                _unit([1, 0, 0], [0.9, 0.1, 0], [0.8, 0, 0.2], [0.7, 0.7, 0], [0.6, 0.8, 0], [0, 0, 1], [0, 0.1, 1],
                      [0.95, 0, 0.05]))
QUERIES = {"red circle": "a red circle", "blue circle": "a blue circle", "green star": "a green star"}


def test_refine_tasks_keep_a_photo_to_find_and_take_negatives_from_a_similar_product():
    tasks = refine_tasks(PHOTOS, QUERIES, per_product=5, seed=1)
    assert {t.label for t in tasks} == {"red circle", "blue circle"}  # the green star has no similar product
    for task in tasks:
        assert 1 <= len(task.positive) <= min(3, len(PHOTOS.of(task.label)) - 1)
        assert all(PHOTOS.labels[i] == task.label for i in task.positive)
        assert 1 <= len(task.negative) <= 2 and all(similar(task.label, PHOTOS.labels[i]) for i in task.negative)
        assert task.kind == REFINE and task.text == QUERIES[task.label]
    assert tasks == refine_tasks(PHOTOS, QUERIES, per_product=5, seed=1)
    without = refine_tasks(PHOTOS, QUERIES, per_product=5, seed=1, with_text=False)
    assert [(t.positive, t.negative) for t in without] == [(t.positive, t.negative) for t in tasks]
    assert all(t.kind == EXAMPLES and t.text is None for t in without)


def test_a_run_leaves_the_examples_out_and_tables_each_strategy_with_its_query_count():
    tasks = [Task(REFINE, "acme", "red circle", "a red circle", (0,), (3,)),
             Task(REFINE, "acme", "blue circle", "a blue circle", (4,), (1, 2))]
    texts = {"a red circle": _unit([1, 0.2, 0])[0], "a blue circle": _unit([0.6, 0.8, 0])[0]}
    strategies = weight_grid(positive=[1.0], negative=[0.0, 1.0])
    outcomes = run({"acme": PHOTOS}, tasks, strategies, texts)
    assert len(outcomes) == 2 * 3
    for outcome in outcomes:
        examples = {PHOTOS.keys[i] for i in outcome.task.positive + outcome.task.negative}
        assert not examples & {hit.key for hit in outcome.hits}
    assert all(len(o.hits) == len(PHOTOS.keys) - len(o.task.positive) - len(o.task.negative) for o in outcomes)
    rows = table(outcomes)
    assert len(rows) == 3 and all(row["queries"] == 2 for row in rows)
    assert {row["strategy"] for row in rows} == {WEIGHTED_SUM, BEST_SCORE}
    top = best(rows, REFINE)
    assert top["MRR"] == max(row["MRR"] for row in rows)
    assert 0 <= top["recall@1"] <= top["recall@5"] <= top["sku recall@5"] <= 1
    a_wins, b_wins, ties = paired(outcomes, strategies[0], strategies[-1], REFINE)
    assert a_wins + b_wins + ties == 2
    with pytest.raises(ValueError, match="no rows"):
        best(rows, EXAMPLES)


def test_photos_need_one_vector_and_one_label_per_key():
    with pytest.raises(ValueError, match="one vector and one label per key"):
        Photos("acme", ("k",), ("red circle",), np.zeros((2, 3)))


def test_ties_rank_in_key_order_and_a_text_only_baseline_skips_tasks_without_a_text():
    tied = Photos("acme", ("clients/acme/products/B/media/image/b.jpg", "clients/acme/products/A/media/image/a.jpg"),
                  ("red circle", "red circle"), _unit([1, 0], [1, 0]))
    with_text = Task(REFINE, "acme", "red circle", "a red circle", (), ())
    without = Task(EXAMPLES, "acme", "red circle", None, (0,), ())
    text_only = Strategy(WEIGHTED_SUM, Weights(positive=0.0, negative=0.0))
    outcomes = run({"acme": tied}, [with_text, without], [text_only], {"a red circle": _unit([1, 0])[0]})
    assert [(o.task.kind, [h.sku for h in o.hits]) for o in outcomes] == [(REFINE, ["A", "B"])]

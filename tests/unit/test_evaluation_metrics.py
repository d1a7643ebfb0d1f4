import math

import pytest

from stockmind.evaluation.metrics import (
    latency_summary,
    mean_reciprocal_rank,
    overlap_recall,
    precision_at_k,
    rate,
    recall_at_k,
)


def test_recall_at_k_counts_queries_with_any_relevant_result_in_the_top_k():
    relevance = [[False, True, False], [False, False, False], [True]]
    assert recall_at_k(relevance, 1) == pytest.approx(1 / 3)
    assert recall_at_k(relevance, 2) == pytest.approx(2 / 3)


def test_precision_at_k_divides_by_k_even_when_fewer_results_came_back():
    relevance = [[True, True], [True, False, False, False, True]]
    assert precision_at_k(relevance, 4) == pytest.approx((2 / 4 + 1 / 4) / 2)


@pytest.mark.parametrize("measure", [recall_at_k, precision_at_k])
def test_measures_refuse_k_below_one_and_no_queries(measure):
    with pytest.raises(ValueError, match="k must be at least 1"):
        measure([[True]], 0)
    with pytest.raises(ValueError, match="at least one query"):
        measure([], 5)


def test_mean_reciprocal_rank_is_one_over_the_first_relevant_rank_and_zero_without_one():
    assert mean_reciprocal_rank([[True, False], [False, False, True], [False], []]) == pytest.approx((1 + 1 / 3) / 4)
    with pytest.raises(ValueError, match="at least one query"):
        mean_reciprocal_rank([])


def test_overlap_recall_is_the_share_of_the_exact_top_k_found():
    exact = [["a", "b", "c", "d"], ["x", "y"]]
    approximate = [["a", "c", "z", "q"], ["y", "x"]]
    assert overlap_recall(approximate, exact, 4) == pytest.approx((2 / 4 + 1.0) / 2)


def test_overlap_recall_ignores_order_and_queries_with_no_exact_result():
    assert overlap_recall([["b", "a"], []], [["a", "b"], []], 2) == 1.0
    with pytest.raises(ValueError, match="as many"):
        overlap_recall([["a"]], [["a"], ["b"]], 1)


def test_latency_summary_reports_percentiles_in_milliseconds():
    summary = latency_summary([i / 1000 for i in range(1, 101)])
    assert summary["n"] == 100
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p99_ms"] == pytest.approx(99.01)
    assert summary["mean_ms"] == pytest.approx(50.5)


@pytest.mark.parametrize("values", [[], [0.1, math.nan], [-0.1]])
def test_latency_summary_refuses_empty_or_invalid_durations(values):
    with pytest.raises(ValueError):
        latency_summary(values)


def test_rate_is_items_per_second_and_zero_for_nothing_in_no_time():
    assert rate(10, 2.0) == 5.0
    assert rate(0, 0.0) == 0.0
    with pytest.raises(ValueError, match="no finite rate"):
        rate(3, 0.0)


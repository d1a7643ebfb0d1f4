"""Retrieval and speed measures: pure functions over ranked relevance lists and timings.

A ranked relevance list holds, for one query, whether each returned result (best first) is
relevant. Lists may be shorter than k (a tenant with few media); a missing result is not relevant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES = (50, 95, 99)


def recall_at_k(relevance: Sequence[Sequence[bool]], k: int) -> float:
    """The share of queries with at least one relevant result among their top k."""
    _check(relevance, k)
    return float(np.mean([any(ranked[:k]) for ranked in relevance]))


def precision_at_k(relevance: Sequence[Sequence[bool]], k: int) -> float:
    """The mean over queries of (relevant results among the top k) / k."""
    _check(relevance, k)
    return float(np.mean([sum(bool(hit) for hit in ranked[:k]) / k for ranked in relevance]))


def mean_reciprocal_rank(relevance: Sequence[Sequence[bool]]) -> float:
    """The mean over queries of 1 / (rank of the first relevant result), 0 for a query with none:
    where recall@k no longer tells two rankings apart, how high the first hit is still does."""
    if len(relevance) == 0:
        raise ValueError("expected at least one query")
    return float(np.mean([next((1 / rank for rank, hit in enumerate(ranked, start=1) if hit), 0.0)
                          for ranked in relevance]))


def overlap_recall(approximate: Sequence[Sequence[str]], exact: Sequence[Sequence[str]], k: int) -> float:
    """How much of the exact top k an approximate search finds, averaged over queries
    (the usual "recall" of an ANN index against brute force)."""
    if len(approximate) != len(exact):
        raise ValueError(f"expected as many approximate as exact result lists, got {len(approximate)} and {len(exact)}")
    _check(exact, k)
    shares = [len(set(found[:k]) & set(truth[:k])) / len(truth[:k]) for found, truth in zip(approximate, exact)
              if len(truth) > 0]
    if not shares:
        raise ValueError("every exact result list is empty")
    return float(np.mean(shares))


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean in milliseconds, plus the sample count."""
    values = np.asarray(seconds, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("expected a non-empty list of durations")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("expected finite, non-negative durations")
    summary = {f"p{p}_ms": float(np.percentile(values, p) * 1000) for p in PERCENTILES}
    return summary | {"mean_ms": float(values.mean() * 1000), "n": int(len(values))}


def rate(count: int, seconds: float) -> float:
    """Items per second; 0 items in 0 s is 0/s."""
    if count < 0 or seconds < 0:
        raise ValueError(f"expected a non-negative count and duration, got {count} in {seconds} s")
    if seconds == 0:
        if count:
            raise ValueError(f"{count} items in 0 s has no finite rate")
        return 0.0
    return count / seconds


def _check(lists: Sequence[Sequence], k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(lists) == 0:
        raise ValueError("expected at least one query")

"""StreamMetrics' summary: what `stats()` returns and the job logs at exit."""

import json

import pytest

from stockmind.stream.metrics import COUNTERS, STAGES, StreamMetrics


def test_snapshot_sums_counts_stage_seconds_batches_and_lag_percentiles():
    metrics = StreamMetrics(prefix="test_stream_metrics")
    metrics.count("received", 3)
    metrics.count("succeeded")
    metrics.count("dlq", 0)
    metrics.stage("embed", 0.5)
    metrics.stage("embed", 0.25)
    for rows in (8, 16):
        metrics.batch(rows)
    for lag in range(1, 101):
        metrics.lag(float(lag))

    snapshot = metrics.snapshot()

    assert set(snapshot["counts"]) == set(COUNTERS) and set(snapshot["stage_seconds"]) == set(STAGES)
    assert (snapshot["counts"]["received"], snapshot["counts"]["succeeded"], snapshot["counts"]["dlq"]) == (3, 1, 0)
    assert snapshot["stage_seconds"]["embed"] == pytest.approx(0.75)
    assert snapshot["stage_calls"]["embed"] == 2
    assert (snapshot["batches"], snapshot["mean_batch_rows"]) == (2, 12.0)
    assert snapshot["lag_p50_s"] == pytest.approx(50.5)
    assert snapshot["lag_p99_s"] == pytest.approx(99.01)
    json.dumps(snapshot)  # plain JSON for the job's log line and --stats-file


def test_an_empty_run_has_no_lag_figures():
    snapshot = StreamMetrics(prefix="test_stream_metrics_empty").snapshot()
    assert snapshot["lag_p50_s"] is None and snapshot["mean_batch_rows"] == 0.0

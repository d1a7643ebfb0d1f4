"""How N ingestors share a run: the message budget split between them, and their stats merged."""

import pytest

from stockmind.stream.options import StreamOptions
from stockmind.stream.pipeline import merge_stats, split_options


def test_max_messages_is_shared_out_so_the_total_is_as_asked():
    assert [o.max_messages for o in split_options(StreamOptions(max_messages=7), 3)] == [3, 2, 2]
    assert [o.max_messages for o in split_options(StreamOptions(max_messages=1), 3)] == [1]
    assert [o.max_messages for o in split_options(StreamOptions(), 2)] == [None, None]


def test_merged_stats_sum_the_counts_and_keep_each_ingestors_own():
    def run(received, batches, mean_rows, lag, node):
        return {"counts": {"received": received, "dlq": 1}, "stage_seconds": {"embed": 1.5},
                "stage_calls": {"embed": batches}, "batches": batches, "mean_batch_rows": mean_rows,
                "lag_p50_s": lag, "lag_p99_s": lag, "in_flight": 0, "elapsed_s": 10.0 + received,
                "model_id": "m", "node_id": node, "pid": 1}

    runs = [run(3, 1, 2.0, 0.5, "a"), run(5, 3, 4.0, None, "b")]
    merged = merge_stats(runs)

    assert merged["counts"] == {"received": 8, "dlq": 2}
    assert merged["stage_seconds"] == {"embed": 3.0} and merged["stage_calls"] == {"embed": 4}
    assert merged["mean_batch_rows"] == pytest.approx(3.5)
    assert (merged["lag_p50_s"], merged["elapsed_s"], merged["model_id"]) == (0.5, 15.0, "m")
    assert "node_id" not in merged and merged["ingestors"] == runs


def test_merged_stats_sum_each_models_objects_and_say_when_the_ingestors_pools_differ():
    def run(written, missed, pool, tenants):
        models = {"m": {"role": "stream", "pool": "ready", "tenants": 1, "written": 2, "missed": 0},
                  "h": {"role": "held", "pool": pool, "tenants": tenants, "written": written, "missed": missed}}
        return {"counts": {}, "stage_seconds": {}, "stage_calls": {}, "batches": 0, "mean_batch_rows": 0.0,
                "lag_p50_s": None, "lag_p99_s": None, "in_flight": 0, "elapsed_s": 1.0, "models": models}

    merged = merge_stats([run(3, 0, "ready", 2), run(0, 4, "loading", 1)])["models"]

    assert merged["m"] == {"role": "stream", "pool": "ready", "tenants": 1, "written": 4, "missed": 0}
    assert merged["h"] == {"role": "held", "pool": "loading,ready", "tenants": 2, "written": 3, "missed": 4}

"""What the stream did, twice over: Ray metrics for dashboards (Prometheus via Ray's metrics agent)
and an in-process summary that `stats()` returns and the job logs at exit (the evaluation notebook
reads it after a run).

Counters: messages received/succeeded/failed/sent to the DLQ/retried/skipped (s3:TestEvent),
objects and frames embedded, media removed; per model, objects written with it and objects written
without it (its pool was not loaded yet). Histograms: batch sizes, seconds per stage (receive,
fetch, decode, embed, write, delete), and the lag from the S3 event time to the commit.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import numpy as np

COUNTERS = {
    "received": "SQS messages received",
    "succeeded": "messages whose rows were committed and that were deleted from the queue",
    "failed": "messages that did not succeed this time (sent to the DLQ, or released for a retry)",
    "dlq": "poison messages sent to the dead-letter queue",
    "retried": "messages released after a transient failure, to be retried after a backoff",
    "skipped": "messages deleted without work (s3:TestEvent, superseded versions)",
    "objects_embedded": "media objects whose vectors were committed",
    "frames_embedded": "vectors committed (one per image, one per sampled video frame)",
    "media_removed": "media removed by ObjectRemoved events",
}
# embed_held: a whole object embedded by the pool of a held model other than the stream's own.
STAGES = ("receive", "fetch", "decode", "embed", "embed_held", "write", "delete")
MODEL_OUTCOMES = {
    "written": "objects whose vectors of this model were committed",
    "missed": "objects committed without this model's vectors: its tenant holds it, its pool was not loaded",
}
_SECONDS_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
_BATCH_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64, 128, 256]


class StreamMetrics:
    def __init__(self, prefix: str = "stockmind_stream"):
        # Imported here, not at module level: importing Ray freezes its RAY_* settings (see __init__).
        from ray.util import metrics as ray_metrics

        self._lock = threading.Lock()
        self._counts: dict[str, int] = defaultdict(int)
        self._stage_seconds: dict[str, float] = defaultdict(float)
        self._stage_calls: dict[str, int] = defaultdict(int)
        self._batch_rows: list[int] = []
        self._lags: list[float] = []
        self._model_counts: dict[str, dict[str, int]] = {}
        self._model_counter = ray_metrics.Counter(
            f"{prefix}_model_objects_total", description="objects per model: " + "; ".join(
                f"{name}: {text}" for name, text in MODEL_OUTCOMES.items()), tag_keys=("model", "outcome"),
        )
        self._counters = {
            name: ray_metrics.Counter(f"{prefix}_{name}_total", description=text) for name, text in COUNTERS.items()
        }
        self._stage_histogram = ray_metrics.Histogram(
            f"{prefix}_stage_seconds", description="seconds spent per stage and call",
            boundaries=_SECONDS_BOUNDARIES, tag_keys=("stage",),
        )
        self._batch_histogram = ray_metrics.Histogram(
            f"{prefix}_batch_rows", description="rows per embedder batch", boundaries=_BATCH_BOUNDARIES,
        )
        self._lag_histogram = ray_metrics.Histogram(
            f"{prefix}_lag_seconds", description="S3 event time to commit", boundaries=_SECONDS_BOUNDARIES,
        )

    def count(self, name: str, amount: int = 1) -> None:
        if amount <= 0:
            return
        with self._lock:
            self._counts[name] += amount
        self._counters[name].inc(amount)

    def model_count(self, model: str, outcome: str, amount: int = 1) -> None:
        if outcome not in MODEL_OUTCOMES:
            raise ValueError(f"expected one of {sorted(MODEL_OUTCOMES)}, got {outcome!r}")
        with self._lock:
            counts = self._model_counts.setdefault(model, dict.fromkeys(MODEL_OUTCOMES, 0))
            counts[outcome] += amount
        self._model_counter.inc(amount, tags={"model": model, "outcome": outcome})

    def stage(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._stage_seconds[stage] += seconds
            self._stage_calls[stage] += 1
        self._stage_histogram.observe(seconds, tags={"stage": stage})

    def batch(self, rows: int) -> None:
        with self._lock:
            self._batch_rows.append(rows)
        self._batch_histogram.observe(rows)

    def lag(self, seconds: float) -> None:
        with self._lock:
            self._lags.append(seconds)
        self._lag_histogram.observe(seconds)

    def snapshot(self) -> dict:
        """Counts, per-stage total seconds and calls, batch sizes and lag percentiles (plain JSON)."""
        with self._lock:
            return {
                "counts": {name: self._counts.get(name, 0) for name in COUNTERS},
                "stage_seconds": {stage: round(self._stage_seconds.get(stage, 0.0), 6) for stage in STAGES},
                "stage_calls": {stage: self._stage_calls.get(stage, 0) for stage in STAGES},
                "batches": len(self._batch_rows),
                "mean_batch_rows": float(np.mean(self._batch_rows)) if self._batch_rows else 0.0,
                "lag_p50_s": _percentile(self._lags, 50),
                "lag_p99_s": _percentile(self._lags, 99),
                "models": {model: dict(counts) for model, counts in sorted(self._model_counts.items())},
            }


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None

"""The streaming job's Ray wiring: N ingestors as threaded actors spread across the nodes (each owns
its embedder pool; they share the one queue, SQS hands each message to one of them), and a
driver-side supervisor that forwards a shutdown request to all, restarts the `run` of one that
crashed, and merges their stats once every one has finished.

The actors need the S3/SQS endpoint and credentials the driver sees: on the local stack those are
environment variables that the Ray head was not started with, so they travel in their runtime_env.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import ray
from ray.exceptions import RayActorError

from stockmind.config import Settings
from stockmind.ray_env import worker_runtime_env
from stockmind.stream.ingestor import StreamIngestor
from stockmind.stream.options import StreamOptions
from stockmind.stream.shutdown import ShutdownRequest

log = logging.getLogger(__name__)

# `run`, `stop` and `stats` must be able to run at the same time in the actor.
ACTOR_CONCURRENCY = 4
MAX_RESTARTS = 3
# How soon a SIGTERM reaches the ingestors (`ray job stop` kills the job a few seconds after it).
POLL_S = 0.1
# Of the head's custom resource (cluster.yaml declares 1): room for several streams side by side.
INGESTOR_RESOURCE_SHARE = 0.01
# After one ingestor failed for good, how long the others get to release what they hold.
STOP_OTHERS_S = 60.0
# Stats that describe one ingestor only: they stay in the merged stats' `ingestors` list.
PER_INGESTOR = ("node_id", "pid")


class IngestorActor(StreamIngestor):
    """The ingestor as a Ray actor: its stats also say where it ran."""

    def stats(self) -> dict:
        return {**super().stats(), "node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}


def ingestor_placement(settings: Settings, num_cpus: float = 0.5) -> dict:
    """Ray options that keep the ingestor on CPU capacity: no GPU, and on a cluster the head's custom
    resource (STOCKMIND_INGESTOR_RESOURCE), so it never takes CPUs that a GPU worker's embedder needs."""
    resources = {settings.ingestor_resource: INGESTOR_RESOURCE_SHARE} if settings.ingestor_resource else {}
    return {"num_cpus": num_cpus, "num_gpus": 0, "resources": resources}


def start_ingestors(settings: Settings, options: StreamOptions, num_cpus: float = 0.5) -> list:
    """`settings.ingestors` ingestor actors on as many nodes as can hold them (each builds its own
    embedder pool); Ray restarts one whose process dies. A `max_messages` is split between them."""
    actor_class = ray.remote(IngestorActor).options(
        **ingestor_placement(settings, num_cpus), scheduling_strategy="SPREAD", max_concurrency=ACTOR_CONCURRENCY,
        max_restarts=MAX_RESTARTS, runtime_env=worker_runtime_env(),
    )
    return [actor_class.remote(settings, share) for share in split_options(options, settings.ingestors)]


def split_options(options: StreamOptions, ingestors: int) -> list[StreamOptions]:
    """One `StreamOptions` per ingestor: `max_messages` is shared out so that the total is as asked
    (fewer ingestors start than asked for when there are fewer messages than ingestors)."""
    if options.max_messages is None:
        return [options] * ingestors
    count = min(ingestors, options.max_messages)
    share, extra = divmod(options.max_messages, count)
    return [dataclasses.replace(options, max_messages=share + (n < extra)) for n in range(count)]


@dataclasses.dataclass
class _Supervised:
    actor: object
    run: ray.ObjectRef
    restarts: int = 0
    stop_sent: bool = False
    stats: dict | None = None


def run_stream(settings: Settings, options: StreamOptions, shutdown: ShutdownRequest,
               ingestor_num_cpus: float = 0.5) -> dict:
    """Run the stream until every ingestor ends by itself or `shutdown` is requested; returns the
    merged stats (`merge_stats`)."""
    ingestors = [_Supervised(actor, actor.run.remote())
                 for actor in start_ingestors(settings, options, ingestor_num_cpus)]
    try:
        while running := {i.run: i for i in ingestors if i.stats is None}:
            done, _ = ray.wait(list(running), num_returns=len(running), timeout=POLL_S)
            for ref in done:
                _settle(running[ref], shutdown)
            if shutdown.requested:
                _send_stop(ingestors)
    except BaseException:
        _stop_others(ingestors)
        raise
    return merge_stats([i.stats for i in ingestors])


def _settle(ingestor: _Supervised, shutdown: ShutdownRequest) -> None:
    """Record a finished `run`'s stats, or start it again if the actor died (Ray restarted it)."""
    try:
        ingestor.stats = ray.get(ingestor.run)
    except RayActorError as error:
        if shutdown.requested or ingestor.restarts >= MAX_RESTARTS:
            raise
        ingestor.restarts += 1
        log.warning("ingestor actor died (%s); restart %d of %d", error, ingestor.restarts, MAX_RESTARTS)
        ingestor.run, ingestor.stop_sent = ingestor.actor.run.remote(), False


def _send_stop(ingestors: list[_Supervised]) -> None:
    for ingestor in ingestors:
        if ingestor.stats is None and not ingestor.stop_sent:
            ingestor.actor.stop.remote()
            ingestor.stop_sent = True


def _stop_others(ingestors: list[_Supervised]) -> None:
    """One ingestor failed for good: the others stop and release what they hold before the error rises."""
    _send_stop(ingestors)
    running = [i.run for i in ingestors if i.stats is None]
    ray.wait(running, num_returns=len(running), timeout=STOP_OTHERS_S)


def merge_stats(runs: list[dict]) -> dict:
    """One ingestor's stats shape for all of them: counts, stage seconds/calls, batches and in-flight
    summed; mean batch rows weighted by batches; lag percentiles the largest of the ingestors' (the
    merged percentile is no larger); elapsed the longest; per model, objects written and missed summed.
    `ingestors` lists each one's own stats."""
    batches = sum(r["batches"] for r in runs)
    lags = {name: [r[name] for r in runs if r[name] is not None] for name in ("lag_p50_s", "lag_p99_s")}
    return {
        **{name: value for name, value in runs[0].items() if name not in PER_INGESTOR},
        "counts": _summed(r["counts"] for r in runs),
        "stage_seconds": {k: round(v, 6) for k, v in _summed(r["stage_seconds"] for r in runs).items()},
        "stage_calls": _summed(r["stage_calls"] for r in runs),
        "batches": batches,
        "mean_batch_rows": sum(r["mean_batch_rows"] * r["batches"] for r in runs) / batches if batches else 0.0,
        **{name: max(values) if values else None for name, values in lags.items()},
        "in_flight": sum(r["in_flight"] for r in runs),
        "elapsed_s": max(r["elapsed_s"] for r in runs),
        "models": _merged_models([r.get("models", {}) for r in runs]),
        "ingestors": runs,
    }


def _merged_models(runs: list[dict]) -> dict:
    """Counts summed; tenants the largest (each ingestor reads the same map, some a refresh later);
    pool states joined when the ingestors' pools differ (one still loading, say)."""
    merged: dict[str, dict] = {}
    for models in runs:
        for model, stats in models.items():
            into = merged.setdefault(model, {**stats, "written": 0, "missed": 0, "pool": set()})
            into["written"] += stats["written"]
            into["missed"] += stats["missed"]
            into["tenants"] = max(into["tenants"], stats["tenants"])
            into["pool"].add(stats["pool"])
    return {model: {**stats, "pool": ",".join(sorted(stats["pool"]))} for model, stats in sorted(merged.items())}


def _summed(parts) -> dict:
    total: dict = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + value
    return total

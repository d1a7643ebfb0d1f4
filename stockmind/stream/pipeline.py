"""The streaming job's Ray wiring: the ingestor as a threaded actor (it owns the embedder pool), and
a driver-side supervisor that forwards a shutdown request and restarts `run` if the actor crashed.

The actor needs the S3/SQS endpoint and credentials the driver sees: on the local stack those are
environment variables that the Ray head was not started with, so they travel in its runtime_env.
"""

from __future__ import annotations

import logging

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
POLL_S = 0.5
# Of the head's custom resource (cluster.yaml declares 1): room for several streams side by side.
INGESTOR_RESOURCE_SHARE = 0.01


def ingestor_placement(settings: Settings, num_cpus: float = 0.5) -> dict:
    """Ray options that keep the ingestor on CPU capacity: no GPU, and on a cluster the head's custom
    resource (STOCKMIND_INGESTOR_RESOURCE), so it never takes CPUs that a GPU worker's embedder needs."""
    resources = {settings.ingestor_resource: INGESTOR_RESOURCE_SHARE} if settings.ingestor_resource else {}
    return {"num_cpus": num_cpus, "num_gpus": 0, "resources": resources}


def start_ingestor(settings: Settings, options: StreamOptions, num_cpus: float = 0.5):
    """The ingestor actor (it builds its own embedder pool); Ray restarts it if its process dies."""
    actor_class = ray.remote(StreamIngestor).options(
        **ingestor_placement(settings, num_cpus), max_concurrency=ACTOR_CONCURRENCY, max_restarts=MAX_RESTARTS,
        runtime_env=worker_runtime_env(),
    )
    return actor_class.remote(settings, options)


def run_stream(settings: Settings, options: StreamOptions, shutdown: ShutdownRequest,
               ingestor_num_cpus: float = 0.5) -> dict:
    """Run the stream until it ends by itself or `shutdown` is requested; returns its stats."""
    ingestor = start_ingestor(settings, options, ingestor_num_cpus)
    run, restarts, stop_sent = ingestor.run.remote(), 0, False
    while True:
        done, _ = ray.wait([run], timeout=POLL_S)
        if done:
            try:
                return ray.get(run)
            except RayActorError as error:
                if shutdown.requested or restarts >= MAX_RESTARTS:
                    raise
                restarts += 1
                log.warning("ingestor actor died (%s); restart %d of %d", error, restarts, MAX_RESTARTS)
                run, stop_sent = ingestor.run.remote(), False
                continue
        if shutdown.requested and not stop_sent:
            ingestor.stop.remote()
            stop_sent = True

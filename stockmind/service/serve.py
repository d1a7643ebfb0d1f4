"""The search service on Ray Serve: the same FastAPI app, in replicas placed on GPU or CPU nodes.

    serve run stockmind.service.serve:app_builder num_replicas=2 num_gpus=1    # on a cluster
    stockmind serve --ray --replicas 2 --num-gpus 1                            # the same, from the CLI

Each replica loads every model the tenants hold and opens its pool in its constructor, so Serve
routes traffic to it only once it can answer any tenant; its refresher thread then follows the
tenants' models (stockmind/service/model_refresher.py). See stockmind/service/README.md for the deploy steps.
"""

from __future__ import annotations

import logging

from ray import serve

from stockmind.config import Settings
from stockmind.logs import SERVICE_LOGGERS, Destination, configure_worker_logging
from stockmind.ray_env import forwarded_env
from stockmind.service.app import create_app
from stockmind.service.resources import Resources, use_one_torch_thread_per_request

log = logging.getLogger(__name__)

APP_NAME = "stockmind-search"


@serve.deployment(name="SearchService", ray_actor_options={"num_cpus": 1})
@serve.ingress()
class SearchService:
    def __init__(self) -> None:
        configure_worker_logging("search-replica", Destination.APPLICATION, also=SERVICE_LOGGERS)
        use_one_torch_thread_per_request()
        settings = Settings.from_env(require=["DATABASE_URL"])
        self._resources = Resources.open(settings)
        self._settings = settings

    def __serve_build_asgi_app__(self):
        return create_app(self._settings, self._resources)

    def check_health(self) -> None:
        """Serve restarts a replica whose database connection cannot be had."""
        self._resources.database_ready()


def build(settings: Settings, replicas: int = 1, num_gpus: float | None = None, num_cpus: float = 1.0,
          env: dict[str, str] | None = None):
    """The bound application: `replicas` replicas with `num_gpus` each (default: the embedder setting)."""
    gpus = settings.embedder_num_gpus if num_gpus is None else num_gpus
    # Each replica counts requests in its own memory, so it enforces 1/replicas of every key's rate
    # limit (rate_limits.py); a fixed num_replicas keeps that share right (no autoscaling).
    env = {**(env or {}), "STOCKMIND_SERVICE_REPLICAS": str(replicas)}
    options = {"num_cpus": num_cpus, "num_gpus": gpus, "runtime_env": {"env_vars": env}}
    return SearchService.options(num_replicas=replicas, ray_actor_options=options).bind()


def app_builder(args: dict[str, str]):
    """For `serve run stockmind.service.serve:app_builder num_replicas=2 num_gpus=1 num_cpus=2`;
    replicas read their settings from the cluster's environment."""
    unknown = set(args) - {"num_replicas", "num_gpus", "num_cpus"}
    if unknown:
        raise ValueError(f"unknown arguments {sorted(unknown)}; expected num_replicas, num_gpus, num_cpus")
    settings = Settings.from_env()
    return build(settings, replicas=int(args.get("num_replicas", 1)),
                 num_gpus=float(args["num_gpus"]) if "num_gpus" in args else None,
                 num_cpus=float(args.get("num_cpus", 1)))


def deploy(settings: Settings, host: str, port: int, replicas: int = 1, num_gpus: float | None = None,
           blocking: bool = False) -> None:
    """Start Serve's HTTP proxy on host:port of the cluster at STOCKMIND_RAY_ADDRESS and deploy."""
    import ray

    if not ray.is_initialized():
        ray.init(address=settings.ray_address or "auto", logging_level="WARNING")
    serve.start(http_options={"host": host, "port": port})
    serve.run(build(settings, replicas, num_gpus, env=forwarded_env(settings=settings)), name=APP_NAME,
              route_prefix="/", blocking=blocking)
    log.info("deployed %s with %d replica(s) at http://%s:%d/", APP_NAME, replicas, host, port)

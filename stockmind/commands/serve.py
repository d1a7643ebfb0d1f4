"""`stockmind serve`: the search service on this machine (uvicorn), or on a Ray cluster (Ray Serve)."""

from __future__ import annotations

import argparse
import logging
import os
from urllib.parse import urlparse

from stockmind.config import Settings
from stockmind.logs import SERVICE_LOGGERS, Destination, configure_logging

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the search service (HTTP API and web page)")
    serve.add_argument("--host", default=None,
                       help="address to listen on (default: EMBEDDING_SERVICE_URL's host when it is a "
                            "loopback address, else 127.0.0.1); use 0.0.0.0 only behind a firewall")
    serve.add_argument("--port", type=int, default=None, help="port (default: EMBEDDING_SERVICE_URL's, 8000)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (each loads the model)")
    serve.add_argument("--ray", action="store_true",
                       help="deploy on Ray Serve at STOCKMIND_RAY_ADDRESS instead (see stockmind/service/README.md)")
    serve.add_argument("--replicas", type=int, default=1, help="Ray Serve replicas")
    serve.add_argument("--num-gpus", type=float, default=None,
                       help="GPUs per replica (default: STOCKMIND_EMBEDDER_NUM_GPUS)")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    configure_logging("search-deploy" if args.ray else "search", Destination.APPLICATION,
                      verbose=args.verbose, also=SERVICE_LOGGERS)
    settings = Settings.from_env(require=["DATABASE_URL"])
    host = args.host or _default_host(settings)
    port = args.port or settings.service_port
    if args.ray:
        from stockmind.service.serve import deploy

        deploy(settings, host=host, port=port, replicas=args.replicas, num_gpus=args.num_gpus, blocking=True)
        return 0
    import uvicorn

    # Each worker counts requests alone and takes 1/workers of every key's rate limit (rate_limits.py).
    os.environ["STOCKMIND_SERVICE_REPLICAS"] = str(args.workers)
    print(f"search service: http://{host}:{port}/ (API docs at /docs)")
    uvicorn.run("stockmind.service.main:app", factory=True, host=host, port=port, workers=args.workers,
                log_level="info")
    return 0


def _default_host(settings: Settings) -> str:
    host = urlparse(settings.embedding_service_url).hostname
    return host if host in (LOOPBACK, "localhost", "::1") else LOOPBACK

"""The streaming job's entry point, shared by `jobs/stream.py` (ray job submit) and `stockmind stream`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

import ray

from stockmind.config import Settings
from stockmind.logs import configure_logging, flush_logs
from stockmind.store import migrate
from stockmind.stream.ingestor import REQUIRED_SETTINGS
from stockmind.stream.options import StreamOptions
from stockmind.stream.pipeline import run_stream
from stockmind.stream.shutdown import ShutdownRequest

log = logging.getLogger(__name__)

def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-messages", type=int,
                        help="stop after this many messages in all: each ingestor stops after its share"
                             " (default: run forever)")
    parser.add_argument("--idle-exit-s", type=float,
                        help="stop once the queue has been empty this long (default: run forever)")
    parser.add_argument("--ingestors", type=_positive_int,
                        help="ingestor actors, spread across the nodes, sharing the queue"
                             " (default: STOCKMIND_INGESTORS)")
    parser.add_argument("--pool-size", type=int,
                        help="embedder actors of each ingestor (default: STOCKMIND_EMBEDDER_POOL_SIZE)")
    parser.add_argument("--receive-wait-s", type=float, default=StreamOptions.receive_wait_s,
                        help="SQS long-polling wait (0-20 s)")
    parser.add_argument("--receive-threads", type=int, default=StreamOptions.receive_threads,
                        help="concurrent SQS long polls")
    parser.add_argument("--load-threads", type=int, default=StreamOptions.load_threads,
                        help="threads fetching and decoding objects")
    parser.add_argument("--shutdown-grace-s", type=float, default=StreamOptions.shutdown_grace_s,
                        help="on SIGTERM, finish in-flight work for this long, then release the rest")
    parser.add_argument("--models-refresh-s", type=float, default=StreamOptions.models_refresh_s,
                        help="how often to re-read which models each tenant holds (each upload is embedded"
                             " with all of them)")
    parser.add_argument("--ingestor-cpus", type=float, default=0.5, help="Ray CPUs of each ingestor actor")
    parser.add_argument("--stats-file", type=Path, help="write the run's final stats here as JSON")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def options_from_args(args: argparse.Namespace) -> StreamOptions:
    return StreamOptions(max_messages=args.max_messages, idle_exit_s=args.idle_exit_s,
                         receive_wait_s=args.receive_wait_s, receive_threads=args.receive_threads,
                         load_threads=args.load_threads,
                         shutdown_grace_s=args.shutdown_grace_s, models_refresh_s=args.models_refresh_s)


def run_job(args: argparse.Namespace) -> int:
    configure_logging("stream", verbose=getattr(args, "verbose", False))  # `stockmind -v stream`
    settings = Settings.from_env(require=REQUIRED_SETTINGS)
    if args.pool_size:
        settings = dataclasses.replace(settings, embedder_pool_size=args.pool_size)
    if args.ingestors:
        settings = dataclasses.replace(settings, ingestors=args.ingestors)
    options = options_from_args(args)
    migrate(settings.database_url)
    # Under `ray job submit` a plain ray.init() joins the job's cluster.
    ray.init(address=settings.ray_address, logging_level=logging.WARNING)
    shutdown = ShutdownRequest()
    with shutdown.on_signals():
        stats = run_stream(settings, options, shutdown, ingestor_num_cpus=args.ingestor_cpus)
    if args.stats_file:
        args.stats_file.write_text(json.dumps(stats, indent=2, sort_keys=True))
    log.info("stream finished: %s", json.dumps(stats, sort_keys=True))
    flush_logs()
    return 0

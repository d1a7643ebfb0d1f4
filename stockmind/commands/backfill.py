"""`stockmind backfill --prefix clients/...`: the bulk backfill, run from this machine as the Ray driver."""

from __future__ import annotations

import argparse
import logging

from stockmind.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    from stockmind.backfill.arguments import add_arguments

    parser = commands.add_parser("backfill", help="embed existing media in bulk (Ray Data); resumable")
    add_arguments(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    import ray

    from stockmind.backfill.arguments import options_from
    from stockmind.backfill.runner import run_backfill

    if not args.verbose:
        quiet_ray_data_console()
    settings = Settings.from_env()
    options = options_from(args, settings)
    # Without STOCKMIND_RAY_ADDRESS (no stack head), Ray starts in this process.
    ray.init(address=settings.ray_address, logging_level=logging.WARNING)
    print(run_backfill(options).line())
    return 0


def quiet_ray_data_console() -> None:
    # Ray Data gives its logger its own console handler at INFO ("Dataset ... execution finished");
    # its session log file keeps everything.
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setLevel(logging.WARNING)

"""`stockmind reindex --model M --client C`: embed a tenant's stored media with another model, beside
the live one (Ray Data, resumable); `stockmind models activate` then switches the tenant to it."""

from __future__ import annotations

import argparse
import logging

from stockmind.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    from stockmind.backfill.arguments import add_reindex_arguments

    parser = commands.add_parser("reindex", help="embed a tenant's stored media with another model (Ray Data);"
                                 " resumable, search unaffected")
    add_reindex_arguments(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    import ray

    from stockmind.commands.backfill import quiet_ray_data_console

    if not args.verbose:
        quiet_ray_data_console()
    settings = Settings.from_env()
    ray.init(address=settings.ray_address, logging_level=logging.WARNING)
    for line in reindex(args, settings).lines():
        print(line)
    return 0


def reindex(args: argparse.Namespace, settings: Settings):
    """Resolve the tenants (`--all`: every one the store has) and run the reindex; shared with jobs/reindex.py."""
    from stockmind.backfill.arguments import reindex_options_from
    from stockmind.backfill.reindex import run_reindex
    from stockmind.errors import ModelChangeRefused
    from stockmind.store import connect
    from stockmind.store.tenant_models import tenant_ids

    settings.require("DATABASE_URL")
    clients = args.clients
    if args.all:
        with connect(settings.database_url) as conn:
            clients = tenant_ids(conn)
        if not clients:
            raise ModelChangeRefused("reindex --all: the store holds no tenant")
    return run_reindex(reindex_options_from(args, settings, clients))

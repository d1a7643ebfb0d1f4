"""`stockmind db migrate`: apply the schema migrations to DATABASE_URL."""

from __future__ import annotations

import argparse

from stockmind.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database schema")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("migrate", help="apply pending migrations (idempotent)").set_defaults(run=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from stockmind.store import migrate

    settings = Settings.from_env(require=["DATABASE_URL"])
    applied = migrate(settings.database_url)
    print(f"migrations applied: {applied or 'none (up to date)'}")
    return 0

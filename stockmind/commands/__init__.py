"""Sub-command modules; each exposes `register(subparsers)` and sets `run` on its parsers."""

from stockmind.commands import backfill, db, ingest, keys, local, search, serve

COMMAND_MODULES = [local, db, ingest, backfill, serve, keys, search]

"""Sub-command modules; each exposes `register(subparsers)` and sets `run` on its parsers."""

from stockmind.commands import backfill, db, keys, local, models, reindex, search, serve, stream

COMMAND_MODULES = [local, db, stream, backfill, reindex, models, serve, keys, search]

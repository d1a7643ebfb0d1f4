"""Sub-command modules; each exposes `register(subparsers)` and sets `run` on its parsers."""

from stockmind.commands import db, local

COMMAND_MODULES = [local, db]

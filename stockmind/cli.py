"""`stockmind …` command line. Each room registers its own sub-commands (stockmind/commands/)."""

from __future__ import annotations

import argparse
import logging
import sys

from stockmind.commands import COMMAND_MODULES
from stockmind.errors import ConfigError, StockmindError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stockmind", description="Stock Mind visual search")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args) or 0
    except ConfigError as error:
        print(f"stockmind: configuration error: {error}", file=sys.stderr)
        return 2
    except StockmindError as error:
        print(f"stockmind: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

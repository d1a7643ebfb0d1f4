"""`stockmind …` command line. Each room registers its own sub-commands (stockmind/commands/)."""

from __future__ import annotations

import argparse
import sys

from stockmind.commands import COMMAND_MODULES
from stockmind.errors import ConfigError, ModelChangeRefused, StockmindError
from stockmind.logs import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stockmind", description="Stock Mind visual search")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, the libraries' too (botocore, urllib3, ray, transformers, ...)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("stockmind", verbose=args.verbose)
    try:
        return args.run(args) or 0
    except ConfigError as error:
        print(f"stockmind: configuration error: {error}", file=sys.stderr)
        return 2
    except ModelChangeRefused as error:
        print(f"stockmind: refused: {error}", file=sys.stderr)
        return 2
    except StockmindError as error:
        print(f"stockmind: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

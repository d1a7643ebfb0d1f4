"""Always-on streaming ingestion (SQS → embedder actor pool → pgvector).

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- python jobs/stream.py

Settings come from the environment (SQS_QUEUE_URL, DATABASE_URL, STOCKMIND_*; see stockmind/config.py).
SIGTERM (`ray job stop`) stops polling and finishes or releases in-flight messages.
"""

import argparse
import logging
import sys

from stockmind.errors import ConfigError, SchemaNotReady
from stockmind.stream.job import add_stream_arguments, run_job


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_stream_arguments(parser)
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    try:
        return run_job(args)  # it sets up logging (stderr, and CloudWatch when STOCKMIND_CLOUDWATCH_LOGS=1)
    except (ConfigError, SchemaNotReady) as error:  # one line, no traceback: the operator's to fix
        logging.getLogger("stream").error("%s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main(parse_args()))

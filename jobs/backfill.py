"""Bulk backfill job: embed the existing media under a prefix (or in a manifest) into the store.

    ray job submit --address $STOCKMIND_RAY_DASHBOARD_URL --working-dir . \
        --runtime-env-json '{"env_vars": {"DATABASE_URL": "...", "S3_BUCKET_NAME": "..."}}' \
        -- python jobs/backfill.py --prefix clients/client-123/

Re-running it embeds only what is missing; failures are listed in --report and never stop the run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import ray

from stockmind.backfill.arguments import add_arguments, options_from
from stockmind.backfill.runner import run_backfill
from stockmind.config import Settings
from stockmind.errors import ConfigError, SchemaNotReady
from stockmind.logs import configure_logging

# Ray runs it in every worker process of the job: Ray Data's tasks and actor pools have no __init__ of ours.
WORKER_SETUP_HOOK = "stockmind.logs.configure_backfill_worker"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    try:
        shipping = configure_logging("backfill") is not None
        settings = Settings.from_env()
        options = options_from(args, settings)
        # Under `ray job submit` RAY_ADDRESS names the cluster; otherwise the local stack's head.
        ray.init(address=os.environ.get("RAY_ADDRESS") or settings.ray_address, logging_level=logging.WARNING,
                 runtime_env={"worker_process_setup_hook": WORKER_SETUP_HOOK} if shipping else None)
        summary = run_backfill(options)
    except ConfigError as error:
        logging.getLogger("backfill").error("configuration error: %s", error)
        return 2
    except SchemaNotReady as error:
        logging.getLogger("backfill").error("%s", error)
        return 2
    print(summary.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))

"""Reindex job: embed a tenant's stored media with another model, beside the live one.

    ray job submit --address $STOCKMIND_RAY_DASHBOARD_URL --working-dir . \
        --runtime-env-json '{"env_vars": {"DATABASE_URL": "..."}}' \
        -- python jobs/reindex.py --model hf-hub:Marqo/marqo-ecommerce-embeddings-B --client client-123

Re-running it embeds only what the model still lacks. Search keeps the tenant's active model until
`stockmind models activate`; docs/models.md has the whole procedure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import ray

from stockmind.backfill.arguments import add_reindex_arguments
from stockmind.commands.reindex import reindex
from stockmind.config import Settings
from stockmind.errors import ConfigError, ModelChangeRefused, SchemaNotReady
from stockmind.logs import configure_logging

WORKER_SETUP_HOOK = "stockmind.logs.configure_backfill_worker"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reindex_arguments(parser)
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    try:
        shipping = configure_logging("reindex") is not None
        settings = Settings.from_env()
        # Under `ray job submit` RAY_ADDRESS names the cluster; otherwise the local stack's head.
        ray.init(address=os.environ.get("RAY_ADDRESS") or settings.ray_address, logging_level=logging.WARNING,
                 runtime_env={"worker_process_setup_hook": WORKER_SETUP_HOOK} if shipping else None)
        summary = reindex(args, settings)
    except (ConfigError, SchemaNotReady, ModelChangeRefused) as error:
        logging.getLogger("reindex").error("%s", error)
        return 2
    for line in summary.lines():
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))

"""Model lifecycle as a Ray job: the `stockmind models` command, run on the cluster (where
DATABASE_URL is set), e.g. to switch a tenant from a CI pipeline that only reaches the Ray dashboard.

    ray job submit --address $STOCKMIND_RAY_DASHBOARD_URL --working-dir . \
        -- python jobs/models.py activate hf-hub:Marqo/marqo-ecommerce-embeddings-B --client client-123

Arguments are those of `stockmind models` (list, activate, retire); exit codes too (2: refused).
"""

from __future__ import annotations

import sys

from stockmind.cli import main

if __name__ == "__main__":
    sys.exit(main(["models", *sys.argv[1:]]))

"""The environment Ray workers of the backfill need: how to reach S3 (endpoint, credentials).

Workers of a cluster started elsewhere (the local stack's head, a cluster's nodes) do not inherit the
driver's environment, so these variables travel in each stage's runtime_env; only those set are sent.
On AWS the workers' instance profile provides credentials and none of these need to be set.
"""

from __future__ import annotations

import os

FORWARDED_ENV = (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED", "HF_HUB_OFFLINE", "HF_HOME",
)


def worker_env() -> dict:
    return {"env_vars": {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}}

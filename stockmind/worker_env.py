"""The environment Ray workers need from the driver: how to reach S3/SQS, and the model cache.

Workers of a cluster started elsewhere (the local stack's head, a cluster's nodes) do not inherit
the driver's environment, so these variables travel in each actor's or stage's runtime_env; only
those set are sent. On AWS the instance profile provides credentials and none need to be set.
"""

from __future__ import annotations

import os

FORWARDED_ENV = (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EC2_METADATA_DISABLED",
    "HF_HUB_OFFLINE", "HF_HOME",
)


def worker_runtime_env() -> dict:
    return {"env_vars": {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}}

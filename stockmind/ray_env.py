"""The one policy for what a Ray worker gets from the driver's environment.

Workers of a cluster started elsewhere (the local stack's head, a cluster's nodes, Serve replicas)
do not inherit the driver's environment, so these variables travel in each actor's, stage's or
replica's runtime_env; only those set are sent. Credentials travel only to a loopback endpoint
(the local stack's fixed fake keys): on AWS every node has its instance profile, and a driver's
own keys must not be copied into a cluster's processes.
"""

from __future__ import annotations

import dataclasses
import os
from urllib.parse import urlparse

from stockmind.config import Settings

# Where S3/SQS are and how to reach them; the model cache; where logs go (stockmind/logs.py).
FORWARDED_ENV = (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AWS_EC2_METADATA_DISABLED", "HF_HUB_OFFLINE", "HF_HOME",
    "STOCKMIND_CLOUDWATCH_LOGS", "STOCKMIND_WORKER_LOG_GROUP", "STOCKMIND_APPLICATION_LOG_GROUP",
)
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_ENDPOINTS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def forwarded_env(environ: dict[str, str] | None = None, settings: Settings | None = None) -> dict[str, str]:
    """The variables of `environ` (default: this process's) a worker needs; with `settings`, also
    every variable those settings were read from (a Serve replica builds its own `Settings`)."""
    environ = dict(os.environ if environ is None else environ)
    names = list(FORWARDED_ENV)
    if settings is not None:
        names += [field.metadata["env"] for field in dataclasses.fields(settings)]
    if _loopback_endpoint(environ):
        names += CREDENTIALS
    return {name: environ[name] for name in dict.fromkeys(names) if environ.get(name)}


def worker_runtime_env(settings: Settings | None = None) -> dict:
    """A Ray `runtime_env` carrying `forwarded_env()`."""
    return {"env_vars": forwarded_env(settings=settings)}


def _loopback_endpoint(environ: dict[str, str]) -> bool:
    hosts = {urlparse(environ[name]).hostname for name in _ENDPOINTS if environ.get(name)}
    return bool(hosts) and hosts <= set(_LOOPBACK)

"""The environment a Serve replica gets from the process that deploys it.

Kept apart from serve.py, which imports Ray: Ray reads some variables (the loopback switch among
them) once, at import, so nothing should import it before the environment is set.
"""

from __future__ import annotations

import dataclasses
import os
from urllib.parse import urlparse

from stockmind.config import Settings

# What a replica needs besides the Settings variables: where S3 is and how to reach it.
_AWS_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                  "AWS_EC2_METADATA_DISABLED")
_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def replica_env(settings: Settings, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables replicas need from this process's environment. Credentials travel only to a
    loopback S3 endpoint (the local stack's fixed fake keys); on AWS, nodes use their instance profile."""
    environ = dict(os.environ if environ is None else environ)
    names = [f.metadata["env"] for f in dataclasses.fields(settings)] + list(_AWS_VARIABLES)
    endpoint = urlparse(environ.get("AWS_ENDPOINT_URL", "")).hostname
    if endpoint in ("127.0.0.1", "localhost", "::1"):
        names += list(_CREDENTIALS)
    return {name: environ[name] for name in names if environ.get(name)}

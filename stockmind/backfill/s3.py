"""One boto3 S3 client per worker process, with botocore's own retries for throttling and 5xx.

The endpoint and credentials come from boto3's usual chain (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for
the local stack, an instance profile on a cluster), so the same code reads AWS and moto.
"""

from __future__ import annotations

import functools
from urllib.parse import urlparse

import boto3
from botocore.config import Config

from stockmind.errors import ConfigError

# Concurrent GETs per task (threads); the pool must hold one connection per thread.
MAX_CONNECTIONS = 32
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=MAX_CONNECTIONS)

# An object that is not there (deleted since it was listed, or a wrong key in a manifest).
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


@functools.cache
def s3_client():
    return boto3.client("s3", config=_CONFIG)


def split_s3_url(url: str) -> tuple[str, str]:
    """'s3://bucket/path/file' → ('bucket', 'path/file')."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.lstrip("/"):
        raise ConfigError(f"expected an s3://bucket/key URL, got {url!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code")

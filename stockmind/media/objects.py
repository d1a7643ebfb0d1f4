"""S3 objects: the one module that reads them (GET, HEAD, presigned GET URLs).

The stream, the backfill, the search service and the evaluation all read media through here, so they
share one size limit (checked before a body is read), one set of "not there" codes and one way of
quoting eTags. The endpoint and credentials come from boto3's usual chain (AWS_ENDPOINT_URL_S3 /
AWS_ENDPOINT_URL for the local stack, an instance profile on a cluster), so the same code reads AWS
and moto.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from stockmind.errors import ConfigError, MediaMissing, MediaTooLarge
from stockmind.media.etags import bare_etag

# Concurrent requests a client serves without waiting for a connection (one per thread using it).
MAX_CONNECTIONS = 32
RETRY_ATTEMPTS = 5  # botocore's standard mode: throttling and 5xx, with backoff

# An object that is not there: deleted since the event or listing, or a wrong key or version.
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
# If-Match failed: the key holds a newer object than the one asked for.
SUPERSEDED_CODES = frozenset({"PreconditionFailed", "412"})


@dataclass(frozen=True)
class ObjectMeta:
    """What S3 said about the bytes actually read (which may be newer than a listing said)."""

    bucket: str
    key: str
    etag: str | None
    version_id: str | None
    size: int
    last_modified: datetime | None
    # SHA-256 of the bytes read: what says two objects are byte-identical. The eTag cannot (a multipart
    # upload's is a hash of its parts' hashes, so one file uploaded in two part sizes gets two eTags).
    # None only for metadata built without the bytes at hand.
    content_sha256: bytes | None = None


def s3_client(region: str | None = None, connections: int = MAX_CONNECTIONS):
    """One client per process and configuration (boto3 clients are thread-safe). The endpoint and
    credentials boto3 reads from the environment are part of the configuration: a process that
    changes them (a test acting as another IAM identity) gets a client that uses them."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return _client(region, connections, endpoint, os.environ.get("AWS_ACCESS_KEY_ID"))


@functools.cache
def _client(region: str | None, connections: int, _endpoint: str | None, _access_key_id: str | None):
    config = Config(retries={"mode": "standard", "max_attempts": RETRY_ATTEMPTS},
                    max_pool_connections=connections)
    return boto3.client("s3", region_name=region, config=config)


def read_object(s3, bucket: str, key: str, *, etag: str | None = None, version_id: str | None = None,
                size: int | None = None, max_bytes: int | None = None) -> tuple[ObjectMeta, bytes] | None:
    """The object's bytes and metadata; None when `etag` is given and the key now holds another object.

    `size` is what an event or listing declared; an object over `max_bytes` (by that size, or by the
    GET's Content-Length) raises `MediaTooLarge` before its body is read. A missing key or version
    raises `MediaMissing`.
    """
    _check_size(bucket, key, size, max_bytes)
    request = {"Bucket": bucket, "Key": key}
    if etag:
        request["IfMatch"] = f'"{bare_etag(etag)}"'
    if version_id:
        request["VersionId"] = version_id
    try:
        response = s3.get_object(**request)
    except ClientError as error:
        if error_code(error) in SUPERSEDED_CODES:
            return None
        _raise_if_missing(error, bucket, key)
        raise
    with response["Body"] as body:
        _check_size(bucket, key, response.get("ContentLength"), max_bytes)
        data = body.read()
    meta = ObjectMeta(bucket, key, bare_etag(response.get("ETag")), response.get("VersionId") or None,
                      len(data), response.get("LastModified"), hashlib.sha256(data).digest())
    return meta, data


def open_object(s3, bucket: str, key: str):
    """The object's body as a stream (for files read page by page, such as Inventory CSVs)."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as error:
        _raise_if_missing(error, bucket, key)
        raise


def head_etag(s3, bucket: str, key: str) -> str | None:
    try:
        return bare_etag(s3.head_object(Bucket=bucket, Key=key).get("ETag"))
    except ClientError as error:
        _raise_if_missing(error, bucket, key)
        raise


def presigned_url(s3, bucket: str, key: str, ttl_s: int) -> str:
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl_s)


def error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code")


def split_s3_url(url: str) -> tuple[str, str]:
    """'s3://bucket/path/file' → ('bucket', 'path/file')."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.lstrip("/"):
        raise ConfigError(f"expected an s3://bucket/key URL, got {url!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _check_size(bucket: str, key: str, size: int | None, max_bytes: int | None) -> None:
    if size is not None and max_bytes is not None and size > max_bytes:
        raise MediaTooLarge(f"s3://{bucket}/{key} is {size:,} bytes, over the limit of {max_bytes:,}")


def _raise_if_missing(error: ClientError, bucket: str, key: str) -> None:
    if error_code(error) in MISSING_CODES:
        raise MediaMissing(f"s3://{bucket}/{key} is not in the bucket any more") from None

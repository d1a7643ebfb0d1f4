"""Read bytes: GET each object with boto3, in threads (the work is waiting on S3, not CPU).

Why boto3 GETs rather than `read_binary_files` over a pyarrow S3 filesystem: the GET returns the
eTag, version and time *of the bytes actually read*, which is what the store must record (the listing
may be older than the object); a key that vanished since it was listed becomes one failure row
instead of a failed read task; and keys are passed as-is (spaces, UTF-8, `+`), never re-parsed as paths.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from stockmind.backfill.rows import FETCHED_SCHEMA, bare_etag
from stockmind.backfill.s3 import MAX_CONNECTIONS, MISSING_CODES, error_code, s3_client
from stockmind.backfill.tally import Failure, report
from stockmind.errors import MediaMissing

log = logging.getLogger(__name__)


def fetch_objects(batch: pa.Table, *, tally):
    """Ray Data `map_batches` (pyarrow batches): yields the objects with their bytes."""
    rows = batch.to_pylist()
    with ThreadPoolExecutor(max(1, min(MAX_CONNECTIONS, len(rows)))) as pool:
        results = list(pool.map(_get, rows))
    fetched = [result for result in results if isinstance(result, dict)]
    report(tally, failures=[result for result in results if isinstance(result, Failure)])
    if fetched:
        yield pa.Table.from_pylist(fetched, schema=FETCHED_SCHEMA)


def _get(row: dict) -> dict | Failure:
    bucket, key = row["bucket"], row["key"]
    try:
        response = s3_client().get_object(Bucket=bucket, Key=key)
        data = response["Body"].read()
    except ClientError as error:
        if error_code(error) in MISSING_CODES:
            return Failure(bucket, key, MediaMissing.reason, f"s3://{bucket}/{key} no longer exists")
        return Failure(bucket, key, "fetch_failed", f"GET s3://{bucket}/{key}: {error}")
    except BotoCoreError as error:
        # Retried by botocore already; a re-run of the backfill picks the object up again.
        return Failure(bucket, key, "fetch_failed", f"GET s3://{bucket}/{key}: {error}")
    return {
        "bucket": bucket,
        "key": key,
        "etag": bare_etag(response.get("ETag")),
        "version_id": response.get("VersionId") or None,
        "size": len(data),
        "modified_s": response["LastModified"].timestamp() if response.get("LastModified") else row["modified_s"],
        "data": data,
    }

"""Read bytes: GET each object with boto3, in threads (the work is waiting on S3, not CPU).

Why boto3 GETs rather than `read_binary_files` over a pyarrow S3 filesystem: the GET returns the
eTag, version and time *of the bytes actually read*, which is what the store must record (the listing
may be older than the object); a key that vanished since it was listed, or an object over
STOCKMIND_MAX_OBJECT_BYTES (by its listed size or the GET's length, never read into memory), becomes
one failure row instead of a failed read task; and keys are passed as-is (spaces, UTF-8, `+`), never
re-parsed as paths.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from stockmind.backfill.rows import FETCHED_SCHEMA
from stockmind.backfill.tally import Failure, report
from stockmind.errors import MediaMissing, MediaTooLarge
from stockmind.media.objects import MAX_CONNECTIONS, read_object, s3_client

log = logging.getLogger(__name__)


def fetch_objects(batch: pa.Table, *, max_bytes: int, tally):
    """Ray Data `map_batches` (pyarrow batches): yields the objects with their bytes."""
    rows = batch.to_pylist()
    with ThreadPoolExecutor(max(1, min(MAX_CONNECTIONS, len(rows)))) as pool:
        results = list(pool.map(partial(_get, max_bytes=max_bytes), rows))
    fetched = [result for result in results if isinstance(result, dict)]
    report(tally, failures=[result for result in results if isinstance(result, Failure)])
    if fetched:
        yield pa.Table.from_pylist(fetched, schema=FETCHED_SCHEMA)


def _get(row: dict, max_bytes: int) -> dict | Failure:
    bucket, key = row["bucket"], row["key"]
    try:
        meta, data = read_object(s3_client(), bucket, key, size=row["size"], max_bytes=max_bytes)
    except (MediaMissing, MediaTooLarge) as error:
        return Failure(bucket, key, error.reason, str(error))
    except (ClientError, BotoCoreError) as error:
        # Retried by botocore already; a re-run of the backfill picks the object up again.
        return Failure(bucket, key, "fetch_failed", f"GET s3://{bucket}/{key}: {error}")
    return {
        "bucket": bucket,
        "key": key,
        "etag": meta.etag,
        "version_id": meta.version_id,
        "size": meta.size,
        "modified_s": meta.last_modified.timestamp() if meta.last_modified else row["modified_s"],
        "data": data,
    }

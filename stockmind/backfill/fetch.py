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
from stockmind.media.objects import read_object, s3_client

log = logging.getLogger(__name__)


FETCH_THREADS = 16  # GETs in flight per fetcher: past this a moto server only queues them


class ObjectFetcher:
    """Ray Data `map_batches` callable class (pyarrow batches): yields the objects with their bytes.

    An actor, not a task: each Ray task worker builds its own boto3 client (and imports botocore)
    the first time it runs, and fractional-CPU tasks fan out over many workers, so as tasks the GETs
    of a small backfill went mostly into start-up. One long-lived client and thread pool per actor
    also bounds the GETs in flight, which S3 (and moto) answer faster than an unbounded crowd."""

    def __init__(self, max_bytes: int, tally):
        self._s3 = s3_client()
        self._threads = ThreadPoolExecutor(FETCH_THREADS)
        self._max_bytes, self._tally = max_bytes, tally

    def __call__(self, batch: pa.Table):
        results = list(self._threads.map(partial(_get, self._s3, max_bytes=self._max_bytes), batch.to_pylist()))
        fetched = [result for result in results if isinstance(result, dict)]
        report(self._tally, failures=[result for result in results if isinstance(result, Failure)])
        if fetched:
            yield pa.Table.from_pylist(fetched, schema=FETCHED_SCHEMA)


def _get(s3, row: dict, max_bytes: int) -> dict | Failure:
    bucket, key = row["bucket"], row["key"]
    try:
        meta, data = read_object(s3, bucket, key, size=row["size"], max_bytes=max_bytes)
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
        "content_sha256": meta.content_sha256.hex(),
        "data": data,
    }

"""Skip what the store already has: keep only objects not yet embedded with this model at this eTag.

Runs once per page of keys (one query per tenant in the page, pruned to its partition), so a re-run
after a crash or a partial run costs a listing plus a few queries per thousand keys, and embeds only
the remainder. Keys outside the media layout are reported as failures here, before any download.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from stockmind.backfill.rows import objects_table
from stockmind.backfill.tally import Failure, report
from stockmind.errors import InvalidMediaKey, MediaMissing
from stockmind.media.keys import parse_media_key
from stockmind.media.objects import head_etag, s3_client
from stockmind.store import connect, embedded_media

log = logging.getLogger(__name__)

HEAD_THREADS = 16


def select_todo(batch: pa.Table, *, database_url: str, model_id: str, force: bool, tally):
    """Ray Data `map_batches` (pyarrow batches): yields the rows still to embed."""
    rows = batch.to_pylist()
    valid, failures = [], []
    for row in rows:
        try:
            valid.append((parse_media_key(row["key"]).client_id, row))
        except InvalidMediaKey as error:
            failures.append(Failure(row["bucket"], row["key"], error.reason, str(error)))
    todo = [row for _, row in valid] if force else _not_embedded(valid, database_url, model_id)
    report(tally, {"listed": len(rows), "skipped": len(valid) - len(todo)}, failures)
    if todo:
        yield objects_table(todo)


def _not_embedded(valid: list[tuple[str, dict]], database_url: str, model_id: str) -> list[dict]:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for client_id, row in valid:
        groups[(client_id, row["bucket"])].append(row)
    todo = []
    with connect(database_url) as conn:
        for (client_id, bucket), rows in groups.items():
            held = embedded_media(conn, client_id=client_id, model_id=model_id, bucket=bucket,
                                  keys=[r["key"] for r in rows])
            stored = {key: etag for (_, key), etag in held.items()}
            _fill_unknown_etags([r for r in rows if r["key"] in stored and r["etag"] is None])
            todo += [r for r in rows if r["key"] not in stored or stored[r["key"]] != r["etag"]]
    return todo


def _fill_unknown_etags(rows: list[dict]) -> None:
    """A plain key list carries no eTags: ask S3 (HEAD) for those the store already has a version of."""
    if not rows:
        return
    with ThreadPoolExecutor(HEAD_THREADS) as pool:
        for row, etag in zip(rows, pool.map(_head_etag, rows)):
            row["etag"] = etag


def _head_etag(row: dict) -> str | None:
    # Not fatal here: the GET that follows fails too and reports the object with its reason.
    try:
        return head_etag(s3_client(), row["bucket"], row["key"])
    except MediaMissing:
        return None
    except (ClientError, BotoCoreError) as error:
        log.warning("HEAD %s/%s failed (%s); it will be fetched anyway", row["bucket"], row["key"], error)
        return None

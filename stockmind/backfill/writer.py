"""Write: put each object's frame vectors back together and store them through the store's writer.

The embedder pool batches frames regardless of which object they belong to, so a video's frames can
arrive in different batches; this stage keeps the frames of incomplete objects until the last one
arrives (`frame_count` says how many), which is why it runs as a single actor. The store's
`PgVectorWriter` in bulk mode makes every write idempotent (a replay changes nothing) and defers the
HNSW index of tenants it meets for the first time.

A batch the store rejects is retried, then written object by object, so one bad object (or a table
that refuses a row) fails alone: it is reported as a failure with the error, never dropped.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import psycopg

from stockmind.backfill.rows import IDENTITY_COLUMNS
from stockmind.backfill.tally import Failure, report
from stockmind.errors import PoisonInput
from stockmind.media.keys import parse_media_key
from stockmind.media.objects import ObjectMeta
from stockmind.store import MediaVectors, PgVectorWriter

log = logging.getLogger(__name__)

BATCH_ATTEMPTS = 3
RETRY_PAUSE_S = 1.0


@dataclass
class _PartialMedia:
    identity: dict
    frame_count: int
    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    timestamps: dict[int, float | None] = field(default_factory=dict)


class MediaWriter:
    """Ray Data `map_batches` callable class (numpy batches): yields one outcome row per stored object."""

    def __init__(self, database_url: str, model_id: str, tally, *, replace: bool = False, new_keys: bool = True):
        # replace: --force re-embeds what the store has, so the new vectors must replace the old.
        # new_keys: a backfill's keys are mostly new to the store; a reindex's are all stored already.
        self._writer = PgVectorWriter(database_url, bulk=True, replace=replace, new_keys=new_keys)
        self._model_id = model_id
        self._tally = tally
        self._partial: dict[tuple[str, str, str | None], _PartialMedia] = {}

    def __call__(self, batch: dict[str, np.ndarray]):
        complete = self._collect(batch)
        if not complete:
            return
        outcomes, failures = self._write(complete)
        report(self._tally, failures=failures)
        if outcomes:
            yield {
                "key": np.asarray([item.ref.key for item, _ in outcomes], dtype=object),
                "stored": np.asarray([stored for _, stored in outcomes]),
                "frames": np.asarray([len(item.timestamps) for item, _ in outcomes]),
            }

    def _collect(self, batch: dict[str, np.ndarray]) -> list[MediaVectors]:
        complete = []
        for i in range(len(batch["key"])):
            identity = {name: _scalar(batch[name][i]) for name in IDENTITY_COLUMNS}
            slot = (identity["bucket"], identity["key"], identity["etag"])
            partial = self._partial.setdefault(slot, _PartialMedia(identity, int(batch["frame_count"][i])))
            frame_no = int(batch["frame_no"][i])
            timestamp = float(batch["timestamp_s"][i])
            partial.vectors[frame_no] = batch["embedding"][i]
            partial.timestamps[frame_no] = None if math.isnan(timestamp) else timestamp
            if len(partial.vectors) == partial.frame_count:
                complete.append(self._media(self._partial.pop(slot)))
        return complete

    def _media(self, partial: _PartialMedia) -> MediaVectors:
        order = sorted(partial.vectors)
        identity = partial.identity
        modified_s = identity["modified_s"]
        digest = identity["content_sha256"]
        meta = ObjectMeta(identity["bucket"], identity["key"], identity["etag"], identity["version_id"],
                          identity["size"],
                          None if modified_s is None else datetime.fromtimestamp(modified_s, timezone.utc),
                          None if digest is None else bytes.fromhex(digest))
        return MediaVectors.from_object(meta, parse_media_key(meta.key), self._model_id,
                                        np.stack([partial.vectors[n] for n in order]),
                                        [partial.timestamps[n] for n in order])

    def _write(self, items: list[MediaVectors]) -> tuple[list[tuple[MediaVectors, bool]], list[Failure]]:
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                written = set(self._writer.write(items).stored_keys)
                return [(item, item.ref.key in written) for item in items], []
            except PoisonInput:
                break  # one object is bad: retrying the batch cannot help, isolating it does
            except psycopg.Error as error:
                log.warning("writing %d objects failed (attempt %d/%d): %s", len(items), attempt, BATCH_ATTEMPTS,
                            error)
                time.sleep(RETRY_PAUSE_S * attempt)
        return self._write_one_by_one(items)

    def _write_one_by_one(self, items: list[MediaVectors]) -> tuple[list[tuple[MediaVectors, bool]], list[Failure]]:
        outcomes, failures = [], []
        for item in items:
            try:
                outcomes.append((item, bool(self._writer.write([item]).stored)))
            except PoisonInput as error:
                failures.append(Failure(item.bucket, item.ref.key, error.reason, str(error)))
            except psycopg.Error as error:
                failures.append(Failure(item.bucket, item.ref.key, "write_failed", _first_line(error)))
        return outcomes, failures


def _scalar(value):
    """numpy scalars → Python values (psycopg and the dataclasses want plain ints, floats, str)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

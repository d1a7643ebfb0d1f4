"""PgVectorWriter: media vectors → rows, idempotently, in one transaction per batch.

One `write` call:
1. checks every vector (`InvalidVector` before anything is written) and the model's dimension;
2. makes sure each tenant has its partitions and its index (or a deferred index in bulk mode);
3. in one transaction: binary-COPYs the media rows into a temp staging table and upserts them with
   one set-based `INSERT ... ON CONFLICT DO UPDATE ... WHERE <newer and not the same object>`, which
   returns only the media that changed; deletes the old vectors of those that replaced a version;
   binary-COPYs their new vectors into `embeddings` (routed to the tenants' partitions).

Media that the store already has (a replayed event, moto's second event for a multipart upload) and
events older than the stored version (a late arrival) make the upsert's WHERE false: no row comes
back, no vector is copied, nothing changes. Vectors skip the staging table: the media upsert alone
decides which to write, so they are copied once, straight into place, and a replay copies none.

Bulk mode (backfills, which skip what is already embedded) takes every key of a batch to be new
and COPYs the media rows straight into `media`, ids drawn from its sequence: for a key with no row
nothing can be stale or replayed. If one is stored after all (a live event got there first, or a
rerun), the primary key rejects the COPY, the transaction rolls back, and the batch is written again
through the upsert. The upsert (staging COPY, conflict checks, RETURNING) costs more than that COPY;
bench/store.py measures the writer against a raw COPY.
"""

import logging

import numpy as np
import psycopg

from stockmind.store import deletes, partitions
from stockmind.store.connection import connect
from stockmind.store.halfvec_copy import HALFVEC_FIELD_TYPE, halfvec_fields
from stockmind.store.ordering import newest_per_key
from stockmind.store.records import MediaRemoval, MediaVectors, WriteReport
from stockmind.store.validation import check_dim, checked_batch

log = logging.getLogger(__name__)

_MEDIA_FIELDS = ("client_id, bucket, key, sku, media_type, etag, version_id, sequencer, event_time, size, model_id, "
                 "frame_count, content_sha256")
_MEDIA_FIELD_TYPES = ["text", "text", "text", "text", "text", "text", "text", "text", "timestamptz", "int8", "text",
                      "int4", "bytea"]

_NEW_MEDIA_IDS = "SELECT nextval('media_id_seq') FROM generate_series(1, %s)"
_COPY_NEW_MEDIA = f"COPY media (media_id, status, {_MEDIA_FIELDS}) FROM STDIN WITH (FORMAT BINARY)"

# The upsert stages media rows with a binary COPY (sending them as arrays costs more in adaptation
# than the COPY itself), then upserts them in one statement.
_STAGE_MEDIA = """
CREATE TEMP TABLE IF NOT EXISTS stage_media (
    client_id text, bucket text, key text, sku text, media_type text, etag text, version_id text,
    sequencer text, event_time timestamptz, size bigint, model_id text, frame_count int, content_sha256 bytea
) ON COMMIT DELETE ROWS
"""
_COPY_STAGE_MEDIA = f"COPY stage_media ({_MEDIA_FIELDS}) FROM STDIN WITH (FORMAT BINARY)"

_UPSERT_MEDIA = f"""
INSERT INTO media AS m (status, {_MEDIA_FIELDS})
SELECT 'active', {_MEDIA_FIELDS}
FROM stage_media
-- A stable lock order, so two writers with overlapping batches cannot deadlock (byte order: the
-- cheapest sort; any fixed order will do; the new-media COPY uses the same one).
ORDER BY client_id COLLATE "C", bucket COLLATE "C", key COLLATE "C"
ON CONFLICT (bucket, key, client_id) DO UPDATE SET
    sku = EXCLUDED.sku, media_type = EXCLUDED.media_type, status = 'active', etag = EXCLUDED.etag,
    version_id = EXCLUDED.version_id, sequencer = EXCLUDED.sequencer, event_time = EXCLUDED.event_time,
    size = EXCLUDED.size, model_id = EXCLUDED.model_id, frame_count = EXCLUDED.frame_count,
    content_sha256 = EXCLUDED.content_sha256, revision = m.revision + 1, updated_at = now()
WHERE (NOT coalesce(m.status = 'active' AND m.etag = EXCLUDED.etag AND m.model_id = EXCLUDED.model_id
                    AND m.version_id IS NOT DISTINCT FROM EXCLUDED.version_id, false)
       AND event_is_newer(EXCLUDED.sequencer, EXCLUDED.event_time, m.sequencer, m.event_time))
   -- A forced re-embedding (replace=True) rewrites the very object the store holds, whatever the
   -- order of the events that brought it: the eTag and version say it is the same bytes.
   OR (%(replace)s AND m.status = 'active' AND m.etag = EXCLUDED.etag
       AND m.version_id IS NOT DISTINCT FROM EXCLUDED.version_id)
-- Only media that existed before (revision > 1) can have old vectors to delete.
RETURNING bucket, key, media_id, revision > 1
"""

_COPY_EMBEDDINGS = (
    "COPY embeddings (client_id, media_id, frame_no, timestamp_s, sku, media_type, model_id, embedding)"
    " FROM STDIN WITH (FORMAT BINARY)"
)
_EMBEDDING_FIELD_TYPES = ["text", "int8", "int4", "float4", "text", "text", "text", HALFVEC_FIELD_TYPE]


class PgVectorWriter:
    """Writes media vectors for any tenant. `bulk=True` (backfills) leaves the HNSW index of a tenant
    met for the first time unbuilt; `bulk.build_deferred_indexes` builds it after the load.
    `replace=True` (a forced re-embedding, e.g. after a preprocessing fix) also rewrites the vectors
    of media the store holds at the same eTag and version, which a write otherwise leaves alone."""

    def __init__(self, database_url: str, *, bulk: bool = False, replace: bool = False):
        self._database_url = database_url
        self._bulk = bulk
        self._replace = replace
        self._conn: psycopg.Connection | None = None
        self._indexed: set[tuple[str, str]] = set()
        self._dims: dict[str, int] = {}

    def write(self, items: list[MediaVectors]) -> WriteReport:
        if not items:
            return WriteReport()
        try:
            return self._write(items, optimistic=self._bulk)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
            if not self._bulk:
                raise
            # A key of this bulk batch was already stored: the upsert decides, for the whole batch.
            # (COPY into partitions buffers rows per partition, so two writers racing on the same new
            # keys of several tenants may insert them in different orders; PostgreSQL then aborts one
            # as a deadlock, and the upsert's sorted order settles it the same way.)
            log.debug("write: a key was already stored; writing the batch through the upsert")
            return self._write(items, optimistic=False)
        except psycopg.errors.CheckViolation:
            # "no partition found for row": another process dropped a tenant this writer had seen
            # (delete_client). Forget what was cached and re-create it; a second failure is real.
            self._indexed.clear()
            return self._write(items, optimistic=False)

    def _write(self, items: list[MediaVectors], *, optimistic: bool) -> WriteReport:
        vectors = checked_batch(items)
        conn = self._connection()
        for item, matrix in zip(items, vectors):
            self._check_dim(conn, item, matrix.shape[1])
        self._prepare_tenants(conn, items, vectors)
        keep = newest_per_key(
            conn, [(i.bucket, i.ref.key) for i in items], [i.sequencer for i in items], [i.event_time for i in items]
        )
        chosen = [items[n] for n in keep]
        matrices = {id(i): v for i, v in zip(items, vectors)}
        with conn.transaction():
            if optimistic:
                stored, fields = self._insert_new_media(conn, chosen, matrices)
            else:
                changed = self._upsert_media(conn, chosen)
                deletes.delete_vectors(conn, [(i.ref.client_id, media_id)
                                              for i, media_id, replaced in changed if replaced])
                stored = [(i, media_id) for i, media_id, _ in changed]
                fields = _encoded(stored, matrices)
            rows = self._copy_vectors(conn, stored, fields)
        report = WriteReport(
            stored=len(stored), unchanged=len(items) - len(stored), rows=rows,
            stored_keys=[i.ref.key for i, _ in stored],
        )
        log.debug("write: %s", report)
        return report

    def delete(self, removals: list[MediaRemoval]) -> int:
        """Apply `ObjectRemoved` events; returns how many media were deleted (stale ones are ignored)."""
        conn = self._connection()
        for client_id in {r.ref.client_id for r in removals}:
            partitions.ensure_tenant(conn, client_id)
        return deletes.delete_media(conn, removals)

    def delete_client(self, client_id: str) -> bool:
        """Remove a tenant's media and vectors in one step (its partitions are dropped)."""
        dropped = partitions.drop_tenant(self._connection(), client_id)
        self._indexed = {pair for pair in self._indexed if pair[0] != client_id}
        return dropped

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "PgVectorWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._database_url)
            # Created outside any write transaction, so a rolled-back write cannot take it away.
            self._conn.execute(_STAGE_MEDIA)
        return self._conn

    def _check_dim(self, conn: psycopg.Connection, item: MediaVectors, dim: int) -> None:
        if item.model_id not in self._dims:
            self._dims[item.model_id] = partitions.model_dim(conn, item.model_id, dim)
        check_dim(dim, self._dims[item.model_id], item.model_id, f"{item.bucket}/{item.ref.key}")

    def _prepare_tenants(self, conn, items: list[MediaVectors], vectors: list[np.ndarray]) -> None:
        for item, matrix in zip(items, vectors):
            pair = (item.ref.client_id, item.model_id)
            if pair not in self._indexed:
                partitions.ensure_index(conn, *pair, matrix.shape[1], defer=self._bulk)
                self._indexed.add(pair)

    def _insert_new_media(self, conn, items: list[MediaVectors], matrices: dict[int, np.ndarray]):
        """COPY media rows for keys taken to be new; (item, media_id) of each, and their encoded vectors."""
        ids = [media_id for (media_id,) in conn.execute(_NEW_MEDIA_IDS, (len(items),))]
        # The upsert's lock order (bytes of client, bucket, key), for the same reason.
        ordered = sorted(items, key=lambda i: (i.ref.client_id, i.bucket, i.ref.key))
        stored = list(zip(ordered, ids))
        with conn.cursor().copy(_COPY_NEW_MEDIA) as copy:
            copy.set_types(["int8", "text", *_MEDIA_FIELD_TYPES])
            for item, media_id in stored:
                copy.write_row((media_id, "active", *_media_fields(item)))
            # Encoded while PostgreSQL is still inserting the rows sent above (it works as they arrive).
            fields = _encoded(stored, matrices)
        return stored, fields

    def _upsert_media(self, conn, items: list[MediaVectors]) -> list[tuple[MediaVectors, int, bool]]:
        """(item, media_id, replaced) of the media that changed (new, newer, or replaced by force)."""
        if not items:
            return []
        with conn.cursor().copy(_COPY_STAGE_MEDIA) as copy:
            copy.set_types(_MEDIA_FIELD_TYPES)
            for item in items:
                copy.write_row(_media_fields(item))
        by_key = {(i.bucket, i.ref.key): i for i in items}
        rows = conn.execute(_UPSERT_MEDIA, {"replace": self._replace}).fetchall()
        return [(by_key[(bucket, key)], media_id, replaced) for bucket, key, media_id, replaced in rows]

    def _copy_vectors(self, conn, stored: list[tuple[MediaVectors, int]], fields: list[bytes]) -> int:
        if not stored:
            return 0
        fields = iter(fields)
        with conn.cursor().copy(_COPY_EMBEDDINGS) as copy:
            copy.set_types(_EMBEDDING_FIELD_TYPES)
            for item, media_id in stored:
                client_id, sku, media_type = item.ref.client_id, item.ref.sku, str(item.ref.media_type)
                for frame_no, timestamp in enumerate(item.timestamps):
                    copy.write_row((client_id, media_id, frame_no, timestamp, sku, media_type, item.model_id,
                                    next(fields)))
        return sum(len(item.timestamps) for item, _ in stored)


def _encoded(stored: list[tuple[MediaVectors, int]], matrices: dict[int, np.ndarray]) -> list[bytes]:
    """The halfvec fields of the stored media's vectors, in order: one numpy conversion for the
    whole batch (per item, numpy's call overhead would cost more than the work)."""
    if not stored:
        return []
    return halfvec_fields(np.concatenate([matrices[id(item)] for item, _ in stored]))


def _media_fields(item: MediaVectors) -> tuple:
    return (
        item.ref.client_id, item.bucket, item.ref.key, item.ref.sku, str(item.ref.media_type), item.etag,
        item.version_id, item.sequencer, item.event_time, item.size, item.model_id, len(item.timestamps),
        item.content_sha256,
    )

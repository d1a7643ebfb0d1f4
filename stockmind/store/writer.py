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
"""

import logging
import numpy as np
import psycopg
from pgvector import HalfVector

from stockmind.errors import InvalidVector
from stockmind.store import deletes, partitions
from stockmind.store.connection import connect
from stockmind.store.ordering import newest_per_key
from stockmind.store.records import MediaRemoval, MediaVectors, WriteReport
from stockmind.store.validation import checked_batch

log = logging.getLogger(__name__)

# Media rows are staged with a binary COPY (sending them as arrays costs more in adaptation than
# the COPY itself), then upserted in one statement.
_STAGE_MEDIA = """
CREATE TEMP TABLE IF NOT EXISTS stage_media (
    client_id text, bucket text, key text, sku text, media_type text, etag text, version_id text,
    sequencer text, event_time timestamptz, size bigint, model_id text, frame_count int
) ON COMMIT DELETE ROWS
"""
_COPY_STAGE_MEDIA = "COPY stage_media FROM STDIN WITH (FORMAT BINARY)"
_STAGE_MEDIA_TYPES = ["text", "text", "text", "text", "text", "text", "text", "text", "timestamptz", "int8", "text", "int4"]

_UPSERT_MEDIA = """
INSERT INTO media AS m (client_id, bucket, key, sku, media_type, status, etag, version_id, sequencer,
                        event_time, size, model_id, frame_count)
SELECT client_id, bucket, key, sku, media_type, 'active', etag, version_id, sequencer, event_time, size,
       model_id, frame_count
FROM stage_media
-- A stable lock order, so two writers with overlapping batches cannot deadlock (byte order: the
-- cheapest sort; any fixed order will do).
ORDER BY client_id COLLATE "C", bucket COLLATE "C", key COLLATE "C"
ON CONFLICT (bucket, key, client_id) DO UPDATE SET
    sku = EXCLUDED.sku, media_type = EXCLUDED.media_type, status = 'active', etag = EXCLUDED.etag,
    version_id = EXCLUDED.version_id, sequencer = EXCLUDED.sequencer, event_time = EXCLUDED.event_time,
    size = EXCLUDED.size, model_id = EXCLUDED.model_id, frame_count = EXCLUDED.frame_count,
    revision = m.revision + 1, updated_at = now()
WHERE NOT coalesce(m.status = 'active' AND m.etag = EXCLUDED.etag AND m.model_id = EXCLUDED.model_id
                   AND m.version_id IS NOT DISTINCT FROM EXCLUDED.version_id, false)
  AND event_is_newer(EXCLUDED.sequencer, EXCLUDED.event_time, m.sequencer, m.event_time)
-- Only media that existed before (revision > 1) can have old vectors to delete.
RETURNING client_id, bucket, key, media_id, revision > 1
"""

_COPY_EMBEDDINGS = (
    "COPY embeddings (client_id, media_id, frame_no, timestamp_s, sku, media_type, model_id, embedding)"
    " FROM STDIN WITH (FORMAT BINARY)"
)
EMBEDDING_COPY_TYPES = ["text", "int8", "int4", "float4", "text", "text", "text", "halfvec"]


class PgVectorWriter:
    """Writes media vectors for any tenant. `bulk=True` (backfills) leaves the HNSW index of a tenant
    met for the first time unbuilt; `bulk.build_deferred_indexes` builds it after the load."""

    def __init__(self, database_url: str, *, bulk: bool = False):
        self._database_url = database_url
        self._bulk = bulk
        self._conn: psycopg.Connection | None = None
        self._indexed: set[tuple[str, str]] = set()
        self._dims: dict[str, int] = {}

    def write(self, items: list[MediaVectors]) -> WriteReport:
        if not items:
            return WriteReport()
        try:
            return self._write(items)
        except psycopg.errors.CheckViolation:
            # "no partition found for row": another process dropped a tenant this writer had seen
            # (delete_client). Forget what was cached and re-create it; a second failure is real.
            self._indexed.clear()
            return self._write(items)

    def _write(self, items: list[MediaVectors]) -> WriteReport:
        vectors = checked_batch(items)
        conn = self._connection()
        for item, matrix in zip(items, vectors):
            self._check_dim(conn, item, matrix.shape[1])
        self._prepare_tenants(conn, items, vectors)
        keep = newest_per_key(
            conn, [(i.bucket, i.ref.key) for i in items], [i.sequencer for i in items], [i.event_time for i in items]
        )
        with conn.transaction():
            stored = self._upsert_media(conn, [items[i] for i in keep])
            deletes.delete_vectors(conn, [(client, media_id) for client, media_id, _, replaced in stored if replaced])
            rows = self._copy_vectors(
                conn, [(media_id, items[keep[pos]], vectors[keep[pos]]) for _, media_id, pos, _ in stored]
            )
        report = WriteReport(
            stored=len(stored), unchanged=len(items) - len(stored), rows=rows,
            stored_keys=[items[keep[pos]].ref.key for _, _, pos, _ in stored],
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
        if self._dims[item.model_id] != dim:
            raise InvalidVector(
                f"{item.bucket}/{item.ref.key}: expected {self._dims[item.model_id]}-d vectors"
                f" for model {item.model_id!r}, got {dim}-d"
            )

    def _prepare_tenants(self, conn, items: list[MediaVectors], vectors: list[np.ndarray]) -> None:
        for item, matrix in zip(items, vectors):
            pair = (item.ref.client_id, item.model_id)
            if pair not in self._indexed:
                partitions.ensure_index(conn, *pair, matrix.shape[1], defer=self._bulk)
                self._indexed.add(pair)

    def _upsert_media(self, conn, items: list[MediaVectors]) -> list[tuple[str, int, int, bool]]:
        """(client_id, media_id, position in `items`, replaced) of the media that changed."""
        with conn.cursor().copy(_COPY_STAGE_MEDIA) as copy:
            copy.set_types(_STAGE_MEDIA_TYPES)
            for i in items:
                copy.write_row((
                    i.ref.client_id, i.bucket, i.ref.key, i.ref.sku, str(i.ref.media_type), i.etag, i.version_id,
                    i.sequencer, i.event_time, i.size, i.model_id, len(i.timestamps),
                ))
        position = {(i.bucket, i.ref.key): n for n, i in enumerate(items)}
        rows = conn.execute(_UPSERT_MEDIA).fetchall()
        return [(client, media_id, position[(bucket, key)], replaced) for client, bucket, key, media_id, replaced in rows]

    def _copy_vectors(self, conn, stored: list[tuple[int, MediaVectors, np.ndarray]]) -> int:
        rows = 0
        with conn.cursor().copy(_COPY_EMBEDDINGS) as copy:
            copy.set_types(EMBEDDING_COPY_TYPES)
            for media_id, item, matrix in stored:
                for frame_no, (timestamp, vector) in enumerate(zip(item.timestamps, matrix)):
                    copy.write_row((
                        item.ref.client_id, media_id, frame_no, timestamp, item.ref.sku,
                        str(item.ref.media_type), item.model_id, HalfVector(vector),
                    ))
                    rows += 1
        return rows

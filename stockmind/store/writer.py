"""PgVectorWriter: media vectors → rows, idempotently, in one transaction per batch.

One `write` call:
1. checks every vector (`InvalidVector` before anything is written) and the model's dimension;
2. makes sure each tenant has its partitions and an index for each model (or a deferred index in
   bulk mode);
3. in one transaction, model by model: binary-COPYs the media rows into a temp staging table and
   upserts them with one set-based `INSERT ... ON CONFLICT DO UPDATE ... WHERE <newer and not the
   same object>`, which returns only the media that changed; deletes the vectors of those that
   replaced a version (every model's: they describe the old bytes); records which (object, model)
   pairs are new in `media_models`, and binary-COPYs the vectors of exactly those into `embeddings`.

The object and its vectors are separate: the media row describes the object (its version), and each
model holds its own vectors of it. A write of an object the store already holds at this version,
with a model that has no vectors of it (a re-embedding with a new model, or the stream embedding an
upload with two models), adds that model's vectors and changes nothing else. A replayed event (the
same object and model) or one older than the stored version (a late arrival) writes nothing: the
upsert's WHERE is false and `media_models` already holds the pair.

Bulk mode (backfills, which skip what is already embedded) takes every key of a batch to be new
and COPYs the media rows straight into `media`, ids drawn from its sequence: for a key with no row
nothing can be stale or replayed. If one is stored after all (a live event got there first, or a
rerun), the primary key rejects the COPY, the transaction rolls back, and the batch is written again
through the upsert. The upsert (staging COPY, conflict checks, RETURNING) costs more than that COPY;
bench/store.py measures the writer against a raw COPY. A re-embedding of stored media (`reindex`)
writes with `new_keys=False`: its keys are all stored, so the optimistic COPY would always fail.
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

_MEDIA_FIELDS = ("client_id, bucket, key, sku, media_type, etag, version_id, sequencer, event_time, size, "
                 "frame_count, content_sha256")
_MEDIA_FIELD_TYPES = ["text", "text", "text", "text", "text", "text", "text", "text", "timestamptz", "int8",
                      "int4", "bytea"]

_NEW_MEDIA_IDS = "SELECT nextval('media_id_seq') FROM generate_series(1, %s)"
_COPY_NEW_MEDIA = f"COPY media (media_id, status, {_MEDIA_FIELDS}) FROM STDIN WITH (FORMAT BINARY)"

# The upsert stages media rows with a binary COPY (sending them as arrays costs more in adaptation
# than the COPY itself), then upserts them in one statement.
_STAGE_MEDIA = """
CREATE TEMP TABLE IF NOT EXISTS stage_media (
    client_id text, bucket text, key text, sku text, media_type text, etag text, version_id text,
    sequencer text, event_time timestamptz, size bigint, frame_count int, content_sha256 bytea
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
    size = EXCLUDED.size, frame_count = EXCLUDED.frame_count,
    content_sha256 = EXCLUDED.content_sha256, revision = m.revision + 1, updated_at = now()
WHERE (NOT coalesce(m.status = 'active' AND m.etag = EXCLUDED.etag
                    AND m.version_id IS NOT DISTINCT FROM EXCLUDED.version_id, false)
       AND event_is_newer(EXCLUDED.sequencer, EXCLUDED.event_time, m.sequencer, m.event_time))
   -- A forced re-embedding (replace=True) rewrites the very object the store holds, whatever the
   -- order of the events that brought it: the eTag and version say it is the same bytes.
   OR (%(replace)s AND m.status = 'active' AND m.etag = EXCLUDED.etag
       AND m.version_id IS NOT DISTINCT FROM EXCLUDED.version_id)
-- Only media that existed before (revision > 1) can have old vectors to delete.
RETURNING bucket, key, media_id, revision > 1
"""

# Keys of this batch the store holds at the very version staged (a forced re-embedding rewrites only
# its own model's vectors of those; a new version replaces every model's).
_SAME_OBJECT = """
SELECT s.bucket, s.key FROM stage_media s
JOIN media m ON m.client_id = s.client_id AND m.bucket = s.bucket AND m.key = s.key
WHERE s.client_id = %(client_id)s AND m.client_id = %(client_id)s AND m.status = 'active'
  AND m.etag IS NOT DISTINCT FROM s.etag AND m.version_id IS NOT DISTINCT FROM s.version_id
"""

# The (object, model) pairs this batch adds: staged objects the store now holds at the staged version
# that have no vectors of the model yet. ON CONFLICT DO NOTHING makes two writers of the same pair
# agree (the second waits for the first to commit, then adds nothing). One statement per tenant, so
# the planner reads that tenant's partition alone.
_RECORD_MODEL = """
WITH held AS (
    SELECT m.media_id, m.bucket, m.key, m.etag, m.version_id, s.frame_count
    FROM stage_media s
    JOIN media m ON m.client_id = s.client_id AND m.bucket = s.bucket AND m.key = s.key
    WHERE s.client_id = %(client_id)s AND m.client_id = %(client_id)s AND m.status = 'active'
      AND m.etag IS NOT DISTINCT FROM s.etag AND m.version_id IS NOT DISTINCT FROM s.version_id
), added AS (
    INSERT INTO media_models (client_id, media_id, model_id, etag, version_id, frame_count)
    SELECT %(client_id)s, media_id, %(model_id)s, etag, version_id, frame_count FROM held
    ORDER BY media_id
    ON CONFLICT DO NOTHING
    RETURNING media_id
)
SELECT held.media_id, held.bucket, held.key FROM added JOIN held USING (media_id)
"""
_COPY_NEW_MEDIA_MODELS = (
    "COPY media_models (client_id, media_id, model_id, etag, version_id, frame_count) FROM STDIN WITH (FORMAT BINARY)"
)

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

    def __init__(self, database_url: str, *, bulk: bool = False, replace: bool = False,
                 new_keys: bool | None = None, new_models: bool = True):
        self._database_url = database_url
        self._bulk = bulk
        self._replace = replace
        # new_models=False (the stream): vectors of a model the tenant does not hold (one retired while
        # they were computed) are dropped instead of registering it again; a new tenant's first model
        # is still registered.
        self._new_models = new_models
        # Whether a batch's keys are expected to be new (the optimistic COPY); a bulk load's are.
        self._new_keys = bulk if new_keys is None else new_keys
        self._conn: psycopg.Connection | None = None
        self._indexed: set[tuple[str, str]] = set()
        self._dims: dict[str, int] = {}

    def write(self, items: list[MediaVectors]) -> WriteReport:
        if not items:
            return WriteReport()
        # Several models in one batch (an upload embedded with two) name the same keys twice, so the
        # second model's rows are never new keys.
        optimistic = self._new_keys and len({item.model_id for item in items}) == 1
        try:
            return self._write(items, optimistic=optimistic)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
            if not optimistic:
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
        matrices = {id(i): v for i, v in zip(items, vectors)}
        stored: list[tuple[MediaVectors, int]] = []
        rows = 0
        # One transaction for every model of the batch: an upload embedded with two models becomes
        # searchable under both at once, or under neither.
        with conn.transaction():
            for model_items in _by_model(items):
                model_items = self._held_only(conn, model_items)
                if not model_items:
                    continue
                keep = newest_per_key(conn, [(i.bucket, i.ref.key) for i in model_items],
                                      [i.sequencer for i in model_items], [i.event_time for i in model_items])
                written, fields = self._write_model(conn, [model_items[n] for n in keep], matrices,
                                                    optimistic=optimistic)
                rows += self._copy_vectors(conn, written, fields)
                stored += written
        report = WriteReport(
            stored=len(stored), unchanged=len(items) - len(stored), rows=rows,
            stored_keys=list(dict.fromkeys(i.ref.key for i, _ in stored)),
        )
        log.debug("write: %s", report)
        return report

    def _held_only(self, conn, items: list[MediaVectors]) -> list[MediaVectors]:
        """One model's items, less those of tenants that do not hold it (only when `new_models=False`);
        checked inside the write's transaction, under a share lock (see `partitions.holds_model`)."""
        if self._new_models:
            return items
        model_id = items[0].model_id
        refused = {client for client in {i.ref.client_id for i in items}
                   if not partitions.holds_model(conn, client, model_id, lock=True)}
        if refused:
            log.info("write: %s is not held by %s any more (retired); its vectors are dropped", model_id,
                     ", ".join(sorted(refused)))
            self._indexed -= {(client, model_id) for client in refused}
        return [i for i in items if i.ref.client_id not in refused]

    def _write_model(self, conn, items: list[MediaVectors], matrices: dict[int, np.ndarray], *,
                     optimistic: bool) -> tuple[list[tuple[MediaVectors, int]], list[bytes]]:
        """Media rows for one model's items; (item, media_id) of those whose vectors are to be copied."""
        if optimistic:
            stored, fields = self._insert_new_media(conn, items, matrices)
            self._copy_media_models(conn, stored)
            return stored, fields
        stored = self._upsert_media(conn, items)
        return stored, _encoded(stored, matrices)

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
            if pair not in self._indexed and not self._new_models and partitions.holds_model(conn, *pair) is False:
                continue  # retired: `_held_only` drops its vectors
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

    def _upsert_media(self, conn, items: list[MediaVectors]) -> list[tuple[MediaVectors, int]]:
        """(item, media_id) of the objects that gain this model's vectors: new, newer, replaced by
        force, or held at this version without vectors of the model."""
        if not items:
            return []
        model_id = items[0].model_id
        # The staging table empties on commit; a batch of several models stages once per model.
        conn.execute("DELETE FROM stage_media")
        with conn.cursor().copy(_COPY_STAGE_MEDIA) as copy:
            copy.set_types(_MEDIA_FIELD_TYPES)
            for item in items:
                copy.write_row(_media_fields(item))
        by_key = {(i.bucket, i.ref.key): i for i in items}
        clients = sorted({i.ref.client_id for i in items})
        same_object = set()
        if self._replace:
            for client_id in clients:
                same_object.update(conn.execute(_SAME_OBJECT, {"client_id": client_id}).fetchall())
        replaced = [(by_key[(bucket, key)].ref.client_id, media_id, (bucket, key) in same_object)
                    for bucket, key, media_id, existed in conn.execute(_UPSERT_MEDIA, {"replace": self._replace})
                    if existed]
        # A new version's old vectors describe other bytes, whichever model made them; a forced
        # re-embedding of the same bytes replaces only its own model's.
        deletes.delete_vectors(conn, [(client, media_id) for client, media_id, same in replaced if not same])
        deletes.delete_vectors(conn, [(client, media_id) for client, media_id, same in replaced if same],
                               model_id=model_id)
        stored = []
        for client_id in clients:
            rows = conn.execute(_RECORD_MODEL, {"client_id": client_id, "model_id": model_id}).fetchall()
            stored += [(by_key[(bucket, key)], media_id) for media_id, bucket, key in rows]
        return stored

    def _copy_media_models(self, conn, stored: list[tuple[MediaVectors, int]]) -> None:
        with conn.cursor().copy(_COPY_NEW_MEDIA_MODELS) as copy:
            copy.set_types(["text", "int8", "text", "text", "text", "int4"])
            for item, media_id in stored:
                copy.write_row((item.ref.client_id, media_id, item.model_id, item.etag, item.version_id,
                                len(item.timestamps)))

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
        item.version_id, item.sequencer, item.event_time, item.size, len(item.timestamps), item.content_sha256,
    )


def _by_model(items: list[MediaVectors]) -> list[list[MediaVectors]]:
    groups: dict[str, list[MediaVectors]] = {}
    for item in items:
        groups.setdefault(item.model_id, []).append(item)
    return list(groups.values())

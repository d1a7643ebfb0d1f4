"""ObjectRemoved → rows: a delete leaves a tombstone so that older, late events stay ignored.

The media row is kept with `status = 'deleted'` and the delete's sequencer/time; its vectors go.
A delete older than the stored version (by `event_is_newer`) changes nothing. Version ids are not
compared: a versioned bucket's `DeleteMarkerCreated` carries the marker's own version id, not the
object's, so ordering by sequencer/time is the only sound rule.
"""

from collections import defaultdict

import psycopg

from stockmind.store.ordering import newest_per_key
from stockmind.store.records import MediaRemoval

_TOMBSTONE_MEDIA = """
INSERT INTO media AS m (client_id, bucket, key, sku, media_type, status, sequencer, event_time)
SELECT client_id, bucket, key, sku, media_type, 'deleted', sequencer, event_time
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
    AS s(client_id, bucket, key, sku, media_type, sequencer, event_time)
ORDER BY client_id COLLATE "C", bucket COLLATE "C", key COLLATE "C"
ON CONFLICT (bucket, key, client_id) DO UPDATE SET
    status = 'deleted', etag = NULL, version_id = NULL, size = NULL, frame_count = 0,
    content_sha256 = NULL,
    sequencer = EXCLUDED.sequencer, event_time = EXCLUDED.event_time, revision = m.revision + 1,
    updated_at = now()
WHERE event_is_newer(EXCLUDED.sequencer, EXCLUDED.event_time, m.sequencer, m.event_time)
RETURNING client_id, media_id
"""


def delete_media(conn: psycopg.Connection, removals: list[MediaRemoval]) -> int:
    """Tombstone the removed keys and drop their vectors, in one transaction; returns how many
    removals were applied (not stale). The tenants' partitions must exist."""
    if not removals:
        return 0
    keep = newest_per_key(
        conn, [(r.bucket, r.ref.key) for r in removals], [r.sequencer for r in removals],
        [r.event_time for r in removals],
    )
    chosen = [removals[i] for i in keep]
    with conn.transaction():
        rows = conn.execute(
            _TOMBSTONE_MEDIA,
            (
                [r.ref.client_id for r in chosen], [r.bucket for r in chosen], [r.ref.key for r in chosen],
                [r.ref.sku for r in chosen], [str(r.ref.media_type) for r in chosen],
                [r.sequencer for r in chosen], [r.event_time for r in chosen],
            ),
        ).fetchall()
        delete_vectors(conn, [(client_id, media_id) for client_id, media_id in rows])
    return len(rows)


def delete_vectors(conn: psycopg.Connection, media: list[tuple[str, int]], *, model_id: str | None = None) -> None:
    """Delete the vectors of these (client_id, media_id) pairs, of every model (or of `model_id`
    alone), and the record that the model embedded them.

    One statement per tenant with its client id as a parameter, so the planner prunes to that one
    partition and uses its primary key (a join with all tenants' partitions could scan them all).
    """
    by_client: dict[str, list[int]] = defaultdict(list)
    for client_id, media_id in media:
        by_client[client_id].append(media_id)
    for client_id, media_ids in by_client.items():
        params = {"client_id": client_id, "media_ids": media_ids, "model_id": model_id}
        for table in ("embeddings", "media_models"):
            conn.execute(
                f"DELETE FROM {table} WHERE client_id = %(client_id)s AND media_id = ANY(%(media_ids)s::bigint[])"
                " AND (%(model_id)s::text IS NULL OR model_id = %(model_id)s)", params,
            )

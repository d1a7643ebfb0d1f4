"""What the store already holds: for the backfill's "skip what is embedded" and for tests."""

from datetime import datetime

import psycopg


def embedded_media(
    conn: psycopg.Connection, *, client_id: str | None = None, model_id: str | None = None,
    bucket: str | None = None, keys: list[str] | None = None,
) -> dict[tuple[str, str], str | None]:
    """{(bucket, key): etag} of the live (not deleted) media, optionally of one tenant (its partition
    alone is read), bucket and/or list of keys; with `model_id`, only the media that model has
    embedded at their current version."""
    rows = conn.execute(
        "SELECT m.bucket, m.key, m.etag FROM media m WHERE m.status = 'active'"
        " AND (%(client_id)s::text IS NULL OR m.client_id = %(client_id)s)"
        " AND (%(model_id)s::text IS NULL OR EXISTS (SELECT 1 FROM media_models s"
        "      WHERE s.client_id = m.client_id AND s.media_id = m.media_id AND s.model_id = %(model_id)s"
        "      AND s.etag IS NOT DISTINCT FROM m.etag))"
        " AND (%(bucket)s::text IS NULL OR m.bucket = %(bucket)s)"
        " AND (%(keys)s::text[] IS NULL OR m.key = ANY(%(keys)s))",
        {"client_id": client_id, "model_id": model_id, "bucket": bucket, "keys": keys},
    )
    return {(bucket, key): etag for bucket, key, etag in rows}


def live_media_page(
    conn: psycopg.Connection, client_id: str, *, after: tuple[str, str] | None = None,
    changed_since: datetime | None = None, limit: int = 1000,
) -> list[tuple[str, str, str | None, int | None]]:
    """(bucket, key, etag, size) of up to `limit` of a tenant's live media after the
    (bucket, key) `after`, in key order (keyset paging: each page is one index range scan of the
    tenant's partition); optionally only those changed since `changed_since`."""
    return conn.execute(
        "SELECT bucket, key, etag, size FROM media"
        " WHERE client_id = %(client_id)s AND status = 'active'"
        " AND (%(bucket)s::text IS NULL OR (bucket, key) > (%(bucket)s, %(key)s))"
        " AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s)"
        " ORDER BY bucket, key LIMIT %(limit)s",
        {"client_id": client_id, "bucket": after[0] if after else None, "key": after[1] if after else None,
         "since": changed_since, "limit": limit},
    ).fetchall()


def database_time(conn: psycopg.Connection) -> datetime:
    """The server's clock, which stamps `media.updated_at` (this process's clock may differ)."""
    (now,) = conn.execute("SELECT clock_timestamp()").fetchone()
    return now


def is_searchable(conn: psycopg.Connection, client_id: str, key: str, etag: str) -> bool:
    """Whether the tenant's live media at `key` is this version (`etag`) and has committed vectors."""
    (found,) = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM media m JOIN embeddings e USING (client_id, media_id)"
        " WHERE m.client_id = %s AND m.key = %s AND m.status = 'active' AND m.etag = %s)",
        (client_id, key, etag),
    ).fetchone()
    return found


def count_embeddings(conn: psycopg.Connection, client_id: str, *, key: str | None = None) -> int:
    """How many vectors (images + video frames) a tenant, or one of its keys, has."""
    (count,) = conn.execute(
        "SELECT count(*) FROM embeddings e JOIN media m USING (client_id, media_id)"
        " WHERE e.client_id = %(client_id)s AND (%(key)s::text IS NULL OR m.key = %(key)s)",
        {"client_id": client_id, "key": key},
    ).fetchone()
    return count


def count_media(conn: psycopg.Connection, client_id: str, *, status: str = "active") -> int:
    (count,) = conn.execute(
        "SELECT count(*) FROM media WHERE client_id = %s AND status = %s", (client_id, status)
    ).fetchone()
    return count


def stored_vectors(
    conn: psycopg.Connection, client_id: str, key: str, *, model_id: str, bucket: str | None = None
) -> list:
    """The vectors (one per image, one per video frame, in frame order) a tenant's live media holds."""
    rows = conn.execute(
        "SELECT e.embedding FROM media m JOIN embeddings e ON e.client_id = m.client_id AND e.media_id = m.media_id"
        " WHERE m.client_id = %(client_id)s AND m.key = %(key)s AND m.status = 'active'"
        " AND (%(bucket)s::text IS NULL OR m.bucket = %(bucket)s) AND e.model_id = %(model_id)s"
        " ORDER BY e.frame_no",
        {"client_id": client_id, "key": key, "model_id": model_id, "bucket": bucket},
    )
    return [embedding for (embedding,) in rows]


def storage_bytes(conn: psycopg.Connection) -> dict[str, int]:
    """On-disk bytes of every tenant's partitions, by part (`vectors`: the embeddings rows,
    `hnsw`: their HNSW indexes, `media`: the media rows and each model's record of them, with their
    btrees), and the vector count;
    what sizing a server (docs/scaling.md) is based on."""
    (vectors, hnsw, media, count) = conn.execute(
        "SELECT"
        " coalesce(sum(pg_table_size(c.oid)) FILTER (WHERE c.relkind = 'r' AND c.relname LIKE 'embeddings_p_%%'), 0),"
        " coalesce(sum(pg_relation_size(c.oid)) FILTER (WHERE c.relkind = 'i' AND am.amname = 'hnsw'), 0),"
        " coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind = 'r' AND (c.relname LIKE 'media_p_%%'"
        " OR c.relname = 'media_models')), 0), (SELECT count(*) FROM embeddings)"
        " FROM pg_class c LEFT JOIN pg_am am ON am.oid = c.relam"
        " WHERE c.relnamespace = current_schema()::regnamespace"
    ).fetchone()
    return {"vectors": int(vectors), "hnsw": int(hnsw), "media": int(media), "count": int(count)}

"""Duplicate media inside one tenant: byte-identical (the same content hash) and near-identical (close vectors).

Every statement names the tenant (`client_id = %(client_id)s`) on every table it reads, so the planner
reads that tenant's partitions alone: media of another tenant never appear, even with the same bytes.

Byte-identical media share `content_sha256` (the SHA-256 of the bytes read at ingest; migration 3),
found through the partial index `media_content_sha256`. Media stored before that migration have no
hash (NULL) until they are embedded again: they are nobody's byte-identical duplicate.

Near-identical media are compared as whole objects: an image by its vector, a video by the mean of
its frames' vectors, the key's own the same way (as `Searcher.media_vector` makes one query of a video).
`queries.search_sql` does not fit: it scores a video by its best frame against the query, so a video
scored against its own mean would not reach 1, and it ranks top-k where this keeps all above a score.
"""

import psycopg

from stockmind.media.types import MediaType
from stockmind.store.records import IdenticalGroup, SearchHit, StoredMedia

DEFAULT_LIMIT = 100
KEYS_PER_GROUP = 100

# LEFT JOIN: the key itself always comes back (as a row of NULLs when it has no duplicate), so "no
# such media" (no row) and "no duplicate" (one NULL row) are told apart in one statement.
_IDENTICAL = """
SELECT o.key, o.bucket, o.sku, o.media_type
FROM media k
LEFT JOIN media o ON o.client_id = %(client_id)s AND o.status = 'active' AND o.content_sha256 IS NOT NULL
    AND o.content_sha256 = k.content_sha256 AND (o.bucket, o.key) <> (k.bucket, k.key)
WHERE k.client_id = %(client_id)s AND k.key = %(key)s AND k.status = 'active'
    AND (%(bucket)s::text IS NULL OR k.bucket = %(bucket)s)
ORDER BY o.key, o.bucket
LIMIT %(limit)s
"""

# An exact scan: it reads every vector of the model in the tenant's embeddings partition (images as
# they are, each video's frames averaged in one GROUP BY), so it costs O(rows x dim) per call, like
# an exact search and unlike an HNSW one; a threshold has no index to prune with. Measured: 28 ms for
# 20k 512-d images on a loaded 2-core machine (an exact top-10 search there: 21 ms), so about 1.5 s
# at 1M rows. Fine for a tenant's occasional "what duplicates this?", not for every search.
_NEAR = """
WITH source AS (
    SELECT avg(e.embedding) AS centre
    FROM media m JOIN embeddings e ON e.client_id = %(client_id)s AND e.media_id = m.media_id
    WHERE m.client_id = %(client_id)s AND m.key = %(key)s AND m.status = 'active'
        AND (%(bucket)s::text IS NULL OR m.bucket = %(bucket)s) AND e.model_id = %(model_id)s
), candidates AS (
    SELECT media_id, embedding AS centre FROM embeddings
    WHERE client_id = %(client_id)s AND model_id = %(model_id)s AND media_type = 'image'
    UNION ALL
    SELECT media_id, avg(embedding) FROM embeddings
    WHERE client_id = %(client_id)s AND model_id = %(model_id)s AND media_type = 'video'
    GROUP BY media_id
), scored AS (
    SELECT c.media_id, 1 - (c.centre <=> s.centre) AS score FROM candidates c CROSS JOIN source s
)
SELECT m.key, m.bucket, m.sku, m.media_type, sc.score
FROM scored sc JOIN media m ON m.client_id = %(client_id)s AND m.media_id = sc.media_id
WHERE sc.score >= %(min_score)s AND m.status = 'active'
    AND NOT (m.key = %(key)s AND (%(bucket)s::text IS NULL OR m.bucket = %(bucket)s))
ORDER BY sc.score DESC, m.key
LIMIT %(limit)s
"""

# Keyset paging in hash order, which the partial index already holds: a page reads the index from
# `after` until `limit` groups are found, so its cost grows with the hashed media it passes, not with
# the page number; a tenant with few duplicates is read through to the end.
_GROUPS = """
SELECT content_sha256, count(*), (array_agg(key ORDER BY key))[1:%(keys)s]
FROM media
WHERE client_id = %(client_id)s AND status = 'active' AND content_sha256 IS NOT NULL
    AND (%(after)s::bytea IS NULL OR content_sha256 > %(after)s)
GROUP BY content_sha256
HAVING count(*) > 1
ORDER BY content_sha256
LIMIT %(limit)s
"""


def identical_media(conn: psycopg.Connection, client_id: str, key: str, *, bucket: str | None = None,
                    limit: int = DEFAULT_LIMIT) -> list[StoredMedia] | None:
    """The tenant's other live media with the same bytes as its media `key`, in key order; None when
    the tenant has no live media at `key` ([] when it has, but no duplicate or no hash)."""
    rows = conn.execute(_IDENTICAL, {"client_id": client_id, "key": key, "bucket": bucket,
                                     "limit": limit}).fetchall()
    if not rows:
        return None
    return [StoredMedia(key_, bucket_, sku, MediaType(media_type))
            for key_, bucket_, sku, media_type in rows if key_ is not None]


def near_media(conn: psycopg.Connection, client_id: str, key: str, *, model_id: str, min_score: float,
               bucket: str | None = None, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
    """The tenant's other live media whose vector (a video: its frames' mean) has a cosine of at least
    `min_score` to that of its media `key`, best first (ties by key); [] when `key` has no vectors of
    `model_id`. `timestamp_s` is None: a video is compared as a whole."""
    rows = conn.execute(_NEAR, {"client_id": client_id, "key": key, "bucket": bucket, "model_id": model_id,
                                "min_score": min_score, "limit": limit}).fetchall()
    return [SearchHit(key_, bucket_, sku, MediaType(media_type), float(score), None)
            for key_, bucket_, sku, media_type, score in rows]


def identical_groups(conn: psycopg.Connection, client_id: str, *, after: bytes | None = None,
                     limit: int = DEFAULT_LIMIT, keys_per_group: int = KEYS_PER_GROUP) -> list[IdenticalGroup]:
    """The tenant's groups of two or more live media with the same bytes, in hash order, from the
    first hash after `after`; each with its size and its first `keys_per_group` keys in key order."""
    rows = conn.execute(_GROUPS, {"client_id": client_id, "after": after, "limit": limit,
                                  "keys": keys_per_group}).fetchall()
    return [IdenticalGroup(bytes(digest), count, list(keys)) for digest, count, keys in rows]

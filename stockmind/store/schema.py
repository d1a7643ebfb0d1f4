"""The versioned schema, as an ordered list of migrations (SQL kept beside the code that runs it).

Append new migrations; never edit one that has shipped. Why the tables look as they do:

- `media` and `embeddings` are LIST-partitioned by `client_id`: each tenant gets its own pair of
  tables (created on its first write, see `partitions.py`) and its own HNSW index, so a search runs
  on that tenant's rows alone (a shared index with a `client_id` filter loses recall: bench/store.py
  measures the naive design beside this one).
- `embedding` is an untyped `halfvec`: models differ in dimension, so each tenant partition gets one
  partial expression index per model, `((embedding::halfvec(D))) WHERE model_id = '<model>'`.
  `halfvec` halves the table and index size (and speeds index builds) versus `vector`; for unit
  vectors its 11-bit mantissa moves cosine scores by ~1e-3, which `bench/store.py` measures as recall
  against float32 exact search.
- `media` keeps a row per object key, also after a delete (`status = 'deleted'`, a tombstone), so a
  late, older `ObjectCreated` event cannot resurrect a deleted object.
- `event_is_newer` is the single ordering rule for events on one key (see its comment).
- `api_keys` holds the search service's keys (a SHA-256 digest each, never the token), and each
  key's own rate limit where it has one (NULL: the service's defaults, STOCKMIND_RATE_LIMIT_*).
- `service_secrets` holds the key that signs the search service's paging cursors, in the database
  so that every replica (and every restart) accepts the cursors any of them gave out.
- `media.content_sha256` is the SHA-256 of the object's bytes (S3's eTag is not a content hash for
  multipart uploads), so byte-identical media are found by an index lookup (`duplicates.py`).
- Vectors are keyed by model: an object may hold the vectors of several models at once (a new model
  is embedded beside the live one, then switched to). `media_models` says which version of each
  object each model embedded; `tenants.active_model_id` is the model that answers the tenant's
  searches (`tenant_models.py` switches it in one row update).
"""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "per-tenant media and embeddings",
        r"""
CREATE EXTENSION IF NOT EXISTS vector;

-- S3 sequencers are hex strings of varying length; they compare as numbers once left-padded to equal
-- length. Stripping leading zeros and prefixing the length gives a key that sorts the same way as text.
CREATE FUNCTION sequencer_sort_key(sequencer text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lpad(length(ltrim(upper(sequencer), '0'))::text, 4, '0') || ltrim(upper(sequencer), '0')
$$;

-- Is event `new` on a key newer than the event that last changed it (`old`)?
-- 1. Both have an S3 sequencer: compare sequencers (S3's own per-key order).
-- 2. Else both have an event time: the later (or equal) time wins.
-- 3. Else nothing to compare: arrival order decides, so the new event wins.
-- Version ids are opaque (not ordered), so they only identify an object, never order it.
CREATE FUNCTION event_is_newer(new_sequencer text, new_time timestamptz, old_sequencer text, old_time timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN new_sequencer IS NOT NULL AND old_sequencer IS NOT NULL
            THEN sequencer_sort_key(new_sequencer) COLLATE "C" > sequencer_sort_key(old_sequencer) COLLATE "C"
        WHEN new_time IS NOT NULL AND old_time IS NOT NULL
            THEN new_time >= old_time
        ELSE true
    END
$$;

CREATE TABLE models (
    model_id text PRIMARY KEY,
    dim integer NOT NULL CHECK (dim BETWEEN 1 AND 4000),  -- 4000: pgvector's HNSW limit for halfvec
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per tenant partition pair; `partition_suffix` names its tables.
CREATE TABLE tenants (
    client_id text PRIMARY KEY,
    partition_suffix text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One HNSW index per (tenant, model). 'deferred' while a bulk load fills the partition unindexed.
CREATE TABLE tenant_indexes (
    client_id text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    model_id text NOT NULL REFERENCES models,
    index_name text NOT NULL UNIQUE,
    state text NOT NULL CHECK (state IN ('ready', 'deferred')),
    PRIMARY KEY (client_id, model_id)
);

CREATE SEQUENCE media_id_seq AS bigint;

CREATE TABLE media (
    client_id text NOT NULL,
    media_id bigint NOT NULL DEFAULT nextval('media_id_seq'),
    bucket text NOT NULL,
    key text NOT NULL,
    sku text NOT NULL,
    media_type text NOT NULL CHECK (media_type IN ('image', 'video')),
    status text NOT NULL CHECK (status IN ('active', 'deleted')),
    etag text,
    version_id text,
    sequencer text,
    event_time timestamptz,
    size bigint,
    model_id text,
    frame_count integer NOT NULL DEFAULT 0,
    -- 1 when inserted, +1 on every change: a writer learns from RETURNING whether the row existed.
    revision integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- client_id last: inside a partition it is constant, and leading with it would invite the planner
    -- to read a tenant's whole table through these indexes instead of its HNSW index.
    PRIMARY KEY (bucket, key, client_id),
    UNIQUE (media_id, client_id)
) PARTITION BY LIST (client_id);

-- sku and media_type are copied from `media` so filters apply inside the index scan, without a join.
CREATE TABLE embeddings (
    client_id text NOT NULL,
    media_id bigint NOT NULL,
    frame_no integer NOT NULL,
    timestamp_s real,
    sku text NOT NULL,
    media_type text NOT NULL,
    model_id text NOT NULL,
    embedding halfvec NOT NULL,
    PRIMARY KEY (media_id, frame_no, client_id)
) PARTITION BY LIST (client_id);
""",
    ),
    (
        2,
        "API keys of the search service",
        # IF NOT EXISTS: before this migration the service created the table itself, so databases
        # it has served already hold it, with this definition.
        r"""
CREATE TABLE IF NOT EXISTS api_keys (
    key_id text PRIMARY KEY,
    client_id text NOT NULL CHECK (client_id <> ''),
    token_sha256 bytea NOT NULL,
    label text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
""",
    ),
    (
        3,
        "content hash of each media object",
        # Adding a nullable column without a default rewrites nothing: existing rows read NULL (their
        # hash is unknown until they are embedded again). The index is created on the partitioned
        # parent, so PostgreSQL builds one on every tenant partition now and on each one created
        # later. Built inside the migration's transaction (CONCURRENTLY is refused on a partitioned
        # table), it blocks writes to `media` while it reads each partition's rows once; it indexes
        # none of them (no existing row has a hash), so it is short.
        # The partial predicate keeps tombstones and unhashed rows out; client_id is left out of
        # the key because inside a partition it is constant.
        r"""
ALTER TABLE media ADD COLUMN content_sha256 bytea;

CREATE INDEX media_content_sha256 ON media (content_sha256)
    WHERE status = 'active' AND content_sha256 IS NOT NULL;
""",
    ),
    (
        4,
        "per-key rate limits of the search service",
        # NULL = the service's default: a key created before this migration keeps the defaults, and
        # changing a default reaches every key that was never given its own.
        r"""
-- `< 'Infinity'` also refuses NaN, which PostgreSQL sorts above Infinity.
ALTER TABLE api_keys
    ADD COLUMN rate_per_s double precision CHECK (rate_per_s > 0 AND rate_per_s < 'Infinity'),
    ADD COLUMN burst integer CHECK (burst >= 1);
""",
    ),
    (
        5,
        "the key that signs search cursors",
        # gen_random_uuid() draws from the server's strong random source; two version-4 UUIDs
        # carry 244 random bits, and need no extension (pgcrypto's gen_random_bytes would).
        r"""
CREATE TABLE service_secrets (
    name text PRIMARY KEY,
    secret bytea NOT NULL CHECK (length(secret) >= 16),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO service_secrets (name, secret)
VALUES ('cursor', decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
""",
    ),
    (
        6,
        "vectors of several models per object; a per-tenant active model",
        # Existing data migrates in place: each live object's model and version move from `media` to
        # `media_models`, and a tenant's active model is the one most of its objects hold (every
        # tenant held one model before this). Changing the primary key rebuilds each partition's
        # key index once; nothing else is rewritten.
        r"""
ALTER TABLE embeddings DROP CONSTRAINT embeddings_pkey;
ALTER TABLE embeddings ADD PRIMARY KEY (media_id, model_id, frame_no, client_id);

-- One row per (object, model) that holds vectors: the object version (eTag, version id) it embedded.
-- Keyed by media first: deletes and re-embeddings remove an object's rows of every model at once.
-- No foreign keys: a bulk load writes one row per object, and a per-row referential check would cost
-- more than the row (the writer registers tenants and models first; dropping a tenant deletes its rows).
CREATE TABLE media_models (
    client_id text NOT NULL,
    media_id bigint NOT NULL,
    model_id text NOT NULL,
    etag text,
    version_id text,
    frame_count integer NOT NULL,
    embedded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, media_id, model_id)
);

INSERT INTO media_models (client_id, media_id, model_id, etag, version_id, frame_count, embedded_at)
SELECT client_id, media_id, model_id, etag, version_id, frame_count, updated_at
FROM media WHERE status = 'active' AND model_id IS NOT NULL;

ALTER TABLE tenants ADD COLUMN active_model_id text REFERENCES models;
UPDATE tenants t SET active_model_id = coalesce(
    (SELECT model_id FROM media_models s WHERE s.client_id = t.client_id
     GROUP BY model_id ORDER BY count(*) DESC, model_id LIMIT 1),
    (SELECT min(model_id) FROM tenant_indexes i WHERE i.client_id = t.client_id));

ALTER TABLE media DROP COLUMN model_id;
""",
    ),
)

"""Tenant partitions and their HNSW indexes: created on a tenant's first write, dropped in one step.

Every tenant has its own `media_p_<suffix>` and `embeddings_p_<suffix>` tables (LIST partitions of
`media` and `embeddings`) and one HNSW index per model on its embeddings table. Creation runs under a
per-tenant advisory lock and re-checks the registry inside it, so two writers meeting a new tenant at
the same moment create it once and neither fails.
"""

import hashlib
import logging
import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from stockmind.store.connection import advisory_key

log = logging.getLogger(__name__)

# HNSW build parameters. Queries far from all of a tenant's media (text queries sit apart from
# images in CLIP space) need a well-built graph to reach a large tenant's true neighbours: pgvector's
# default ef_construction (64) left far-query recall short at any ef_search; a larger m bought no
# recall per ms of query time and builds slower. The measurements are in the README ("How the
# store's HNSW parameters were chosen").
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
_SLUG_CHARS = 20


@dataclass(frozen=True)
class TenantIndex:
    """Where a tenant's vectors of one model live and how to search them."""

    client_id: str
    model_id: str
    dim: int
    table: str
    media_table: str
    index_name: str
    ready: bool
    # The planner's row estimate for the table; infinite until it is first analysed.
    estimated_rows: float


def partition_suffix(client_id: str) -> str:
    """A readable, collision-free table-name suffix: a slug of the id plus a hash of the exact id."""
    slug = re.sub(r"[^a-z0-9]+", "_", client_id.lower()).strip("_")[:_SLUG_CHARS]
    return f"{slug}_{hashlib.sha1(client_id.encode()).hexdigest()[:10]}"


def model_dim(conn: psycopg.Connection, model_id: str, dim: int) -> int:
    """The dimension `model_id` is registered with, registering it with `dim` on first use."""
    conn.execute("INSERT INTO models (model_id, dim) VALUES (%s, %s) ON CONFLICT DO NOTHING", (model_id, dim))
    (known,) = conn.execute("SELECT dim FROM models WHERE model_id = %s", (model_id,)).fetchone()
    return known


def ensure_tenant(conn: psycopg.Connection, client_id: str) -> str:
    """The tenant's partition suffix, creating its partitions first if needed (concurrency-safe)."""
    suffix = registered_suffix(conn, client_id)
    if suffix is not None:
        return suffix
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", advisory_key("stockmind.tenant", client_id))
        suffix = registered_suffix(conn, client_id)
        if suffix is None:
            suffix = partition_suffix(client_id)
            for parent in ("media", "embeddings"):
                conn.execute(
                    sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN ({})").format(
                        sql.Identifier(f"{parent}_p_{suffix}"), sql.Identifier(parent), sql.Literal(client_id)
                    )
                )
            conn.execute("INSERT INTO tenants (client_id, partition_suffix) VALUES (%s, %s)", (client_id, suffix))
            log.info("created partitions for tenant %r (%s)", client_id, suffix)
    return suffix


def ensure_index(conn: psycopg.Connection, client_id: str, model_id: str, dim: int, *, defer: bool) -> None:
    """Give the tenant an HNSW index for `model_id` (or register it as deferred, for a bulk load);
    the tenant's first model becomes its active one.

    A deferred index stays deferred until `build_deferred_indexes`, even if a streaming writer
    arrives meanwhile, so a backfill is never slowed by an index a live event created.
    """
    if tenant_index(conn, client_id, model_id) is not None:
        return
    suffix = ensure_tenant(conn, client_id)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", advisory_key("stockmind.tenant", client_id))
        if tenant_index(conn, client_id, model_id) is not None:
            return
        index_name = f"embeddings_p_{suffix}_hnsw_{hashlib.sha1(model_id.encode()).hexdigest()[:8]}"
        if not defer:
            create_hnsw_index(conn, f"embeddings_p_{suffix}", index_name, model_id, dim)
        conn.execute(
            "INSERT INTO tenant_indexes (client_id, model_id, index_name, state) VALUES (%s, %s, %s, %s)",
            (client_id, model_id, index_name, "deferred" if defer else "ready"),
        )
        # A tenant's first model answers its searches until another is activated (tenant_models.py).
        conn.execute("UPDATE tenants SET active_model_id = %s WHERE client_id = %s AND active_model_id IS NULL",
                     (model_id, client_id))


def create_hnsw_index(conn: psycopg.Connection, table: str, index_name: str, model_id: str, dim: int) -> None:
    # A partial expression index: the untyped column holds every model's vectors, the cast gives the
    # index its dimension, and the predicate keeps other models' rows (other dimensions) out of it.
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {index} ON {table} USING hnsw ((embedding::halfvec({dim})) halfvec_cosine_ops)"
            " WITH (m = {m}, ef_construction = {efc}) WHERE model_id = {model}"
        ).format(
            index=sql.Identifier(index_name),
            table=sql.Identifier(table),
            dim=sql.Literal(dim),
            m=sql.Literal(HNSW_M),
            efc=sql.Literal(HNSW_EF_CONSTRUCTION),
            model=sql.Literal(model_id),
        )
    )


def tenant_index(conn: psycopg.Connection, client_id: str, model_id: str) -> TenantIndex | None:
    row = conn.execute(
        "SELECT t.partition_suffix, i.index_name, i.state, m.dim, c.reltuples"
        " FROM tenant_indexes i JOIN tenants t USING (client_id) JOIN models m USING (model_id)"
        " LEFT JOIN pg_class c ON c.oid = to_regclass(quote_ident('embeddings_p_' || t.partition_suffix))"
        " WHERE i.client_id = %s AND i.model_id = %s",
        (client_id, model_id),
    ).fetchone()
    if row is None:
        return None
    suffix, index_name, state, dim, reltuples = row
    return TenantIndex(
        client_id, model_id, dim, f"embeddings_p_{suffix}", f"media_p_{suffix}", index_name, state == "ready",
        float("inf") if reltuples is None or reltuples < 0 else reltuples,
    )


def holds_model(conn: psycopg.Connection, client_id: str, model_id: str, *, lock: bool = False) -> bool | None:
    """Whether the tenant holds `model_id`; None when it holds no model at all (a new tenant). With
    `lock`, the (tenant, model) row is share-locked until the transaction ends, so a retirement
    waits for a write that found the model held, and a write after a retirement finds it gone."""
    held = conn.execute(
        "SELECT 1 FROM tenant_indexes WHERE client_id = %s AND model_id = %s" + (" FOR SHARE" if lock else ""),
        (client_id, model_id),
    ).fetchone()
    if held is not None:
        return True
    (any_model,) = conn.execute("SELECT EXISTS (SELECT 1 FROM tenant_indexes WHERE client_id = %s)",
                                (client_id,)).fetchone()
    return False if any_model else None


def drop_tenant(conn: psycopg.Connection, client_id: str) -> bool:
    """Delete everything a tenant has by dropping its partitions; False if it had none."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", advisory_key("stockmind.tenant", client_id))
        suffix = registered_suffix(conn, client_id)
        if suffix is None:
            return False
        for parent in ("embeddings", "media"):
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(f"{parent}_p_{suffix}")))
        conn.execute("DELETE FROM media_models WHERE client_id = %s", (client_id,))
        conn.execute("DELETE FROM tenants WHERE client_id = %s", (client_id,))
    log.info("dropped tenant %r", client_id)
    return True


def registered_suffix(conn: psycopg.Connection, client_id: str) -> str | None:
    row = conn.execute("SELECT partition_suffix FROM tenants WHERE client_id = %s", (client_id,)).fetchone()
    return row[0] if row else None

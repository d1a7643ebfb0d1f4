"""Bulk loads (backfills): fill partitions without their HNSW index, then build each index once.

Inserting into an HNSW-indexed table is more than ten times slower than into an unindexed one, so
a backfill writes with `PgVectorWriter(url, bulk=True)` (new tenants get a deferred index),
optionally after `defer_indexes` for tenants it reloads at scale, and finishes with
`build_deferred_indexes`.
"""

import logging

from psycopg import sql

from stockmind.store import partitions
from stockmind.store.connection import advisory_key, connect

log = logging.getLogger(__name__)

# An HNSW build that does not fit in maintenance_work_mem spills to disk and is several times slower;
# 1 GB holds the graph of ~1M 512-d halfvec rows.
MAINTENANCE_WORK_MEM = "1GB"
PARALLEL_MAINTENANCE_WORKERS = 2


def defer_indexes(database_url: str, client_ids: list[str]) -> None:
    """Drop these tenants' HNSW indexes until `build_deferred_indexes` (search falls back to exact)."""
    with connect(database_url) as conn:
        for client_id in client_ids:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", advisory_key("stockmind.tenant", client_id))
                names = conn.execute(
                    "UPDATE tenant_indexes SET state = 'deferred' WHERE client_id = %s AND state = 'ready'"
                    " RETURNING index_name",
                    (client_id,),
                ).fetchall()
                for (name,) in names:
                    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))


def build_deferred_indexes(database_url: str, only: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """Build every deferred index (or those of the (client_id, model_id) pairs `only`), then ANALYZE
    its table; returns the (client_id, model_id) built."""
    built = []
    with connect(database_url) as conn:
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (MAINTENANCE_WORK_MEM,))
        conn.execute(
            "SELECT set_config('max_parallel_maintenance_workers', %s, false)", (str(PARALLEL_MAINTENANCE_WORKERS),)
        )
        pending = conn.execute("SELECT client_id, model_id FROM tenant_indexes WHERE state = 'deferred'").fetchall()
        if only is not None:
            pending = [pair for pair in pending if pair in set(only)]
        for client_id, model_id in pending:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", advisory_key("stockmind.tenant", client_id))
                index = partitions.tenant_index(conn, client_id, model_id)
                if index is None or index.ready:
                    continue
                partitions.create_hnsw_index(conn, index.table, index.index_name, model_id, index.dim)
                conn.execute(
                    "UPDATE tenant_indexes SET state = 'ready' WHERE client_id = %s AND model_id = %s",
                    (client_id, model_id),
                )
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(index.table)))
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(index.media_table)))
            log.info("built HNSW index for tenant %r, model %r", client_id, model_id)
            built.append((client_id, model_id))
    return built

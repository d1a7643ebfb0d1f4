"""Apply the schema's migrations in order, once each; safe to run twice and from many processes."""

import logging

import psycopg

from stockmind.store.connection import advisory_key
from stockmind.store.schema import MIGRATIONS

log = logging.getLogger(__name__)

_LOCK = advisory_key("stockmind.store", "migrate")


def migrate(database_url: str) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied now (maybe [])."""
    # The vector extension must exist before pgvector's types can be registered, so this connection
    # is a plain one (connect() would fail on a fresh database).
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A session lock: concurrent `migrate` calls queue here, and the later ones find nothing to do.
        conn.execute("SELECT pg_advisory_lock(%s, %s)", _LOCK)
        try:
            return _apply_missing(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", _LOCK)


def is_migrated(conn: psycopg.Connection) -> bool:
    """Whether this database holds every migration this code knows (the service's readiness check)."""
    (table,) = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    return table is not None and _applied(conn) >= {version for version, _, _ in MIGRATIONS}


def _apply_missing(conn: psycopg.Connection) -> list[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = _applied(conn)
    applied = []
    for version, name, sql in MIGRATIONS:
        if version in done:
            continue
        with conn.transaction():
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
        log.info("applied migration %d: %s", version, name)
        applied.append(version)
    return applied


def _applied(conn: psycopg.Connection) -> set[int]:
    return {version for (version,) in conn.execute("SELECT version FROM schema_migrations")}

"""Apply the schema's migrations in order, once each; safe to run twice and from many processes."""

import logging

from stockmind.store.connection import advisory_key, connect
from stockmind.store.schema import MIGRATIONS

log = logging.getLogger(__name__)

_LOCK = advisory_key("stockmind.store", "migrate")


def migrate(database_url: str) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied now (maybe [])."""
    # The vector extension must exist before pgvector's types can be registered, so this connection
    # is a plain one (connect() would fail on a fresh database).
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        # A session lock: concurrent `migrate` calls queue here, and the later ones find nothing to do.
        conn.execute("SELECT pg_advisory_lock(%s, %s)", _LOCK)
        try:
            return _apply_missing(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", _LOCK)


def applied_versions(database_url: str) -> list[int]:
    with connect(database_url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def _apply_missing(conn) -> list[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
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

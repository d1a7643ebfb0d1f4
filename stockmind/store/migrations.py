"""Apply the schema's migrations in order, once each; safe to run twice and from many processes."""

import logging

import psycopg

from stockmind.errors import SchemaNotReady
from stockmind.store.connection import advisory_key
from stockmind.store.schema import MIGRATIONS

log = logging.getLogger(__name__)

_LOCK = advisory_key("stockmind.store", "migrate")


def migrate(database_url: str) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied now (maybe []).

    `SchemaNotReady` when this database user may not apply them (CREATE EXTENSION vector, CREATE
    TABLE), or the server has no pgvector.
    """
    # The vector extension must exist before pgvector's types can be registered, so this connection
    # is a plain one (connect() would fail on a fresh database).
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A session lock: concurrent `migrate` calls queue here, and the later ones find nothing to do.
        conn.execute("SELECT pg_advisory_lock(%s, %s)", _LOCK)
        try:
            return _apply_missing(conn)
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.FeatureNotSupported,
                psycopg.errors.UndefinedFile) as error:
            raise SchemaNotReady(
                f"cannot apply the store's migrations as database user {conn.info.user!r} "
                f"({_first_line(error)}): run `stockmind db migrate` as the database owner"
            ) from None
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", _LOCK)


def is_migrated(conn: psycopg.Connection) -> bool:
    """Whether this database holds every migration this code knows (the service's readiness check)."""
    return not _pending(conn)


def pending_migrations(database_url: str) -> list[int]:
    """The versions this database lacks, read without changing anything (a fresh database lacks all)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return _pending(conn)


def _pending(conn: psycopg.Connection) -> list[int]:
    (table,) = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    done = set() if table is None else _applied(conn)
    return [version for version, _, _ in MIGRATIONS if version not in done]


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


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]

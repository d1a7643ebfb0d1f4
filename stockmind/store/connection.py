"""Connections to the store: pgvector types registered, statements never server-prepared.

psycopg prepares a statement after 5 executions and the cached plan then ignores later
`SET LOCAL hnsw.ef_search` / planner settings, and search changes them per query, so every
connection here, single or pooled, has `prepare_threshold=None`.
"""

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

_SESSION = {"prepare_threshold": None}


def connect(database_url: str, *, autocommit: bool = True) -> psycopg.Connection:
    """A connection with the vector/halfvec types registered (the `vector` extension must exist)."""
    conn = psycopg.connect(database_url, autocommit=autocommit, **_SESSION)
    try:
        configure(conn)
    except psycopg.ProgrammingError:
        conn.close()
        raise
    return conn


def connection_pool(database_url: str, *, name: str, max_size: int, timeout_s: float) -> ConnectionPool:
    """An open pool of connections set up as `connect` sets one up (psycopg_pool's `configure` hook)."""
    return ConnectionPool(
        database_url, min_size=1, max_size=max_size, timeout=timeout_s, open=True, name=name,
        kwargs={"autocommit": True, **_SESSION}, configure=configure,
    )


def configure(conn: psycopg.Connection) -> None:
    """Set up a new connection for the store (psycopg_pool calls it for each pooled one)."""
    # register_vector fails before CREATE EXTENSION vector has run on this database (migrate() runs it).
    register_vector(conn)


def advisory_key(namespace: str, name: str) -> tuple[int, int]:
    """Two int4 keys for pg_advisory_*lock(int, int): a fixed namespace and a hash of `name`.

    Hash collisions only make two unrelated names wait for each other; they never break correctness.
    """
    return _stable_int4(namespace), _stable_int4(name)


def _stable_int4(text: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big", signed=True)

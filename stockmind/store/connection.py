"""Connections to the store: pgvector types registered, statements never server-prepared.

psycopg prepares a statement after 5 executions and the cached plan then ignores later
`SET LOCAL hnsw.ef_search` / planner settings (FACTS), and search changes them per query, so every
connection here has `prepare_threshold=None`.
"""

import psycopg
from pgvector.psycopg import register_vector


def connect(database_url: str, *, autocommit: bool = True) -> psycopg.Connection:
    """A connection with the vector/halfvec types registered (the `vector` extension must exist)."""
    conn = psycopg.connect(database_url, autocommit=autocommit, prepare_threshold=None)
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        # register_vector fails before CREATE EXTENSION vector has run on this database (FACTS).
        conn.close()
        raise
    return conn


def advisory_key(namespace: str, name: str) -> tuple[int, int]:
    """Two int4 keys for pg_advisory_*lock(int, int): a fixed namespace and a hash of `name`.

    Hash collisions only make two unrelated names wait for each other; they never break correctness.
    """
    return _stable_int4(namespace), _stable_int4(name)


def _stable_int4(text: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big", signed=True)

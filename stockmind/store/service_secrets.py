"""Secrets the search service shares across its replicas, kept in the database (migration 5)."""

import psycopg

from stockmind.errors import SchemaNotReady


def service_secret(conn: psycopg.Connection, name: str) -> bytes:
    """The secret `name` (e.g. 'cursor'); `SchemaNotReady` if the database lacks it."""
    row = conn.execute("SELECT secret FROM service_secrets WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise SchemaNotReady(f"the database holds no {name!r} secret: run `stockmind db migrate`")
    return bytes(row[0])

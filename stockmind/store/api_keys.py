"""The search service's API keys as rows: inserted, listed, revoked, and looked up by key id.

Only a digest of each token is stored; minting tokens and comparing digests is the service's job
(`stockmind/service/api_keys.py`). The table is migration 2 (`schema.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

_COLUMNS = "key_id, client_id, label, created_at, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    """A key as listings show it: everything but the secret."""

    key_id: str
    client_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def insert_api_key(conn: psycopg.Connection, key_id: str, client_id: str, token_sha256: bytes,
                   label: str = "") -> ApiKey:
    row = conn.execute(
        f"INSERT INTO api_keys (key_id, client_id, token_sha256, label) VALUES (%s, %s, %s, %s) RETURNING {_COLUMNS}",
        (key_id, client_id, token_sha256, label),
    ).fetchone()
    return ApiKey(*row)


def list_api_keys(conn: psycopg.Connection, client_id: str | None = None) -> list[ApiKey]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM api_keys"
        " WHERE %(client)s::text IS NULL OR client_id = %(client)s ORDER BY client_id, created_at, key_id",
        {"client": client_id},
    ).fetchall()
    return [ApiKey(*row) for row in rows]


def revoke_api_key(conn: psycopg.Connection, key_id: str) -> bool:
    """Revoke `key_id`; False if no such key exists. Revoking twice keeps the first revocation time."""
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s RETURNING key_id",
        (key_id,),
    ).fetchone()
    return row is not None


def active_key_digest(conn: psycopg.Connection, key_id: str) -> tuple[str, bytes] | None:
    """(client_id, token digest) of an active key, or None for an unknown or revoked one."""
    row = conn.execute(
        "SELECT client_id, token_sha256 FROM api_keys WHERE key_id = %s AND revoked_at IS NULL", (key_id,)
    ).fetchone()
    return None if row is None else (row[0], bytes(row[1]))

"""The search service's API keys as rows: inserted, listed, revoked, limited, and looked up by key id.

Only a digest of each token is stored; minting tokens and comparing digests is the service's job
(`stockmind/service/api_keys.py`). The table is migration 2 (`schema.py`); each key's own rate limit
(NULL: the service's default) is migration 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

_COLUMNS = "key_id, client_id, label, created_at, revoked_at, rate_per_s, burst"


@dataclass(frozen=True)
class ApiKey:
    """A key as listings show it: everything but the secret."""

    key_id: str
    client_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None
    rate_per_s: float | None = None  # None: the service's default rate
    burst: int | None = None  # None: the service's default burst

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class StoredKey:
    """What authenticating a key needs, read in one query: whose it is, its digest, its own limits."""

    key_id: str
    client_id: str
    token_sha256: bytes
    rate_per_s: float | None
    burst: int | None


def insert_api_key(conn: psycopg.Connection, key_id: str, client_id: str, token_sha256: bytes,
                   label: str = "", rate_per_s: float | None = None, burst: int | None = None) -> ApiKey:
    row = conn.execute(
        "INSERT INTO api_keys (key_id, client_id, token_sha256, label, rate_per_s, burst)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (key_id, client_id, token_sha256, label, rate_per_s, burst),
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


def set_api_key_limit(conn: psycopg.Connection, key_id: str, rate_per_s: float | None,
                      burst: int | None) -> ApiKey | None:
    """Give `key_id` its own rate and burst (None: back to the service's default); None if no such key."""
    row = conn.execute(
        f"UPDATE api_keys SET rate_per_s = %s, burst = %s WHERE key_id = %s RETURNING {_COLUMNS}",
        (rate_per_s, burst, key_id),
    ).fetchone()
    return None if row is None else ApiKey(*row)


def active_key_digest(conn: psycopg.Connection, key_id: str) -> StoredKey | None:
    """An active key's owner, digest and own limits, or None for an unknown or revoked one."""
    row = conn.execute(
        "SELECT key_id, client_id, token_sha256, rate_per_s, burst FROM api_keys"
        " WHERE key_id = %s AND revoked_at IS NULL",
        (key_id,),
    ).fetchone()
    return None if row is None else StoredKey(row[0], row[1], bytes(row[2]), row[3], row[4])

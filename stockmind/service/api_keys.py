"""API keys: minted per client, shown once, stored as a SHA-256 digest, listed and revoked.

A key looks like `smk_<key_id>_<secret>`. `key_id` is public (it names the key in listings and
revocations); the secret is 32 random bytes, so a plain SHA-256 of the whole token is enough (no
slow password hash is needed for a high-entropy token). Lookup is by `key_id`, then the stored
digest is compared in constant time, so response times say nothing about how much of a guess matched.

The table is ensured here with `CREATE TABLE IF NOT EXISTS` (at service start and by the keys CLI)
rather than in the store's migrations: keys belong to the service, not to the vector store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg

PREFIX = "smk"
_KEY_ID_BYTES = 6
_SECRET_BYTES = 32
_TOKEN = re.compile(rf"{PREFIX}_([0-9a-f]{{{2 * _KEY_ID_BYTES}}})_([A-Za-z0-9_-]{{20,100}})")
MAX_CLIENT_ID_CHARS = 255

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id text PRIMARY KEY,
    client_id text NOT NULL CHECK (client_id <> ''),
    token_sha256 bytea NOT NULL,
    label text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
)
"""


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


@dataclass(frozen=True)
class MintedKey:
    key: ApiKey
    token: str  # shown once; only its digest is stored


def ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(_CREATE_TABLE)


def create_key(conn: psycopg.Connection, client_id: str, label: str = "") -> MintedKey:
    if not client_id or len(client_id) > MAX_CLIENT_ID_CHARS or "/" in client_id:
        raise ValueError("client_id must be 1-255 characters without '/' (it is a segment of media keys)")
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    row = conn.execute(
        "INSERT INTO api_keys (key_id, client_id, token_sha256, label) VALUES (%s, %s, %s, %s)"
        " RETURNING key_id, client_id, label, created_at, revoked_at",
        (key_id, client_id, _digest(token), label),
    ).fetchone()
    return MintedKey(ApiKey(*row), token)


def list_keys(conn: psycopg.Connection, client_id: str | None = None) -> list[ApiKey]:
    rows = conn.execute(
        "SELECT key_id, client_id, label, created_at, revoked_at FROM api_keys"
        " WHERE %(client)s::text IS NULL OR client_id = %(client)s ORDER BY client_id, created_at, key_id",
        {"client": client_id},
    ).fetchall()
    return [ApiKey(*row) for row in rows]


def revoke_key(conn: psycopg.Connection, key_id: str) -> bool:
    """Revoke `key_id`; False if no such key exists. Revoking twice keeps the first revocation time."""
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s RETURNING key_id",
        (key_id,),
    ).fetchone()
    return row is not None


def authenticate(conn: psycopg.Connection, token: str) -> str | None:
    """The client id of an active key, or None for a malformed, unknown or revoked one."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    row = conn.execute(
        "SELECT client_id, token_sha256 FROM api_keys WHERE key_id = %s AND revoked_at IS NULL",
        (match.group(1),),
    ).fetchone()
    if row is None or not hmac.compare_digest(bytes(row[1]), _digest(token)):
        return None
    return row[0]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()

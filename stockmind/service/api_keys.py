"""API keys: minted per client, shown once, stored as a SHA-256 digest, listed and revoked.

A key looks like `smk_<key_id>_<secret>`. `key_id` is public (it names the key in listings and
revocations); the secret is 32 random bytes, so a plain SHA-256 of the whole token is enough (no
slow password hash is needed for a high-entropy token). Lookup is by `key_id`, then the stored
digest is compared in constant time, so response times say nothing about how much of a guess matched.

A key may carry its own rate limit (rate and burst; None: the service's defaults, see rate_limits.py).
The rows (table `api_keys`, the store's migrations 2 and 4) are read and written by `stockmind.store.api_keys`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import psycopg

from stockmind.service.rate_limits import check_limit
from stockmind.store import ApiKey, StoredKey, active_key_digest, insert_api_key, set_api_key_limit
from stockmind.store import list_api_keys as list_keys
from stockmind.store import revoke_api_key as revoke_key

PREFIX = "smk"
_KEY_ID_BYTES = 6
_SECRET_BYTES = 32
_TOKEN = re.compile(rf"{PREFIX}_([0-9a-f]{{{2 * _KEY_ID_BYTES}}})_([A-Za-z0-9_-]{{20,100}})")
MAX_CLIENT_ID_CHARS = 255

# Listing and revoking need no token logic: `list_keys` and `revoke_key` are the store's functions.
__all__ = ["ApiKey", "MintedKey", "authenticate", "authenticate_key", "create_key", "list_keys", "revoke_key",
           "set_limit"]


@dataclass(frozen=True)
class MintedKey:
    key: ApiKey
    token: str  # shown once; only its digest is stored


def create_key(conn: psycopg.Connection, client_id: str, label: str = "", rate_per_s: float | None = None,
               burst: int | None = None) -> MintedKey:
    if not client_id or len(client_id) > MAX_CLIENT_ID_CHARS or "/" in client_id:
        raise ValueError("client_id must be 1-255 characters without '/' (it is a segment of media keys)")
    check_limit(rate_per_s, burst)
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return MintedKey(insert_api_key(conn, key_id, client_id, _digest(token), label, rate_per_s, burst), token)


def set_limit(conn: psycopg.Connection, key_id: str, rate_per_s: float | None,
              burst: int | None) -> ApiKey | None:
    """Give a key its own rate and burst (None: the service's default); None if there is no such key."""
    check_limit(rate_per_s, burst)
    return set_api_key_limit(conn, key_id, rate_per_s, burst)


def authenticate_key(conn: psycopg.Connection, token: str) -> StoredKey | None:
    """An active key (whose it is, its own limits), or None for a malformed, unknown or revoked one."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    stored = active_key_digest(conn, match.group(1))
    if stored is None or not hmac.compare_digest(stored.token_sha256, _digest(token)):
        return None
    return stored


def authenticate(conn: psycopg.Connection, token: str) -> str | None:
    """The client id of an active key, or None for a malformed, unknown or revoked one."""
    stored = authenticate_key(conn, token)
    return None if stored is None else stored.client_id


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()

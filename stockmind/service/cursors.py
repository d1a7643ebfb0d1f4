"""Paging cursors: where a page ended, sealed so that only this service's own cursors are accepted,
and only for the tenant, the query and the model they were given out for.

A cursor is `<payload>.<tag>`, both base64url: the payload is the last item's score, key and depth
and the model that ranked the page (JSON; nothing in it is secret: the key is the caller's own media
or SKU, the model is named in every response), the tag an HMAC-SHA256 over the tenant, the query's
digest and the payload. So a cursor altered in any byte, or replayed against another tenant or
another query, fails the tag check: one answer for all three, since a caller need not learn which.
An intact cursor of another model (the tenant's active model changed since) is refused too, saying
so: a position in one model's order of scores means nothing in another's. The key comes from the
database (`service_secrets`), shared by every replica.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math

from stockmind.errors import StockmindError
from stockmind.store import Position

MAX_CURSOR_CHARS = 2048
_TAG_BYTES = 16  # 128 bits: forging one is as hard as guessing the key


class InvalidCursor(StockmindError):
    """A cursor this service did not give out for this tenant, query and model."""


class CursorSigner:
    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("a cursor key needs at least 16 bytes")
        self._secret = secret

    def seal(self, client_id: str, query_digest: bytes, position: Position, *, model_id: str) -> str:
        payload = json.dumps({"s": position.score, "k": position.key, "n": position.depth, "m": model_id},
                             separators=(",", ":"), ensure_ascii=False).encode()
        return f"{_b64(payload)}.{_b64(self._tag(client_id, query_digest, payload))}"

    def open(self, cursor: str, client_id: str, query_digest: bytes, *, model_id: str) -> Position:
        """The position `cursor` holds; `InvalidCursor` unless it is intact, this query's and `model_id`'s."""
        problem = InvalidCursor("cursor: not a cursor of this query (it is damaged, or from another query or client)")
        if len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
            raise problem
        payload_text, tag_text = cursor.split(".")
        try:
            payload, tag = _unb64(payload_text), _unb64(tag_text)
        except (binascii.Error, ValueError):
            raise problem from None
        if not hmac.compare_digest(tag, self._tag(client_id, query_digest, payload)):
            raise problem
        fields = json.loads(payload)  # well-formed: we wrote it, and the tag proves it unchanged
        score, key, depth, model = fields["s"], fields["k"], fields["n"], fields.get("m")
        if not (isinstance(score, float | int) and math.isfinite(score) and isinstance(key, str)
                and isinstance(depth, int) and depth >= 1):
            raise problem
        if model != model_id:  # None: given out before cursors named their model, so of an unknown one
            raise InvalidCursor("cursor: this client's search model changed since the cursor was given out;"
                                " start the search again without a cursor")
        return Position(float(score), key, depth)

    def _tag(self, client_id: str, query_digest: bytes, payload: bytes) -> bytes:
        # Lengths first, so no two different (tenant, query, payload) triples read the same.
        message = b"".join(len(part).to_bytes(4, "big") + part
                           for part in (client_id.encode(), query_digest, payload))
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_TAG_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """The bytes of unpadded base64url `text`, in its one canonical spelling only (base64 decoders
    ignore the unused low bits of a last character, which would let two cursors read the same)."""
    if not text or not text.isascii():
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data

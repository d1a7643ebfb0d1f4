"""Duplicates: GET /v1/duplicates?key=... (the caller's media duplicating one of theirs) and
GET /v1/duplicates (the caller's groups of byte-identical media, paged by cursor).

Byte-identical means the same SHA-256 of the content, stored at ingest; near-identical means a cosine
of at least `min_score` between the media's vectors (a video: the mean of its frames). The client id
comes from the API key alone, and the store reads that tenant's partitions only.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query

from stockmind.config import Settings
from stockmind.media.keys import MAX_KEY_BYTES, MEDIA_KEY_PATTERN, parse_media_key
from stockmind.service.auth import ClientId
from stockmind.service.deps import ResourcesDep
from stockmind.service.errors import ApiError
from stockmind.service.openapi import authenticated
from stockmind.service.routes.duplicate_models import (
    DuplicateMedia,
    DuplicatesOfKey,
    IdenticalGroup,
    IdenticalGroups,
    NearDuplicate,
)
from stockmind.service.search import MediaNotFound
from stockmind.store import active_model, identical_groups, identical_media, near_media

# Measured with the test CLIP (bench/duplicate_threshold.py, 48 products): a photo's JPEG re-encodes
# (q75, q50) and resizes (90%, 115%) score >= 0.9967 against it, 3%-cropped copies 0.955..0.9997
# (77% of them >= 0.99), other photos of the same product 0.53..0.996 (6% >= 0.99, 1% >= 0.995),
# other products at most 0.925. 0.99 keeps every re-encode and resize and most slight crops, and lets
# few other photos in; 0.995 lets in fewer still at the cost of crops. Re-measure for another model.
DEFAULT_MIN_SCORE = 0.99
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_DIGEST_BYTES = 32
# 32 bytes in unpadded base64url: 42 characters of 6 bits, then one holding the last 4 bits and two
# zero bits, so that each position has exactly one spelling (and the schema says which).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"


def router(settings: Settings) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["duplicates"])

    @routes.get(
        "/duplicates", response_model=DuplicatesOfKey | IdenticalGroups,
        summary="The caller's duplicates of one media key, or (without key) their groups of identical media",
        responses=authenticated(400, 404, descriptions={
            400: "a cursor that does not decode to a position (invalid_cursor)",
            404: "`key` names no media of the caller's (media_not_found); another tenant's reads the same"}),
    )
    def duplicates(
        client: ClientId, res: ResourcesDep,
        key: Annotated[str | None, Query(min_length=1, max_length=MAX_KEY_BYTES,
                                         json_schema_extra={"pattern": MEDIA_KEY_PATTERN},
                                         description="media of the caller's; without it, list the groups")] = None,
        min_score: Annotated[float | None, Query(ge=-1, le=1, description=(
            f"cosine, -1..1, for near duplicates of `key` (default {DEFAULT_MIN_SCORE}); ignored without `key`"))]
        = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=(
            "most near and identical media of `key`, or groups per page"))] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description=(
            "the previous page of groups' next_cursor; ignored with `key`"))] = None,
    ) -> DuplicatesOfKey | IdenticalGroups:
        if key is None:
            return _groups(res, client, cursor, limit)
        score = DEFAULT_MIN_SCORE if min_score is None else min_score
        return _of_key(res, settings, client, key, score, limit)

    return routes


def _of_key(res, settings: Settings, client: str, key: str, min_score: float, limit: int) -> DuplicatesOfKey:
    if parse_media_key(key).client_id != client:  # InvalidMediaKey (422) outside the layout
        raise MediaNotFound(f"no media {key!r} for this client")  # as for a missing key: nothing leaks
    bucket = settings.s3_bucket_name
    with res.pool.connection() as conn:
        identical = identical_media(conn, client, key, bucket=bucket, limit=limit)
        if identical is None:
            raise MediaNotFound(f"no media {key!r} for this client")
        same = {m.key for m in identical}
        # Only stored vectors are compared: the tenant's active model's, with no model to load.
        model_id = active_model(conn, client) or res.searcher.model_id
        near = near_media(conn, client, key, model_id=model_id, min_score=min_score, bucket=bucket,
                          limit=limit + len(same))
    return DuplicatesOfKey(
        client_id=client, key=key, model_id=model_id, min_score=min_score,
        identical=[DuplicateMedia(key=m.key, sku=m.sku, media_type=m.media_type, url=res.searcher.url(m.bucket, m.key))
                   for m in identical],
        near=[NearDuplicate(key=h.key, sku=h.sku, media_type=h.media_type, score=h.score,
                            url=res.searcher.url(h.bucket, h.key)) for h in near if h.key not in same][:limit],
    )


def _groups(res, client: str, cursor: str | None, limit: int) -> IdenticalGroups:
    after = None if cursor is None else decode_cursor(cursor)
    with res.pool.connection() as conn:
        # One more than a page: whether a next page exists, without a second query.
        groups = identical_groups(conn, client, after=after, limit=limit + 1)
    page = groups[:limit]
    return IdenticalGroups(
        client_id=client,
        groups=[IdenticalGroup(content_sha256=g.content_sha256.hex(), count=g.count, keys=g.keys) for g in page],
        next_cursor=encode_cursor(page[-1].content_sha256) if len(groups) > limit else None,
    )


def encode_cursor(digest: bytes) -> str:
    """The last hash of a page, base64url. Unsigned: it only says where to resume in the caller's own
    partition, so a forged or foreign one shows nothing another cursor could not."""
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> bytes:
    """The hash a cursor resumes after; 400 `invalid_cursor` for anything `encode_cursor` did not make."""
    try:
        digest = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != _DIGEST_BYTES or encode_cursor(digest) != cursor:
        raise ApiError(400, "the cursor is not one this endpoint returned", code="invalid_cursor")
    return digest

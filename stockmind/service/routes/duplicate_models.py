"""Response bodies of GET /v1/duplicates (they are also its OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from stockmind.media.types import MediaType
from stockmind.store.duplicates import KEYS_PER_GROUP


class DuplicateMedia(BaseModel):
    key: str
    sku: str
    media_type: MediaType
    url: str = Field(description="presigned S3 GET URL of the media")


class NearDuplicate(DuplicateMedia):
    score: float = Field(description="cosine similarity to the key's media (a video: the mean of its frames)")


class DuplicatesOfKey(BaseModel):
    client_id: str
    key: str
    model_id: str
    min_score: float
    identical: list[DuplicateMedia] = Field(
        description="the caller's other media with the same bytes (SHA-256 of the content), in key order")
    near: list[NearDuplicate] = Field(
        description="the caller's other media scoring at least min_score, best first; byte-identical ones"
                    " are listed under `identical` only")


class IdenticalGroup(BaseModel):
    content_sha256: str = Field(description="SHA-256 of the bytes the group's media share, in hex")
    count: int = Field(description="how many of the caller's media hold these bytes")
    keys: list[str] = Field(description=f"their keys in key order, at most the first {KEYS_PER_GROUP}")


class IdenticalGroups(BaseModel):
    client_id: str
    groups: list[IdenticalGroup]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")

"""The values that cross the store's boundary: what the writer takes and what search returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from stockmind.media.keys import MediaRef
from stockmind.media.types import MediaType

if TYPE_CHECKING:
    from stockmind.media.objects import ObjectMeta


@dataclass
class MediaVectors:
    """The vectors of one media object at one version: one row for an image, one per sampled frame.

    `sequencer`, `event_time` and `version_id` come from the S3 event (or the listing, for a
    backfill) and decide which of two versions of a key is newer (see `event_is_newer` in schema.py).
    """

    ref: MediaRef
    bucket: str
    etag: str | None
    model_id: str
    vectors: np.ndarray
    timestamps: list[float | None]
    version_id: str | None = None
    sequencer: str | None = None
    size: int | None = None
    event_time: datetime | None = None
    # SHA-256 of the object's bytes (see `ObjectMeta.content_sha256`); None when not known.
    content_sha256: bytes | None = None

    @classmethod
    def from_object(cls, meta: ObjectMeta, ref: MediaRef, model_id: str, vectors: np.ndarray,
                    timestamps: list[float | None], *, sequencer: str | None = None,
                    event_time: datetime | None = None) -> MediaVectors:
        """The vectors of the object version `meta` describes (the bytes that were embedded). Without
        an event's time (a backfill), the object's own time orders it against other versions."""
        return cls(ref=ref, bucket=meta.bucket, etag=meta.etag, model_id=model_id, vectors=vectors,
                   timestamps=timestamps, version_id=meta.version_id, sequencer=sequencer, size=meta.size,
                   event_time=event_time or meta.last_modified, content_sha256=meta.content_sha256)


@dataclass(frozen=True)
class MediaRemoval:
    """An `ObjectRemoved` event for one key."""

    bucket: str
    ref: MediaRef
    sequencer: str | None = None
    event_time: datetime | None = None


@dataclass
class WriteReport:
    """What one `write` did: media stored (new or replacing an older version), and media left alone
    because the store already had them (a replay) or already had something newer (a late event)."""

    stored: int = 0
    unchanged: int = 0
    rows: int = 0
    stored_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SearchHit:
    key: str
    bucket: str
    sku: str
    media_type: MediaType
    score: float
    timestamp_s: float | None


@dataclass(frozen=True)
class StoredMedia:
    """A tenant's live media object, as a duplicate of another."""

    key: str
    bucket: str
    sku: str
    media_type: MediaType


@dataclass(frozen=True)
class IdenticalGroup:
    """Media of one tenant holding the same bytes: `count` of them, the first keys in key order."""

    content_sha256: bytes
    count: int
    keys: list[str]

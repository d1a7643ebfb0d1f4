"""What one search asks (`SearchQuery`) and what one page answers (`SearchPage`), whichever way the
query arrived: GET /v1/search, POST /v1/search/image, POST /v1/search (JSON), a batch, the CLI.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from stockmind.media.types import MediaType
from stockmind.service.combine import Weights

GROUPS = ("sku",)
DEFAULT_PER_GROUP = 3


@dataclass(frozen=True)
class SearchQuery:
    """A text, an uploaded image, stored media as examples and counter-examples, and how to page.

    `image` is uploaded bytes; `image_key`, `positive` and `negative` name the caller's stored media.
    """

    text: str | None = None
    image: bytes | None = None
    image_key: str | None = None
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    weights: Weights = Weights()
    k: int = 10
    group: str | None = None
    per_group: int = DEFAULT_PER_GROUP
    min_score: float | None = None
    skus: tuple[str, ...] | None = None
    media_type: MediaType | None = None
    cursor: str | None = None

    def __post_init__(self):
        if self.group is not None and self.group not in GROUPS:
            raise ValueError(f"group must be one of {GROUPS}, got {self.group!r}")
        if self.image is not None and self.image_key is not None:
            raise ValueError("give an uploaded image or an image_key, not both")

    @property
    def example_keys(self) -> frozenset[str]:
        """Media given as examples: never among the results."""
        return frozenset(([self.image_key] if self.image_key else []) + list(self.positive) + list(self.negative))

    def digest(self) -> bytes:
        """What a cursor is bound to: every field that decides the order and the items of the pages
        (all but `k` and `cursor`), the uploaded image by its SHA-256."""
        fields = asdict(self)
        fields.pop("k"), fields.pop("cursor")
        if self.group is None:
            fields.pop("per_group")
        fields["image"] = hashlib.sha256(self.image).hexdigest() if self.image is not None else None
        fields["media_type"] = None if self.media_type is None else str(self.media_type)
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).digest()


@dataclass(frozen=True)
class SearchResult:
    key: str
    sku: str
    media_type: MediaType
    score: float
    timestamp_s: float | None  # the best moment of a video; None for an image
    url: str


@dataclass(frozen=True)
class Product:
    """A SKU in grouped results: its best media's score, its best media first."""

    sku: str
    score: float
    media: list[SearchResult]


@dataclass(frozen=True)
class SearchPage:
    """`results` (media) or, grouped, `products`; `next_cursor` None on the last page; `model_id`
    the model whose vectors (and query embedding) made the page."""

    results: list[SearchResult] | None = None
    products: list[Product] | None = None
    next_cursor: str | None = None
    model_id: str | None = None

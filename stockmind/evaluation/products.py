"""Ranked media grouped into ranked products (SKUs), the way the service's `group=sku` answers.

A product's score is its best media's score and it is relevant when any of its ranked media is, so a
product ranking judged at k answers "is one of the first k distinct products the one asked for?".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class RankedMedia(Protocol):
    sku: str
    score: float
    relevant: bool


@dataclass(frozen=True)
class Product:
    sku: str
    score: float  # its best media's score
    media: tuple[RankedMedia, ...]  # best first

    @property
    def relevant(self) -> bool:
        return any(media.relevant for media in self.media)


def products_of(ranked: Sequence[RankedMedia]) -> list[Product]:
    """The distinct products of a media ranking, best product first (ties keep the media order),
    each with its media best first."""
    by_sku: dict[str, list[RankedMedia]] = {}
    for media in ranked:
        by_sku.setdefault(media.sku, []).append(media)
    products = [Product(sku, max(m.score for m in media),
                        tuple(sorted(media, key=lambda m: -m.score))) for sku, media in by_sku.items()]
    return sorted(products, key=lambda product: -product.score)

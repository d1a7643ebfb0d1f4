"""From the nearest media to one page: exclusions, a score floor, grouping by product, and where the
last page ended. Pure functions; `queries.search_page` feeds them the rows of its index scans.

Every page follows one total order, (score descending, key ascending), where the key is the media
key, or the SKU when results are grouped by product. A `Position` is the last item a page returned
in that order; the next page holds the items strictly after it. A group's place is that of its best
media, so a group is whole as soon as its best media has been read: media are read best first, and
a group seen on one page can never come back on a later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stockmind.store.records import SearchHit

MAX_PER_GROUP = 10


@dataclass(frozen=True)
class Position:
    """Where a page ended: its last item's score and key, and how many items came before it and it."""

    score: float
    key: str
    depth: int

    def precedes(self, score: float, key: str) -> bool:
        """Whether an item at (score, key) comes after this position in the page order."""
        return score < self.score or (score == self.score and key > self.key)


@dataclass(frozen=True)
class PageSpec:
    """What one page asks for: `k` items (media, or products with `group_by_sku`)."""

    k: int
    group_by_sku: bool = False
    per_group: int = 1
    min_score: float | None = None
    exclude_keys: frozenset[str] = frozenset()
    after: Position | None = None

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if not 1 <= self.per_group <= MAX_PER_GROUP:
            raise ValueError(f"per_group must be between 1 and {MAX_PER_GROUP}, got {self.per_group}")
        if self.min_score is not None and not -1.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be between -1 and 1, got {self.min_score}")

    @property
    def depth(self) -> int:
        return self.after.depth if self.after else 0


@dataclass(frozen=True)
class RankedGroup:
    """One item of a page: a media (`key` is its key, one hit) or a product (`key` is the SKU, its
    best media first, at most `per_group`)."""

    key: str
    score: float
    hits: list[SearchHit] = field(default_factory=list)


@dataclass(frozen=True)
class RankedPage:
    groups: list[RankedGroup]
    more: bool  # an item after the last one is known to exist

    def end(self, spec: PageSpec) -> Position | None:
        """The position the next page starts after, or None if this one is the last."""
        if not self.more or not self.groups:
            return None
        last = self.groups[-1]
        return Position(last.score, last.key, spec.depth + len(self.groups))


def page_of(hits: Sequence[SearchHit], spec: PageSpec) -> RankedPage:
    """The page `spec` asks for out of `hits`, the best media first (each media once, as the search
    SQL returns them). `more` says whether the hits hold an item beyond the page."""
    groups: dict[str, RankedGroup | None] = {}  # None: on an earlier page
    order: list[RankedGroup] = []
    for hit in sorted(hits, key=lambda h: (-h.score, h.key)):
        if spec.min_score is not None and hit.score < spec.min_score:
            break
        if hit.key in spec.exclude_keys:
            continue
        name = hit.sku if spec.group_by_sku else hit.key
        if name not in groups:
            # A group's first hit is its best: it decides the group's place, and whether the group
            # was on an earlier page (then its other media stay out with it).
            if spec.after is not None and not spec.after.precedes(hit.score, name):
                groups[name] = None
                continue
            groups[name] = RankedGroup(name, hit.score, [hit])
            order.append(groups[name])
        elif (group := groups[name]) is not None and len(group.hits) < spec.per_group:
            group.hits.append(hit)
    return RankedPage(order[: spec.k], more=len(order) > spec.k)

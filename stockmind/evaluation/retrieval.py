"""Retrieval quality: text→image and image→image searches over a labelled data set, judged by label.

Searches go through `Searcher`, the query path the service runs (same embedder, same SQL on the
tenant's partition), so the figures are the ones a client sees.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from stockmind.evaluation.datasets import Dataset
from stockmind.evaluation.metrics import precision_at_k, recall_at_k
from stockmind.evaluation.products import products_of
from stockmind.media.types import MediaType
from stockmind.service.search import Filters

ALL_MEDIA = "all"
EVERY_TENANT = "all tenants"
RECALL_KS = (1, 5, 10)


@dataclass(frozen=True)
class Hit:
    key: str
    sku: str
    timestamp_s: float | None
    score: float
    label: str | None
    relevant: bool


class JudgedRanking:
    """A ranking of judged hits (`hits`, best first): whether each media is relevant, and each
    distinct product (a SKU, placed by its best media)."""

    hits: tuple[Hit, ...]

    @property
    def relevance(self) -> list[bool]:
        return [hit.relevant for hit in self.hits]

    @property
    def product_relevance(self) -> list[bool]:
        return [product.relevant for product in products_of(self.hits)]


@dataclass(frozen=True)
class QueryOutcome(JudgedRanking):
    """One query and its ranked results. `scope` is the media type searched, or "all"."""

    kind: str  # "text" or "image"
    client_id: str
    scope: str
    label: str
    query: str  # the text, or the key of the query image
    hits: tuple[Hit, ...]


def text_to_image(searcher, conn, dataset: Dataset, k: int = 10) -> list[QueryOutcome]:
    """Every label of every tenant as a text query, over all its media and over each media type."""
    outcomes = []
    for client_id in dataset.client_ids:
        for scope in (None, MediaType.IMAGE, MediaType.VIDEO):
            for label in dataset.labels(client_id, scope):
                text = dataset.queries[label]
                results = searcher.by_text(conn, client_id, text, Filters(k=k, media_type=scope))
                outcomes.append(QueryOutcome("text", client_id, scope or ALL_MEDIA, label, text,
                                             _judged(dataset, label, results)))
    return outcomes


def image_to_image(searcher, conn, dataset: Dataset, k: int = 10, per_tenant: int = 50) -> list[QueryOutcome]:
    """Up to `per_tenant` images of each tenant as "more like this" queries (the image itself left out)."""
    outcomes = []
    for client_id in dataset.client_ids:
        for media in dataset.of(client_id, MediaType.IMAGE)[:per_tenant]:
            results = searcher.like_media(conn, client_id, media.key, Filters(k=k))
            outcomes.append(QueryOutcome("image", client_id, ALL_MEDIA, media.labels[0], media.key,
                                         _judged(dataset, media.labels[0], results)))
    return outcomes


def _judged(dataset: Dataset, label: str, results) -> tuple[Hit, ...]:
    hits = []
    for result in results:
        found = dataset.label_of(result.key, result.timestamp_s)
        hits.append(Hit(result.key, result.sku, result.timestamp_s, result.score, found, found == label))
    return tuple(hits)


def recall_table(outcomes: list[QueryOutcome], ks: tuple[int, ...] = RECALL_KS) -> list[dict]:
    """recall@k per (tenant, scope), plus one row per scope over every tenant (client_id EVERY_TENANT)."""
    return _table(outcomes, lambda relevance: {f"recall@{k}": recall_at_k(relevance, k) for k in ks})


def product_recall_table(outcomes: list[QueryOutcome], ks: tuple[int, ...] = RECALL_KS) -> list[dict]:
    """recall@k counted over products (SKUs), as `recall_table` counts it over media: the share of
    queries with a relevant product among the first k distinct products of the ranking. The
    rankings must reach deeper than k media for k products to be in them."""
    return _table(outcomes, lambda relevance: {f"recall@{k}": recall_at_k(relevance, k) for k in ks},
                  relevance_of=lambda outcome: outcome.product_relevance)


def precision_table(outcomes: list[QueryOutcome], ks: tuple[int, ...] = (1, 5, 10)) -> list[dict]:
    """precision@k per (tenant, scope), plus one row per scope over every tenant."""
    return _table(outcomes, lambda relevance: {f"precision@{k}": precision_at_k(relevance, k) for k in ks})


def _table(outcomes: list[QueryOutcome], measure, relevance_of=lambda outcome: outcome.relevance) -> list[dict]:
    groups: dict[tuple[str, str], list[list[bool]]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.client_id, outcome.scope)].append(relevance_of(outcome))
        groups[(EVERY_TENANT, outcome.scope)].append(relevance_of(outcome))
    return [{"client_id": client_id, "scope": scope, "queries": len(lists), **measure(lists)}
            for (client_id, scope), lists in sorted(groups.items())]

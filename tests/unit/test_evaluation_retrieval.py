import pytest

from stockmind.evaluation.datasets import Dataset, LabelledMedia
from stockmind.evaluation.retrieval import (
    ALL_MEDIA,
    EVERY_TENANT,
    Hit,
    QueryOutcome,
    image_to_image,
    precision_table,
    product_recall_table,
    recall_table,
    text_to_image,
)
from stockmind.media.keys import media_key, parse_media_key
from stockmind.media.types import MediaType
from stockmind.service.search import Filters, SearchResult


def _image(client, sku, label):
    return LabelledMedia(media_key(client, sku, MediaType.IMAGE, "p.jpg"), MediaType.IMAGE, (label,))


VIDEO = LabelledMedia("clients/a/products/V/media/video/reel.mp4", MediaType.VIDEO, ("red circle", "blue star"))
DATASET = Dataset(
    (_image("a", "1", "red circle"), _image("a", "2", "blue star"), VIDEO, _image("b", "3", "red circle")),
    {"red circle": "a red circle", "blue star": "a blue star"},
)


class RankedSearcher:
    """Answers every query with a fixed ranking of the tenant's media (what the store would return)."""

    def __init__(self, rankings):
        self.rankings = rankings
        self.calls = []

    def _results(self, client_id, filters):
        ranked = [(key, ts) for key, ts in self.rankings[client_id]
                  if filters.media_type is None or f"/media/{filters.media_type}/" in key]
        return [SearchResult(key, parse_media_key(key).sku, MediaType.IMAGE, 1.0 - i / 10, ts, "url")
                for i, (key, ts) in enumerate(ranked[:filters.k])]

    def by_text(self, conn, client_id, text, filters, timings=None):
        self.calls.append(("text", client_id, text, filters.media_type))
        return self._results(client_id, filters)

    def like_media(self, conn, client_id, key, filters, timings=None):
        self.calls.append(("like", client_id, key))
        wider = Filters(k=filters.k + 1, media_type=filters.media_type)
        return [r for r in self._results(client_id, wider) if r.key != key][:filters.k]


SEARCHER = RankedSearcher({
    "a": [(_image("a", "1", "x").key, None), (VIDEO.key, 1.0), (_image("a", "2", "x").key, None)],
    "b": [(_image("b", "3", "x").key, None)],
})


def test_text_queries_cover_each_tenants_labels_over_all_media_and_per_type():
    outcomes = text_to_image(SEARCHER, None, DATASET, k=10)
    asked = {(o.client_id, o.scope, o.label) for o in outcomes}
    assert ("a", ALL_MEDIA, "blue star") in asked
    assert ("a", "video", "red circle") in asked
    assert ("b", "image", "red circle") in asked
    assert ("b", "video", "red circle") not in asked  # tenant b has no video


def test_a_video_hit_is_judged_by_the_moment_it_points_at():
    outcomes = text_to_image(SEARCHER, None, DATASET, k=10)
    blue = next(o for o in outcomes if (o.client_id, o.scope, o.label) == ("a", ALL_MEDIA, "blue star"))
    assert blue.relevance == [False, True, True]  # the reel at 1 s shows the blue star


def test_recall_table_has_a_row_per_tenant_and_scope_plus_every_tenant():
    rows = recall_table(text_to_image(SEARCHER, None, DATASET, k=10))
    by = {(r["client_id"], r["scope"]): r for r in rows}
    assert by[("a", ALL_MEDIA)]["recall@1"] == pytest.approx(0.5)  # red circle first; blue star second
    assert by[("a", ALL_MEDIA)]["recall@5"] == 1.0
    assert by[(EVERY_TENANT, ALL_MEDIA)]["queries"] == 3


def test_image_queries_leave_the_photo_itself_out():
    outcomes = image_to_image(SEARCHER, None, DATASET, k=2)
    first = next(o for o in outcomes if o.query == _image("a", "1", "x").key)
    assert [h.key for h in first.hits] == [VIDEO.key, _image("a", "2", "x").key]
    assert first.relevance == [False, False]  # the reel at 1 s shows the blue star, photo 2 too
    rows = {(r["client_id"], r["scope"]): r for r in precision_table(outcomes, ks=(1, 2))}
    assert rows[(EVERY_TENANT, ALL_MEDIA)]["queries"] == 3


def test_hits_carry_their_sku():
    outcomes = text_to_image(SEARCHER, None, DATASET, k=10)
    assert [h.sku for h in outcomes[0].hits] == ["1", "V", "2"]


def test_product_recall_counts_the_first_k_distinct_products():
    def hit(key, sku, score, relevant):
        return Hit(key, sku, None, score, None, relevant)

    crowded = QueryOutcome("text", "a", ALL_MEDIA, "red circle", "a red circle",
                           (hit("a1", "A", 0.9, False), hit("a2", "A", 0.8, False), hit("b1", "B", 0.7, True)))
    missed = QueryOutcome("text", "a", ALL_MEDIA, "blue star", "a blue star", (hit("a1", "A", 0.9, False),))
    media = {(r["client_id"], r["scope"]): r for r in recall_table([crowded, missed], ks=(1, 2))}
    products = {(r["client_id"], r["scope"]): r for r in product_recall_table([crowded, missed], ks=(1, 2))}
    assert crowded.product_relevance == [False, True]
    assert media[("a", ALL_MEDIA)]["recall@2"] == 0.0
    assert products[("a", ALL_MEDIA)]["recall@2"] == 0.5
    assert products[("a", ALL_MEDIA)]["recall@1"] == 0.0
    assert products[(EVERY_TENANT, ALL_MEDIA)]["queries"] == 2

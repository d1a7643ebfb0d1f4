"""Pages out of ranked media: exclusions, the score floor, products, and positions between pages."""

import pytest

from stockmind.media.types import MediaType
from stockmind.store.ranking import PageSpec, Position, page_of
from stockmind.store.records import SearchHit


def hit(key: str, score: float, sku: str | None = None) -> SearchHit:
    return SearchHit(key, "bucket", sku or f"sku-{key}", MediaType.IMAGE, score, None)


HITS = [hit("a1", 0.9, "A"), hit("b1", 0.8, "B"), hit("a2", 0.7, "A"), hit("c1", 0.6, "C"), hit("a3", 0.5, "A"),
        hit("b2", 0.4, "B"), hit("d1", 0.3, "D")]


def keys(page) -> list[str]:
    return [group.key for group in page.groups]


def test_media_pages_follow_score_then_key_and_say_whether_more_follow():
    page = page_of(HITS, PageSpec(k=3))
    assert keys(page) == ["a1", "b1", "a2"] and page.more
    assert page.end(PageSpec(k=3)) == Position(0.7, "a2", 3)
    last = page_of(HITS, PageSpec(k=10))
    assert len(last.groups) == 7 and not last.more and last.end(PageSpec(k=10)) is None


def test_equal_scores_are_ordered_by_key_so_a_position_between_them_is_exact():
    tied = [hit("m", 0.5), hit("k", 0.5), hit("z", 0.5), hit("a", 0.4)]
    first = page_of(tied, PageSpec(k=2))
    assert keys(first) == ["k", "m"]
    second = page_of(tied, PageSpec(k=2, after=first.end(PageSpec(k=2))))
    assert keys(second) == ["z", "a"] and not second.more


def test_walking_every_page_yields_every_item_once_in_order():
    seen, after = [], None
    while True:
        spec = PageSpec(k=2, after=after)
        page = page_of(HITS, spec)
        seen += keys(page)
        after = page.end(spec)
        if after is None:
            break
    assert seen == [h.key for h in HITS]


def test_products_take_their_best_media_s_score_and_place_and_hold_per_group_media():
    page = page_of(HITS, PageSpec(k=2, group_by_sku=True, per_group=2))
    assert keys(page) == ["A", "B"] and page.more
    assert [h.key for h in page.groups[0].hits] == ["a1", "a2"]  # a3 is over per_group
    assert page.groups[0].score == 0.9 and [h.key for h in page.groups[1].hits] == ["b1", "b2"]


def test_a_product_on_an_earlier_page_never_returns_with_its_lesser_media():
    spec = PageSpec(k=2, group_by_sku=True, per_group=3)
    first = page_of(HITS, spec)
    second = page_of(HITS, PageSpec(k=2, group_by_sku=True, per_group=3, after=first.end(spec)))
    assert keys(second) == ["C", "D"] and not second.more
    assert all(h.sku in {"C", "D"} for group in second.groups for h in group.hits)


def test_min_score_cuts_even_when_fewer_than_k_remain():
    page = page_of(HITS, PageSpec(k=10, min_score=0.55))
    assert keys(page) == ["a1", "b1", "a2", "c1"] and not page.more


def test_excluded_keys_are_left_out_without_shortening_the_page():
    page = page_of(HITS, PageSpec(k=3, exclude_keys=frozenset({"a1", "b1"})))
    assert keys(page) == ["a2", "c1", "a3"] and page.more


def test_input_order_does_not_matter():
    assert keys(page_of(list(reversed(HITS)), PageSpec(k=4))) == ["a1", "b1", "a2", "c1"]


@pytest.mark.parametrize("spec", [dict(k=0), dict(k=1, per_group=0), dict(k=1, per_group=11),
                                  dict(k=1, min_score=1.5), dict(k=1, min_score=-2)])
def test_a_spec_out_of_range_is_refused(spec):
    with pytest.raises(ValueError):
        PageSpec(**spec)

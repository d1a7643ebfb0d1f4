"""Pages of a tenant large enough for its HNSW index: paging 1,000+ media deep through the index, with
products and videos, never repeats an item, and matches exact search up to the index's recall."""

import numpy as np
import pytest

from stockmind.store import PageSpec, PgVectorWriter, build_deferred_indexes, partitions, search_page
from stockmind.store.queries import EXACT_SEARCH_MAX_ROWS
from tests.integration.store_factories import image_key, media, near, unit, video_key

pytestmark = pytest.mark.slow

IMAGES = 2400
VIDEOS = 20
FRAMES = 6
PER_SKU = 4


@pytest.fixture(scope="module")
def big_tenant(local_stack):
    name = "test_store_pages"
    url = local_stack.postgres.create_database(name)
    from stockmind.store import migrate

    migrate(url)
    centre = unit(1)
    items = [media(image_key("big", f"sku-{n // PER_SKU}", f"p{n}"), near(centre, n, 1.0)) for n in range(IMAGES)]
    items += [media(video_key("big", f"sku-v{n}", "clip"), [near(centre, 10_000 + n * FRAMES + f, 1.0)
                                                              for f in range(FRAMES)],
                    timestamps=[float(f) for f in range(FRAMES)]) for n in range(VIDEOS)]
    with PgVectorWriter(url, bulk=True) as writer:
        writer.write(items)
    build_deferred_indexes(url)
    yield url, centre
    local_stack.postgres.drop_database(name)


def walk(conn, vector, k, **spec) -> list:
    items, after = [], None
    while True:
        page_spec = PageSpec(k=k, after=after, **spec)
        page = search_page(conn, "big", vector, page_spec)
        items += page.groups
        after = page.end(page_spec)
        if after is None:
            return items
        assert len(items) < 10_000


def test_paging_more_than_a_thousand_media_deep_through_the_index_never_repeats(big_tenant):
    from stockmind.store import connect

    url, centre = big_tenant
    with connect(url) as conn:
        index = partitions.tenant_index(conn, "big", "test-model")
        assert index.ready and index.estimated_rows >= EXACT_SEARCH_MAX_ROWS  # the HNSW path
        pages = walk(conn, centre, 100)
    keys = [group.key for group in pages]
    scores = [group.score for group in pages]
    assert len(keys) == len(set(keys)) >= 1000
    assert scores == sorted(scores, reverse=True)
    # Against the exact ranking of every media: the pages found nearly all of the first 1,000.
    with connect(url) as conn:
        exact = [row[0] for row in conn.execute(
            "SELECT m.key FROM media m JOIN embeddings e USING (client_id, media_id) WHERE m.client_id = 'big'"
            " GROUP BY m.key ORDER BY min(e.embedding <=> %s::halfvec), m.key LIMIT 1000",
            ("[" + ",".join(map(str, centre)) + "]",)).fetchall()]
    assert len(set(exact) & set(keys[:1000])) / 1000 >= 0.95


def test_paging_products_through_the_index_never_repeats_a_sku(big_tenant):
    from stockmind.store import connect

    url, centre = big_tenant
    with connect(url) as conn:
        products = walk(conn, centre, 50, group_by_sku=True, per_group=PER_SKU)
    skus = [group.key for group in products]
    assert len(skus) == len(set(skus)) and len(skus) >= 500
    assert all({hit.sku for hit in group.hits} == {group.key} for group in products)
    assert sum(len(group.hits) for group in products) >= 0.9 * PER_SKU * len(products) - VIDEOS * (PER_SKU - 1)


def test_a_min_score_page_on_the_index_stops_at_the_floor(big_tenant):
    from stockmind.store import connect

    url, centre = big_tenant
    with connect(url) as conn:
        everything = walk(conn, centre, 100)
        floor = everything[300].score
        above = walk(conn, centre, 100, min_score=floor)
    assert [g.key for g in above] == [g.key for g in everything if g.score >= floor]
    assert np.isclose(min(g.score for g in above), floor)

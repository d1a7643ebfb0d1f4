"""Products instead of photos, a score floor and paging, through the real HTTP API.

The catalogue is small, so its tenant is searched exactly: pages must then be exactly the slices of
one long ranking, with no repeats and no gaps.
"""

import pytest

from tests.integration.service.support import result_keys

pytestmark = pytest.mark.slow

QUERY = "a red circle"


def everything(api, **params) -> list[dict]:
    """One page holding the whole ranking (the tenant has fewer than 100 media)."""
    body = api.get("/v1/search", params={"q": QUERY, "k": 100, **params}).json()
    assert body["next_cursor"] is None
    return body.get("results") or body["products"]


def walk(api, path="/v1/search", **params) -> tuple[list[dict], int]:
    """Every page of a query, following next_cursor; the items in order and the number of pages."""
    items, cursor, pages = [], None, 0
    while True:
        response = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body.get("results") or body.get("products") or []
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 50, "paging did not end"


def test_grouped_results_are_products_with_their_best_media_first(service):
    with service.client("acme") as api:
        body = api.get("/v1/search", params={"q": QUERY, "k": 5, "group": "sku", "per_group": 2}).json()
        media = everything(api)
    assert "results" not in body
    products = body["products"]
    assert len(products) == 5 and len({p["sku"] for p in products}) == 5
    for product in products:
        scores = [m["score"] for m in product["media"]]
        assert product["score"] == scores[0] and scores == sorted(scores, reverse=True)
        assert 1 <= len(product["media"]) <= 2 and {m["sku"] for m in product["media"]} == {product["sku"]}
    # A product's place is its best media's place in the media ranking.
    first_seen = list(dict.fromkeys(item["sku"] for item in media))
    assert [p["sku"] for p in products] == first_seen[:5]
    assert products[0]["sku"] == "sku-red-circle" and len(products[0]["media"]) == 2


def test_a_video_product_collapses_to_its_best_moment(service):
    with service.client("acme") as api:
        body = api.get("/v1/search", params={"q": "a black star", "k": 1, "group": "sku"}).json()
    (product,) = body["products"]
    assert product["sku"] == "sku-video-1" and len(product["media"]) == 1
    assert product["media"][0]["timestamp_s"] is not None


def test_min_score_returns_fewer_than_k_rather_than_poor_results(service):
    with service.client("acme") as api:
        media = everything(api)
        floor = media[3]["score"]
        body = api.get("/v1/search", params={"q": QUERY, "k": 20, "min_score": floor}).json()
        nothing = api.get("/v1/search", params={"q": QUERY, "k": 20, "min_score": 1.0}).json()
    assert [r["key"] for r in body["results"]] == [m["key"] for m in media if m["score"] >= floor]
    assert len(body["results"]) < 20 and body["next_cursor"] is None
    assert nothing["results"] == [] and nothing["next_cursor"] is None


def test_paging_through_the_whole_tenant_has_no_repeats_and_no_gaps(service):
    with service.client("acme") as api:
        media = everything(api)
        pages, count = walk(api, q=QUERY, k=4)
    assert [p["key"] for p in pages] == [m["key"] for m in media]
    assert len(media) == len(service.catalogue.keys_of("acme")) and count == -(-len(media) // 4)


def test_paging_through_products_has_no_repeats_and_no_gaps(service):
    with service.client("acme") as api:
        products = everything(api, group="sku")
        pages, _ = walk(api, q=QUERY, k=3, group="sku", per_group=2)
    assert [p["sku"] for p in pages] == [p["sku"] for p in products]
    assert len({p["sku"] for p in pages}) == len(pages)


def test_a_cursor_works_only_for_its_own_query_and_tenant(service):
    with service.client("acme") as api:
        cursor = api.get("/v1/search", params={"q": QUERY, "k": 2}).json()["next_cursor"]
        other_query = api.get("/v1/search", params={"q": "a blue square", "k": 2, "cursor": cursor})
        other_filter = api.get("/v1/search", params={"q": QUERY, "k": 2, "media_type": "image", "cursor": cursor})
        payload, tag = cursor.split(".")
        altered = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + tag
        tampered = api.get("/v1/search", params={"q": QUERY, "k": 2, "cursor": altered})
        garbage = api.get("/v1/search", params={"q": QUERY, "k": 2, "cursor": "not-a-cursor"})
        bigger_k = api.get("/v1/search", params={"q": QUERY, "k": 5, "cursor": cursor})
    with service.client("globex") as api:
        foreign = api.get("/v1/search", params={"q": QUERY, "k": 2, "cursor": cursor})
    for response in (other_query, other_filter, tampered, garbage, foreign):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_cursor"
    assert bigger_k.status_code == 200  # the page size may change between pages


def test_image_search_pages_too(service):
    source = sorted(service.catalogue.images["acme"])[0]
    with service.client("acme") as api:
        one = result_keys(api.post("/v1/search/image", params={"k": 50}, json={"key": source}))
        first = api.post("/v1/search/image", params={"k": 3}, json={"key": source}).json()
        second = api.post("/v1/search/image", params={"k": 3, "cursor": first["next_cursor"]}, json={"key": source})
    assert [r["key"] for r in first["results"]] + result_keys(second) == one[:6]


@pytest.mark.parametrize("params, field", [
    ({"per_group": 0, "group": "sku"}, "per_group"), ({"per_group": 11}, "per_group"), ({"min_score": 2}, "min_score"),
    ({"min_score": -1.5}, "min_score"), ({"group": "colour"}, "group"), ({"k": 0}, "k"),
])
def test_paging_and_grouping_parameters_out_of_range_are_422s_naming_them(service, params, field):
    with service.client("acme") as api:
        response = api.get("/v1/search", params={"q": QUERY, **params})
    assert response.status_code == 422 and field in response.json()["error"]["message"]

"""Tenant isolation: every endpoint, with every parameter combination, returns the caller's media only.

Both tenants hold the same products under the same SKUs and file names, and globex alone has
orange rings, so a search that crossed tenants would show a foreign key (or an orange ring for acme).
"""

import itertools

import pytest

from stockmind.dev.synthetic import Item
from tests.integration.service.support import CLIENTS, GLOBEX_ONLY, jpeg, owned_by, result_keys, sku_of

pytestmark = pytest.mark.slow

QUERIES = ("a red circle", "an orange ring", "a black star")
KS = (1, 10, 100)
SKUS = (None, "sku-red-circle", sku_of(GLOBEX_ONLY), "sku-video-1", "no-such-sku")
MEDIA_TYPES = (None, "image", "video")


def filter_params(k, sku, media_type) -> dict:
    params = {"k": k}
    if sku:
        params["sku"] = sku
    if media_type:
        params["media_type"] = media_type
    return params


@pytest.mark.parametrize("caller", CLIENTS)
def test_text_search_returns_only_the_callers_media(service, caller):
    with service.client(caller) as api:
        for q, k, sku, media_type in itertools.product(QUERIES, KS, SKUS, MEDIA_TYPES):
            keys = result_keys(api.get("/v1/search", params={"q": q, **filter_params(k, sku, media_type)}))
            assert owned_by(caller, keys), (q, k, sku, media_type, keys)
            assert set(keys) <= service.catalogue.keys_of(caller)


@pytest.mark.parametrize("caller", CLIENTS)
def test_image_search_returns_only_the_callers_media(service, caller):
    photo = jpeg(GLOBEX_ONLY, seed=31_337)
    with service.client(caller) as api:
        for k, sku, media_type in itertools.product(KS, SKUS, MEDIA_TYPES):
            response = api.post("/v1/search/image", params=filter_params(k, sku, media_type),
                                files={"file": ("q.jpg", photo, "image/jpeg")})
            keys = result_keys(response)
            assert owned_by(caller, keys), (k, sku, media_type, keys)


@pytest.mark.parametrize("caller", CLIENTS)
def test_more_like_this_returns_only_the_callers_media(service, caller):
    sources = sorted(service.catalogue.images[caller])[:3] + [service.catalogue.videos[caller]]
    with service.client(caller) as api:
        for source, (k, sku, media_type) in itertools.product(sources, itertools.product(KS, SKUS, MEDIA_TYPES)):
            response = api.post("/v1/search/image", params=filter_params(k, sku, media_type), json={"key": source})
            keys = result_keys(response)
            assert owned_by(caller, keys) and source not in keys, (source, k, sku, media_type, keys)


def test_another_tenants_key_is_not_found_even_when_the_same_path_exists(service):
    theirs = sorted(service.catalogue.images["globex"])[0]
    mine = theirs.replace("clients/globex/", "clients/acme/")
    assert mine in service.catalogue.images["acme"]
    with service.client("acme") as api:
        foreign = api.post("/v1/search/image", json={"key": theirs})
        only_theirs = api.post("/v1/search/image", json={"key": sorted(
            k for k in service.catalogue.images["globex"] if "orange-ring" in k)[0]})
        own = api.post("/v1/search/image", json={"key": mine})
    assert foreign.status_code == 404 and only_theirs.status_code == 404
    assert foreign.json()["error"]["code"] == only_theirs.json()["error"]["code"] == "media_not_found"
    assert own.status_code == 200


@pytest.mark.parametrize("key", [
    "clients/acme/../globex/products/sku-red-circle/media/image/shot-0.jpg",
    "clients/acme/products/sku-red-circle/media/image/../../../../../globex/products/sku-red-circle/media/image/shot-0.jpg",
    "/clients/globex/products/sku-red-circle/media/image/shot-0.jpg",
])
def test_keys_that_try_to_climb_into_another_tenant_are_refused(service, key):
    with service.client("acme") as api:
        response = api.post("/v1/search/image", json={"key": key})
    assert response.status_code in (404, 422)
    assert "results" not in response.json()


def test_a_client_id_parameter_cannot_choose_the_tenant(service):
    with service.client("acme") as api:
        response = api.get("/v1/search", params={"q": "an orange ring", "k": 100, "client_id": "globex",
                                                 "client": "globex"})
        by_header = api.get("/v1/search", params={"q": "an orange ring"}, headers={"X-Client-Id": "globex"})
    assert response.json()["client_id"] == "acme"
    assert owned_by("acme", result_keys(response)) and owned_by("acme", result_keys(by_header))
    assert not any("orange-ring" in key for key in result_keys(response))


def test_the_orange_rings_only_globex_has_are_its_best_match(service):
    with service.client("globex") as api:
        keys = result_keys(api.get("/v1/search", params={"q": "an orange ring", "k": 2}))
    assert all(sku_of(GLOBEX_ONLY) in key for key in keys)


def test_the_x_api_key_header_authenticates_as_the_same_client(service):
    with service.client(None) as api:
        response = api.get("/v1/search", params={"q": "a red circle"}, headers={"X-API-Key": service.tokens["globex"]})
    assert response.json()["client_id"] == "globex" and owned_by("globex", result_keys(response))


def test_a_tenant_without_media_gets_no_results(service):
    from stockmind.service import api_keys
    from stockmind.store import connect

    with connect(service.settings.database_url) as conn:
        token = api_keys.create_key(conn, "initech", "empty tenant").token
    with service.client(None) as api:
        response = api.get("/v1/search", params={"q": "a red circle"}, headers={"X-API-Key": token})
        like = api.post("/v1/search/image", json={"key": sorted(service.catalogue.images["acme"])[0]},
                        headers={"X-API-Key": token})
    assert response.json()["results"] == [] and like.status_code == 404


def test_photos_of_a_product_only_globex_sells_find_nothing_of_globex_for_acme(service):
    photo = jpeg(Item("orange", "ring", "linen cloth"), seed=4242)
    with service.client("acme") as api:
        keys = result_keys(api.post("/v1/search/image", params={"k": 100},
                                    files={"file": ("q.jpg", photo, "image/jpeg")}))
    assert keys and owned_by("acme", keys)


def _all_keys(body: dict) -> list[str]:
    if "products" in body:
        return [media["key"] for product in body["products"] for media in product["media"]]
    return [result["key"] for result in body["results"]]


@pytest.mark.parametrize("caller", CLIENTS)
def test_grouped_paged_combined_and_batched_searches_return_only_the_callers_media(service, caller):
    own = sorted(service.catalogue.images[caller])
    bodies = [{"text": q, "group": group, "k": k, "per_group": 10, "positive": own[:1], "negative": own[1:2]}
              for q, group, k in itertools.product(QUERIES, (None, "sku"), KS)]
    seen = set()
    with service.client(caller) as api:
        for body in bodies:
            page = api.post("/v1/search", json=body).json()
            while True:  # every page, to the end
                keys = _all_keys(page)
                assert owned_by(caller, keys) and set(keys) <= service.catalogue.keys_of(caller), (body, keys)
                seen |= set(keys)
                if page["next_cursor"] is None:
                    break
                page = api.post("/v1/search", json={**body, "cursor": page["next_cursor"]}).json()
        batch = api.post("/v1/search/batch", json={"queries": bodies[:32]}).json()["responses"]
    assert all(owned_by(caller, _all_keys(answer["body"])) for answer in batch)
    assert not any("orange-ring" in key for key in seen) or caller == "globex"


def test_no_cursor_example_or_batch_query_reaches_another_tenant(service):
    theirs = sorted(service.catalogue.images["globex"])
    with service.client("globex") as api:
        cursor = api.get("/v1/search", params={"q": "an orange ring", "k": 1}).json()["next_cursor"]
    with service.client("acme") as api:
        with_their_cursor = api.get("/v1/search", params={"q": "an orange ring", "k": 1, "cursor": cursor})
        with_their_examples = [api.post("/v1/search", json={"text": "a ring", field: value})
                               for field, value in (("positive", theirs[:1]), ("negative", theirs[:1]),
                                                    ("image_key", theirs[0]))]
        batch = api.post("/v1/search/batch", json={"queries": [{"text": "a ring", "positive": theirs[:1]},
                                                               {"text": "an orange ring", "k": 100}]}).json()
    assert with_their_cursor.status_code == 400
    assert [r.status_code for r in with_their_examples] == [404, 404, 404]
    assert [a["status"] for a in batch["responses"]] == [404, 200]
    assert owned_by("acme", _all_keys(batch["responses"][1]["body"]))

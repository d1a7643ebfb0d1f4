"""POST /v1/search: a text combined with stored examples and counter-examples, filters, and batches."""

import pytest

from tests.integration.service.support import result_keys

pytestmark = pytest.mark.slow


def shots(service, client, color, shape) -> list[str]:
    return sorted(key for key, item in service.catalogue.images[client].items()
                  if (item.color, item.shape) == (color, shape))


def test_a_text_alone_ranks_as_the_get_shortcut_does(service):
    with service.client("acme") as api:
        get = api.get("/v1/search", params={"q": "a green square", "k": 8})
        post = api.post("/v1/search", json={"text": "a green square", "k": 8})
    assert result_keys(post) == result_keys(get)


def test_a_positive_example_ranks_as_more_like_this_and_is_left_out(service):
    example = shots(service, "acme", "yellow", "circle")[0]
    with service.client("acme") as api:
        like = api.post("/v1/search/image", params={"k": 6}, json={"key": example})
        post = api.post("/v1/search", json={"positive": [example], "k": 6})
    assert result_keys(post) == result_keys(like) and example not in result_keys(post)


def test_examples_are_never_among_the_results(service):
    red, blue = shots(service, "acme", "red", "square"), shots(service, "acme", "blue", "square")
    with service.client("acme") as api:
        response = api.post("/v1/search", json={"text": "a square", "image_key": red[0], "positive": [red[1]],
                                                "negative": [blue[0]], "k": 30})
    keys = result_keys(response)
    assert not {red[0], red[1], blue[0]} & set(keys)


def test_a_counter_example_pushes_its_look_alikes_down(service):
    positive, negative = shots(service, "acme", "red", "circle")[0], shots(service, "acme", "red", "square")[0]
    sibling = shots(service, "acme", "red", "square")[1]
    with service.client("acme") as api:
        plain = result_keys(api.post("/v1/search", json={"positive": [positive], "k": 30}))
        refined = result_keys(api.post("/v1/search", json={"positive": [positive], "negative": [negative], "k": 30}))
    assert refined.index(sibling) > plain.index(sibling)


def test_text_and_an_example_combine_by_their_weights(service):
    # "this shape, in blue": a red triangle as the example, the colour from the text.
    example = shots(service, "acme", "red", "triangle")[0]

    def skus(weights):
        body = {"text": "blue", "image_key": example, "k": 30, "weights": weights}
        with service.client("acme") as api:
            return [r["sku"] for r in api.post("/v1/search", json=body).json()["results"]]

    text_only, image_only, both = skus({"image": 0}), skus({"text": 0}), skus({"text": 1, "image": 1})
    with service.client("acme") as api:
        assert text_only == [r["sku"] for r in api.get("/v1/search", params={"q": "blue", "k": 31}).json()["results"]
                             if r["key"] != example][:30]
    # Each of the best three is blue or a triangle, and the blue triangle ranks at least as high as
    # either part alone puts it: the two parts count together.
    assert all("blue" in sku or "triangle" in sku for sku in both[:3]) and both not in (text_only, image_only)
    assert both.index("sku-blue-triangle") <= min(text_only.index("sku-blue-triangle"),
                                                  image_only.index("sku-blue-triangle"))


def test_filters_narrow_to_a_list_of_skus_and_a_media_type(service):
    skus = ["sku-red-circle", "sku-blue-square"]
    with service.client("acme") as api:
        body = api.post("/v1/search", json={"text": "a shape", "k": 20, "filters": {"sku": skus}}).json()
        videos = api.post("/v1/search", json={"text": "a shape", "filters": {"media_type": "video"}}).json()
        repeated = api.get("/v1/search", params=[("q", "a shape"), ("k", 20), ("sku", skus[0]), ("sku", skus[1])])
    assert {r["sku"] for r in body["results"]} == set(skus) and len(body["results"]) == 4
    assert result_keys(repeated) == [r["key"] for r in body["results"]]
    assert [r["media_type"] for r in videos["results"]] == ["video"]


def test_another_tenant_s_example_is_a_404_like_a_missing_one(service):
    foreign = shots(service, "globex", "red", "circle")[0]
    missing = foreign.replace("clients/globex/", "clients/acme/").replace("shot-", "nothing-")
    with service.client("acme") as api:
        answers = [api.post("/v1/search", json={"text": "red", field: value})
                   for field, value in (("positive", [foreign]), ("negative", [foreign]), ("image_key", foreign),
                                        ("positive", [missing]))]
    assert [a.status_code for a in answers] == [404] * 4
    assert len({a.json()["error"]["message"].replace(foreign, "K").replace(missing, "K") for a in answers}) == 1


NEEDS_A_PART = "text, image_key, positive"


@pytest.mark.parametrize("body, field", [
    ({"positive": []}, NEEDS_A_PART),
    ({"negative": ["clients/acme/products/s/media/image/a.jpg"]}, NEEDS_A_PART),
    ({"text": "red", "k": 0}, "k"),
    ({"text": "red", "k": 101}, "k"),
    ({"text": "red", "per_group": 0}, "per_group"),
    ({"text": "red", "min_score": 2}, "min_score"),
    ({"text": "\u00a0"}, "text"),
    ({"text": "red", "colour": 1}, "colour"),
    ({"text": "red", "positive": ["clients/acme/x"]}, "positive"),
    ({"text": "red", "weights": {"negative": -1}}, "negative"),
])
def test_bad_queries_are_422s_that_name_the_problem(service, body, field):
    with service.client("acme") as api:
        response = api.post("/v1/search", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["message"]


def test_a_batch_answers_each_query_in_order_as_it_would_alone(service, monkeypatch):
    foreign = shots(service, "globex", "red", "circle")[0]
    texts = ["a red circle (batch)", "a blue triangle (batch)", "a green square (batch)"]
    queries = [{"text": texts[0], "k": 3}, {"text": texts[1], "k": 2, "group": "sku"},
               {"text": texts[0], "positive": [foreign]}, {"text": texts[2], "k": 4, "min_score": -1}]
    calls = []
    embedder = service.searcher.embedder  # the tenants' model: the session's catalogue is embedded with the default
    embed = embedder.embed_texts
    monkeypatch.setattr(embedder, "embed_texts", lambda batch: calls.append(batch) or embed(batch))
    with service.client("acme") as api:
        batch = api.post("/v1/search/batch", json={"queries": queries})
        alone = [api.post("/v1/search", json=query) for query in queries]
    # Its texts (new to the cache) went through the model together; the single queries found them cached.
    assert calls == [texts]
    answers = batch.json()["responses"]
    assert [a["status"] for a in answers] == [a.status_code for a in alone] == [200, 200, 404, 200]
    assert answers[2]["error"]["code"] == "media_not_found" and "body" not in answers[2]
    for answer, single in zip(answers, alone, strict=True):
        if answer["status"] == 200:
            assert _ranked(answer["body"]) == _ranked(single.json()) and answer["body"]["client_id"] == "acme"
    assert "products" in answers[1]["body"] and "results" not in answers[1]["body"]


def _ranked(body):
    items = body.get("results") or body["products"]
    return [(item.get("key") or item["sku"], round(item["score"], 5)) for item in items]


def test_a_batch_of_more_than_32_or_none_is_a_422(service):
    with service.client("acme") as api:
        too_many = api.post("/v1/search/batch", json={"queries": [{"text": "red"}] * 33})
        empty = api.post("/v1/search/batch", json={"queries": []})
        one_bad = api.post("/v1/search/batch", json={"queries": [{"text": "red"}, {"text": "red", "k": 0}]})
    assert [r.status_code for r in (too_many, empty, one_bad)] == [422] * 3
    assert "queries" in too_many.json()["error"]["message"] and "queries.1" in one_bad.json()["error"]["message"]

"""Search quality through the real HTTP API, with our small trained CLIP over the local stack."""

import httpx
import numpy as np
import pytest

from tests.integration.service.support import VIDEO_SECONDS_EACH, new_photo, result_keys

pytestmark = pytest.mark.slow


def items_of(service, client, keys):
    return [service.catalogue.images[client].get(key) for key in keys]


def test_a_red_circle_returns_red_circles_first(service):
    with service.client("acme") as api:
        response = api.get("/v1/search", params={"q": "a red circle", "k": 5})
    first_two = items_of(service, "acme", result_keys(response)[:2])
    assert [(i.color, i.shape) for i in first_two] == [("red", "circle")] * 2
    scores = [r["score"] for r in response.json()["results"]]
    assert scores == sorted(scores, reverse=True)


def test_results_carry_a_presigned_url_that_serves_the_object(service):
    with service.client("acme") as api:
        result = api.get("/v1/search", params={"q": "a green triangle", "k": 1}).json()["results"][0]
    stored = service.s3.get_object(Bucket=service.settings.s3_bucket_name, Key=result["key"])["Body"].read()
    fetched = httpx.get(result["url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == stored
    assert result["sku"] == "sku-green-triangle" and result["media_type"] == "image" and result["timestamp_s"] is None


def test_image_search_returns_the_same_colour_and_shape(service):
    photo = new_photo("blue", "square", seed=1, size=(320, 240))
    with service.client("globex") as api:
        response = api.post("/v1/search/image", params={"k": 3}, files={"file": ("q.jpg", photo, "image/jpeg")})
    results = response.json()["results"]
    assert results[0]["sku"] == "sku-blue-square"
    assert all(r["sku"].startswith("sku-blue-") for r in results)


def test_a_video_is_found_at_the_right_moment(service):
    with service.client("acme") as api:
        response = api.get("/v1/search", params={"q": "a black star", "k": 3})
    top = response.json()["results"][0]
    assert top["key"] == service.catalogue.videos["acme"] and top["media_type"] == "video"
    # The black star fills seconds [3, 6) of the video.
    assert VIDEO_SECONDS_EACH <= top["timestamp_s"] < 2 * VIDEO_SECONDS_EACH


def test_more_like_this_finds_the_other_shot_and_leaves_out_the_source(service):
    source = next(k for k, item in service.catalogue.images["acme"].items()
                  if (item.color, item.shape) == ("yellow", "triangle"))
    with service.client("acme") as api:
        response = api.post("/v1/search/image", params={"k": 4}, json={"key": source})
    keys = result_keys(response)
    assert source not in keys
    assert response.json()["results"][0]["sku"] == "sku-yellow-triangle"


def test_filters_narrow_results_to_a_sku_or_a_media_type(service):
    with service.client("acme") as api:
        by_sku = api.get("/v1/search", params={"q": "a red circle", "k": 50, "sku": "sku-blue-circle"}).json()
        videos = api.get("/v1/search", params={"q": "a red circle", "k": 50, "media_type": "video"}).json()
        images = api.get("/v1/search", params={"q": "a black star", "k": 50, "media_type": "image"}).json()
    assert {r["sku"] for r in by_sku["results"]} == {"sku-blue-circle"} and len(by_sku["results"]) == 2
    assert [r["key"] for r in videos["results"]] == [service.catalogue.videos["acme"]]
    assert images["results"] and {r["media_type"] for r in images["results"]} == {"image"}


def test_k_bounds_the_result_count(service):
    with service.client("acme") as api:
        response = api.get("/v1/search", params={"q": "a square", "k": 3})
    assert len(result_keys(response)) == 3


def test_responses_say_where_the_time_went(service):
    with service.client("acme") as api:
        response = api.get("/v1/search", params={"q": "a blue triangle"})
    names = [part.split(";")[0].strip() for part in response.headers["server-timing"].split(",")]
    assert names == ["embed", "sql", "presign"]


def test_embed_text_returns_unit_vectors_with_the_model_id(service):
    with service.client("acme") as api:
        body = api.post("/v1/embed/text", json={"texts": ["a red circle", "a blue star"]}).json()
    vectors = np.asarray(body["embeddings"])
    assert body["model_id"] == service.searcher.model_id and vectors.shape == (2, body["dim"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)


def test_embed_image_agrees_with_the_indexed_vector_of_the_same_picture(service):
    photo = new_photo("red", "circle", seed=5)
    with service.client("globex") as api:
        body = api.post("/v1/embed/image", files={"file": ("p.jpg", photo, "image/jpeg")}).json()
        text = api.post("/v1/embed/text", json={"texts": ["a red circle", "a green star"]}).json()
    image = np.asarray(body["embedding"])
    assert len(image) == body["dim"] and abs(np.linalg.norm(image) - 1) < 1e-4
    red, green = np.asarray(text["embeddings"]) @ image
    assert red > green


def test_readyz_reports_the_model_and_healthz_is_ok(service):
    with service.client(None) as api:
        ready = api.get("/readyz")
        assert api.get("/healthz").json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["model_id"] == service.searcher.model_id
    assert [m["model_id"] for m in ready.json()["models"]] == [service.searcher.model_id]

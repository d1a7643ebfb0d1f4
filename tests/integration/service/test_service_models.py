"""Each tenant searched with its own active model, through the real HTTP API: our small CLIP (64-d)
and a tiny random CLIP (24-d) built here, a switch from one to the other, and a tenant whose model
cannot load.

The dimensions differ on purpose: a query embedded by one model and searched against the other's
vectors cannot quietly return something, it fails. The service starts before the tiny model's
vectors exist and its refresher never runs (an hour apart), so the switch also loads the new model
on the tenant's first query after it.
"""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from stockmind.config import Settings
from stockmind.dev.tiny_models import build_tiny_model
from stockmind.local.ports import free_port
from stockmind.media.keys import media_key, parse_media_key
from stockmind.media.types import MediaType
from stockmind.service import api_keys
from stockmind.service.app import create_app
from stockmind.service.query_models import QueryModel
from stockmind.service.resources import Resources
from stockmind.store import MediaVectors, PgVectorWriter, activate_model, connect, migrate
from tests.integration.service.conftest import service_env
from tests.integration.service.support import UvicornThread, catalogue_items, jpeg, new_photo, sku_of

pytestmark = pytest.mark.slow

SWITCHING, STAYING, BROKEN = "acme", "globex", "initech"
BROKEN_MODEL = "/nonexistent/stockmind-broken-clip"  # no such folder: the load fails at once
TINY_DIM = 24
IMAGES_PER_TENANT = 6
QUERY = "a red circle"


def photos(client: str) -> dict[str, bytes]:
    return {media_key(client, sku_of(item), MediaType.IMAGE, f"shot-{seed % 100}.jpg"): jpeg(item, seed)
            for item, seed in catalogue_items(client)[:IMAGES_PER_TENANT]}


def vectors_of(model: QueryModel, images: dict[str, bytes]) -> dict[str, np.ndarray]:
    pixels = model.preprocessor.preprocess_batch(list(images.values()))
    return dict(zip(images, model.embedder.embed_images(pixels), strict=True))


def write(database_url: str, bucket: str, model_id: str, vectors: dict[str, np.ndarray]) -> None:
    PgVectorWriter(database_url).write([
        MediaVectors(ref=parse_media_key(key), bucket=bucket, etag="etag-1", model_id=model_id,
                     vectors=vector[None, :], timestamps=[None], size=1000)
        for key, vector in vectors.items()])


class Models:
    """The running service and what the test knows of each model's vectors."""

    def __init__(self, url, tokens, small, tiny, vectors, before):
        self.url, self.tokens, self.small, self.tiny = url, tokens, small, tiny
        self.vectors = vectors  # (client, model id) → key → the vector written
        self.before = before  # responses recorded before the switch

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=60)


@pytest.fixture(scope="module")
def models(local_stack, stack_env, tmp_path_factory):
    """Acme and globex on the small CLIP and initech on a model that cannot load; then, with the
    service running, acme's media embedded by the tiny CLIP too and acme switched to it."""
    name = f"svc_models_{int(time.time() * 1000) % 10**9}_{free_port()}"
    database_url = local_stack.postgres.create_database(name)
    migrate(database_url)
    settings = Settings.from_env({**service_env(stack_env, database_url), "STOCKMIND_MODELS_REFRESH_S": "3600"})
    bucket = settings.s3_bucket_name
    tiny_id = build_tiny_model("clip", tmp_path_factory.mktemp("tiny-clip"), dim=TINY_DIM)
    resources = Resources.open(settings)  # before any vectors: no tenant holds a model yet
    try:
        small = resources.searcher.models.default
        tiny = QueryModel.load(tiny_id, settings)
        vectors = {(client, small.model_id): vectors_of(small, photos(client)) for client in (SWITCHING, STAYING)}
        for (client, model_id), written in vectors.items():
            write(database_url, bucket, model_id, written)
        rng = np.random.default_rng(0)
        write(database_url, bucket, BROKEN_MODEL,
              {key: rng.normal(size=8).astype(np.float32) for key in photos(BROKEN)})
        resources.refresh_models()  # as the refresher thread would: initech's model fails to load
        with connect(database_url) as conn:
            tokens = {client: api_keys.create_key(conn, client, "tests").token
                      for client in (SWITCHING, STAYING, BROKEN)}
        with UvicornThread(create_app(settings, resources), free_port()) as running:
            url = f"http://{running.server.config.host}:{running.server.config.port}"
            state = Models(url, tokens, small, tiny, vectors, {})
            with state.client(SWITCHING) as api:
                state.before["page"] = api.get("/v1/search", params={"q": QUERY, "k": 2})
                state.before["readyz"] = api.get("/readyz")
            vectors[SWITCHING, tiny_id] = vectors_of(tiny, photos(SWITCHING))
            write(database_url, bucket, tiny_id, vectors[SWITCHING, tiny_id])
            with state.client(SWITCHING) as api:
                state.before["held"] = api.get("/v1/search", params={"q": QUERY, "k": 2})
            with connect(database_url) as conn:
                activate_model(conn, SWITCHING, tiny_id)
            yield state
    finally:
        resources.close()
        local_stack.postgres.drop_database(name)


def assert_ranked_by(body: dict, model: QueryModel, vectors: dict[str, np.ndarray], text: str = QUERY):
    """The page names `model`, holds the tenant's media only and scores each by `model`'s own vectors."""
    query = model.embedder.embed_texts([text])[0]
    assert body["model_id"] == model.model_id
    results = body["results"]
    assert {r["key"] for r in results} <= set(vectors) and results
    for result in results:
        assert result["score"] == pytest.approx(float(vectors[result["key"]] @ query), abs=5e-3)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_before_the_switch_a_held_model_answers_nothing(models):
    small_vectors = models.vectors[SWITCHING, models.small.model_id]
    for recorded in ("page", "held"):
        response = models.before[recorded]
        assert response.status_code == 200, response.text
        assert_ranked_by(response.json(), models.small, small_vectors)
    assert models.before["page"].json()["next_cursor"] is not None


def test_after_the_switch_each_tenant_is_answered_by_its_own_model(models):
    with models.client(SWITCHING) as api:
        switched = api.get("/v1/search", params={"q": QUERY, "k": 100})
    with models.client(STAYING) as api:
        staying = api.get("/v1/search", params={"q": QUERY, "k": 100})
    assert switched.status_code == staying.status_code == 200, (switched.text, staying.text)
    assert_ranked_by(switched.json(), models.tiny, models.vectors[SWITCHING, models.tiny.model_id])
    assert_ranked_by(staying.json(), models.small, models.vectors[STAYING, models.small.model_id])
    assert len(switched.json()["results"]) == IMAGES_PER_TENANT


def test_a_cursor_from_before_the_switch_is_refused(models):
    cursor = models.before["page"].json()["next_cursor"]
    with models.client(SWITCHING) as api:
        response = api.get("/v1/search", params={"q": QUERY, "k": 2, "cursor": cursor})
        fresh = api.get("/v1/search", params={"q": QUERY, "k": 2})
        following = api.get("/v1/search", params={"q": QUERY, "k": 2, "cursor": fresh.json()["next_cursor"]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_cursor" and "model changed" in error["message"]
    assert following.status_code == 200 and following.json()["model_id"] == models.tiny.model_id


def test_batch_upload_and_stored_example_queries_use_the_new_model(models):
    tiny_vectors = models.vectors[SWITCHING, models.tiny.model_id]
    example = next(iter(tiny_vectors))
    with models.client(SWITCHING) as api:
        batch = api.post("/v1/search/batch", json={"queries": [{"text": QUERY}, {"image_key": example, "k": 3}]})
        upload = api.post("/v1/search/image", files={"file": ("q.jpg", new_photo("red", "circle", seed=1))})
        like = api.post("/v1/search/image", json={"key": example})
    answers = batch.json()["responses"]
    assert [a["status"] for a in answers] == [200, 200], batch.text
    assert_ranked_by(answers[0]["body"], models.tiny, tiny_vectors)
    for body in (answers[1]["body"], upload.json(), like.json()):
        assert body["model_id"] == models.tiny.model_id and body["results"]
    assert example not in {r["key"] for r in like.json()["results"]}
    # "More like this" ranks by the example's stored tiny vector.
    top = like.json()["results"][0]
    assert top["score"] == pytest.approx(float(tiny_vectors[top["key"]] @ tiny_vectors[example]), abs=5e-3)


def test_embeddings_and_duplicates_are_the_tenants_model(models):
    with models.client(SWITCHING) as api:
        switched = api.post("/v1/embed/text", json={"texts": [QUERY]}).json()
        example = next(iter(models.vectors[SWITCHING, models.tiny.model_id]))
        duplicates = api.get("/v1/duplicates", params={"key": example, "min_score": -1}).json()
    with models.client(STAYING) as api:
        staying = api.post("/v1/embed/text", json={"texts": [QUERY]}).json()
    assert (switched["model_id"], switched["dim"], len(switched["embeddings"][0])) == (
        models.tiny.model_id, TINY_DIM, TINY_DIM)
    assert (staying["model_id"], staying["dim"]) == (models.small.model_id, models.small.dim)
    assert duplicates["model_id"] == models.tiny.model_id and len(duplicates["near"]) == IMAGES_PER_TENANT - 1


def test_readyz_lists_every_loaded_model_and_the_one_that_failed(models):
    before = models.before["readyz"].json()
    assert [m["model_id"] for m in before["models"]] == [models.small.model_id]
    with models.client(SWITCHING) as api:
        api.get("/v1/search", params={"q": QUERY}).raise_for_status()  # loads the model switched to
        ready = api.get("/readyz")
    body = ready.json()
    assert ready.status_code == 200 and body["status"] == "ready"
    assert (body["model_id"], body["dim"]) == (models.small.model_id, models.small.dim)
    listed = {m["model_id"]: (m["dim"], m["device"]) for m in body["models"]}
    assert listed == {models.small.model_id: (models.small.dim, "cpu"), models.tiny.model_id: (TINY_DIM, "cpu")}
    assert [m["model_id"] for m in body["failed_models"]] == [BROKEN_MODEL]
    assert "no such folder" in body["failed_models"][0]["error"]


def test_a_tenant_whose_model_cannot_load_gets_503_naming_it_while_others_get_200(models):
    with models.client(BROKEN) as api:
        refused = [api.get("/v1/search", params={"q": QUERY}),
                   api.post("/v1/search/batch", json={"queries": [{"text": QUERY}]}),
                   api.post("/v1/embed/text", json={"texts": [QUERY]})]
    with models.client(STAYING) as api:
        served = api.get("/v1/search", params={"q": QUERY})
    for response in refused:
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "model_unavailable" and error["model_id"] == BROKEN_MODEL
        assert BROKEN_MODEL in error["message"] and response.headers["retry-after"] == "3600"
    assert served.status_code == 200 and served.json()["model_id"] == models.small.model_id

"""A tenant moves to a model of another dimension with zero downtime: the reindex runs while a client
searches in a loop and uploads keep arriving through the stream; then the switch and the retirement.

Everything is real: moto S3/SQS with its event notifications, the streaming ingestor, the Ray Data
reindex on the stack's Ray head, PostgreSQL + pgvector, and the search service over HTTP.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import httpx
import numpy as np
import pytest

from stockmind.backfill.options import BackfillOptions
from stockmind.cli import main as cli
from stockmind.config import Settings
from stockmind.dev.tiny_models import build_tiny_model
from stockmind.embed.embedder import ClipEmbedder
from stockmind.local.ports import free_port
from stockmind.service import api_keys
from stockmind.service.app import create_app
from stockmind.service.resources import Resources
from stockmind.store import connect, embedded_media, stored_vectors, tenant_models
from stockmind.stream.options import StreamOptions
from tests.integration.service.support import UvicornThread
from tests.integration.stream_support import (
    TEST_MODEL,
    BackgroundIngestor,
    image_key,
    jpeg_bytes,
    put,
    stream_settings,
    video_bytes,
    video_key,
    wait_for,
)

pytestmark = pytest.mark.slow

CLIENT = "shop-switch"
QUERY = "a red circle"
K = 50  # more than the tenant's media: every response ranks all of them
NEW_DIM = 24
SEARCH_PAUSE_S = 0.05
# Small CPU shares: the stream's two embedder pools, the reindex's pipeline and the 1-CPU Ray Data
# repartition must fit the session cluster's 2 CPUs together.
EMBEDDER_CPUS = 0.1


@dataclasses.dataclass
class Response:
    status: int
    model_id: str | None
    scores: dict[str, float]


class SearchLoop:
    """A client searching the tenant over HTTP as fast as it can, recording every response."""

    def __init__(self, url: str, token: str):
        self.responses: list[Response] = []
        self._client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            reply = self._client.post("/v1/search", json={"text": QUERY, "k": K})
            body = reply.json() if reply.status_code == 200 else {}
            self.responses.append(Response(reply.status_code, body.get("model_id"),
                                           {r["key"]: r["score"] for r in body.get("results", [])}))
            time.sleep(SEARCH_PAUSE_S)

    def latest_model(self) -> str | None:
        return self.responses[-1].model_id if self.responses else None

    def stop(self) -> list[Response]:
        self._stop.set()
        self._thread.join(60)
        self._client.close()
        return self.responses


@pytest.fixture
def settings(stack_env, database_url) -> Settings:
    base = stream_settings(stack_env, database_url, embedder_num_cpus=EMBEDDER_CPUS)
    # A client searching in a loop: far above the default per-key rate limit.
    return dataclasses.replace(base, models_refresh_s=1.0, rate_limit_per_s=1000.0, rate_limit_burst=1000)


def reindex(database_url: str, bucket: str, model: str):
    from stockmind.backfill.reindex import run_reindex  # after the stack's Ray settings (see test_reindex.py)

    return run_reindex(BackfillOptions(database_url=database_url, bucket=bucket, model=model, batch_size=4,
                                       cpus_per_actor=EMBEDDER_CPUS, stored_clients=(CLIENT,)))


def live_keys(database_url: str, model: str) -> set[str]:
    with connect(database_url) as conn:
        return {key for _, key in embedded_media(conn, client_id=CLIENT, model_id=model)}


def expected_score(vectors: list, query: np.ndarray) -> float:
    """What the store ranks a media by: its best frame's cosine to the query."""
    return max(float(np.dot(np.asarray(v.to_list(), dtype=np.float32), query)) for v in vectors)


def test_a_tenant_moves_to_a_model_of_another_dimension_while_searched_and_uploaded_to(
        aws, local_stack, ray_cluster, embedder_pool, settings, database_url, tmp_path, monkeypatch):
    new_model = build_tiny_model("clip", tmp_path / "tiny-clip", dim=NEW_DIM, image_size=64)
    before = [image_key(CLIENT, f"sku-{n}", f"before-{n}") for n in range(3)]
    stream = BackgroundIngestor(settings, embedder_pool,
                                StreamOptions(receive_wait_s=1.0, load_threads=4, retry_base_s=1.0,
                                              models_refresh_s=1.0))
    for n, key in enumerate(before):
        put(aws, key, jpeg_bytes(n))
    wait_for(lambda: live_keys(database_url, TEST_MODEL) == set(before), 60, "the first uploads")

    with connect(database_url) as conn:
        token = api_keys.create_key(conn, CLIENT, "model change").token
    port = free_port()
    resources = Resources.open(settings)
    try:
        with UvicornThread(create_app(settings, resources), port):
            change_the_model(f"http://127.0.0.1:{port}", token, aws, database_url, before, new_model, monkeypatch)
    finally:
        resources.close()
        stream.ingestor.stop()
        stream.join(60)


def change_the_model(url: str, token: str, aws, database_url: str, before: list[str], new_model: str,
                     monkeypatch) -> None:
    searches = SearchLoop(url, token)
    try:
        wait_for(lambda: searches.latest_model() == TEST_MODEL, 60, "the first search answers")

        # The reindex runs in the background; uploads arrive once it has registered the new model.
        result = {}
        reindexing = threading.Thread(
            target=lambda: result.update(summary=reindex(database_url, aws.bucket, new_model)), daemon=True)
        reindexing.start()
        wait_for(lambda: any(m.model_id == new_model for m in _models(database_url)), 120, "the reindex to start")
        during = [image_key(CLIENT, "sku-9", f"during-{n}") for n in range(2)] + [video_key(CLIENT, "sku-9", "clip")]
        put(aws, during[0], jpeg_bytes(5))
        put(aws, during[1], jpeg_bytes(6))
        put(aws, during[2], video_bytes(seconds=2))
        reindexing.join(300)
        assert not reindexing.is_alive(), "the reindex did not finish"
        assert result["summary"].failed == 0

        # The stream embeds what arrived during the reindex with both models.
        everything = set(before) | set(during)
        wait_for(lambda: live_keys(database_url, new_model) == everything, 60, "the new model to cover every upload")
        assert live_keys(database_url, TEST_MODEL) == everything
        assert searches.latest_model() == TEST_MODEL  # nothing has switched yet

        monkeypatch.setenv("DATABASE_URL", database_url)
        assert cli(["models", "activate", new_model, "--client", CLIENT]) == 0
        wait_for(lambda: searches.latest_model() == new_model, 60, "the new model to answer")
        after = image_key(CLIENT, "sku-8", "after")
        put(aws, after, jpeg_bytes(7))
        wait_for(lambda: after in live_keys(database_url, new_model), 60, "an upload after the switch")
        wait_for(lambda: after in searches.responses[-1].scores, 30, "the upload after the switch to be found")
    finally:
        responses = searches.stop()

    check_responses(responses, database_url, TEST_MODEL, new_model)
    answered_by_new = [r for r in responses if r.model_id == new_model]
    assert everything <= set(answered_by_new[-1].scores), "uploads made during the reindex are searchable"

    assert cli(["models", "retire", TEST_MODEL, "--client", CLIENT]) == 0
    with connect(database_url) as conn:
        assert [m.model_id for m in tenant_models(conn, CLIENT)] == [new_model]
        (old_rows,) = conn.execute("SELECT count(*) FROM embeddings WHERE client_id = %s AND model_id = %s",
                                   (CLIENT, TEST_MODEL)).fetchone()
    assert old_rows == 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        last = client.post("/v1/search", json={"text": QUERY, "k": K})
    assert last.status_code == 200 and last.json()["model_id"] == new_model


def check_responses(responses: list[Response], database_url: str, old: str, new: str) -> None:
    """Zero errors; one switch, never back; every score is the cosine of the named model's query vector
    with that model's stored vectors of the media (a result of the other model could not match)."""
    assert responses and all(r.status == 200 for r in responses), {r.status for r in responses}
    names = [r.model_id for r in responses]
    switch = names.index(new)
    assert set(names[:switch]) == {old} and set(names[switch:]) == {new}
    queries = {model: ClipEmbedder(model).embed_texts([QUERY])[0] for model in (old, new)}
    expected: dict[tuple[str, str], float] = {}
    with connect(database_url) as conn:
        for response in responses:
            for key, score in response.scores.items():
                if (key, response.model_id) not in expected:
                    vectors = stored_vectors(conn, CLIENT, key, model_id=response.model_id)
                    expected[(key, response.model_id)] = expected_score(vectors, queries[response.model_id])
                assert score == pytest.approx(expected[(key, response.model_id)], abs=3e-3), (key, response.model_id)


def _models(database_url: str):
    with connect(database_url) as conn:
        return tenant_models(conn, CLIENT)

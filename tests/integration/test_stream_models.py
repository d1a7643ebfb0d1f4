"""The stream embeds each upload with every model its tenant holds, on the real local stack: a second
model of another dimension (a tiny random CLIP) gets the uploads of the tenants that hold it, deletes
remove both models' vectors, and after a switch and a retire the old model's vectors stop coming."""

import dataclasses

import numpy as np
import pytest

from stockmind.dev.tiny_models import build_tiny_model
from stockmind.embed.embedder import ClipEmbedder
from stockmind.media.keys import parse_media_key
from stockmind.store import PgVectorWriter, activate_model, connect, retire_model, stored_vectors
from tests.integration.store_factories import image_key as seed_key
from tests.integration.store_factories import media, unit
from tests.integration.stream_support import (  # embedder_pool is a fixture
    FAST_OPTIONS,
    TEST_MODEL,
    BackgroundIngestor,
    drain_dlq,
    image_key,
    jpeg_bytes,
    put,
    queue_counts,
    stream_settings,
    video_bytes,
    video_key,
    wait_for,
)

pytestmark = pytest.mark.slow

SECOND_DIM = 24
# Held by a tenant, but no pool can load it: its uploads are written without it, and counted.
UNLOADABLE = "/nonexistent/clip-checkpoint"
TWO_MODELS, NEW, UNLOADABLE_HELD, MOVED = "acme", "globex", "initech", "umbrella"
# Long enough for the held pools to load on a 2-CPU runner; the run ends at max_messages.
OPTIONS = dataclasses.replace(FAST_OPTIONS, idle_exit_s=120.0, models_refresh_s=0.25, max_messages=7)


@pytest.fixture(scope="module")
def second_model(tmp_path_factory) -> str:
    return build_tiny_model("clip", tmp_path_factory.mktemp("tiny-clip"), dim=SECOND_DIM)


def hold(database_url: str, client: str, models: dict[str, int]) -> None:
    """Make `client` hold these {model: dim} (the first one active) through one stored object."""
    with PgVectorWriter(database_url) as writer:
        for seed, (model, dim) in enumerate(models.items()):
            writer.write([media(seed_key(client, "seed", "seed"), unit(seed, dim), model=model)])


def vectors_by_model(database_url: str, key: str) -> dict[str, tuple[int, list]]:
    """{model: (dimension, timestamps in frame order)} of the live object at `key`."""
    found: dict[str, tuple[int, list]] = {}
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT e.model_id, e.embedding, e.timestamp_s FROM media m JOIN embeddings e USING (client_id, media_id)"
            " WHERE m.key = %s AND m.status = 'active' ORDER BY e.model_id, e.frame_no", (key,)).fetchall()
    for model, embedding, stamp in rows:
        dim, stamps = found.get(model, (len(embedding.to_list()), []))
        found[model] = (dim, [*stamps, stamp])
    return found


def stored_vector(database_url: str, key: str, model: str) -> np.ndarray:
    with connect(database_url) as conn:
        (vector,) = stored_vectors(conn, parse_media_key(key).client_id, key, model_id=model)
    return np.asarray(vector.to_list(), dtype=np.float32)


def embedded_here(model: str, data: bytes) -> np.ndarray:
    embedder = ClipEmbedder(model, device="cpu")
    return embedder.embed_images(embedder.preprocessor().preprocess_batch([data]))[0]


def test_uploads_get_every_held_models_vectors_until_the_old_model_is_retired(
        aws, database_url, stack_env, embedder_pool, second_model):
    primary_dim = embedder_pool.dim
    hold(database_url, TWO_MODELS, {TEST_MODEL: primary_dim, second_model: SECOND_DIM})
    hold(database_url, UNLOADABLE_HELD, {TEST_MODEL: primary_dim, UNLOADABLE: 8})
    hold(database_url, MOVED, {second_model: SECOND_DIM})
    moved = image_key(MOVED, "sku-1", "front")
    put(aws, moved, jpeg_bytes(5))  # before the second model's pool is loaded: it waits for it

    running = BackgroundIngestor(stream_settings(stack_env, database_url, embedder_num_cpus=0.25),
                                 embedder_pool, OPTIONS)
    def pool(model: str) -> str | None:
        return running.ingestor.stats()["models"].get(model, {}).get("pool")

    def tenants(model: str) -> int:
        return running.ingestor.stats()["models"][model]["tenants"]

    wait_for(lambda: pool(second_model) == "ready" and pool(UNLOADABLE) == "failed", 120,
             "the held models' pools to load or fail")
    uploads = {
        image_key(TWO_MODELS, "bag-1", "front"): jpeg_bytes(0),
        video_key(TWO_MODELS, "bag-1", "spin"): video_bytes(seconds=3),
        image_key(NEW, "shoe-1", "top"): jpeg_bytes(1),
        image_key(UNLOADABLE_HELD, "hat-1", "side"): jpeg_bytes(2),
    }
    for key, data in uploads.items():
        put(aws, key, data)
    wait_for(lambda: all(vectors_by_model(database_url, key) for key in [*uploads, moved]), 60, "the uploads' rows")

    image, video, new, unloadable = (vectors_by_model(database_url, key) for key in uploads)
    assert image == {TEST_MODEL: (primary_dim, [None]), second_model: (SECOND_DIM, [None])}
    assert set(video) == {TEST_MODEL, second_model} and video[second_model][0] == SECOND_DIM
    assert video[TEST_MODEL][1] == video[second_model][1] == pytest.approx([0.0, 1.0, 2.0], abs=0.3)
    assert new == {TEST_MODEL: (primary_dim, [None])}
    assert unloadable == {TEST_MODEL: (primary_dim, [None])}
    assert vectors_by_model(database_url, moved) == {second_model: (SECOND_DIM, [None])}
    assert stored_vector(database_url, image_key(TWO_MODELS, "bag-1", "front"), second_model) == pytest.approx(
        embedded_here(second_model, jpeg_bytes(0)), abs=2e-3)  # its own weights and preprocessing; halfvec

    aws.s3.delete_object(Bucket=aws.bucket, Key=video_key(TWO_MODELS, "bag-1", "spin"))
    wait_for(lambda: not vectors_by_model(database_url, video_key(TWO_MODELS, "bag-1", "spin")), 30,
             "the deleted video's rows of both models to go")

    wait_for(lambda: tenants(TEST_MODEL) == 3, 30, "the new tenant in the held-models map")
    with connect(database_url) as conn:
        activate_model(conn, TWO_MODELS, second_model)
        retire_model(conn, TWO_MODELS, TEST_MODEL)
    wait_for(lambda: tenants(TEST_MODEL) == 2, 30, "the retire to reach the stream")
    after_switch = image_key(TWO_MODELS, "bag-2", "front")
    put(aws, after_switch, jpeg_bytes(3))
    stats = running.join(60)

    assert vectors_by_model(database_url, after_switch) == {second_model: (SECOND_DIM, [None])}
    counted = {model: (m["written"], m["missed"]) for model, m in stats["models"].items()}
    assert counted == {TEST_MODEL: (4, 0), second_model: (4, 0), UNLOADABLE: (0, 1)}
    assert stats["models"][second_model]["role"] == "held" and stats["models"][TEST_MODEL]["role"] == "stream"
    assert stats["counts"]["succeeded"] == 7 and stats["counts"]["media_removed"] == 1
    assert queue_counts(aws, aws.queue_url) == (0, 0)
    assert drain_dlq(aws) == []



def test_a_pool_the_cluster_cannot_place_fails_after_its_load_timeout_and_frees_its_actor(ray_cluster):
    from ray.exceptions import GetTimeoutError
    from ray.util.state import list_actors

    from stockmind.stream.embedders import EmbedderPool

    with pytest.raises(GetTimeoutError):
        EmbedderPool(TEST_MODEL, num_cpus=64, load_timeout_s=1)  # the session cluster has 2 CPUs

    def pending() -> list:
        return list_actors(address=ray_cluster.dashboard_url, filters=[("state", "=", "PENDING_CREATION")])

    wait_for(lambda: not pending(), 30, "the unplaceable actor to be killed")

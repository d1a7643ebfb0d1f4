"""The in-process stage timer and the put → searchable probe, on the real store and moto S3.

The embedder is a stand-in (vectors from mean colours): what is under test is the wiring of the
stages and what they report, not CLIP."""

import numpy as np
import pytest

from stockmind.decode.image import ImagePreprocessor
from stockmind.evaluation import freshness
from stockmind.evaluation.datasets import synthetic_dataset, upload
from stockmind.evaluation.stages import STAGES, ingest_in_process
from stockmind.store import connect


class MeanColourEmbedder:
    model_id = "mean-colour"
    image_size = 32
    dim = 4

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        means = np.asarray(pixels, np.float32).mean(axis=(2, 3))
        vectors = np.concatenate([means, np.ones((len(means), 1), np.float32)], axis=1)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def catalogue(aws):
    dataset, files = synthetic_dataset(tenants=1, images_per_tenant=5, videos_per_tenant=1, video_seconds=2,
                                       prefix="stages")
    return files, upload(aws.s3, aws.bucket, files)


def test_ingest_in_process_times_every_stage_of_every_batch(aws, database_url, catalogue):
    files, keys = catalogue
    run = ingest_in_process(aws.s3, aws.bucket, keys, MeanColourEmbedder(), ImagePreprocessor(32, 32),
                            database_url, batch_size=4)
    assert [batch.media for batch in run.batches] == [4, 2]
    totals = run.totals()
    assert (totals["media"], totals["rows"]) == (6, 5 + 2)  # a 2 s video gives two frames
    assert totals["bytes"] == sum(len(f.data) for f in files)
    assert all(totals[stage] > 0 for stage in STAGES)
    assert run.wall_s >= sum(totals[stage] for stage in STAGES)
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM media WHERE client_id = 'stages-0'").fetchone()[0] == 6


def test_a_second_ingest_of_the_same_objects_writes_nothing(aws, database_url, catalogue):
    _, keys = catalogue
    for expected_rows in (7, 0):
        run = ingest_in_process(aws.s3, aws.bucket, keys, MeanColourEmbedder(), ImagePreprocessor(32, 32), database_url)
        assert run.totals()["rows"] == expected_rows


def test_put_to_searchable_times_out_naming_the_key_when_nothing_consumes_the_queue(aws, database_url):
    _, files = synthetic_dataset(tenants=1, images_per_tenant=1, prefix="unconsumed")
    with connect(database_url) as conn, pytest.raises(TimeoutError, match="unconsumed-0"):
        freshness.put_to_searchable(aws.s3, aws.bucket, conn, files, timeout_s=0.5)


def test_wait_until_drained_returns_once_the_queue_is_empty(aws):
    aws.sqs.purge_queue(QueueUrl=aws.queue_url)
    assert freshness.wait_until_drained(aws.sqs, aws.queue_url, timeout_s=5) < 5
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="{}")
    with pytest.raises(TimeoutError, match="still holds messages"):
        freshness.wait_until_drained(aws.sqs, aws.queue_url, timeout_s=0.3, poll_s=0.1)

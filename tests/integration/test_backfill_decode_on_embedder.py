"""The backfill with images decoded on the embedder actors (as on a GPU pool; here on their CPUs): the
decoders pass image files through and decode only videos; what the embedders cannot decode is
reported with the same reason as when the decoders decode, and every other object is stored with
the vectors the decoders' path gives."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from stockmind.backfill.options import BackfillOptions
from stockmind.backfill.report import read_failure_report
from stockmind.media.keys import media_key
from stockmind.media.types import MediaType
from stockmind.store import connect
from tests.integration.backfill_media import MODEL, VIDEO_SECONDS, image_bytes, video_bytes
from tests.integration.stream_support import jpeg_of_size
from tests.unit import image_corpus as corpus

pytestmark = pytest.mark.slow

CLIENT = "shop-gpu"
OTHER_DATABASE = "test_backfill_decoders"


def image(name: str) -> str:
    return media_key(CLIENT, "sku-1", MediaType.IMAGE, name)


GOOD = {
    image("photo.jpg"): image_bytes(1),
    image("photo.png"): image_bytes(2, "PNG"),
    image("cmyk.jpg"): corpus.cmyk_jpeg(),
    image("rotated.jpg"): corpus.exif_rotated_jpeg(),
    image("cutout.png"): corpus.rgba_png(),
    image("still.webp"): corpus.animated_webp(),
}
VIDEO = media_key(CLIENT, "sku-2", MediaType.VIDEO, "clip.mp4")
BAD = {
    image("truncated.jpg"): (image_bytes(3)[:300], "undecodable_media"),
    image("text.jpg"): (b"hello, I am a text file\n" * 20, "undecodable_media"),
    # The good images are at most 200×100 pixels: the limit must reach the embedders' decoder.
    image("bomb.jpg"): (jpeg_of_size(200, 200), "decompression_bomb"),
}
MAX_PIXELS = 30_000


def run_backfill(options: BackfillOptions):
    from stockmind.backfill.runner import run_backfill as run

    return run(options)


@pytest.fixture
def other_database(local_stack):
    yield local_stack.postgres.create_database(OTHER_DATABASE)
    local_stack.postgres.drop_database(OTHER_DATABASE)


def stored_frames(database_url: str) -> dict[tuple[str, int], np.ndarray]:
    with connect(database_url) as conn:
        rows = conn.execute("SELECT m.key, e.frame_no, e.embedding FROM media m"
                            " JOIN embeddings e USING (client_id, media_id)").fetchall()
    return {(key, frame_no): np.asarray(vector.to_list(), np.float32) for key, frame_no, vector in rows}


def stored_hashes(database_url: str) -> dict[str, bytes]:
    with connect(database_url) as conn:
        return {key: digest for key, digest in conn.execute("SELECT key, content_sha256 FROM media")}


def test_images_decoded_on_the_embedders_are_stored_like_the_decoders_and_bad_ones_are_reported(
        aws, local_stack, ray_cluster, database_url, other_database, tmp_path):
    for key, data in GOOD.items():
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)
    video = video_bytes(7)
    aws.s3.put_object(Bucket=aws.bucket, Key=VIDEO, Body=video)
    for key, (data, _) in BAD.items():
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)

    def backfill(decode_on: str, url: str, report: str):
        return run_backfill(BackfillOptions(
            database_url=url, bucket=local_stack.bucket, model=MODEL, prefix=f"clients/{CLIENT}/", batch_size=4,
            max_image_pixels=MAX_PIXELS, decode_on=decode_on, report=tmp_path / report))

    on_embedder = backfill("embedder", database_url, "embedder.jsonl")
    on_decoders = backfill("decoders", other_database, "decoders.jsonl")

    objects = len(GOOD) + 1 + len(BAD)
    for summary in (on_embedder, on_decoders):
        assert (summary.listed, summary.embedded, summary.failed) == (objects, len(GOOD) + 1, len(BAD))
        assert summary.frames == len(GOOD) + VIDEO_SECONDS
    reasons = {key: reason for key, (_, reason) in BAD.items()}
    for report in ("embedder.jsonl", "decoders.jsonl"):
        failures = read_failure_report(tmp_path / report)
        assert {f.key: f.reason for f in failures} == reasons
        assert all(f.detail for f in failures)
    vectors = stored_frames(database_url)
    assert sorted(vectors) == sorted([(key, 0) for key in GOOD] + [(VIDEO, n) for n in range(VIDEO_SECONDS)])
    expected = stored_frames(other_database)
    assert sorted(expected) == sorted(vectors)
    for frame, vector in vectors.items():
        assert float(vector @ expected[frame]) > 0.999, frame
    # Both placements store the SHA-256 of the bytes read (images reach the embedders as their files).
    hashes = {key: hashlib.sha256(data).digest() for key, data in {**GOOD, VIDEO: video}.items()}
    assert stored_hashes(database_url) == stored_hashes(other_database) == hashes

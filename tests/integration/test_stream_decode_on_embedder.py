"""Decode placed on the embedder actors (as on a GPU pool; here on their CPUs): image files travel to
the actors, which decode them; what they cannot decode reaches the DLQ with the same reason as when
the ingestor decodes, and everything else in the same batches is embedded once."""

import hashlib

import numpy as np

from stockmind.decode.image import ImagePreprocessor
from stockmind.embed.embedder import ClipEmbedder
from stockmind.stream.ingestor import StreamIngestor
from tests.integration.stream_support import (  # embedder_pool is a fixture
    FAST_OPTIONS,
    TEST_MODEL,
    drain_dlq,
    image_key,
    jpeg_bytes,
    jpeg_of_size,
    put,
    queue_counts,
    rows_per_key,
    stream_settings,
    video_bytes,
    video_key,
)
from tests.unit import image_corpus as corpus


def stored_vector(conn, key: str) -> np.ndarray:
    (vector,) = conn.execute(
        "SELECT e.embedding FROM embeddings e JOIN media m USING (client_id, media_id)"
        " WHERE m.key = %s AND e.frame_no = 0", (key,)).fetchone()
    return np.asarray(vector.to_list(), dtype=np.float32)


def stored_hashes(conn) -> dict[str, bytes]:
    return {key: digest for key, digest in conn.execute("SELECT key, content_sha256 FROM media")}


def test_images_decoded_on_the_embedder_become_rows_and_the_undecodable_ones_reach_the_dlq(
        aws, database_url, stack_env, embedder_pool, conn):
    good = {
        image_key("acme", "sku-1", "photo-0"): jpeg_bytes(0),
        image_key("acme", "sku-1", "photo-1"): jpeg_bytes(1),
        image_key("acme", "sku-2", "grey"): corpus.grayscale_jpeg(),
        image_key("acme", "sku-2", "cmyk"): corpus.cmyk_jpeg(),
        image_key("acme", "sku-2", "rotated"): corpus.exif_rotated_jpeg(),
        image_key("globex", "sku-3", "cutout", ext="png"): corpus.rgba_png(),
        image_key("globex", "sku-3", "still", ext="webp"): corpus.animated_webp(),
    }
    clip = video_key("globex", "sku-3", "clip")  # decoded to frames in the ingestor, as always
    poison = {
        image_key("acme", "sku-1", "truncated"): (jpeg_bytes(3)[:300], "undecodable_media"),
        image_key("acme", "sku-1", "empty"): (b"", "undecodable_media"),
        image_key("acme", "sku-1", "text"): (b"hello, I am a text file\n" * 20, "undecodable_media"),
        image_key("acme", "sku-1", "bomb"): (jpeg_of_size(200, 200), "decompression_bomb"),
    }
    for key, data in good.items():
        put(aws, key, data)
    clip_bytes = video_bytes(seconds=2)
    put(aws, clip, clip_bytes)
    for key, (data, _) in poison.items():
        put(aws, key, data)
    # The photos (at most 100×200) pass, the 200×200 "bomb" does not: the limit must reach the embedder's decoder.
    settings = stream_settings(stack_env, database_url, max_image_pixels=30_000)

    stats = StreamIngestor(settings, FAST_OPTIONS, pool=embedder_pool, decode_on="embedder").run()

    assert stats["decode_on"] == "embedder"
    assert rows_per_key(database_url) == {**{key: 1 for key in good}, clip: 2}
    dead = drain_dlq(aws)
    assert {m["attributes"]["ObjectKey"]: m["attributes"]["ErrorType"] for m in dead} == {
        key: reason for key, (_, reason) in poison.items()}
    assert all(m["attributes"]["ReceiveCount"] == "1" and m["attributes"]["ErrorDetail"] for m in dead)
    assert stats["counts"]["dlq"] == len(poison)
    assert queue_counts(aws, aws.queue_url) == (0, 0)
    # The hash is of the bytes read, whether they travelled to the embedder (images) or not (the video).
    assert stored_hashes(conn) == {key: hashlib.sha256(data).digest()
                                   for key, data in {**good, clip: clip_bytes}.items()}

    embedder = ClipEmbedder(TEST_MODEL, device="cpu")
    preprocessor = ImagePreprocessor.from_pretrained(TEST_MODEL, device="cpu")
    expected = embedder.embed_images(preprocessor.preprocess_batch(list(good.values())))
    for key, vector in zip(good, expected):
        assert float(stored_vector(conn, key) @ vector) > 0.999, key  # halfvec storage: ~1e-3

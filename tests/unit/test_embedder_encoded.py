"""ClipEmbedder.embed_encoded: image files → vectors where the model is, each bad file failing alone."""

import numpy as np
import pytest

from stockmind.decode.image import ImagePreprocessor
from stockmind.embed.embedder import ClipEmbedder
from stockmind.embed.models import SMALL_CLIP
from stockmind.errors import DecompressionBomb, UndecodableMedia
from tests.unit import image_corpus as corpus


@pytest.fixture(scope="module")
def embedder():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield ClipEmbedder(SMALL_CLIP)


def photos() -> list[bytes]:
    return [corpus.encode(corpus.gradient(320, 240), "JPEG", quality=90), corpus.rgba_png(), corpus.cmyk_jpeg(),
            corpus.exif_rotated_jpeg()]


def test_encoded_images_embed_like_the_same_images_preprocessed_beforehand(embedder):
    blobs = photos()
    vectors, failures = embedder.embed_encoded(blobs)
    pixels = ImagePreprocessor.from_pretrained(SMALL_CLIP, device="cpu").preprocess_batch(blobs)
    assert failures == {}
    assert vectors.dtype == np.float32 and vectors.shape == (len(blobs), embedder.dim)
    np.testing.assert_allclose(vectors, embedder.embed_images(pixels), atol=1e-5)


def test_each_unreadable_image_fails_alone_with_its_index(embedder):
    good = photos()
    blobs = [b"not an image", *good[:2], corpus.encode(corpus.gradient(400, 300), "JPEG")[:300], *good[2:]]
    vectors, failures = embedder.embed_encoded(blobs)
    assert sorted(failures) == [0, 3]
    assert all(isinstance(error, UndecodableMedia) for error in failures.values())
    np.testing.assert_allclose(vectors, embedder.embed_encoded(good)[0], atol=1e-5)


def test_the_pixel_limit_is_the_callers(embedder):
    vectors, failures = embedder.embed_encoded([corpus.encode(corpus.gradient(101, 100), "PNG")], max_pixels=100 * 100)
    assert vectors.shape == (0, embedder.dim)
    assert isinstance(failures[0], DecompressionBomb)
    assert embedder.embed_encoded([corpus.encode(corpus.gradient(101, 100), "PNG")])[1] == {}

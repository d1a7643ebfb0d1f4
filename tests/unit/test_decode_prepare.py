"""prepare_media: one image → one row without a timestamp; one video → a row per sampled frame."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stockmind.decode.image import CLIP_MEAN, CLIP_STD, ImagePreprocessor
from stockmind.decode.prepare import PreparedMedia, prepare_media
from stockmind.dev.synthetic_video import encode_video, slideshow
from stockmind.errors import UndecodableMedia
from stockmind.media.types import MediaType
from tests.unit import image_corpus as corpus

COLOURS = [(230, 20, 20), (20, 200, 40), (30, 40, 230)]


@pytest.fixture(scope="module")
def preprocessor() -> ImagePreprocessor:
    return ImagePreprocessor(device="cpu")


def row_colour(pixels: np.ndarray) -> np.ndarray:
    return (pixels.transpose(1, 2, 0) * np.asarray(CLIP_STD) + np.asarray(CLIP_MEAN)).reshape(-1, 3).mean(0) * 255


def test_an_image_gives_one_row_without_timestamp(preprocessor):
    prepared = prepare_media(MediaType.IMAGE, corpus.one_pixel_png(), preprocessor)
    assert isinstance(prepared, PreparedMedia)
    assert prepared.pixels.shape == (1, 3, 224, 224) and prepared.pixels.dtype == np.float32
    assert prepared.timestamps == [None]


@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_a_video_gives_one_row_per_sampled_frame_with_its_time(preprocessor, codec):
    stills = [Image.new("RGB", (400, 300), colour) for colour in COLOURS]
    video = encode_video(slideshow(stills, 1.0, 8), 8, codec)
    prepared = prepare_media("video", video, preprocessor, fps=1.0, max_frames=64)
    assert prepared.pixels.shape == (3, 3, 224, 224)
    assert prepared.timestamps == pytest.approx([0.0, 1.0, 2.0])
    for pixels, colour in zip(prepared.pixels, COLOURS):
        assert row_colour(pixels) == pytest.approx(colour, abs=12)


def test_video_frame_cap_is_passed_on(preprocessor):
    stills = [Image.new("RGB", (64, 64), colour) for colour in COLOURS]
    video = encode_video(slideshow(stills, 1.0, 4), 4, "h264")
    assert len(prepare_media(MediaType.VIDEO, video, preprocessor, max_frames=1).timestamps) == 1


@pytest.mark.parametrize("media_type", [MediaType.IMAGE, MediaType.VIDEO])
def test_bytes_of_the_wrong_kind_raise_undecodable_media(preprocessor, media_type):
    with pytest.raises(UndecodableMedia):
        prepare_media(media_type, b"plain text, not media", preprocessor)


def test_unknown_media_type_is_rejected(preprocessor):
    with pytest.raises(ValueError):
        prepare_media("audio", corpus.one_pixel_png(), preprocessor)

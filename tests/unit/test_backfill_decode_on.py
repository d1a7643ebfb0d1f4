"""Where the backfill decodes images, and the rows that carry image files and frame pixels to the
embedders when they decode them."""

from __future__ import annotations

import argparse
import hashlib
import math

import numpy as np
import pytest
import torch

from stockmind.backfill.arguments import add_arguments, options_from
from stockmind.backfill.embed import row_pixels
from stockmind.backfill.frames import media_rows, pixel_rows
from stockmind.backfill.options import BackfillOptions
from stockmind.backfill.rows import MEDIA_ROW_SCHEMA
from stockmind.config import Settings
from stockmind.decode.placement import DecodePlacement
from stockmind.decode.prepare import PreparedMedia
from stockmind.errors import ConfigError, DecompressionBomb, UndecodableMedia

SIZE = 4  # the fake model's image size
IMAGE = "clients/c1/products/s/media/image/a.jpg"
VIDEO = "clients/c1/products/s/media/video/v.mp4"


def options(**overrides) -> BackfillOptions:
    return BackfillOptions(**{"database_url": "postgresql://unused/db", "bucket": "b", "model": "m",
                              "prefix": "clients/", **overrides})


@pytest.mark.parametrize("decode_on, gpus, on_embedder", [
    ("auto", 1.0, True), ("auto", 0.0, False), ("auto", 0.5, True),
    ("decoders", 1.0, False), ("ingestor", 1.0, False), ("embedder", 0.0, True),
])
def test_auto_decodes_images_on_the_embedders_only_when_they_have_gpus(decode_on, gpus, on_embedder):
    assert options(decode_on=decode_on, gpus_per_actor=gpus).decode_images_on_embedder is on_embedder


def test_decoders_is_the_backfills_name_for_decoding_before_the_embedders():
    assert options(decode_on="decoders").decode_on is DecodePlacement.INGESTOR
    assert options().decode_on is DecodePlacement.AUTO


def test_an_unknown_placement_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match="--decode-on 'gpu': expected auto, decoders or embedder"):
        options(decode_on="gpu")


@pytest.mark.parametrize("argv, env, expected", [
    ([], {}, DecodePlacement.AUTO),
    ([], {"STOCKMIND_DECODE_ON": "ingestor"}, DecodePlacement.INGESTOR),
    (["--decode-on", "embedder"], {"STOCKMIND_DECODE_ON": "ingestor"}, DecodePlacement.EMBEDDER),
    (["--decode-on", "decoders"], {}, DecodePlacement.INGESTOR),
])
def test_the_command_line_overrides_stockmind_decode_on(argv, env, expected):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    settings = Settings.from_env({"DATABASE_URL": "postgresql://unused/db", "S3_BUCKET_NAME": "media", **env})
    assert options_from(parser.parse_args(["--prefix", "clients/", *argv]), settings).decode_on is expected


def fetched(key: str, data: bytes) -> dict:
    return {"bucket": "b", "key": key, "etag": "e", "version_id": None, "size": len(data), "modified_s": 1.0,
            "content_sha256": hashlib.sha256(data).hexdigest(), "data": data}


def video_frames(count: int) -> PreparedMedia:
    pixels = np.arange(count * 3 * SIZE * SIZE, dtype=np.float32).reshape(count, 3, SIZE, SIZE)
    return PreparedMedia(pixels, [float(n) for n in range(count)])


def test_images_pass_as_one_row_holding_their_file_and_video_frames_as_one_row_of_pixels_each():
    video = video_frames(2)
    table = media_rows([(fetched(IMAGE, b"jpeg bytes"), None), (fetched(VIDEO, b"mp4"), video)])

    assert table.schema == MEDIA_ROW_SCHEMA
    rows = table.to_pylist()
    assert [(r["key"], r["frame_no"], r["frame_count"], r["encoded"]) for r in rows] == [
        (IMAGE, 0, 1, True), (VIDEO, 0, 2, False), (VIDEO, 1, 2, False)]
    assert rows[0]["data"] == b"jpeg bytes" and math.isnan(rows[0]["timestamp_s"])
    assert [r["timestamp_s"] for r in rows[1:]] == [0.0, 1.0]
    assert np.frombuffer(rows[2]["data"], np.float32).reshape(3, SIZE, SIZE).tolist() == video.pixels[1].tolist()


def test_decoded_objects_still_leave_as_pixel_rows():
    batch = pixel_rows([(fetched(VIDEO, b"mp4"), video_frames(2)), (fetched(IMAGE, b"jpg"), video_frames(1))])
    assert batch["key"].tolist() == [VIDEO, VIDEO, IMAGE]
    assert batch["frame_no"].tolist() == [0, 1, 0] and batch["pixels"].shape == (3, 3, SIZE, SIZE)


def fake_decode(blobs: list[bytes]):
    """Each file `b"<value>"` decodes to pixels all equal to value; `b"bad"` and `b"bomb"` do not decode."""
    errors = {"bad": UndecodableMedia("not an image"), "bomb": DecompressionBomb("too many pixels")}
    failures = {i: errors[blob.decode()] for i, blob in enumerate(blobs) if blob.decode() in errors}
    values = [float(blob) for i, blob in enumerate(blobs) if i not in failures]
    return torch.tensor(values).view(-1, 1, 1, 1).expand(-1, 3, SIZE, SIZE).contiguous(), failures


def frame(value: float) -> bytes:
    return np.full((3, SIZE, SIZE), value, np.float32).tobytes()


def test_the_pixels_keep_the_rows_order_and_undecodable_images_drop_out_with_their_errors():
    data = [b"1", frame(2.0), b"bad", frame(4.0), b"5", b"bomb"]
    encoded = [True, False, True, False, True, True]

    pixels, kept, failed = row_pixels(data, encoded, fake_decode, SIZE)

    assert kept == [0, 1, 3, 4]
    assert pixels.shape == (4, 3, SIZE, SIZE) and pixels.dtype == torch.float32
    assert pixels[:, 0, 0, 0].tolist() == [1.0, 2.0, 4.0, 5.0]
    assert {row: error.reason for row, error in failed.items()} == {2: "undecodable_media", 5: "decompression_bomb"}


def test_a_batch_of_only_frames_or_only_bad_images_needs_nothing_decoded():
    pixels, kept, failed = row_pixels([frame(3.0)], [False], fake_decode, SIZE)
    assert (kept, failed, pixels[0, 2, 1, 1].item()) == ([0], {}, 3.0)
    pixels, kept, failed = row_pixels([b"bad"], [True], fake_decode, SIZE)
    assert (pixels.shape[0], kept, list(failed)) == (0, [], [0])


def test_a_frame_of_another_size_than_the_models_is_refused_with_both_sizes():
    with pytest.raises(ValueError, match=r"a video frame of 192 bytes is not \(3, 8, 8\) float32 pixels"):
        row_pixels([frame(1.0)], [False], fake_decode, 8)

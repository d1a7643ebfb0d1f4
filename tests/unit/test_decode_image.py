"""Image decoding: every kind of catalogue image, hostile files, and fidelity to CLIPImageProcessor."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import CLIPImageProcessor

from stockmind.decode.image import CLIP_MEAN, CLIP_STD, ImagePreprocessor
from stockmind.errors import DecompressionBomb, UndecodableMedia
from tests.unit import image_corpus as corpus

SIZE = 224


@pytest.fixture(scope="module")
def preprocessor() -> ImagePreprocessor:
    return ImagePreprocessor(device="cpu")


@pytest.fixture(scope="module")
def reference() -> CLIPImageProcessor:
    return CLIPImageProcessor()


def to_rgb255(pixels: np.ndarray) -> np.ndarray:
    """Undo the normalisation: (3, S, S) → (S, S, 3) in 0..255."""
    mean, std = np.asarray(CLIP_MEAN), np.asarray(CLIP_STD)
    return (pixels.transpose(1, 2, 0) * std + mean) * 255


def mean_colour(pixels: np.ndarray) -> np.ndarray:
    return to_rgb255(pixels).reshape(-1, 3).mean(axis=0)


def reference_pixels(reference: CLIPImageProcessor, image: Image.Image) -> np.ndarray:
    return reference(image.convert("RGB"), return_tensors="np")["pixel_values"][0]


# --- catalogue content --------------------------------------------------------------------------


def test_exif_orientation_is_applied_before_the_crop(preprocessor):
    image = preprocessor.load_image(corpus.exif_rotated_jpeg())
    assert image.size == (200, 100)
    assert image.getpixel((100, 10)) == pytest.approx(corpus.RED, abs=12)

    rgb = to_rgb255(preprocessor.preprocess(corpus.exif_rotated_jpeg()))
    assert rgb[10, SIZE // 2] == pytest.approx(corpus.RED, abs=12)
    assert rgb[-10, SIZE // 2] == pytest.approx(corpus.BLUE, abs=12)


def test_exif_rotated_jpeg_matches_the_upright_picture(preprocessor):
    upright = corpus.encode(corpus.top_red_bottom_blue(200, 100), "JPEG", quality=95)
    rotated = preprocessor.preprocess(corpus.exif_rotated_jpeg())
    assert np.abs(rotated - preprocessor.preprocess(upright)).mean() < 0.05


def test_large_exif_rotated_jpeg_is_drafted_in_the_right_frame(preprocessor, reference):
    upright = corpus.gradient(2000, 1200)
    exif = Image.Exif()
    exif[corpus.ORIENTATION_TAG] = 8  # stored rotated 90° clockwise; shown after a 90° turn back
    stored = corpus.encode(upright.transpose(Image.Transpose.ROTATE_270), "JPEG", quality=95, exif=exif.tobytes())
    ours = preprocessor.preprocess(stored)
    assert np.abs(ours - reference_pixels(reference, upright)).mean() < 0.03


def test_cmyk_jpeg_becomes_its_rgb_colour(preprocessor):
    assert mean_colour(preprocessor.preprocess(corpus.cmyk_jpeg())) == pytest.approx(corpus.RED, abs=8)


def test_palette_png_transparency_is_composited_on_white(preprocessor):
    rgb = to_rgb255(preprocessor.preprocess(corpus.palette_png_with_transparency()))
    assert rgb[SIZE // 2, 10] == pytest.approx(corpus.WHITE, abs=2)
    assert rgb[SIZE // 2, -10] == pytest.approx(corpus.RED, abs=2)


def test_rgba_png_is_composited_on_white(preprocessor):
    rgb = to_rgb255(preprocessor.preprocess(corpus.rgba_png()))
    assert rgb[10, SIZE // 2] == pytest.approx(corpus.WHITE, abs=2)
    half_blue_on_white = [(c * 128 + 255 * 127) / 255 for c in corpus.BLUE]
    assert rgb[-10, SIZE // 2] == pytest.approx(half_blue_on_white, abs=2)


def test_transparent_grey_alpha_png_is_white(preprocessor):
    assert mean_colour(preprocessor.preprocess(corpus.grey_alpha_png())) == pytest.approx(corpus.WHITE, abs=2)


def test_sixteen_bit_png_is_scaled_not_clipped(preprocessor):
    assert mean_colour(preprocessor.preprocess(corpus.sixteen_bit_png(32768))) == pytest.approx([128] * 3, abs=2)
    assert mean_colour(preprocessor.preprocess(corpus.sixteen_bit_png(65535))) == pytest.approx([255] * 3, abs=1)


@pytest.mark.parametrize("make", [corpus.animated_webp, corpus.animated_gif], ids=["webp", "gif"])
def test_animated_image_gives_its_first_frame(preprocessor, make):
    assert mean_colour(preprocessor.preprocess(make())) == pytest.approx(corpus.RED, abs=6)


def test_grayscale_jpeg_becomes_grey_rgb(preprocessor):
    assert mean_colour(preprocessor.preprocess(corpus.grayscale_jpeg(100))) == pytest.approx([100] * 3, abs=3)


def test_one_pixel_image_fills_the_crop(preprocessor):
    pixels = preprocessor.preprocess(corpus.one_pixel_png())
    assert pixels.shape == (3, SIZE, SIZE)
    assert mean_colour(pixels) == pytest.approx(corpus.RED, abs=1)


def test_large_jpeg_is_decoded_at_reduced_size_and_stays_faithful(preprocessor, reference):
    image = corpus.gradient(4000, 3000)
    ours = preprocessor.preprocess(corpus.encode(image, "JPEG", quality=92))
    assert ours.shape == (3, SIZE, SIZE)
    assert np.abs(ours - reference_pixels(reference, image)).mean() < 0.03


def test_extreme_aspect_ratio_only_resamples_the_crop(preprocessor, reference):
    image = corpus.gradient(3000, 20)
    ours = preprocessor.preprocess(corpus.encode(image, "PNG"))
    assert np.abs(ours - reference_pixels(reference, image)).mean() < 0.01


def test_load_image_returns_rgb(preprocessor):
    image = preprocessor.load_image(corpus.palette_png_with_transparency())
    assert image.mode == "RGB" and image.size == (64, 64)


# --- fidelity to the reference CLIPImageProcessor -------------------------------------------------


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (1920, 1080), (300, 301)])
def test_png_matches_the_reference_processor(preprocessor, reference, size):
    image = corpus.gradient(*size)
    ours = preprocessor.preprocess(corpus.encode(image, "PNG"))
    # Pillow's and torchvision's bicubic filters differ by a fraction of a grey level.
    assert np.abs(ours - reference_pixels(reference, image)).mean() < 0.01


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (800, 600)])
def test_draft_decoded_jpeg_stays_close_to_the_reference(preprocessor, reference, size):
    data = corpus.encode(corpus.gradient(*size), "JPEG", quality=92)
    full_decode = Image.open(io.BytesIO(data))
    ours = preprocessor.preprocess(data)
    assert np.abs(ours - reference_pixels(reference, full_decode)).mean() < 0.03


def test_batch_equals_one_by_one(preprocessor):
    blobs = [corpus.grayscale_jpeg(), corpus.rgba_png(), corpus.encode(corpus.gradient(500, 300), "JPEG")]
    batch = preprocessor.preprocess_batch(blobs)
    assert batch.shape == (3, 3, SIZE, SIZE) and batch.dtype == np.float32
    for row, data in zip(batch, blobs):
        np.testing.assert_array_equal(row, preprocessor.preprocess(data))


def test_rgb_frames_match_the_reference_processor(preprocessor, reference):
    frame = np.asarray(corpus.gradient(1280, 720))
    ours = preprocessor.preprocess_rgb([frame, frame])
    assert ours.shape == (2, 3, SIZE, SIZE)
    assert np.abs(ours[0] - reference_pixels(reference, Image.fromarray(frame))).mean() < 0.01


def test_rgb_frames_must_be_hxwx3_uint8(preprocessor):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        preprocessor.preprocess_rgb([np.zeros((10, 10), np.uint8)])


# torchvision 0.29 announces that its decoders will move to TorchCodec; they still work.
@pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
def test_torchvision_decode_path_matches_the_reference(preprocessor, reference):
    """The code the GPU runs (batched decode_jpeg, tensor resize/crop), exercised on the CPU."""
    images = [corpus.gradient(1920, 1080), corpus.gradient(600, 900)]
    blobs = [corpus.encode(image, "JPEG", quality=95) for image in images] + [corpus.rgba_png()]
    crops, failures = preprocessor._crops_with_torchvision(blobs)
    assert failures == {}
    pixels = preprocessor._normalise(torch.stack(crops)).numpy()
    for row, image in zip(pixels, images):
        assert np.abs(row - reference_pixels(reference, image)).mean() < 0.03
    np.testing.assert_allclose(pixels[2], preprocessor.preprocess(blobs[2]), atol=1e-6)


def _mixed_catalogue_batch() -> dict[str, bytes]:
    photo = corpus.gradient(640, 480)
    return {
        "jpeg": corpus.encode(photo, "JPEG", quality=95),
        "grey-jpeg": corpus.encode(photo.convert("L"), "JPEG", quality=95),
        "cmyk-jpeg": corpus.encode(photo.convert("CMYK"), "JPEG", quality=95),
        "progressive-jpeg": corpus.encode(photo, "JPEG", quality=95, progressive=True),
        "rgba-png": corpus.rgba_png(),
        "webp": corpus.encode(photo, "WEBP", quality=95),
        "exif-rotated-jpeg": corpus.exif_rotated_jpeg(),
        "large-exif-rotated-jpeg": _exif_rotated(corpus.gradient(1600, 1000), orientation=8),
    }


def _exif_rotated(upright: Image.Image, orientation: int) -> bytes:
    """`upright` stored so that EXIF `orientation` turns it back (Pillow's exif_transpose inverted)."""
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    exif = Image.Exif()
    exif[corpus.ORIENTATION_TAG] = orientation
    stored = upright.transpose(inverse[orientation]) if orientation in inverse else upright
    return corpus.encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def _torchvision_pixels(preprocessor, blobs):
    crops, failures = preprocessor._crops_with_torchvision(blobs)
    return preprocessor._normalise(preprocessor._stack(crops)).numpy(), failures


@pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
def test_torchvision_path_gives_the_cpu_paths_pixels_for_a_mixed_catalogue_batch(preprocessor):
    batch = _mixed_catalogue_batch()
    pixels, failures = _torchvision_pixels(preprocessor, list(batch.values()))
    assert failures == {}
    for name, row, cpu in zip(batch, pixels, preprocessor.preprocess_batch(list(batch.values()))):
        # Full-size decode + tensor bicubic vs DCT-scaled decode + Pillow bicubic: as close as the
        # CPU path is to the reference processor.
        assert np.abs(row - cpu).mean() < 0.03, name


@pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
@pytest.mark.parametrize("orientation", range(1, 9))
def test_torchvision_path_turns_each_exif_orientation_upright_like_pillow(preprocessor, orientation):
    """nvJPEG ignores EXIF, so the orientation is applied to the tensor; this checks all eight."""
    data = _exif_rotated(corpus.gradient(320, 200), orientation)
    pixels, _ = _torchvision_pixels(preprocessor, [data])
    assert np.abs(pixels[0] - preprocessor.preprocess(data)).mean() < 0.03


@pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
@pytest.mark.parametrize("path", ["pillow", "torchvision"])
def test_a_corrupt_image_fails_alone_and_the_rest_of_the_batch_is_decoded(preprocessor, path):
    batch = _mixed_catalogue_batch()
    blobs = list(batch.values())
    blobs.insert(2, _truncated_jpeg())  # a JPEG header: it reaches the batched JPEG decode
    blobs.append(b"not an image")
    if path == "torchvision":
        pixels, failures = _torchvision_pixels(preprocessor, blobs)
    else:
        tensor, failures = preprocessor.preprocess_each(blobs)
        pixels = tensor.numpy()
    assert set(failures) == {2, len(blobs) - 1}
    assert all(isinstance(error, UndecodableMedia) for error in failures.values())
    assert len(pixels) == len(batch)
    for name, row, cpu in zip(batch, pixels, preprocessor.preprocess_batch(list(batch.values()))):
        assert np.abs(row - cpu).mean() < 0.03, name


@pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
def test_a_jpeg_the_batched_decoder_refuses_is_decoded_by_pillow_and_the_others_stay_on_it(preprocessor,
                                                                                          monkeypatch):
    """What nvJPEG does with a progressive file it cannot handle: it fails the call it is in."""
    import torchvision.io

    batch = _mixed_catalogue_batch()
    refused = batch["progressive-jpeg"]
    real_decode, decoded_by_torchvision = torchvision.io.decode_jpeg, []

    def picky_decode(data, **options):
        items = data if isinstance(data, list) else [data]
        if any(item.numpy().tobytes() == refused for item in items):
            raise RuntimeError("nvjpeg: unsupported JPEG")
        decoded_by_torchvision.extend(item.numpy().tobytes() for item in items)
        return real_decode(data, **options)

    monkeypatch.setattr(torchvision.io, "decode_jpeg", picky_decode)
    pixels, failures = _torchvision_pixels(preprocessor, list(batch.values()))
    assert failures == {}
    assert refused not in decoded_by_torchvision
    assert batch["jpeg"] in decoded_by_torchvision and batch["exif-rotated-jpeg"] in decoded_by_torchvision
    np.testing.assert_allclose(pixels[list(batch).index("progressive-jpeg")], preprocessor.preprocess(refused),
                               atol=1e-6)


@pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
def test_a_truncated_jpeg_is_left_to_pillow_which_refuses_it(preprocessor, monkeypatch):
    """nvJPEG may fill a truncated file's missing rows with grey; only complete JPEGs reach it."""
    import torchvision.io

    real_decode, seen = torchvision.io.decode_jpeg, []

    def recording_decode(data, **options):
        seen.extend(item.numpy().tobytes() for item in (data if isinstance(data, list) else [data]))
        return real_decode(data, **options)

    monkeypatch.setattr(torchvision.io, "decode_jpeg", recording_decode)
    complete = corpus.encode(corpus.gradient(400, 300), "JPEG")
    padded = complete + b"\0" * 16
    _, failures = _torchvision_pixels(preprocessor, [complete, _truncated_jpeg(), padded])
    assert seen == [complete, padded]
    assert list(failures) == [1] and "truncated" in str(failures[1])


def test_preprocess_each_of_only_bad_images_gives_no_pixels_and_every_error(preprocessor):
    pixels, failures = preprocessor.preprocess_each([b"", corpus.png_header_claiming(12_000, 10_000)])
    assert pixels.shape == (0, 3, SIZE, SIZE)
    assert isinstance(failures[1], DecompressionBomb) and type(failures[0]) is UndecodableMedia


@pytest.mark.parametrize("size, crop", [({"shortest_edge": 80}, {"height": 72, "width": 72}), (80, 72)],
                         ids=["dicts", "ints-of-older-configs"])
def test_the_config_read_as_json_matches_transformers_processor(tmp_path, size, crop):
    CLIPImageProcessor(size=size, crop_size=crop, resample=2, image_mean=[0.4, 0.5, 0.6],
                       image_std=[0.2, 0.3, 0.25]).save_pretrained(tmp_path)
    if isinstance(size, int):  # transformers saves dicts; older checkpoints on the hub hold ints
        config = json.loads((tmp_path / "preprocessor_config.json").read_text())
        (tmp_path / "preprocessor_config.json").write_text(json.dumps({**config, "size": size, "crop_size": crop}))
    from_json = ImagePreprocessor.from_pretrained(str(tmp_path), device="cpu")
    from_transformers = ImagePreprocessor.from_processor(CLIPImageProcessor.from_pretrained(tmp_path), device="cpu")
    photo = corpus.encode(corpus.gradient(300, 200), "JPEG")
    assert (from_json.shortest_edge, from_json.image_size, from_json.resample) == (80, 72, Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(from_json.preprocess(photo), from_transformers.preprocess(photo))


def test_a_processor_that_is_not_resize_then_crop_is_refused(tmp_path):
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"size": {"height": 224, "width": 224}}))
    with pytest.raises(ValueError, match="shortest-edge resize followed by a centre crop"):
        ImagePreprocessor.from_pretrained(str(tmp_path))


def test_from_pretrained_reads_the_checkpoint_processor_config(tmp_path):
    CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 48, "width": 48},
                       image_mean=[0.5] * 3, image_std=[0.25] * 3).save_pretrained(tmp_path)
    preprocessor = ImagePreprocessor.from_pretrained(str(tmp_path), max_pixels=1_000_000)
    assert preprocessor.image_size == 48 and preprocessor.shortest_edge == 64
    pixels = preprocessor.preprocess(corpus.one_pixel_png((255, 255, 255)))
    assert pixels.shape == (3, 48, 48)
    np.testing.assert_allclose(pixels, (1.0 - 0.5) / 0.25, atol=1e-5)


# --- hostile input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        corpus.png_header_claiming(20_000, 20_000),  # above Pillow's own hard limit too
        corpus.png_header_claiming(12_000, 10_000),  # above ours only
        corpus.jpeg_header_claiming(60_000, 60_000),
    ],
    ids=["png-400MP", "png-120MP", "jpeg-3600MP"],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bombs_are_refused_from_the_header(preprocessor, data):
    with pytest.raises(DecompressionBomb, match="over the limit of 100,000,000"):
        preprocessor.preprocess(data)


def test_pixel_limit_is_configurable():
    small = ImagePreprocessor(max_pixels=100 * 100, device="cpu")
    with pytest.raises(DecompressionBomb, match="101x100 = 10,100 pixels"):
        small.preprocess(corpus.encode(corpus.gradient(101, 100), "PNG"))
    assert small.preprocess(corpus.encode(corpus.gradient(100, 100), "PNG")).shape == (3, SIZE, SIZE)


def test_pixel_limit_above_pillows_hard_limit_is_rejected():
    with pytest.raises(ValueError, match="Pillow's hard limit"):
        ImagePreprocessor(max_pixels=10**12)


def _truncated_jpeg() -> bytes:
    data = corpus.encode(corpus.gradient(400, 300), "JPEG")
    return data[: len(data) // 2]


def _truncated_png() -> bytes:
    data = corpus.encode(corpus.gradient(400, 300), "PNG")
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is a text file, not a picture",
        _truncated_jpeg(),
        _truncated_png(),
        b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,  # JPEG magic, garbage after
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",  # a format we never open
    ],
    ids=["empty", "text", "truncated-jpeg", "truncated-png", "garbage-jpeg", "garbage-png", "eps"],
)
def test_unreadable_bytes_raise_undecodable_media(preprocessor, data):
    with pytest.raises(UndecodableMedia) as caught:
        preprocessor.preprocess(data)
    assert not isinstance(caught.value, DecompressionBomb)
    assert str(caught.value)


def test_one_bad_file_in_a_batch_raises(preprocessor):
    with pytest.raises(UndecodableMedia):
        preprocessor.preprocess_batch([corpus.grayscale_jpeg(), b"not an image"])

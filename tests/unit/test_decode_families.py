"""The fast preprocessing path against each family's own processor: SiglipImageProcessor, and
open_clip's inference transform built from a checkpoint's `preprocess_cfg` (CLIP's own is in
test_decode_image.py). Catalogue-like photos, PNG (exact decode) and JPEG (draft-decoded)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import SiglipImageProcessor

from stockmind.decode.image import Fit, ImagePreprocessor
from stockmind.dev.synthetic import catalogue, render
from stockmind.dev.tiny_models import build_tiny_model
from stockmind.embed.checkpoints import Family
from tests.unit import image_corpus as corpus

SIZE = 224
# One grey level is 1/255/std: 0.0078 at SigLIP's std of 0.5, 0.015 at CLIP's ~0.26. Decoded exactly
# (PNG), Pillow's and torchvision's bicubic filters differ by a level or two here and there. A
# draft-decoded JPEG differs more at sharp edges (the DCT-scaled decode is itself a resample), so it
# is held, like the CLIP path, to a small mean difference.
PNG_MAX_LEVELS, JPEG_MEAN = 2.5, 0.03
SHAPES = [(640, 480), (480, 640), (1920, 1080), (300, 301), (451, 224)]


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    return render(catalogue(1, seed=seed)[0], size=(width, height), seed=seed)


def open_clip_config(resize_mode: str = "shortest", interpolation: str = "bicubic", **extra) -> dict:
    preprocess = {"resize_mode": resize_mode, "interpolation": interpolation, **extra}
    return {"model_cfg": {"embed_dim": 16, "vision_cfg": {"image_size": SIZE}}, "preprocess_cfg": preprocess}


def open_clip_transform(config: dict):
    """open_clip's own inference transform for `config`, as its factory builds it."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    return image_transform_v2(PreprocessCfg(**{**config["preprocess_cfg"], "size": SIZE}), is_train=False)


def max_levels(ours: np.ndarray, reference: np.ndarray, std: float) -> float:
    """The largest difference, in grey levels of the source image."""
    return float(np.abs(ours - reference).max() * 255 * std)


@pytest.fixture(scope="module")
def siglip() -> SiglipImageProcessor:
    return SiglipImageProcessor(size={"height": SIZE, "width": SIZE}, image_mean=[0.5] * 3, image_std=[0.5] * 3)


def siglip_reference(processor: SiglipImageProcessor, image: Image.Image) -> np.ndarray:
    return processor(image.convert("RGB"), return_tensors="np")["pixel_values"][0]


# --- SigLIP ---------------------------------------------------------------------------------------


def test_a_siglip_processor_is_read_as_a_squash_to_its_size(siglip):
    preprocessor = ImagePreprocessor.from_processor(siglip, device="cpu")
    assert (preprocessor.fit, preprocessor.image_size, preprocessor.resample) == (Fit.SQUASH, SIZE,
                                                                                 Image.Resampling.BICUBIC)


@pytest.mark.parametrize("shape", SHAPES)
def test_png_matches_siglips_processor(siglip, shape):
    image = photo(*shape)
    ours = ImagePreprocessor.from_processor(siglip, device="cpu").preprocess(corpus.encode(image, "PNG"))
    assert ours.shape == (3, SIZE, SIZE)
    assert max_levels(ours, siglip_reference(siglip, image), 0.5) <= PNG_MAX_LEVELS


@pytest.mark.parametrize("shape", [(1920, 1080), (1080, 1920), (4000, 3000)])
def test_draft_decoded_jpeg_stays_close_to_siglips_processor(siglip, shape):
    data = corpus.encode(photo(*shape), "JPEG", quality=92)
    ours = ImagePreprocessor.from_processor(siglip, device="cpu").preprocess(data)
    reference = siglip_reference(siglip, Image.open(io.BytesIO(data)))
    assert np.abs(ours - reference).mean() < JPEG_MEAN


def test_a_saved_siglip_checkpoint_is_read_from_its_folder(tmp_path, siglip):
    folder = build_tiny_model(Family.SIGLIP, tmp_path, image_size=48)
    preprocessor = ImagePreprocessor.from_pretrained(folder, device="cpu")
    reference = SiglipImageProcessor.from_pretrained(folder)
    image = photo(300, 200)
    assert (preprocessor.fit, preprocessor.image_size) == (Fit.SQUASH, 48)
    ours = preprocessor.preprocess(corpus.encode(image, "PNG"))
    assert max_levels(ours, siglip_reference(reference, image), 0.5) <= PNG_MAX_LEVELS


def test_a_siglip_processor_with_a_centre_crop_is_refused(siglip):
    with pytest.raises(ValueError, match="without a centre crop"):
        ImagePreprocessor.from_config({**siglip.to_dict(), "do_center_crop": True})


# --- open_clip -------------------------------------------------------------------------------------


@pytest.mark.parametrize("resize_mode", ["shortest", "squash"])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
@pytest.mark.parametrize("shape", SHAPES)
def test_png_matches_open_clips_transform(resize_mode, interpolation, shape):
    config = open_clip_config(resize_mode, interpolation)
    image = photo(*shape)
    ours = ImagePreprocessor.from_open_clip_config(config, device="cpu").preprocess(corpus.encode(image, "PNG"))
    reference = open_clip_transform(config)(image).numpy()
    assert max_levels(ours, reference, 0.26) <= PNG_MAX_LEVELS


@pytest.mark.parametrize("resize_mode", ["shortest", "squash"])
@pytest.mark.parametrize("shape", [(1920, 1080), (1080, 1920), (4000, 3000)])
def test_draft_decoded_jpeg_stays_close_to_open_clips_transform(resize_mode, shape):
    config = open_clip_config(resize_mode)
    data = corpus.encode(photo(*shape), "JPEG", quality=92)
    ours = ImagePreprocessor.from_open_clip_config(config, device="cpu").preprocess(data)
    reference = open_clip_transform(config)(Image.open(io.BytesIO(data))).numpy()
    assert np.abs(ours - reference).mean() < JPEG_MEAN


def test_open_clips_centre_crop_rounds_its_offsets_where_transformers_truncates():
    """451 px wide at 224 high leaves 113.5 px each side: torchvision takes 114, transformers 113."""
    config = open_clip_config("shortest")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (224, 451, 3), dtype=np.uint8))
    data = corpus.encode(image, "PNG")
    reference = open_clip_transform(config)(image).numpy()
    rounded = ImagePreprocessor.from_open_clip_config(config, device="cpu")
    truncated = ImagePreprocessor(shortest_edge=SIZE, crop_size=SIZE, device="cpu", fit=Fit.CROP)
    assert rounded.geometry(451, 224).left == 114 and truncated.geometry(451, 224).left == 113
    assert np.abs(rounded.preprocess(data) - reference).max() < 1e-5
    assert np.abs(truncated.preprocess(data) - reference).mean() > 0.1


def test_open_clips_preprocess_cfg_mean_std_and_defaults_are_honoured():
    config = open_clip_config(mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])
    del config["preprocess_cfg"]["resize_mode"], config["preprocess_cfg"]["interpolation"]  # open_clip's defaults
    preprocessor = ImagePreprocessor.from_open_clip_config(config, device="cpu")
    assert (preprocessor.fit, preprocessor.resample) == (Fit.CROP_ROUNDED, Image.Resampling.BICUBIC)
    np.testing.assert_allclose(preprocessor.preprocess(corpus.one_pixel_png((255, 255, 255))), 2.0, atol=1e-5)


def test_a_saved_open_clip_checkpoint_matches_the_transform_its_factory_builds(tmp_path):
    import open_clip

    folder = build_tiny_model(Family.OPEN_CLIP, tmp_path, image_size=48)
    _, transform = open_clip.create_model_from_pretrained(f"local-dir:{folder}")
    image = photo(640, 480)
    for name in (folder, f"local-dir:{folder}"):
        ours = ImagePreprocessor.from_pretrained(name, device="cpu").preprocess(corpus.encode(image, "PNG"))
        assert ours.shape == (3, 48, 48)
        assert max_levels(ours, transform(image).numpy(), 0.26) <= PNG_MAX_LEVELS


@pytest.mark.parametrize("preprocess", [{"resize_mode": "longest"}, {"interpolation": "lanczos"}])
def test_open_clip_preprocessing_this_path_cannot_follow_is_refused(preprocess):
    with pytest.raises(ValueError, match="is not supported"):
        ImagePreprocessor.from_open_clip_config(open_clip_config(**preprocess))


# --- the GPU's code, run on the CPU ----------------------------------------------------------------


# torchvision 0.29 announces that its decoders will move to TorchCodec; they still work.
@pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
@pytest.mark.parametrize("family", ["siglip", "open_clip-shortest", "open_clip-squash"])
def test_torchvision_path_follows_each_familys_geometry(siglip, family):
    if family == "siglip":
        preprocessor = ImagePreprocessor.from_processor(siglip, device="cpu")
    else:
        preprocessor = ImagePreprocessor.from_open_clip_config(open_clip_config(family.split("-")[1]), device="cpu")
    blobs = [corpus.encode(photo(*shape), "JPEG", quality=95) for shape in [(1920, 1080), (600, 900), (451, 224)]]
    crops, failures = preprocessor._crops_with_torchvision(blobs)
    assert failures == {}
    pixels = preprocessor._normalise(torch.stack(crops)).numpy()
    cpu = preprocessor.preprocess_batch(blobs)
    assert np.abs(pixels - cpu).mean() < JPEG_MEAN

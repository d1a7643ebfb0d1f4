"""Per-core images/s: our fast preprocessing path vs the checkpoint's CLIPImageProcessor.

Both paths start from the same JPEG bytes (synthetic product photos at 1920×1080 and 4000×3000):
the reference decodes with Pillow at full size and runs transformers' CLIPImageProcessor on the
batch; the fast path is `ImagePreprocessor.preprocess_batch` (DCT-scaled JPEG decode, crop-only
resample, batched normalisation); the torchvision path is the GPU's code (batched `decode_jpeg` at
full size, tensor resize) run on the CPU, for comparison only (on a GPU it is nvJPEG: bench/gpu.py).
One thread, one process, rounds interleaved so that machine noise hits all alike. Fidelity: mean
|Δpixel| and the cosine between the embeddings our trained CLIP gives the outputs (a random-weights
vision tower stands in when the trained CLIP is missing).

Then one row per checkpoint family, each against that family's own processor at 224 px: CLIP
(CLIPImageProcessor, OpenAI's settings), SigLIP (SiglipImageProcessor: squash, mean/std 0.5) and
open_clip (its inference transform from the default `preprocess_cfg`: shortest side, centre crop).

    python bench/preprocess.py [--quick] [--model stockmind-clip-small]

Headline figures are printed last: preprocess_speedup_1080p, preprocess_speedup_12mp,
preprocess_cosine_min.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import CLIPImageProcessor, SiglipImageProcessor

from stockmind.decode.image import CLIP_MEAN, CLIP_STD, ImagePreprocessor
from stockmind.dev.synthetic import catalogue, render
from stockmind.embed.models import SMALL_CLIP, resolve_model

SIZES = {"1080p": (1920, 1080), "12mp": (4000, 3000)}
JPEG_QUALITY = 90


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and rounds (a smoke run)")
    parser.add_argument("--model", default=SMALL_CLIP, help="checkpoint whose processor config and CLIP to use")
    parser.add_argument("--images", type=int, default=None, help="photos per size (default 12, quick 3)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per path (default 5, quick 2)")
    return parser.parse_args()


def product_photos(count: int, size: tuple[int, int]) -> list[bytes]:
    photos = []
    for index, item in enumerate(catalogue(count, seed=7)):
        buffer = io.BytesIO()
        render(item, size=size, seed=index).save(buffer, "JPEG", quality=JPEG_QUALITY)
        photos.append(buffer.getvalue())
    return photos


def reference_path(processor: CLIPImageProcessor | SiglipImageProcessor) -> Callable[[list[bytes]], np.ndarray]:
    def run(blobs: list[bytes]) -> np.ndarray:
        images = [Image.open(io.BytesIO(data)).convert("RGB") for data in blobs]
        return processor(images=images, return_tensors="np")["pixel_values"]

    return run


def family_paths() -> dict[str, tuple[Callable, ImagePreprocessor]]:
    """Per family: (its own processor's path from JPEG bytes, our fast preprocessor for the same config)."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    siglip = SiglipImageProcessor(size={"height": 224, "width": 224}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    open_clip_config = {"model_cfg": {"vision_cfg": {"image_size": 224}},
                        "preprocess_cfg": {"mean": CLIP_MEAN, "std": CLIP_STD, "resize_mode": "shortest"}}
    transform = image_transform_v2(PreprocessCfg(size=224, **open_clip_config["preprocess_cfg"]), is_train=False)

    def open_clip_reference(blobs: list[bytes]) -> np.ndarray:
        return torch.stack([transform(Image.open(io.BytesIO(data)).convert("RGB")) for data in blobs]).numpy()

    return {
        "clip": (reference_path(CLIPImageProcessor()), ImagePreprocessor(device="cpu")),
        "siglip": (reference_path(siglip), ImagePreprocessor.from_processor(siglip, device="cpu")),
        "open_clip": (open_clip_reference, ImagePreprocessor.from_open_clip_config(open_clip_config, device="cpu")),
    }


def torchvision_path(preprocessor: ImagePreprocessor) -> Callable[[list[bytes]], np.ndarray]:
    """The GPU path's code (torchvision decode_jpeg + tensor resize) on the CPU."""

    def run(blobs: list[bytes]) -> np.ndarray:
        crops, failures = preprocessor._crops_with_torchvision(blobs)
        if failures:
            raise RuntimeError(f"{len(failures)} photos did not decode")
        return preprocessor._normalise(preprocessor._stack(crops)).numpy()

    return run


def images_per_second(run: Callable[[list[bytes]], np.ndarray], blobs: list[bytes]) -> float:
    start = time.perf_counter()
    run(blobs)
    return len(blobs) / (time.perf_counter() - start)


def compare_speed(paths: dict[str, Callable], blobs: list[bytes], rounds: int) -> dict[str, float]:
    """Median images/s per path over `rounds` interleaved rounds (after one warm-up each)."""
    for run in paths.values():
        run(blobs[:1])
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, run in paths.items():
            samples[name].append(images_per_second(run, blobs))
    return {name: statistics.median(values) for name, values in samples.items()}


def shipped_clip_missing(model: str) -> bool:
    return model == SMALL_CLIP and not Path(resolve_model(model)).is_dir()


def load_processor(model: str) -> CLIPImageProcessor:
    """The checkpoint's processor config; OpenAI CLIP's defaults while our CLIP is not trained yet."""
    if shipped_clip_missing(model):
        return CLIPImageProcessor()
    path = resolve_model(model)
    return CLIPImageProcessor.from_pretrained(path, local_files_only=Path(path).is_dir())


def image_embedder(model: str) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """(description, pixels → unit vectors) with the trained CLIP, or a random tower if it is missing."""
    if not shipped_clip_missing(model):
        from stockmind.embed.embedder import ClipEmbedder

        embedder = ClipEmbedder(model, device="cpu")
        return model, embedder.embed_images
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    tower = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=256, intermediate_size=1024,
                                                           num_hidden_layers=4, num_attention_heads=4,
                                                           image_size=224, patch_size=32)).eval()

    @torch.inference_mode()
    def embed(pixels: np.ndarray) -> np.ndarray:
        vectors = tower(pixel_values=torch.from_numpy(pixels)).image_embeds
        return torch.nn.functional.normalize(vectors, dim=-1).numpy()

    return f"random-init-vit (trained CLIP not found at {resolve_model(model)})", embed


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)  # "per core": one thread, one process
    count = args.images or (3 if args.quick else 12)
    rounds = args.rounds or (2 if args.quick else 5)
    processor = load_processor(args.model)
    fast = ImagePreprocessor.from_processor(processor, device="cpu")
    paths = {"reference": reference_path(processor), "fast": fast.preprocess_batch,
             "torchvision": torchvision_path(fast)}
    # torchvision 0.29 announces that its decoders move to TorchCodec; they still work.
    warnings.filterwarnings("ignore", "The image decoding and encoding capabilities", DeprecationWarning)
    model_name, embed = image_embedder(args.model)
    print(f"embedding_model={model_name}")
    print(f"photos_per_size={count}")
    print(f"rounds={rounds}")

    speedups, cosines, pixel_diffs = {}, [], []
    photos = {label: product_photos(count, size) for label, size in SIZES.items()}
    for label, blobs in photos.items():
        rates = compare_speed(paths, blobs, rounds)
        print(f"reference_images_per_s_{label}={rates['reference']:.1f}")
        print(f"fast_images_per_s_{label}={rates['fast']:.1f}")
        print(f"torchvision_cpu_images_per_s_{label}={rates['torchvision']:.1f}")
        speedups[label] = rates["fast"] / rates["reference"]
        reference_pixels, fast_pixels = paths["reference"](blobs), fast.preprocess_batch(blobs)
        pixel_diffs.append(float(np.abs(reference_pixels - fast_pixels).mean()))
        cosines.extend((embed(reference_pixels) * embed(fast_pixels)).sum(axis=1).tolist())
        print(f"pixel_mean_abs_diff_{label}={pixel_diffs[-1]:.4f}")
        torchvision_pixels = paths["torchvision"](blobs)
        print(f"torchvision_vs_fast_pixel_mean_abs_diff_{label}={np.abs(torchvision_pixels - fast_pixels).mean():.4f}")
        torchvision_cosines = (embed(torchvision_pixels) * embed(fast_pixels)).sum(axis=1)
        print(f"torchvision_vs_fast_cosine_min_{label}={torchvision_cosines.min():.5f}")

    for family, (reference, family_fast) in family_paths().items():
        for label, blobs in photos.items():
            rates = compare_speed({"reference": reference, "fast": family_fast.preprocess_batch}, blobs, rounds)
            difference = np.abs(reference(blobs) - family_fast.preprocess_batch(blobs)).mean()
            print(f"{family}_reference_images_per_s_{label}={rates['reference']:.1f}")
            print(f"{family}_fast_images_per_s_{label}={rates['fast']:.1f}")
            print(f"{family}_speedup_{label}={rates['fast'] / rates['reference']:.2f}")
            print(f"{family}_pixel_mean_abs_diff_{label}={difference:.4f}")

    print(f"preprocess_cosine_mean={statistics.mean(cosines):.5f}")
    print(f"preprocess_speedup_1080p={speedups['1080p']:.2f}")
    print(f"preprocess_speedup_12mp={speedups['12mp']:.2f}")
    print(f"preprocess_cosine_min={min(cosines):.5f}")


if __name__ == "__main__":
    main(parse_args())

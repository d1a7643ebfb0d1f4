"""Training pictures: synthetic shots rendered at varied sizes, preprocessed like the checkpoint.

Each shot is rendered at a random size and aspect ratio and sometimes JPEG-compressed, then resized
(shortest edge) and centre-cropped to the model's input, as CLIPImageProcessor does, so the model
learns what it will see from the real preprocessing paths (reference and fast).
"""

from __future__ import annotations

import io
import random
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image

from stockmind.dev.synthetic import Shot

# Relative sizes of the rendered picture before resizing (×image_size) and aspect ratios (w/h).
_SCALES = (1.0, 1.25, 1.5, 2.0, 3.5)
_ASPECTS = (1.0, 1.0, 4 / 3, 16 / 9, 3 / 4)
_RESAMPLE = (Image.BICUBIC, Image.BICUBIC, Image.BILINEAR, Image.LANCZOS)


def render_training_pixels(shots: list[Shot], image_size: int, workers: int = 2) -> np.ndarray:
    """(N, 3, S, S) uint8 pixels of `shots`, rendered in `workers` processes."""
    jobs = [(shot, image_size) for shot in shots]
    if workers <= 1:
        arrays = [_augmented_pixels(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            arrays = list(pool.map(_augmented_pixels, jobs, chunksize=256))
    return np.stack(arrays)


def center_crop_pixels(image: Image.Image, image_size: int,
                       resample: int = Image.BICUBIC) -> np.ndarray:
    """Shortest-edge resize to `image_size` then centre crop: (3, S, S) uint8."""
    width, height = image.size
    scale = image_size / min(width, height)
    resized = image.resize((max(image_size, round(width * scale)),
                            max(image_size, round(height * scale))), resample)
    left = (resized.width - image_size) // 2
    top = (resized.height - image_size) // 2
    crop = resized.crop((left, top, left + image_size, top + image_size))
    return np.asarray(crop.convert("RGB"), np.uint8).transpose(2, 0, 1)


def _augmented_pixels(job: tuple[Shot, int]) -> np.ndarray:
    shot, image_size = job
    rng = random.Random(shot.seed)
    short = round(image_size * rng.choice(_SCALES))
    aspect = rng.choice(_ASPECTS)
    size = (round(short * aspect), short) if aspect >= 1 else (short, round(short / aspect))
    image = shot.image(size)
    if rng.random() < 0.5:
        image = _jpeg_roundtrip(image, quality=rng.randint(60, 95))
    return center_crop_pixels(image, image_size, rng.choice(_RESAMPLE))


def _jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")

"""Image bytes → the model's normalised pixel tensor, faithful to the checkpoint's CLIPImageProcessor.

The reference recipe is: convert to RGB, resize the shortest side to `shortest_edge` (bicubic),
centre crop, scale to [0, 1], normalise with the checkpoint's mean/std. This module follows it with
three shortcuts that keep the output close to the reference but cost far less:

- JPEGs are decoded at reduced size by libjpeg's DCT scaling (`Image.draft`), never below the
  resize target, so a 12 MP photo is decoded at about 500×375 instead of 4000×3000;
- only the part of the image that survives the centre crop is resampled (`resize(box=...)`);
- the tensor maths (scale, normalise, channels-first) runs once over the stacked uint8 batch.

With a CUDA device, batches of plain JPEGs are decoded by nvJPEG and resized on the GPU instead; the
geometry and normalisation are the same code for both paths.

Real catalogue content is handled: EXIF orientation, CMYK, palette, 16-bit and grayscale images,
transparency (composited on white), animated WebP/GIF (first frame). Bad bytes raise
`UndecodableMedia`; images over `max_pixels` raise `DecompressionBomb` before any pixel is decoded.
"""

from __future__ import annotations

import functools
import io
import logging
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

from stockmind.errors import DecompressionBomb, UndecodableMedia

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 100_000_000
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
WHITE = (255, 255, 255, 255)

# Formats a product catalogue holds. Anything else (EPS would run Ghostscript, for one) is refused.
CATALOGUE_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "TIFF", "BMP", "AVIF")
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")

# What Pillow raises for corrupt, truncated or unsupported data. Pillow's own decompression-bomb
# error only fires above 2 × Image.MAX_IMAGE_PIXELS; our limit is checked first and is lower.
_PILLOW_FAILURES = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, TypeError)

# PIL resampling filter → torchvision interpolation (for the GPU path), as transformers maps them
# (it also falls back from Lanczos to bicubic on CUDA).
_TORCH_INTERPOLATION = {
    Image.Resampling.NEAREST: "nearest",
    Image.Resampling.BILINEAR: "bilinear",
    Image.Resampling.BICUBIC: "bicubic",
    Image.Resampling.LANCZOS: "bicubic",
}


@dataclass(frozen=True)
class ResizeCrop:
    """Where the reference resize + centre crop puts the crop, for an image of a given size."""

    resized_width: int
    resized_height: int
    left: int
    top: int
    width: int
    height: int

    def source_box(self, width: float, height: float) -> tuple[float, float, float, float]:
        """The crop's rectangle in the coordinates of a `width`×`height` source image."""
        scale_x, scale_y = width / self.resized_width, height / self.resized_height
        return (self.left * scale_x, self.top * scale_y,
                (self.left + self.width) * scale_x, (self.top + self.height) * scale_y)


class ImagePreprocessor:
    """Bytes or RGB arrays → float32 (N, 3, S, S) pixel batches for a CLIP vision tower."""

    def __init__(
        self,
        shortest_edge: int = 224,
        crop_size: int | tuple[int, int] = 224,
        image_mean: Sequence[float] = CLIP_MEAN,
        image_std: Sequence[float] = CLIP_STD,
        resample: int = Image.Resampling.BICUBIC,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        device: str | None = None,
    ) -> None:
        crop_height, crop_width = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
        if min(crop_height, crop_width) > shortest_edge:
            raise ValueError(f"crop {crop_width}x{crop_height} is larger than the resize target {shortest_edge}")
        _check_max_pixels(max_pixels)
        self.shortest_edge = shortest_edge
        self.crop_height, self.crop_width = crop_height, crop_width
        self.resample = Image.Resampling(resample)
        self.max_pixels = max_pixels
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cuda" and self.resample not in _TORCH_INTERPOLATION:
            raise ValueError(f"resample {self.resample.name} has no GPU equivalent; use device='cpu'")
        # (x/255 - mean)/std as one multiply-add: x * scale + offset.
        std = np.asarray(image_std, dtype=np.float64)
        self._scale = torch.tensor(1.0 / (255.0 * std), dtype=torch.float32).view(1, 3, 1, 1)
        self._offset = torch.tensor(-np.asarray(image_mean) / std, dtype=torch.float32).view(1, 3, 1, 1)

    @classmethod
    def from_pretrained(
        cls, model_name_or_path: str, max_pixels: int = DEFAULT_MAX_PIXELS, device: str | None = None
    ) -> ImagePreprocessor:
        """Read the checkpoint's CLIPImageProcessor config (hub id, local folder or our alias)."""
        from transformers import CLIPImageProcessor

        from stockmind.embed.models import resolve_model

        path = resolve_model(model_name_or_path)
        processor = CLIPImageProcessor.from_pretrained(path, local_files_only=Path(path).is_dir())
        return cls.from_processor(processor, max_pixels=max_pixels, device=device)

    @classmethod
    def from_processor(cls, processor, max_pixels: int = DEFAULT_MAX_PIXELS, device: str | None = None):
        """Build from a transformers CLIPImageProcessor (shortest-edge resize + centre crop only)."""
        if not (processor.do_resize and processor.do_center_crop and processor.size.shortest_edge):
            raise ValueError("only shortest-edge resize followed by a centre crop is supported")
        return cls(
            shortest_edge=processor.size.shortest_edge,
            crop_size=(processor.crop_size.height, processor.crop_size.width),
            image_mean=processor.image_mean,
            image_std=processor.image_std,
            resample=processor.resample,
            max_pixels=max_pixels,
            device=device,
        )

    @property
    def image_size(self) -> int:
        return self.crop_height

    def geometry(self, width: int, height: int) -> ResizeCrop:
        """The reference's resize size (shortest side → shortest_edge, long side truncated) and crop."""
        short, long = sorted((width, height))
        new_long = int(self.shortest_edge * long / short)
        new_w, new_h = (self.shortest_edge, new_long) if width <= height else (new_long, self.shortest_edge)
        left, top = (new_w - self.crop_width) // 2, (new_h - self.crop_height) // 2
        return ResizeCrop(new_w, new_h, left, top, self.crop_width, self.crop_height)

    # --- public API -----------------------------------------------------------------------

    def load_image(self, data: bytes) -> Image.Image:
        """The full-size image, upright and RGB (for display, or for a reference preprocessor)."""
        image = self._open(data)
        try:
            image.load()
            return to_rgb(ImageOps.exif_transpose(image))
        except _PILLOW_FAILURES as error:
            raise UndecodableMedia(f"cannot decode image: {error}") from error

    def preprocess(self, data: bytes) -> np.ndarray:
        return self.preprocess_batch([data])[0]

    def preprocess_batch(self, blobs: Sequence[bytes]) -> np.ndarray:
        if self.device.type == "cuda":
            return self._normalise(self._crops_with_torchvision(blobs)).cpu().numpy()
        crops = [self._crop_on_cpu(data) for data in blobs]
        return self._normalise(_stack_channels_first(crops)).numpy()

    def preprocess_rgb(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """H×W×3 uint8 arrays (video frames) → the same pixel batch as for images."""
        crops = []
        for frame in frames:
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"expected an HxWx3 uint8 array, got shape {frame.shape} {frame.dtype}")
            image = Image.fromarray(frame)
            crops.append(self._resize_crop(image, image.size, scale=1.0))
        return self._normalise(_stack_channels_first(crops)).numpy()

    # --- CPU path -------------------------------------------------------------------------

    def _open(self, data: bytes) -> Image.Image:
        """Open (header only) and enforce the pixel limit before anything is decoded."""
        if not data:
            raise UndecodableMedia("empty file: 0 bytes is not an image")
        try:
            image = Image.open(io.BytesIO(data), formats=allowed_formats())
        except Image.DecompressionBombError as error:
            raise DecompressionBomb(f"image over the limit of {self.max_pixels:,} pixels: {error}") from error
        except _PILLOW_FAILURES as error:
            raise UndecodableMedia(f"not a readable image ({len(data)} bytes): {error}") from error
        width, height = image.size
        if width * height > self.max_pixels:
            raise DecompressionBomb(
                f"image is {width}x{height} = {width * height:,} pixels, over the limit of {self.max_pixels:,}"
            )
        return image

    def _crop_on_cpu(self, data: bytes) -> np.ndarray:
        image = self._open(data)
        full_size = image.size
        try:
            scale = self._draft(image)
            image.load()
            decoded_size = image.size
            ImageOps.exif_transpose(image, in_place=True)  # in place: no copy when already upright
            if image.size != decoded_size:  # rotated by 90°: the full-size frame rotates too
                full_size = full_size[::-1]
            return self._resize_crop(to_rgb(image), full_size, scale)
        except _PILLOW_FAILURES as error:
            raise UndecodableMedia(f"cannot decode image: {error}") from error

    def _draft(self, image: Image.Image) -> float:
        """Ask libjpeg for a DCT-scaled decode (1/2, 1/4, 1/8) no smaller than the resize target.

        Returns the scale factor between the full-size and the decoded image (1 when not drafted).
        """
        if image.format not in ("JPEG", "MPO"):
            return 1.0
        full_width = image.width
        target = self.shortest_edge
        drafted = image.draft("RGB", (target, target))
        if drafted is None:
            return 1.0
        _, box = drafted
        return full_width / box[2]

    def _resize_crop(self, image: Image.Image, full_size: tuple[int, int], scale: float) -> np.ndarray:
        """Resample only the crop's region of `image`, decoded at 1/`scale` of `full_size`."""
        crop = self.geometry(*full_size)
        box = tuple(edge / scale for edge in crop.source_box(*full_size))
        return np.array(image.resize((crop.width, crop.height), self.resample, box=box))

    # --- GPU path (also runs on the CPU, which is how the tests cover it) ----------------

    def _crops_with_torchvision(self, blobs: Sequence[bytes]) -> torch.Tensor:
        """torchvision decodes the plain (RGB/grey) JPEGs in one call on `self.device` (nvJPEG on
        CUDA) and resizes them there; other images take the Pillow path. Returns uint8 (N, 3, S, S)."""
        from torchvision.io import ImageReadMode, decode_jpeg

        opened = [self._open(data) for data in blobs]  # header checks (pixel limit) for every item
        on_gpu = [i for i, image in enumerate(opened) if image.format == "JPEG" and image.mode in ("RGB", "L")]
        crops: list[torch.Tensor | None] = [None] * len(blobs)
        if on_gpu:
            encoded = [torch.frombuffer(bytearray(blobs[i]), dtype=torch.uint8) for i in on_gpu]
            try:
                decoded = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=self.device,
                                      apply_exif_orientation=True)
            except RuntimeError as error:  # one bad file fails the whole call: redo them one by one
                log.warning("GPU JPEG batch decode failed (%s); decoding on the CPU", error)
                on_gpu, decoded = [], []
            for i, image in zip(on_gpu, decoded, strict=True):
                crops[i] = self._resize_crop_tensor(image)
        for i, crop in enumerate(crops):
            if crop is None:
                cpu_crop = torch.from_numpy(self._crop_on_cpu(blobs[i])).permute(2, 0, 1)
                crops[i] = cpu_crop.to(self.device)
        return torch.stack(crops)

    def _resize_crop_tensor(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) uint8 on the GPU → (3, S, S) uint8, exactly the reference's resize then crop."""
        import torchvision.transforms.v2.functional as tvF
        from torchvision.transforms import InterpolationMode

        crop = self.geometry(image.shape[2], image.shape[1])
        mode = InterpolationMode(_TORCH_INTERPOLATION[self.resample])
        resized = tvF.resize(image, [crop.resized_height, crop.resized_width], interpolation=mode, antialias=True)
        return resized[:, crop.top:crop.top + crop.height, crop.left:crop.left + crop.width]

    # --- shared tensor maths --------------------------------------------------------------

    def _normalise(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) uint8 → float32 normalised with the checkpoint's mean/std, on its device."""
        scale, offset = self._scale.to(batch.device), self._offset.to(batch.device)
        return batch.to(torch.float32).mul_(scale).add_(offset)


@functools.cache
def allowed_formats() -> tuple[str, ...]:
    """The catalogue formats this Pillow build can open (plugins register on `Image.init()`)."""
    Image.init()
    return tuple(name for name in CATALOGUE_FORMATS if name in Image.OPEN)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → RGB: 16-bit scaled down, transparency composited on white."""
    if image.mode in SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_rgb(image)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE), rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _sixteen_bit_to_rgb(image: Image.Image) -> Image.Image:
    # Pillow's own I;16 → L conversion clips at 255 (almost everything turns white); scale instead.
    values = np.asarray(image).astype(np.uint32).clip(0, 65535)
    grey = ((values * 255 + 32767) // 65535).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def _stack_channels_first(crops: Sequence[np.ndarray]) -> torch.Tensor:
    if not crops:
        raise ValueError("expected at least one image")
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)


def _check_max_pixels(max_pixels: int) -> None:
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit is not None and max_pixels > 2 * pillow_limit:
        # Image.open refuses anything above 2 × MAX_IMAGE_PIXELS itself; we don't change that
        # process-wide setting behind the caller's back, so a higher limit could not take effect.
        raise ValueError(
            f"max_pixels={max_pixels:,} is above Pillow's hard limit of {2 * pillow_limit:,} pixels "
            "(2 × PIL.Image.MAX_IMAGE_PIXELS); raise that setting first if you need more"
        )

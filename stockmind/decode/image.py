"""Image bytes → the model's normalised pixel tensor, faithful to the checkpoint's own preprocessing.

The reference recipe is: convert to RGB, bring the image to the model's square, scale to [0, 1],
normalise with the checkpoint's mean/std. Each family brings it to the square its own way (`Fit`):
CLIP's CLIPImageProcessor resizes the shortest side to `shortest_edge` and centre crops; open_clip's
default transform does the same with torchvision's CenterCrop (whose offsets round instead of
truncating); SigLIP's SiglipImageProcessor, and open_clip's `squash` mode, resize the whole image to
the square. This module follows the recipe with three shortcuts that keep the output close to the
reference but cost far less:

- JPEGs are decoded at reduced size by libjpeg's DCT scaling (`Image.draft`), never below the
  resize target, so a 12 MP photo is decoded at about 500×375 instead of 4000×3000;
- only the part of the image that survives the centre crop is resampled (`resize(box=...)`);
- the tensor maths (scale, normalise, channels-first) runs once over the stacked uint8 batch.

With a CUDA device, batches of plain JPEGs are decoded by nvJPEG and resized on the GPU instead; the
geometry and normalisation are the same code for both paths. What nvJPEG cannot decode (CMYK,
PNG, WebP, a progressive file it refuses, a corrupt one) takes the Pillow path, image by image, so
one odd file never sends a whole batch to the CPU.

Real catalogue content is handled: EXIF orientation, CMYK, palette, 16-bit and grayscale images,
transparency (composited on white), animated WebP/GIF (first frame). Bad bytes raise
`UndecodableMedia`; images over `max_pixels` raise `DecompressionBomb` before any pixel is decoded.
`preprocess_each` returns those errors per image instead, beside the pixels of the readable ones.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import struct
import zlib
from dataclasses import dataclass
from enum import StrEnum
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
PROCESSOR_CONFIG = "preprocessor_config.json"
EXIF_ORIENTATION = 0x0112

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


# open_clip's PreprocessCfg defaults, for the keys a checkpoint's preprocess_cfg leaves out (read as
# JSON: importing open_clip costs seconds of CPU in every decoding process).
OPEN_CLIP_PREPROCESS_DEFAULTS = {"mean": CLIP_MEAN, "std": CLIP_STD, "interpolation": "bicubic",
                                 "resize_mode": "shortest"}
# open_clip's inference transform uses bilinear for "bilinear" and bicubic for anything else ("random").
_OPEN_CLIP_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                       "random": Image.Resampling.BICUBIC}


class Fit(StrEnum):
    """How an image is brought to the model's input square."""

    CROP = "crop"
    """Shortest side → `shortest_edge`, centre crop with offsets truncated (transformers' CLIPImageProcessor)."""
    CROP_ROUNDED = "crop-rounded"
    """The same with offsets rounded half to even (torchvision's CenterCrop: open_clip's `shortest`)."""
    SQUASH = "squash"
    """The whole image resized to the square, aspect ratio not kept (SiglipImageProcessor, open_clip's `squash`)."""


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
    """Bytes or RGB arrays → float32 (N, 3, S, S) pixel batches for a CLIP-style vision tower.

    With `Fit.SQUASH`, `shortest_edge` is the larger side of the square: what the shortest side of a
    source image needs to be for nothing to be upsampled (the JPEG draft and video decode use it)."""

    def __init__(
        self,
        shortest_edge: int = 224,
        crop_size: int | tuple[int, int] = 224,
        image_mean: Sequence[float] = CLIP_MEAN,
        image_std: Sequence[float] = CLIP_STD,
        resample: int = Image.Resampling.BICUBIC,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        device: str | None = None,
        fit: Fit = Fit.CROP,
    ) -> None:
        crop_height, crop_width = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
        if min(crop_height, crop_width) > shortest_edge:
            raise ValueError(f"crop {crop_width}x{crop_height} is larger than the resize target {shortest_edge}")
        _check_max_pixels(max_pixels)
        self.shortest_edge = shortest_edge
        self.crop_height, self.crop_width = crop_height, crop_width
        self.fit = Fit(fit)
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
        """Read the checkpoint's preprocessing (hub id, local folder, open_clip name or our alias):
        a transformers `preprocessor_config.json`, or open_clip's `open_clip_config.json`.

        Read as JSON rather than through transformers' or open_clip's own classes: importing those
        costs seconds of CPU in every decoding process, which sat on the backfill's path to its first
        stored row."""
        from stockmind.embed.checkpoints import is_open_clip, read_open_clip_config

        if is_open_clip(model_name_or_path):
            return cls.from_open_clip_config(read_open_clip_config(model_name_or_path), max_pixels=max_pixels,
                                             device=device)
        return cls.from_config(_processor_config(model_name_or_path), max_pixels=max_pixels, device=device)

    @classmethod
    def from_processor(cls, processor, max_pixels: int = DEFAULT_MAX_PIXELS, device: str | None = None):
        """Build from a transformers CLIPImageProcessor or SiglipImageProcessor."""
        return cls.from_config(processor.to_dict(), max_pixels=max_pixels, device=device)

    @classmethod
    def from_config(cls, config: dict, max_pixels: int = DEFAULT_MAX_PIXELS, device: str | None = None):
        """From a CLIPImageProcessor config as saved (`size` and `crop_size` as ints or dicts), or a
        SiglipImageProcessor one (`size` as height and width, no crop)."""
        common = {"image_mean": config.get("image_mean", CLIP_MEAN), "image_std": config.get("image_std", CLIP_STD),
                  "resample": config.get("resample", Image.Resampling.BICUBIC), "max_pixels": max_pixels,
                  "device": device}
        if not config.get("do_resize", True):
            raise ValueError("a processor that does not resize is not supported")
        size, crop = config.get("size"), config.get("crop_size")
        if str(config.get("image_processor_type", "")).startswith("Siglip"):
            # SiglipImageProcessor's class defaults: no centre crop, no aspect ratio kept.
            if config.get("do_center_crop") or not (isinstance(size, dict) and {"height", "width"} <= size.keys()):
                raise ValueError("only a SigLIP resize to height × width without a centre crop is supported")
            return cls(shortest_edge=max(size["height"], size["width"]), crop_size=(size["height"], size["width"]),
                       fit=Fit.SQUASH, **common)
        shortest_edge = size if isinstance(size, int) else (size or {}).get("shortest_edge")
        if not (config.get("do_center_crop", True) and shortest_edge and crop):
            raise ValueError("only shortest-edge resize followed by a centre crop is supported")
        crop_size = crop if isinstance(crop, int) else (crop["height"], crop["width"])
        return cls(shortest_edge=shortest_edge, crop_size=crop_size, fit=Fit.CROP, **common)

    @classmethod
    def from_open_clip_config(cls, config: dict, max_pixels: int = DEFAULT_MAX_PIXELS, device: str | None = None):
        """From an `open_clip_config.json` as open_clip's factory reads it: its `preprocess_cfg` over
        open_clip's defaults, at the vision tower's image size (the factory sets the size from the model)."""
        from stockmind.embed.checkpoints import square_size

        preprocess = {**OPEN_CLIP_PREPROCESS_DEFAULTS,
                      **{key: value for key, value in config.get("preprocess_cfg", {}).items() if value is not None}}
        size = square_size(config["model_cfg"]["vision_cfg"].get("image_size", 224))
        fits = {"shortest": Fit.CROP_ROUNDED, "squash": Fit.SQUASH}
        if preprocess["resize_mode"] not in fits:
            raise ValueError(f"open_clip resize_mode {preprocess['resize_mode']!r} is not supported "
                             f"(only {', '.join(fits)})")
        if preprocess["interpolation"] not in _OPEN_CLIP_RESAMPLE:
            raise ValueError(f"open_clip interpolation {preprocess['interpolation']!r} is not supported")
        mean, std = (value if isinstance(value, (list, tuple)) else (value,) * 3
                     for value in (preprocess["mean"], preprocess["std"]))
        return cls(shortest_edge=size, crop_size=size, image_mean=mean, image_std=std,
                   resample=_OPEN_CLIP_RESAMPLE[preprocess["interpolation"]], max_pixels=max_pixels, device=device,
                   fit=fits[preprocess["resize_mode"]])

    @property
    def image_size(self) -> int:
        return self.crop_height

    def geometry(self, width: int, height: int) -> ResizeCrop:
        """The reference's resize size (shortest side → shortest_edge, long side truncated, or the
        square itself when squashed) and crop."""
        if self.fit is Fit.SQUASH:
            return ResizeCrop(self.crop_width, self.crop_height, 0, 0, self.crop_width, self.crop_height)
        short, long = sorted((width, height))
        new_long = int(self.shortest_edge * long / short)
        new_w, new_h = (self.shortest_edge, new_long) if width <= height else (new_long, self.shortest_edge)
        if self.fit is Fit.CROP_ROUNDED:
            left, top = round((new_w - self.crop_width) / 2), round((new_h - self.crop_height) / 2)
        else:
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
        """All of `blobs` → (N, 3, S, S) float32; the first unreadable image raises."""
        if self.device.type == "cuda":
            pixels, failures = self.preprocess_each(blobs)
            if failures:
                raise failures[min(failures)]
            return pixels.cpu().numpy()
        crops = [self._crop_on_cpu(data) for data in blobs]
        return self._normalise(_stack_channels_first(crops)).numpy()

    def preprocess_each(self, blobs: Sequence[bytes]) -> tuple[torch.Tensor, dict[int, UndecodableMedia]]:
        """(pixels of the readable images in their order, on this device; {index: error} of the rest).

        The pixels stay on the device (a GPU embedder uses them where they are)."""
        if self.device.type == "cuda":
            crops, failures = self._crops_with_torchvision(blobs)
        else:
            crops, failures = self._crops_with_pillow(blobs)
        return self._normalise(self._stack(crops)), failures

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

    def _crops_with_pillow(self, blobs: Sequence[bytes]) -> tuple[list[torch.Tensor], dict[int, UndecodableMedia]]:
        crops, failures = [], {}
        for index, data in enumerate(blobs):
            try:
                crops.append(self._crop_tensor_on_cpu(data))
            except UndecodableMedia as error:
                failures[index] = error
        return crops, failures

    def _crop_tensor_on_cpu(self, data: bytes) -> torch.Tensor:
        return torch.from_numpy(self._crop_on_cpu(data)).permute(2, 0, 1)

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

    def _crops_with_torchvision(self, blobs: Sequence[bytes]) -> tuple[list[torch.Tensor], dict[int, UndecodableMedia]]:
        """torchvision decodes the plain (RGB/grey) JPEGs in one call on `self.device` (nvJPEG on
        CUDA) and resizes them there; the other images, and any JPEG it refuses, take the Pillow
        path one by one. Returns uint8 (3, S, S) crops of the readable images, and the failures."""
        failures: dict[int, UndecodableMedia] = {}
        orientations: dict[int, int] = {}  # index → EXIF orientation of each plain JPEG
        for index, data in enumerate(blobs):
            try:
                image = self._open(data)  # header checks (pixel limit) for every item
            except UndecodableMedia as error:
                failures[index] = error
                continue
            if image.format == "JPEG" and image.mode in ("RGB", "L") and _ends_like_a_jpeg(data):
                orientations[index] = _orientation(image)
        decoded = self._decode_jpegs({index: blobs[index] for index in orientations})
        crops = []
        for index, data in enumerate(blobs):
            if index in failures:
                continue
            if index in decoded:
                crops.append(self._resize_crop_tensor(_apply_orientation(decoded[index], orientations[index])))
                continue
            try:
                crops.append(self._crop_tensor_on_cpu(data).to(self.device))
            except UndecodableMedia as error:
                failures[index] = error
        return crops, failures

    def _decode_jpegs(self, jpegs: dict[int, bytes]) -> dict[int, torch.Tensor]:
        """{index: (3, H, W) uint8 on the device} for the JPEGs torchvision decodes, stored orientation.

        One bad file fails the whole batched call, so then each is tried alone; those that still fail
        are left out (the Pillow path decides whether they are readable at all)."""
        from torchvision.io import ImageReadMode, decode_jpeg

        if not jpegs:
            return {}
        encoded = {index: torch.frombuffer(bytearray(data), dtype=torch.uint8) for index, data in jpegs.items()}
        try:
            images = decode_jpeg(list(encoded.values()), mode=ImageReadMode.RGB, device=self.device)
            return dict(zip(encoded, images, strict=True))
        except RuntimeError as error:
            log.info("batched JPEG decode on %s failed (%s); decoding its %d images one by one",
                     self.device, str(error).strip()[:200], len(encoded))
        decoded = {}
        for index, tensor in encoded.items():
            try:
                decoded[index] = decode_jpeg(tensor, mode=ImageReadMode.RGB, device=self.device)
            except RuntimeError as error:
                log.info("JPEG %d not decoded on %s (%s); trying Pillow", index, self.device, str(error)[:200])
        return decoded

    def _resize_crop_tensor(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) uint8 on the GPU → (3, S, S) uint8, exactly the reference's resize then crop."""
        import torchvision.transforms.v2.functional as tvF
        from torchvision.transforms import InterpolationMode

        crop = self.geometry(image.shape[2], image.shape[1])
        mode = InterpolationMode(_TORCH_INTERPOLATION[self.resample])
        resized = tvF.resize(image, [crop.resized_height, crop.resized_width], interpolation=mode, antialias=True)
        return resized[:, crop.top:crop.top + crop.height, crop.left:crop.left + crop.width]

    # --- shared tensor maths --------------------------------------------------------------

    def _stack(self, crops: Sequence[torch.Tensor]) -> torch.Tensor:
        if not crops:
            return torch.empty((0, 3, self.crop_height, self.crop_width), dtype=torch.uint8, device=self.device)
        return torch.stack(crops)

    def _normalise(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) uint8 → float32 normalised with the checkpoint's mean/std, on its device."""
        scale, offset = self._scale.to(batch.device), self._offset.to(batch.device)
        return batch.to(torch.float32).mul_(scale).add_(offset)


def _processor_config(model_name_or_path: str) -> dict:
    from stockmind.embed.checkpoints import checkpoint_file
    from stockmind.embed.models import resolve_model

    return json.loads(checkpoint_file(resolve_model(model_name_or_path), PROCESSOR_CONFIG).read_text())


@functools.cache
def allowed_formats() -> tuple[str, ...]:
    """The catalogue formats this Pillow build can open (plugins register on `Image.init()`)."""
    Image.init()
    return tuple(name for name in CATALOGUE_FORMATS if name in Image.OPEN)


def _ends_like_a_jpeg(data: bytes) -> bool:
    """A complete JPEG ends with its EOI marker (some writers pad with zeros). A truncated one goes to
    Pillow, which refuses it: nvJPEG may decode the missing part as grey instead of failing."""
    return data.rstrip(b"\0").endswith(b"\xff\xd9")


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1: upright) of an opened image; read from the header, nothing decoded."""
    try:
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    except _PILLOW_FAILURES:  # an unreadable EXIF block: shown as stored, like Pillow's exif_transpose
        return 1
    return orientation if orientation in range(1, 9) else 1


def _apply_orientation(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """(C, H, W) as stored → upright, as `ImageOps.exif_transpose` turns it (nvJPEG ignores EXIF)."""
    height, width = -2, -1
    if orientation in (5, 6, 7, 8):  # the four that swap width and height
        image = image.transpose(height, width)
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]
    if orientation in (2, 3):
        image = image.flip(width)
    if orientation in (3, 4):
        image = image.flip(height)
    return image


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

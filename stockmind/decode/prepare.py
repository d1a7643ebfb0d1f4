"""One media object's bytes → the pixel rows to embed: one for an image, one per sampled video frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stockmind.decode.image import ImagePreprocessor
from stockmind.decode.video import DEFAULT_FPS, DEFAULT_MAX_FRAMES, sample_frames
from stockmind.media.types import MediaType


@dataclass(frozen=True)
class PreparedMedia:
    pixels: np.ndarray  # (N, 3, S, S) float32
    timestamps: list[float | None]  # one per row: None for an image, seconds into a video


def prepare_media(
    media_type: MediaType,
    data: bytes,
    preprocessor: ImagePreprocessor,
    fps: float = DEFAULT_FPS,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> PreparedMedia:
    """Raises `UndecodableMedia` (or `DecompressionBomb`) when the bytes are not that kind of media."""
    media_type = MediaType(media_type)
    if media_type is MediaType.IMAGE:
        return PreparedMedia(preprocessor.preprocess_batch([data]), [None])
    # Frames decode at reduced size: the preprocessor only needs the shorter side ≥ its resize target.
    frames = sample_frames(data, fps=fps, max_frames=max_frames, min_side=preprocessor.shortest_edge)
    pixels = preprocessor.preprocess_rgb([frame.rgb for frame in frames])
    return PreparedMedia(pixels, [frame.timestamp_s for frame in frames])

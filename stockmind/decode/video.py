"""Video bytes → frames sampled at a fixed rate, each with the time it is shown (decord).

Timestamps are decord's own presentation times of the frames actually decoded, so search can point
at the right moment of a video. Frames can be decoded at reduced size (`min_side`): ffmpeg scales
while decoding, which is cheaper than decoding full HD and resizing afterwards.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass

import decord
import numpy as np

from stockmind.errors import UndecodableMedia

log = logging.getLogger(__name__)

DEFAULT_FPS = 1.0
DEFAULT_MAX_FRAMES = 64

# decord reports failures as DECORDError (no video stream, bad data), RuntimeError ("Error reading
# N bytes..."), a bare `assert` in its constructor for a container that lists zero frames, and
# StopIteration when the first frame cannot be read.
_DECORD_FAILURES = (decord.DECORDError, RuntimeError, AssertionError, StopIteration)
# How many sizes around the wanted one to try when decord decodes one badly (see `_open_reader`).
_SIZE_TRIES = 8
# decord returns float32 seconds (resolution ~0.25 ms an hour in); frames are ≥ 4 ms apart even at
# 240 fps, so 1 ms absorbs the rounding without merging frames.
_TIME_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class VideoFrame:
    timestamp_s: float
    rgb: np.ndarray  # H×W×3 uint8


def sample_frames(
    data: bytes,
    fps: float = DEFAULT_FPS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    min_side: int | None = None,
) -> list[VideoFrame]:
    """Frames every 1/`fps` seconds (at least one, at most `max_frames`, spread evenly when capped).

    With `min_side`, frames are decoded scaled down so that their shorter side is still ≥ `min_side`.
    Raises `UndecodableMedia` for bytes that are not a readable video.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    if not data:
        raise UndecodableMedia("empty file: 0 bytes is not a video")
    try:
        reader = _open_reader(data, min_side)
        starts = reader.get_frame_timestamp(range(len(reader)))[:, 0]
        indices = frame_indices(starts, fps, max_frames)
        pixels = reader.get_batch(indices).asnumpy()
    except _DECORD_FAILURES as error:
        raise UndecodableMedia(f"not a readable video ({len(data)} bytes): {_first_line(error)}") from error
    # Rounded to the microsecond: decord's float32 seconds would otherwise read 0.10000000149.
    return [VideoFrame(round(float(starts[i]), 6), frame) for i, frame in zip(indices, pixels, strict=True)]


def frame_indices(starts: np.ndarray, fps: float, max_frames: int) -> list[int]:
    """Indices of the frames on screen at start, start + 1/fps, … (deduplicated, capped evenly).

    Works frame by frame rather than tick by tick, so a file with absurd timestamps (hours between
    two frames) costs no more than its frame count.
    """
    if len(starts) == 0:
        raise UndecodableMedia("the video has no frames")
    # Each frame's start on the sampling grid (one unit = 1/fps s after the first frame). The
    # tolerance absorbs timestamp rounding: a frame at 0.10000000149 s counts as 0.1 s.
    slots = (np.asarray(starts, dtype=np.float64) - starts[0]) * fps
    tolerance = _TIME_TOLERANCE_S * fps
    last_tick = np.floor(slots[-1] + tolerance)
    first_tick_shown = np.ceil(slots - tolerance)
    replaced_at = np.append(slots[1:], last_tick + 1 + tolerance) - tolerance
    # A frame is sampled when some tick falls between its start and the next frame's start.
    indices = np.flatnonzero(first_tick_shown < replaced_at)
    if len(indices) > max_frames:
        indices = indices[np.round(np.linspace(0, len(indices) - 1, max_frames)).astype(int)]
    return [int(i) for i in indices]


def _open_reader(data: bytes, min_side: int | None) -> decord.VideoReader:
    reader = decord.VideoReader(io.BytesIO(data), num_threads=1)
    first = reader.next().shape  # the first frame is a keyframe: cheap to decode
    height, width = first[:2]
    target = min_side or min(width, height)
    # Sizes from the target upwards (never enlarging the video), then just below it: decord (decord2
    # 3.4.0) hands back frames of the wrong shape at some widths (16, 24, 32, 48 and 96 px among the
    # small ones), which get_batch then refuses, while a pixel or two more or less decodes fine.
    tried = set()
    for side in [*range(target, target + _SIZE_TRIES), *range(target - 1, max(target - _SIZE_TRIES, 1), -1)]:
        scaled = _scaled_size(width, height, side)
        if scaled in tried:
            continue
        tried.add(scaled)
        if scaled == (width, height):
            if first[2] == 3:
                return reader  # get_batch seeks back to the frames it needs
            continue
        smaller = decord.VideoReader(io.BytesIO(data), width=scaled[0], height=scaled[1], num_threads=1)
        if smaller.next().shape == (scaled[1], scaled[0], 3):
            log.debug("decoding %dx%d video at %dx%d", width, height, *scaled)
            return smaller
    return reader  # nothing decodes cleanly: get_batch reports why


def _scaled_size(width: int, height: int, min_side: int) -> tuple[int, int]:
    """(width, height) with the shorter side brought down to `min_side`; never enlarged."""
    scale = min_side / min(width, height)
    if scale >= 1:
        return width, height
    return max(min_side, math.ceil(width * scale)), max(min_side, math.ceil(height * scale))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__

"""Small in-memory test videos written with PyAV (fixtures for tests, the demo and benchmarks).

`slideshow(images, seconds_each, fps)` repeats each still for a fixed time, so a video whose
second k shows image k lets a test check that a sampled frame matches its timestamp.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
from PIL import Image

# codec name → (PyAV encoder, container format). yuv420p is what every player and decord reads.
CODECS = {
    "h264": ("libx264", "mp4"),
    "vp9": ("libvpx-vp9", "webm"),
}
PIXEL_FORMAT = "yuv420p"


def encode_video(frames: Sequence[Image.Image], fps: int, codec: str) -> bytes:
    """Encode `frames` (all the same size, even width and height) as an mp4 (h264) or webm (vp9)."""
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
    if not frames:
        raise ValueError("expected at least one frame")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    width, height = frames[0].size
    # yuv420p stores chroma at half resolution, so odd sizes cannot be encoded.
    if width % 2 or height % 2:
        raise ValueError(f"frame size must be even for {PIXEL_FORMAT}, got {width}x{height}")
    if any(frame.size != (width, height) for frame in frames):
        raise ValueError("all frames must have the same size")

    encoder, container_format = CODECS[codec]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(encoder, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, PIXEL_FORMAT
        for frame in frames:
            video_frame = av.VideoFrame.from_image(frame.convert("RGB"))
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))  # flush the encoder's delayed frames
    return buffer.getvalue()


def slideshow(images: Sequence[Image.Image], seconds_each: float, fps: int) -> list[Image.Image]:
    """Frames that show each image for `seconds_each` seconds in turn."""
    frames_each = round(seconds_each * fps)
    if frames_each < 1:
        raise ValueError(f"seconds_each * fps must give at least one frame, got {seconds_each} * {fps}")
    return [image for image in images for _ in range(frames_each)]

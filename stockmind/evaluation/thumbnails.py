"""Small pictures of search results for the galleries: an image, or a video's frame at a moment."""

from __future__ import annotations

import io

from PIL import Image

from stockmind.media import parse_media_key
from stockmind.media_types import MediaType
from stockmind.video import sample_frames

THUMBNAIL_SIDE = 128


def thumbnail(s3, bucket: str, key: str, timestamp_s: float | None = None, side: int = THUMBNAIL_SIDE) -> Image.Image:
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if parse_media_key(key).media_type is MediaType.VIDEO:
        frames = sample_frames(data, fps=1.0, max_frames=600, min_side=side)
        at = timestamp_s or 0.0
        picture = Image.fromarray(min(frames, key=lambda frame: abs(frame.timestamp_s - at)).rgb)
    else:
        picture = Image.open(io.BytesIO(data)).convert("RGB")
    picture.thumbnail((side, side))
    return picture

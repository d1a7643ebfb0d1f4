"""Small pictures of search results for the galleries: an image, or a video's frame at a moment."""

from __future__ import annotations

import io

from PIL import Image

from stockmind.decode.video import sample_frames
from stockmind.media.keys import parse_media_key
from stockmind.media.objects import read_object
from stockmind.media.types import MediaType

THUMBNAIL_SIDE = 128


class Thumbnails:
    """Fetches each object once (a gallery shows the same video at several moments)."""

    def __init__(self, s3, bucket: str, side: int = THUMBNAIL_SIDE):
        self._s3, self._bucket, self._side = s3, bucket, side
        self._frames: dict[str, list] = {}

    def __call__(self, key: str, timestamp_s: float | None = None) -> Image.Image:
        if parse_media_key(key).media_type is MediaType.VIDEO:
            frames = self._video_frames(key)
            at = timestamp_s or 0.0
            picture = Image.fromarray(min(frames, key=lambda frame: abs(frame.timestamp_s - at)).rgb)
        else:
            picture = Image.open(io.BytesIO(self._read(key))).convert("RGB")
        picture.thumbnail((self._side, self._side))
        return picture

    def _video_frames(self, key: str) -> list:
        if key not in self._frames:
            self._frames[key] = sample_frames(self._read(key), fps=1.0, max_frames=600, min_side=self._side)
        return self._frames[key]

    def _read(self, key: str) -> bytes:
        _, data = read_object(self._s3, self._bucket, key)
        return data

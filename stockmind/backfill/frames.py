"""Decode and preprocess: one media object's bytes → one pixel row per image or sampled video frame.

Each row carries its object's identity plus `frame_no`/`frame_count`, so that after the embedder pool
(which batches frames of different objects together) the writer can put each object back together.
Bytes that are not the media their key says are reported with the reason and dropped here.

When the embedders decode the images (`--decode-on`), images pass through as their files and only
videos are decoded here; both leave as `MEDIA_ROW_SCHEMA` rows (see `embed.py`).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyarrow as pa

from stockmind.backfill.rows import IDENTITY_COLUMNS, MEDIA_ROW_SCHEMA
from stockmind.backfill.tally import Failure, report
from stockmind.decode.image import ImagePreprocessor
from stockmind.decode.prepare import PreparedMedia, prepare_media
from stockmind.errors import PoisonInput
from stockmind.media.keys import parse_media_key
from stockmind.media.types import MediaType

log = logging.getLogger(__name__)

FRAME_COLUMNS = ("frame_no", "frame_count", "timestamp_s")


class FramePreparer:
    """Ray Data `map_batches` callable class (pyarrow batches in): yields pixel rows (numpy batches), or
    with `pass_images` image files and frame pixels (`MEDIA_ROW_SCHEMA` tables).

    An actor, not a task: importing torch and loading the preprocessor costs tens of seconds on a
    busy node, and Ray replaces idle task workers freely, so tasks would pay it again and again."""

    def __init__(self, model: str, max_pixels: int, fps: float, max_frames: int, tally, *,
                 pass_images: bool = False):
        self._preprocessor = ImagePreprocessor.from_pretrained(model, max_pixels=max_pixels, device="cpu")
        self._fps, self._max_frames, self._tally = fps, max_frames, tally
        self._pass_images = pass_images

    def __call__(self, batch: pa.Table):
        prepared, failures = [], []
        for row in batch.to_pylist():
            try:
                prepared.append((row, self._prepare(row)))
            except PoisonInput as error:
                failures.append(Failure(row["bucket"], row["key"], error.reason, str(error)))
        report(self._tally, failures=failures)
        if prepared:
            yield media_rows(prepared) if self._pass_images else pixel_rows(prepared)

    def _prepare(self, row: dict) -> PreparedMedia | None:
        """The object's frames, or None for an image that the embedders decode."""
        media_type = parse_media_key(row["key"]).media_type
        if self._pass_images and media_type is MediaType.IMAGE:
            return None
        return prepare_media(media_type, row["data"], self._preprocessor, fps=self._fps,
                             max_frames=self._max_frames)


def pixel_rows(prepared: list[tuple[dict, PreparedMedia]]) -> dict[str, np.ndarray]:
    """Decoded objects → one numpy row per frame, its pixels in the `pixels` tensor column."""
    columns: dict[str, list] = {name: [] for name in (*IDENTITY_COLUMNS, *FRAME_COLUMNS)}
    for row, media in prepared:
        for frame in _frames(row, media.timestamps):
            for name, value in frame.items():
                columns[name].append(value)
    return {**{name: np.asarray(values) for name, values in columns.items()},
            "pixels": np.concatenate([media.pixels for _, media in prepared])}


def media_rows(prepared: list[tuple[dict, PreparedMedia | None]]) -> pa.Table:
    """Images (None: not decoded) → one row holding the file; videos → one row per frame's pixels."""
    rows = []
    for row, media in prepared:
        if media is None:
            rows.append({**_frames(row, [None])[0], "data": row["data"], "encoded": True})
            continue
        for frame, pixels in zip(_frames(row, media.timestamps), media.pixels, strict=True):
            rows.append({**frame, "data": np.ascontiguousarray(pixels, np.float32).tobytes(), "encoded": False})
    return pa.Table.from_pylist(rows, schema=MEDIA_ROW_SCHEMA)


def _frames(row: dict, timestamps: list[float | None]) -> list[dict]:
    return [
        {**{name: row[name] for name in IDENTITY_COLUMNS}, "frame_no": frame_no, "frame_count": len(timestamps),
         # Images have no time; NaN keeps the column a plain float for Arrow and numpy.
         "timestamp_s": math.nan if timestamp is None else timestamp}
        for frame_no, timestamp in enumerate(timestamps)
    ]

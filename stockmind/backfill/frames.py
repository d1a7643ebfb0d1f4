"""Decode and preprocess: one media object's bytes → one pixel row per image or sampled video frame.

Each row carries its object's identity plus `frame_no`/`frame_count`, so that after the embedder pool
(which batches frames of different objects together) the writer can put each object back together.
Bytes that are not the media their key says are reported with the reason and dropped here.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyarrow as pa

from stockmind.backfill.tally import Failure, report
from stockmind.decode.image import ImagePreprocessor
from stockmind.decode.prepare import prepare_media
from stockmind.errors import PoisonInput
from stockmind.media.keys import parse_media_key

log = logging.getLogger(__name__)

IDENTITY_COLUMNS = ("bucket", "key", "etag", "version_id", "size", "modified_s")


class FramePreparer:
    """Ray Data `map_batches` callable class (pyarrow batches in, numpy batches out): yields pixel rows.

    An actor, not a task: importing torch and loading the preprocessor costs tens of seconds on a
    busy node, and Ray replaces idle task workers freely, so tasks would pay it again and again."""

    def __init__(self, model: str, max_pixels: int, fps: float, max_frames: int, tally):
        self._preprocessor = ImagePreprocessor.from_pretrained(model, max_pixels=max_pixels, device="cpu")
        self._fps, self._max_frames, self._tally = fps, max_frames, tally

    def __call__(self, batch: pa.Table):
        columns: dict[str, list] = {name: [] for name in (*IDENTITY_COLUMNS, "frame_no", "frame_count", "timestamp_s")}
        pixels, failures = [], []
        for row in batch.to_pylist():
            try:
                media_type = parse_media_key(row["key"]).media_type
                prepared = prepare_media(media_type, row["data"], self._preprocessor, fps=self._fps,
                                         max_frames=self._max_frames)
            except PoisonInput as error:
                failures.append(Failure(row["bucket"], row["key"], error.reason, str(error)))
                continue
            _add_frames(columns, row, prepared.timestamps)
            pixels.append(prepared.pixels)
        report(self._tally, failures=failures)
        if pixels:
            yield {**{name: np.asarray(values) for name, values in columns.items()},
                   "pixels": np.concatenate(pixels)}


def _add_frames(columns: dict[str, list], row: dict, timestamps: list[float | None]) -> None:
    for frame_no, timestamp in enumerate(timestamps):
        for name in IDENTITY_COLUMNS:
            columns[name].append(row[name])
        columns["frame_no"].append(frame_no)
        columns["frame_count"].append(len(timestamps))
        # Images have no time; NaN keeps the column a plain float for Arrow and numpy.
        columns["timestamp_s"].append(math.nan if timestamp is None else timestamp)

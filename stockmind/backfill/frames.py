"""Decode and preprocess: one media object's bytes → one pixel row per image or sampled video frame.

Each row carries its object's identity plus `frame_no`/`frame_count`, so that after the embedder pool
(which batches frames of different objects together) the writer can put each object back together.
Bytes that are not the media their key says are reported with the reason and dropped here.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
import pyarrow as pa

from stockmind.backfill.tally import Failure, report
from stockmind.decode import ImagePreprocessor
from stockmind.errors import PoisonInput
from stockmind.media import parse_media_key
from stockmind.prepare import prepare_media

log = logging.getLogger(__name__)

IDENTITY_COLUMNS = ("bucket", "key", "etag", "version_id", "size", "modified_s")


@functools.lru_cache(maxsize=4)
def preprocessor_for(model: str, max_pixels: int) -> ImagePreprocessor:
    """Loaded once per worker process: every batch of a run asks for the same one."""
    return ImagePreprocessor.from_pretrained(model, max_pixels=max_pixels, device="cpu")


def prepare_frames(batch: pa.Table, *, model: str, max_pixels: int, fps: float, max_frames: int, tally):
    """Ray Data `map_batches` (pyarrow batches in, numpy batches out): yields pixel rows."""
    preprocessor = preprocessor_for(model, max_pixels)
    columns: dict[str, list] = {name: [] for name in (*IDENTITY_COLUMNS, "frame_no", "frame_count", "timestamp_s")}
    pixels, failures = [], []
    for row in batch.to_pylist():
        try:
            media_type = parse_media_key(row["key"]).media_type
            prepared = prepare_media(media_type, row["data"], preprocessor, fps=fps, max_frames=max_frames)
        except PoisonInput as error:
            failures.append(Failure(row["bucket"], row["key"], error.reason, str(error)))
            continue
        count = len(prepared.timestamps)
        for frame_no, timestamp in enumerate(prepared.timestamps):
            for name in IDENTITY_COLUMNS:
                columns[name].append(row[name])
            columns["frame_no"].append(frame_no)
            columns["frame_count"].append(count)
            # Images have no time; NaN keeps the column a plain float for Arrow and numpy.
            columns["timestamp_s"].append(math.nan if timestamp is None else timestamp)
        pixels.append(prepared.pixels)
    report(tally, failures=failures)
    if pixels:
        yield {**{name: np.asarray(values) for name, values in columns.items()},
               "pixels": np.concatenate(pixels)}

"""Ingest media in this process, timing each stage: fetch (S3 GET), decode, embed, write.

The same building blocks as the streaming job and the backfill (boto3, `prepare_media`,
`ClipEmbedder`, `PgVectorWriter`), run one batch at a time with no overlap between stages, so each
stage's time is its own cost: the numbers say which stage bounds throughput on this hardware.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from stockmind.decode.prepare import prepare_media
from stockmind.media.keys import parse_media_key
from stockmind.media.objects import read_object
from stockmind.store import MediaVectors, PgVectorWriter

STAGES = ("fetch", "decode", "embed", "write")


@dataclass
class BatchTiming:
    """Seconds spent in each stage on one batch, and what the batch held."""

    media: int = 0
    rows: int = 0
    bytes: int = 0
    fetch: float = 0.0
    decode: float = 0.0
    embed: float = 0.0
    write: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, name) for name in STAGES)


@dataclass
class IngestRun:
    batches: list[BatchTiming] = field(default_factory=list)
    wall_s: float = 0.0

    def totals(self) -> dict[str, float]:
        """Summed seconds per stage, media, rows and bytes over every batch."""
        keys = ("media", "rows", "bytes", *STAGES)
        return {key: sum(getattr(batch, key) for batch in self.batches) for key in keys}

    def records(self) -> list[dict]:
        return [asdict(batch) for batch in self.batches]


def ingest_in_process(s3, bucket: str, keys: Sequence[str], embedder, preprocessor, database_url: str,
                      batch_size: int = 32, fps: float = 1.0, max_frames: int = 64) -> IngestRun:
    """Fetch, decode, embed and write `keys` in batches of `batch_size` media; returns the timings."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    # The model's first call pays one-off costs (kernel selection, allocations) no steady stream sees.
    embedder.embed_images(np.zeros((1, 3, embedder.image_size, embedder.image_size), np.float32))
    run = IngestRun()
    started = time.perf_counter()
    with PgVectorWriter(database_url) as writer:
        for start in range(0, len(keys), batch_size):
            run.batches.append(_ingest_batch(s3, bucket, keys[start:start + batch_size], embedder,
                                             preprocessor, writer, fps, max_frames))
    run.wall_s = time.perf_counter() - started
    return run


def _ingest_batch(s3, bucket, keys, embedder, preprocessor, writer, fps, max_frames) -> BatchTiming:
    timing = BatchTiming(media=len(keys))
    refs = [parse_media_key(key) for key in keys]
    objects, timing.fetch = _timed(lambda: [read_object(s3, bucket, key) for key in keys])
    timing.bytes = sum(len(data) for _, data in objects)
    prepared, timing.decode = _timed(lambda: [
        prepare_media(ref.media_type, data, preprocessor, fps=fps, max_frames=max_frames)
        for ref, (_, data) in zip(refs, objects)])
    vectors, timing.embed = _timed(lambda: embedder.embed_images(np.concatenate([p.pixels for p in prepared])))
    bounds = np.cumsum([0] + [len(p.timestamps) for p in prepared])
    items = [
        MediaVectors.from_object(meta, ref, embedder.model_id, vectors[bounds[i]:bounds[i + 1]], p.timestamps)
        for i, (ref, (meta, _), p) in enumerate(zip(refs, objects, prepared))
    ]
    report, timing.write = _timed(lambda: writer.write(items))
    timing.rows = report.rows
    return timing


def _timed(work):
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start

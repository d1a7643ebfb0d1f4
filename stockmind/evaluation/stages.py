"""Ingest media in this process, timing each stage: fetch (S3 GET), decode, embed, write.

The same building blocks as the streaming job and the backfill (boto3, `prepare_media`,
`ClipEmbedder`, `PgVectorWriter`), run one batch at a time with no overlap between stages, so each
stage's time is its own cost: the numbers say which stage bounds throughput on this hardware.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np

from stockmind.media import parse_media_key
from stockmind.prepare import prepare_media
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

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, name, getattr(self, name) + time.perf_counter() - start)

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
    with timing.stage("fetch"):
        objects = [s3.get_object(Bucket=bucket, Key=key) for key in keys]
        payloads = [obj["Body"].read() for obj in objects]
    timing.bytes = sum(len(data) for data in payloads)
    refs = [parse_media_key(key) for key in keys]
    with timing.stage("decode"):
        prepared = [prepare_media(ref.media_type, data, preprocessor, fps=fps, max_frames=max_frames)
                    for ref, data in zip(refs, payloads)]
    with timing.stage("embed"):
        vectors = embedder.embed_images(np.concatenate([p.pixels for p in prepared]))
    bounds = np.cumsum([0] + [len(p.timestamps) for p in prepared])
    items = [
        MediaVectors(ref=ref, bucket=bucket, etag=obj.get("ETag", "").strip('"') or None, model_id=embedder.model_id,
                     vectors=vectors[bounds[i]:bounds[i + 1]], timestamps=p.timestamps, size=obj.get("ContentLength"),
                     event_time=obj.get("LastModified"))
        for i, (ref, obj, p) in enumerate(zip(refs, objects, prepared))
    ]
    with timing.stage("write"):
        timing.rows = writer.write(items).rows
    return timing

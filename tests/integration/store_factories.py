"""Builders for store tests: media vectors for a key, unit vectors near a direction."""

from datetime import datetime, timedelta, timezone

import numpy as np

from stockmind.media.keys import media_key, parse_media_key
from stockmind.media.types import MediaType
from stockmind.store import MediaRemoval, MediaVectors

MODEL = "test-model"
DIM = 16
BUCKET = "media-bucket"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def image_key(client: str, sku: str, name: str) -> str:
    return media_key(client, sku, MediaType.IMAGE, f"{name}.jpg")


def video_key(client: str, sku: str, name: str) -> str:
    return media_key(client, sku, MediaType.VIDEO, f"{name}.mp4")


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(vector: np.ndarray, seed: int, noise: float = 0.05) -> np.ndarray:
    moved = vector + noise * np.random.default_rng(seed).normal(size=vector.shape).astype(np.float32)
    return moved / np.linalg.norm(moved)


def media(key: str, vectors, *, etag: str = "etag-1", seconds: float | None = 0, sequencer: str | None = None,
          timestamps=None, model: str = MODEL, version_id: str | None = None) -> MediaVectors:
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    return MediaVectors(
        ref=parse_media_key(key), bucket=BUCKET, etag=etag, model_id=model, vectors=matrix,
        timestamps=list(timestamps) if timestamps is not None else [None] * len(matrix),
        version_id=version_id, sequencer=sequencer, size=1000,
        event_time=None if seconds is None else T0 + timedelta(seconds=seconds),
    )


def removal(key: str, *, seconds: float | None = 0, sequencer: str | None = None) -> MediaRemoval:
    return MediaRemoval(
        bucket=BUCKET, ref=parse_media_key(key), sequencer=sequencer,
        event_time=None if seconds is None else T0 + timedelta(seconds=seconds),
    )

"""Query logic: a text, an image or a stored media key → a vector → the tenant's nearest media.

The last step of the data flow (rows → results). The same `ClipEmbedder` and `ImagePreprocessor`
that index the media embed the query, `store.search_vectors` searches the tenant's own partition,
and every hit gets a presigned S3 URL (the bucket blocks public access). The HTTP service and the
`stockmind search` command both call `Searcher`; neither knows SQL or CLIP.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import psycopg

from stockmind.config import Settings
from stockmind.errors import MediaMissing, StockmindError
from stockmind.media.keys import parse_media_key
from stockmind.media.objects import presigned_url, read_object, s3_client
from stockmind.media.types import MediaType
from stockmind.store import search_vectors, stored_vectors

log = logging.getLogger(__name__)

URL_TTL_S = 3600
TEXT_CACHE_SIZE = 4096  # recent query texts; one 512-d vector is 2 KB
MAX_QUERY_CHARS = 1000


class MediaNotFound(StockmindError):
    """The key names no media of the caller's tenant (another tenant's key reads the same)."""


@dataclass(frozen=True)
class Filters:
    k: int = 10
    sku: str | None = None
    media_type: MediaType | None = None


@dataclass(frozen=True)
class SearchResult:
    key: str
    sku: str
    media_type: MediaType
    score: float
    timestamp_s: float | None  # the best moment of a video; None for an image
    url: str


@dataclass
class Timings:
    """Where a query's time went, for the Server-Timing header and bench/search.py."""

    embed_s: float = 0.0
    sql_s: float = 0.0
    presign_s: float = 0.0

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, name, getattr(self, name) + time.perf_counter() - start)


class Presigner:
    """Presigned GET URLs; boto3 takes the endpoint from AWS_ENDPOINT_URL (the local stack) or AWS."""

    def __init__(self, region: str, ttl_s: int = URL_TTL_S, s3=None):
        self.s3 = s3 or s3_client(region)
        self._ttl_s = ttl_s

    def url(self, bucket: str, key: str) -> str:
        return presigned_url(self.s3, bucket, key, self._ttl_s)


class Searcher:
    """Text, image and "more like this" search over one tenant's media, with one loaded model."""

    def __init__(self, embedder, preprocessor, presigner: Presigner, settings: Settings):
        self.embedder = embedder
        self.preprocessor = preprocessor
        self._presigner = presigner
        self._settings = settings
        # Text embedding is the cost of a text query; people repeat queries (and pages re-query).
        self._cached_text = functools.lru_cache(maxsize=TEXT_CACHE_SIZE)(self._embed_text_uncached)

    @classmethod
    def from_settings(cls, settings: Settings, embedder=None) -> Searcher:
        """Load the model named by STOCKMIND_MODEL (or reuse `embedder`): on the GPU of a Serve
        replica that has one, else on the CPU of the service process."""
        from stockmind.decode.image import ImagePreprocessor
        from stockmind.embed.embedder import ClipEmbedder

        embedder = embedder or ClipEmbedder(settings.model)
        preprocessor = ImagePreprocessor.from_pretrained(settings.model, max_pixels=settings.max_image_pixels,
                                                         device=embedder.device)
        return cls(embedder, preprocessor, Presigner(settings.aws_region), settings)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    # ----- embeddings ---------------------------------------------------------------------------

    def embed_text(self, text: str) -> np.ndarray:
        return self._cached_text(normalised_query(text))

    def embed_image(self, data: bytes) -> np.ndarray:
        """Raises `UndecodableMedia` / `DecompressionBomb` for bytes that are not an acceptable image."""
        return self.embedder.embed_images(self.preprocessor.preprocess_batch([data]))[0]

    def _embed_text_uncached(self, text: str) -> np.ndarray:
        vector = self.embedder.embed_texts([text])[0]
        vector.setflags(write=False)  # shared by every later hit of the cache
        return vector

    # ----- searches -----------------------------------------------------------------------------

    def by_text(self, conn: psycopg.Connection, client_id: str, text: str, filters: Filters,
                timings: Timings | None = None) -> list[SearchResult]:
        timings = timings or Timings()
        with timings.measure("embed_s"):
            vector = self.embed_text(text)
        return self.by_vector(conn, client_id, vector, filters, timings)

    def by_image(self, conn: psycopg.Connection, client_id: str, data: bytes, filters: Filters,
                 timings: Timings | None = None) -> list[SearchResult]:
        timings = timings or Timings()
        with timings.measure("embed_s"):
            vector = self.embed_image(data)
        return self.by_vector(conn, client_id, vector, filters, timings)

    def like_media(self, conn: psycopg.Connection, client_id: str, key: str, filters: Filters,
                   timings: Timings | None = None) -> list[SearchResult]:
        """"More like this": media of the tenant close to its media `key`, the key itself left out."""
        timings = timings or Timings()
        with timings.measure("embed_s"):
            vector = self.media_vector(conn, client_id, key)
        wider = Filters(k=filters.k + 1, sku=filters.sku, media_type=filters.media_type)
        results = [r for r in self.by_vector(conn, client_id, vector, wider, timings) if r.key != key]
        return results[: filters.k]

    def by_vector(self, conn: psycopg.Connection, client_id: str, vector: np.ndarray, filters: Filters,
                  timings: Timings | None = None) -> list[SearchResult]:
        timings = timings or Timings()
        with timings.measure("sql_s"):
            hits = search_vectors(conn, client_id, vector, filters.k, sku=filters.sku,
                                  media_type=filters.media_type, model_id=self.model_id,
                                  max_k=self._settings.search_max_k)
        with timings.measure("presign_s"):
            return [SearchResult(hit.key, hit.sku, hit.media_type, hit.score, hit.timestamp_s,
                                 self._presigner.url(hit.bucket, hit.key)) for hit in hits]

    # ----- "more like this" sources -------------------------------------------------------------

    def media_vector(self, conn: psycopg.Connection, client_id: str, key: str) -> np.ndarray:
        """The tenant's media `key` as one query vector: its stored embedding (a video's frames
        averaged), or, if it is in the bucket but not indexed yet, embedded now."""
        ref = parse_media_key(key)  # InvalidMediaKey for anything outside the layout
        if ref.client_id != client_id:
            # The same answer as a missing key: a tenant learns nothing about another's media.
            raise MediaNotFound(f"no media {key!r} for this client")
        vectors = stored_vectors(conn, client_id, key, model_id=self.model_id, bucket=self._settings.s3_bucket_name)
        if vectors:
            return _mean_direction(np.stack([np.asarray(vector.to_numpy(), np.float32) for vector in vectors]))
        return self._embed_stored_object(ref)

    def _embed_stored_object(self, ref) -> np.ndarray:
        """Embeds during the request, so the object is held to the upload limit
        (STOCKMIND_MAX_UPLOAD_BYTES, not the pipelines' STOCKMIND_MAX_OBJECT_BYTES): `MediaTooLarge`
        (413) before its body is read."""
        from stockmind.decode.prepare import prepare_media

        bucket = self._settings.s3_bucket_name
        if bucket is None:
            raise MediaNotFound(f"no media {ref.key!r} for this client")
        data = self._download(bucket, ref.key)
        prepared = prepare_media(ref.media_type, data, self.preprocessor,
                                 fps=self._settings.video_fps, max_frames=self._settings.video_max_frames)
        return _mean_direction(self.embedder.embed_images(prepared.pixels))

    def _download(self, bucket: str, key: str) -> bytes:
        try:
            _, data = read_object(self._presigner.s3, bucket, key, max_bytes=self._settings.max_upload_bytes)
        except MediaMissing:
            raise MediaNotFound(f"no media {key!r} for this client") from None
        return data


def normalised_query(text: str) -> str:
    """Whitespace collapsed, so "red  circle " and "red circle" share one cache entry."""
    text = " ".join(text.split())
    if not text:
        raise ValueError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise ValueError(f"the query is over {MAX_QUERY_CHARS} characters")
    return text


def _mean_direction(vectors: np.ndarray) -> np.ndarray:
    """The mean of unit vectors, renormalised: a video's frames as one query."""
    mean = vectors.astype(np.float32).mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)

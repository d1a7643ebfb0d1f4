"""Index recall: each tenant's HNSW index against exact search on the same partition.

Three ways to answer one query on one tenant, all with the store's own SQL (`ranked_keys`, `search_vectors`):
- exact: ordering by the uncast column, which no index can serve (the ground truth);
- HNSW at a given `hnsw.ef_search` (the planner's alternatives disabled, so the index is used
  whatever the tenant's size);
- as deployed: `search_vectors`, which picks exact search for small tenants and HNSW for larger ones.
Recall is the share of the exact top k that a method returns; latency is the client's wall time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stockmind.dev.synthetic import held_out_shots
from stockmind.evaluation.metrics import latency_summary, overlap_recall
from stockmind.media.keys import media_key, parse_media_key
from stockmind.media.types import MediaType
from stockmind.store import (
    MediaVectors,
    PgVectorWriter,
    build_deferred_indexes,
    count_embeddings,
    ranked_keys,
    search_vectors,
)
from stockmind.store.partitions import tenant_index

EF_SEARCH_VALUES = (10, 20, 40, 80, 160, 320)
_WRITE_CHUNK = 1000
WARMUP_QUERIES = 10


@dataclass(frozen=True)
class IndexPoint:
    """One tenant × method (× ef_search) measured over a query set."""

    client_id: str
    rows: int
    method: str  # "exact", "hnsw" or "deployed"
    ef_search: int | None
    recall: float
    p50_ms: float
    p95_ms: float


def synthetic_vectors(embedder, preprocessor, n: int, seed: int) -> np.ndarray:
    """Embeddings of `n` held-out catalogue renders, drawn at the model's own input size."""
    size = (embedder.image_size, embedder.image_size)
    chunks = []
    shots = held_out_shots(n, seed)
    for start in range(0, n, 256):
        pictures = [np.asarray(shot.image(size)) for shot in shots[start:start + 256]]
        chunks.append(embedder.embed_images(preprocessor.preprocess_rgb(pictures)))
    return np.concatenate(chunks) if chunks else np.zeros((0, embedder.dim), np.float32)


def load_tenant(database_url: str, client_id: str, vectors: np.ndarray, model_id: str) -> None:
    """Replace `client_id`'s media with one image row per vector, loaded the way a backfill loads
    (bulk COPY into an unindexed partition, then one HNSW build and ANALYZE)."""
    with PgVectorWriter(database_url, bulk=True) as writer:
        writer.delete_client(client_id)
        for start in range(0, len(vectors), _WRITE_CHUNK):
            writer.write([
                MediaVectors(ref=parse_media_key(media_key(client_id, f"SKU-{i:07d}", MediaType.IMAGE, "shot.jpg")),
                             bucket="evaluation", etag=f"vector-{i}", model_id=model_id,
                             vectors=vectors[i:i + 1], timestamps=[None])
                for i in range(start, min(start + _WRITE_CHUNK, len(vectors)))
            ])
    build_deferred_indexes(database_url)


def compare(conn, client_id: str, model_id: str, queries: np.ndarray, k: int = 10,
            ef_values: Sequence[int] = EF_SEARCH_VALUES) -> list[IndexPoint]:
    """Exact, HNSW at each `ef_values`, and the deployed search, over `queries` (unit rows)."""
    index = tenant_index(conn, client_id, model_id)
    if index is None or not index.ready:
        raise ValueError(f"tenant {client_id!r} has no built index for model {model_id!r}")
    rows = count_embeddings(conn, client_id)
    truth, seconds = _timed(lambda q: ranked_keys(conn, index, q, k), queries)
    points = [_point(client_id, rows, "exact", None, truth, truth, seconds, k)]
    for ef_search in ef_values:
        found, seconds = _timed(lambda q: ranked_keys(conn, index, q, k, ef_search=ef_search), queries)
        points.append(_point(client_id, rows, "hnsw", ef_search, found, truth, seconds, k))
    found, seconds = _timed(
        lambda q: [hit.key for hit in search_vectors(conn, client_id, q, k, model_id=model_id)], queries)
    points.append(_point(client_id, rows, "deployed", None, found, truth, seconds, k))
    return points


def _timed(search, queries: np.ndarray) -> tuple[list[list[str]], list[float]]:
    for query in queries[:WARMUP_QUERIES]:  # the first queries of a method pay for cold caches
        search(query)
    results, seconds = [], []
    for query in queries:
        start = time.perf_counter()
        results.append(search(query))
        seconds.append(time.perf_counter() - start)
    return results, seconds


def _point(client_id, rows, method, ef_search, found, truth, seconds, k) -> IndexPoint:
    latency = latency_summary(seconds)
    return IndexPoint(client_id, rows, method, ef_search, overlap_recall(found, truth, k),
                      latency["p50_ms"], latency["p95_ms"])

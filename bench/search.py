"""Benchmark of the search service over HTTP: text-search latency and throughput at 100k vectors.

Brings up its own embedded stack (PostgreSQL+pgvector, moto S3; no Ray), bulk-loads one tenant's
vectors (clustered around the CLIP text embeddings of the synthetic catalogue's captions, so queries
land among real neighbours) with the store's writer and a deferred HNSW build, starts the service
with uvicorn in a child process, and measures in one run:

- sequential latency p50/p99 of GET /v1/search with distinct queries (the text-embedding cache
  cold, as for new queries), and the share of that time spent embedding the text, in SQL, and in
  the rest (presigning, auth, HTTP, JSON), from the Server-Timing header each response carries;
- the same for repeated queries (the embedding served from the cache);
- requests/s with several concurrent clients.

Headline figures are printed last, one per line, as name=value.

    python bench/search.py --quick     # 10k vectors, a few hundred requests
    python bench/search.py             # 100k vectors
"""

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from stockmind.config import Settings
from stockmind.dev.synthetic import all_items
from stockmind.embed.models import SMALL_CLIP
from stockmind.local.ports import LOOPBACK, free_port
from stockmind.local.stack import LocalStack
from stockmind.media.keys import MediaRef
from stockmind.media.types import MediaType
from stockmind.service import api_keys
from stockmind.store import MediaVectors, PgVectorWriter, build_deferred_indexes, connect

CLIENT = "bench"
BATCH = 5000
NOISE = 0.35  # spread of the vectors around each caption's embedding
K = 10
READY_TIMEOUT_S = 300

log = logging.getLogger("bench.search")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k vectors and fewer requests")
    parser.add_argument("--vectors", type=int, default=None, help="vectors in the tenant (default 100000)")
    parser.add_argument("--requests", type=int, default=None, help="requests per phase (default 1000)")
    parser.add_argument("--concurrency", type=int, default=4, help="clients in the throughput phase")
    parser.add_argument("--model", default=SMALL_CLIP, help="the CLIP the service loads")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    args.vectors = args.vectors or (10_000 if args.quick else 100_000)
    args.requests = args.requests or (200 if args.quick else 1000)
    return args


def captions() -> list[str]:
    """Every caption of every catalogue item: ~2k distinct, realistic queries."""
    return sorted({text for item in all_items() for text in item.captions()})


def distinct_queries(pool: list[str], start: int, count: int) -> list[str]:
    """`count` queries never asked before in this run (the cache misses): captions, then numbered variants."""
    return [pool[i % len(pool)] + ("" if i < len(pool) else f" number {i // len(pool)}")
            for i in range(start, start + count)]


def load_vectors(database_url: str, model: str, count: int, rng: np.random.Generator) -> tuple[float, float]:
    """Clustered vectors for one tenant: bulk writer, then one index build. Returns (load_s, index_s)."""
    from stockmind.embed.embedder import ClipEmbedder

    embedder = ClipEmbedder(model, device="cpu")
    centers = embedder.embed_texts(captions())
    started = time.perf_counter()
    writer = PgVectorWriter(database_url, bulk=True)
    for start in range(0, count, BATCH):
        rows = min(BATCH, count - start)
        noisy = centers[rng.integers(len(centers), size=rows)] + rng.normal(scale=NOISE / np.sqrt(embedder.dim),
                                                                          size=(rows, embedder.dim))
        writer.write([_media(start + i, vector, embedder.model_id) for i, vector in enumerate(noisy)])
    loaded = time.perf_counter()
    build_deferred_indexes(database_url)
    return loaded - started, time.perf_counter() - loaded


def _media(n: int, vector: np.ndarray, model_id: str) -> MediaVectors:
    ref = MediaRef(CLIENT, f"sku-{n // 4}", MediaType.IMAGE, f"{n}.jpg", ".jpg")
    return MediaVectors(ref=ref, bucket="stock-mind-media-local", etag=f"e{n}", model_id=model_id,
                        vectors=vector[None, :].astype(np.float32), timestamps=[None])


def start_service(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "stockmind.service.main:app", "--factory",
               "--host", LOOPBACK, "--port", str(port), "--log-level", "warning", "--no-access-log"]
    with open(log_path, "ab") as output:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited ({process.returncode}); see {log_path}")
        try:
            if httpx.get(f"http://{LOOPBACK}:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    process.terminate()
    raise TimeoutError(f"the service was not ready within {READY_TIMEOUT_S}s; see {log_path}")


def timed_search(api: httpx.Client, query: str) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    response = api.get("/v1/search", params={"q": query, "k": K})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    assert len(response.json()["results"]) == K
    stages = {}
    for part in response.headers["server-timing"].split(","):
        name, duration = part.strip().split(";dur=")
        stages[name] = float(duration) / 1000
    return elapsed, stages


def sequential(base_url: str, token: str, queries: list[str]) -> tuple[np.ndarray, dict[str, float]]:
    """Latencies (s) and each stage's share of the summed client-side time."""
    totals = {"embed": 0.0, "sql": 0.0, "presign": 0.0}
    latencies = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        for query in queries:
            elapsed, stages = timed_search(api, query)
            latencies.append(elapsed)
            for name in totals:
                totals[name] += stages.get(name, 0.0)
    total = sum(latencies)
    shares = {name: value / total for name, value in totals.items()}
    shares["rest"] = 1 - sum(shares.values())
    return np.asarray(latencies), shares


def throughput(base_url: str, token: str, queries: list[str], concurrency: int) -> float:
    chunks = [queries[i::concurrency] for i in range(concurrency)]

    def run(chunk: list[str]) -> int:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            for query in chunk:
                timed_search(api, query)
        return len(chunk)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(run, chunks))
    return done / (time.perf_counter() - started)


def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    state_dir = Path(tempfile.mkdtemp(prefix="stockmind-bench-search-"))
    port = free_port()
    stack = LocalStack.up(state_dir=state_dir, with_ray=False, service_port=port)
    service = None
    try:
        env = {**stack.env, "STOCKMIND_MODEL": args.model}
        load_s, index_s = load_vectors(stack.database_url, args.model, args.vectors, rng)
        with connect(stack.database_url) as conn:
            token = api_keys.create_key(conn, CLIENT, "bench").token
        service = start_service(env, port, state_dir / "service.log")
        base_url = f"http://{LOOPBACK}:{port}"
        pool = [captions()[i] for i in rng.permutation(len(captions()))]
        repeated = [pool[i] for i in rng.integers(0, 8, size=args.requests)]
        sequential(base_url, token, [f"warm-up query {i}" for i in range(20)])  # connections, plans, page cache

        cold_latency, cold_shares = sequential(base_url, token, distinct_queries(pool, 0, args.requests))
        warm_latency, warm_shares = sequential(base_url, token, repeated)
        rps = throughput(base_url, token, distinct_queries(pool, args.requests, args.requests), args.concurrency)

        settings = Settings.from_env(env)
        print(f"vectors={args.vectors} model={args.model} k={K} requests_per_phase={args.requests} "
              f"concurrency={args.concurrency} max_k={settings.search_max_k}")
        print(f"load_s={load_s:.1f} index_build_s={index_s:.1f}")
        for name, value in cold_shares.items():
            print(f"share_{name}={value:.3f}")
        for name, value in warm_shares.items():
            print(f"cached_text_share_{name}={value:.3f}")
        print(f"cached_text_p50_ms={np.percentile(warm_latency, 50) * 1000:.2f}")
        print(f"cached_text_p99_ms={np.percentile(warm_latency, 99) * 1000:.2f}")
        print(f"http_search_p50_ms={np.percentile(cold_latency, 50) * 1000:.2f}")
        print(f"http_search_p99_ms={np.percentile(cold_latency, 99) * 1000:.2f}")
        print(f"http_search_rps={rps:.1f}")
    finally:
        if service is not None:
            service.terminate()
            service.wait(timeout=30)
        stack.down()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main(parse_args())

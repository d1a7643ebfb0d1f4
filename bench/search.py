"""Benchmark of the search service over HTTP: text search, products (group=sku), deep pages and the
32-query batch, latency and throughput at 100k vectors.

Brings up its own embedded stack (PostgreSQL+pgvector, moto S3; no Ray), bulk-loads one tenant's
vectors with the store's writer and a deferred HNSW build, starts the service with uvicorn in a
child process, and measures in one run. The tenant is a shop: products of 4-8 media each, a
product's media close to one another around the CLIP text embedding of one of the synthetic
catalogue's captions (so queries land among real neighbours, and group=sku really collapses rows).

- GET /v1/search plain (k=10) and grouped (group=sku, k=10 products, per_group=3), requests
  alternating so both see the same machine: latency p50/p99 with distinct queries (the
  text-embedding cache cold, as for new queries), the share of that time spent embedding the text,
  in SQL and in the rest (presigning, auth, HTTP, JSON) from the Server-Timing header each response
  carries, and the same for repeated queries (the embedding served from the cache), where grouping's
  own cost shows;
- POST /v1/search/batch of 32 distinct texts, each batch beside 32 single plain queries sent one
  after another: per batch, per query (batch / 32), and the 32 singles' total;
- a deep page: following next_cursor to page 10 of a query, beside its page 2 (both cached text);
- requests/s with several concurrent clients.

The key's rate limit is set far above what the benchmark sends; a 429 stops the run. Headline
figures are printed last, one per line, as name=value.

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
from dataclasses import dataclass, field
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
NOISE = 0.35  # spread of a media's vector around its caption's embedding
PRODUCT_SHARE = 0.8  # of that spread's variance, the product's own offset; the rest is each media's
MEDIA_PER_SKU = (4, 8)  # inclusive, as a shop's products have
K = 10
PER_GROUP = 3
BATCH_QUERIES = 32  # the API's maximum
DEEP_PAGE = 10
# Far above what one client sends (the service allows burst per ceil(burst/rate) s): no 429 is measured.
RATE_PER_S = 10_000
BURST = 10_000
READY_TIMEOUT_S = 300
STAGES = ("embed", "sql", "presign")

log = logging.getLogger("bench.search")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k vectors and fewer requests")
    parser.add_argument("--vectors", type=int, default=None, help="vectors in the tenant (default 100000)")
    parser.add_argument("--requests", type=int, default=None, help="requests per phase (default 1000)")
    parser.add_argument("--batches", type=int, default=None, help="32-query batches (default requests / 16)")
    parser.add_argument("--concurrency", type=int, default=4, help="clients in the throughput phase")
    parser.add_argument("--model", default=SMALL_CLIP, help="the CLIP the service loads")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    args.vectors = args.vectors or (10_000 if args.quick else 100_000)
    args.requests = args.requests or (200 if args.quick else 1000)
    args.batches = args.batches or max(10, args.requests // 16)
    return args


def captions() -> list[str]:
    """Every caption of every catalogue item: ~2k distinct, realistic queries."""
    return sorted({text for item in all_items() for text in item.captions()})


class FreshTexts:
    """Queries never asked before in this run (cache misses): captions, then numbered variants."""

    def __init__(self, pool: list[str]):
        self._pool = pool
        self._next = 0

    def take(self, count: int) -> list[str]:
        start, self._next = self._next, self._next + count
        return [self._pool[i % len(self._pool)] + ("" if i < len(self._pool) else f" number {i // len(self._pool)}")
                for i in range(start, start + count)]


# ----- the tenant ---------------------------------------------------------------------------------


def product_of_rows(count: int, rng: np.random.Generator) -> np.ndarray:
    """Each row's product number: products of MEDIA_PER_SKU media, in order (the last may be short)."""
    low, high = MEDIA_PER_SKU
    sizes = rng.integers(low, high + 1, size=count // low + 1)
    return np.repeat(np.arange(len(sizes)), sizes)[:count]


def load_vectors(database_url: str, model: str, count: int, rng: np.random.Generator) -> tuple[float, float, int]:
    """One tenant's products: bulk writer, then one index build. Returns (load_s, index_s, products)."""
    from stockmind.embed.embedder import ClipEmbedder

    embedder = ClipEmbedder(model, device="cpu")
    centers = embedder.embed_texts(captions())
    products = product_of_rows(count, rng)
    spread = NOISE / np.sqrt(embedder.dim)
    product_vectors = (centers[rng.integers(len(centers), size=products[-1] + 1)]
                       + rng.normal(scale=spread * np.sqrt(PRODUCT_SHARE), size=(products[-1] + 1, embedder.dim)))
    started = time.perf_counter()
    writer = PgVectorWriter(database_url, bulk=True)
    for start in range(0, count, BATCH):
        rows = products[start:start + BATCH]
        noisy = product_vectors[rows] + rng.normal(scale=spread * np.sqrt(1 - PRODUCT_SHARE),
                                                   size=(len(rows), embedder.dim))
        writer.write([_media(start + i, sku, vector, embedder.model_id)
                      for i, (sku, vector) in enumerate(zip(rows, noisy, strict=True))])
    loaded = time.perf_counter()
    build_deferred_indexes(database_url)
    return loaded - started, time.perf_counter() - loaded, products[-1] + 1


def _media(n: int, sku: int, vector: np.ndarray, model_id: str) -> MediaVectors:
    ref = MediaRef(CLIENT, f"sku-{sku}", MediaType.IMAGE, f"{n}.jpg", ".jpg")
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


# ----- requests -----------------------------------------------------------------------------------


@dataclass
class Phase:
    """One kind of request's latencies (s) and its Server-Timing stages summed."""

    latencies: list[float] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def add(self, elapsed: float, stages: dict[str, float]) -> None:
        self.latencies.append(elapsed)
        for name in self.stages:
            self.stages[name] += stages.get(name, 0.0)

    def ms(self, percentile: float) -> float:
        return float(np.percentile(self.latencies, percentile)) * 1000

    def stage_ms(self, name: str) -> float:
        """The stage's mean per request."""
        return self.stages[name] / len(self.latencies) * 1000

    def shares(self) -> dict[str, float]:
        """Each stage's share of the summed client-side time, and the rest's."""
        total = sum(self.latencies)
        shares = {name: value / total for name, value in self.stages.items()}
        shares["rest"] = 1 - sum(shares.values())
        return shares


class Api:
    """The benchmark's client: times each request and reads its Server-Timing; a 429 is an error."""

    def __init__(self, base_url: str, token: str):
        self._http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        self.rate_limit = None  # RateLimit-Limit as the service last said it

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *exc) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs) -> tuple[float, dict[str, float], dict]:
        started = time.perf_counter()
        response = self._http.request(method, path, **kwargs)
        elapsed = time.perf_counter() - started
        if response.status_code == 429:
            raise RuntimeError(f"rate limited ({response.headers.get('ratelimit-limit')} per window): "
                               "the benchmark measures the search, not the limiter")
        response.raise_for_status()
        self.rate_limit = response.headers.get("ratelimit-limit")
        return elapsed, server_timing(response.headers["server-timing"]), response.json()

    def search(self, query: str, **params) -> tuple[float, dict[str, float], dict]:
        elapsed, stages, body = self.request("GET", "/v1/search", params={"q": query, "k": K, **params})
        found = body["products"] if params.get("group") == "sku" else body["results"]
        assert len(found) == K, f"{len(found)} of {K} for {query!r}"
        return elapsed, stages, body

    def batch(self, texts: list[str]) -> tuple[float, dict[str, float], dict]:
        elapsed, stages, body = self.request("POST", "/v1/search/batch",
                                             json={"queries": [{"text": text, "k": K} for text in texts]})
        assert [one["status"] for one in body["responses"]] == [200] * len(texts), body
        return elapsed, stages, body


def server_timing(header: str) -> dict[str, float]:
    """`embed;dur=1.20, sql;dur=3.40` → {"embed": 0.0012, "sql": 0.0034} (seconds)."""
    stages = {}
    for part in header.split(","):
        name, duration = part.strip().split(";dur=")
        stages[name] = float(duration) / 1000
    return stages


def plain_and_grouped(api: Api, plain: list[str], grouped: list[str]) -> tuple[Phase, Phase, float]:
    """Plain and grouped searches alternating (which goes first alternating too), and the grouped
    answers' media per product."""
    phases = Phase(), Phase()
    media = 0
    for n, (plain_text, grouped_text) in enumerate(zip(plain, grouped, strict=True)):
        for which in (n % 2, 1 - n % 2):
            if which == 0:
                phases[0].add(*api.search(plain_text)[:2])
            else:
                elapsed, stages, body = api.search(grouped_text, group="sku", per_group=PER_GROUP)
                phases[1].add(elapsed, stages)
                media += sum(len(product["media"]) for product in body["products"])
    return phases[0], phases[1], media / (len(grouped) * K)


def batch_and_sequential(api: Api, texts: FreshTexts, rounds: int) -> tuple[Phase, Phase, Phase]:
    """Per round, one batch of 32 fresh texts and 32 single searches of 32 others, in alternating
    order. Returns the batches, the single searches, and each round's 32 singles as one."""
    batches, singles, totals = Phase(), Phase(), Phase()
    for n in range(rounds):
        batch_texts, single_texts = texts.take(BATCH_QUERIES), texts.take(BATCH_QUERIES)
        for which in (n % 2, 1 - n % 2):
            if which == 0:
                batches.add(*api.batch(batch_texts)[:2])
            else:
                round_ = Phase()
                for text in single_texts:
                    round_.add(*api.search(text)[:2])
                    singles.add(round_.latencies[-1], {})
                totals.add(sum(round_.latencies), round_.stages)
    return batches, singles, totals


def deep_pages(api: Api, texts: list[str], pages: int) -> tuple[Phase, Phase]:
    """Each text's page 2 and page `pages`, following next_cursor (the text cached after page 1)."""
    second, deep = Phase(), Phase()
    for text in texts:
        cursor = None
        for page in range(1, pages + 1):
            elapsed, stages, body = api.search(text, **({} if cursor is None else {"cursor": cursor}))
            cursor = body["next_cursor"]
            assert cursor is not None or page == pages, f"no page {page + 1} for {text!r}"
            if page == 2:
                second.add(elapsed, stages)
        deep.add(elapsed, stages)
    return second, deep


def throughput(base_url: str, token: str, queries: list[str], concurrency: int) -> float:
    chunks = [queries[i::concurrency] for i in range(concurrency)]

    def run(chunk: list[str]) -> int:
        with Api(base_url, token) as api:
            for query in chunk:
                api.search(query)
        return len(chunk)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(run, chunks))
    return done / (time.perf_counter() - started)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# ----- the run ------------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    state_dir = Path(tempfile.mkdtemp(prefix="stockmind-bench-search-"))
    port = free_port()
    stack = LocalStack.up(state_dir=state_dir, with_ray=False, service_port=port)
    service = None
    try:
        env = {**stack.env, "STOCKMIND_MODEL": args.model}
        load_s, index_s, products = load_vectors(stack.database_url, args.model, args.vectors, rng)
        with connect(stack.database_url) as conn:
            token = api_keys.create_key(conn, CLIENT, "bench", rate_per_s=RATE_PER_S, burst=BURST).token
        service = start_service(env, port, state_dir / "service.log")
        base_url = f"http://{LOOPBACK}:{port}"
        texts = FreshTexts([captions()[i] for i in rng.permutation(len(captions()))])
        favourites = texts.take(8)
        repeated = [favourites[i] for i in rng.integers(0, 8, size=args.requests)]
        load_at_start = load_average()
        with Api(base_url, token) as api:
            warm_up(api)
            cold = plain_and_grouped(api, texts.take(args.requests), texts.take(args.requests))
            cached = plain_and_grouped(api, repeated, repeated)
            batches, singles, sequential32 = batch_and_sequential(api, texts, args.batches)
            second_page, deep_page = deep_pages(api, texts.take(max(10, args.requests // 20)), DEEP_PAGE)
            rate_limit = api.rate_limit
        rps = throughput(base_url, token, texts.take(args.requests), args.concurrency)
        report(args, Settings.from_env(env), products, (load_s, index_s), cold, cached,
               (batches, singles, sequential32), (second_page, deep_page), rps,
               (load_at_start, load_average(), rate_limit))
    finally:
        if service is not None:
            service.terminate()
            service.wait(timeout=30)
        stack.down()
        shutil.rmtree(state_dir, ignore_errors=True)


def warm_up(api: Api) -> None:
    """Connections, plans, page cache: each kind of request a few times."""
    for n in range(20):
        api.search(f"warm-up query {n}")
        api.search(f"warm-up grouped query {n}", group="sku", per_group=PER_GROUP)
    for n in range(2):
        api.batch([f"warm-up batch {n} query {i}" for i in range(BATCH_QUERIES)])
    deep_pages(api, ["warm-up deep query"], DEEP_PAGE)


def report(args, settings: Settings, products: int, load: tuple[float, float], cold, cached, batch, pages,
           rps: float, conditions: tuple[str, str, str]) -> None:
    (plain, grouped, media_per_product), (cached_plain, cached_grouped, _) = cold, cached
    batches, singles, sequential32 = batch
    second_page, deep_page = pages
    print(f"vectors={args.vectors} products={products} media_per_product={args.vectors / products:.2f} "
          f"model={args.model} k={K} per_group={PER_GROUP} requests_per_phase={args.requests} "
          f"batches={args.batches} concurrency={args.concurrency} max_k={settings.search_max_k}")
    print(f"load_average_start={conditions[0].replace(' ', ',')} load_average_end={conditions[1].replace(' ', ',')} "
          f"rate_limit_per_window={conditions[2]} rate_limited_responses=0")
    print(f"load_s={load[0]:.1f} index_build_s={load[1]:.1f}")
    for prefix, phase in (("", plain), ("grouped_", grouped), ("cached_text_", cached_plain),
                          ("cached_grouped_", cached_grouped), ("batch_", batches)):
        print(" ".join(f"{prefix}share_{name}={value:.3f}" for name, value in phase.shares().items()))
    # Server-Timing per request, side by side: where grouping's extra time goes.
    for name in STAGES:
        print(f"stage_{name}_ms plain={plain.stage_ms(name):.2f} grouped={grouped.stage_ms(name):.2f} "
              f"cached_plain={cached_plain.stage_ms(name):.2f} cached_grouped={cached_grouped.stage_ms(name):.2f} "
              f"batch_per_query={batches.stage_ms(name) / BATCH_QUERIES:.2f} "
              f"sequential32_per_query={sequential32.stage_ms(name) / BATCH_QUERIES:.2f}")
    print(f"grouped_media_per_product={media_per_product:.2f}")
    print(f"singles_beside_batches_p50_ms={singles.ms(50):.2f}")
    print(f"page2_p50_ms={second_page.ms(50):.2f} page2_p99_ms={second_page.ms(99):.2f}")
    print(f"cached_text_p50_ms={cached_plain.ms(50):.2f}")
    print(f"cached_text_p99_ms={cached_plain.ms(99):.2f}")
    print(f"cached_grouped_p50_ms={cached_grouped.ms(50):.2f}")
    print(f"cached_grouped_p99_ms={cached_grouped.ms(99):.2f}")
    print(f"cached_grouped_vs_plain={cached_grouped.ms(50) / cached_plain.ms(50):.3f}")
    print(f"http_search_p50_ms={plain.ms(50):.2f}")
    print(f"http_search_p99_ms={plain.ms(99):.2f}")
    print(f"grouped_search_p50_ms={grouped.ms(50):.2f}")
    print(f"grouped_search_p99_ms={grouped.ms(99):.2f}")
    print(f"grouped_vs_plain={grouped.ms(50) / plain.ms(50):.3f}")
    print(f"batch32_p50_ms={batches.ms(50):.2f}")
    print(f"batch32_p99_ms={batches.ms(99):.2f}")
    print(f"batch_per_query_p50_ms={batches.ms(50) / BATCH_QUERIES:.2f}")
    print(f"batch_per_query_p99_ms={batches.ms(99) / BATCH_QUERIES:.2f}")
    print(f"sequential32_p50_ms={sequential32.ms(50):.2f}")
    print(f"sequential32_p99_ms={sequential32.ms(99):.2f}")
    print(f"batch_vs_sequential32={batches.ms(50) / sequential32.ms(50):.3f}")
    print(f"batch_per_query_vs_plain={batches.ms(50) / BATCH_QUERIES / singles.ms(50):.3f}")
    print(f"deep_page{DEEP_PAGE}_p50_ms={deep_page.ms(50):.2f}")
    print(f"deep_page{DEEP_PAGE}_p99_ms={deep_page.ms(99):.2f}")
    print(f"deep_page{DEEP_PAGE}_vs_page2={deep_page.ms(50) / second_page.ms(50):.3f}")
    print(f"http_search_rps={rps:.1f}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main(parse_args())

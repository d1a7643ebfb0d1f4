"""Benchmark of the vector store: per-tenant partitions versus one shared index with a client filter.

Synthetic clustered unit vectors (512-d) over 50 tenants with Zipf-skewed sizes (the largest holds
~40 %, many hold a few hundred), on a fresh embedded PostgreSQL 18 + pgvector. Measured side by side
in one run:

- load: PgVectorWriter (bulk mode: new media and their vectors COPYed into unindexed partitions) vs
  a raw binary COPY of the same rows into unindexed tables: the vector rows alone, and (the headline
  `writer_vs_copy`) the vector rows plus the media rows (same columns) that the writer also stores.
  The three take turns batch by batch, so machine noise slows them alike; the writer's first write
  of each tenant (creating its partitions) is timed on its own;
- recall@10 against float32 exact search (numpy) for every tenant, for queries near the tenant's
  media and far from it (near another tenant's media), and p50/p99 latency of `search_vectors`;
- the same recall and latency for the naive design: one HNSW index over all tenants and
  `WHERE client_id = ...` (iterative relaxed-order scans, the ef_search the store would give a
  table of that size).

Headline figures are printed last, one per line, as name=value.

    python bench/store.py --quick      # ~20k rows, under 2 minutes
    python bench/store.py              # 200k rows
"""

import argparse
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
from pgvector import HalfVector

from stockmind.local.ports import free_port
from stockmind.local.postgres import EmbeddedPostgres
from stockmind.media.keys import parse_media_key
from stockmind.store import (
    MediaVectors,
    PgVectorWriter,
    build_deferred_indexes,
    connect,
    migrate,
    search_vectors,
    storage_bytes,
)
from stockmind.store.bulk import MAINTENANCE_WORK_MEM, PARALLEL_MAINTENANCE_WORKERS
from stockmind.store.halfvec_copy import HALFVEC_FIELD_TYPE, halfvec_fields
from stockmind.store.partitions import HNSW_EF_CONSTRUCTION, HNSW_M
from stockmind.store.queries import ef_search_for

DIM = 512
TENANTS = 50
ZIPF_EXPONENT = 1.45  # gives the largest tenant ~40 % of the rows
K = 10
BATCH = 1000
MODEL = "bench-model"
BUCKET = "bench-bucket"
SERVER_SETTINGS = {"shared_buffers": "2GB", "max_wal_size": "8GB", "max_parallel_maintenance_workers": "2"}

log = logging.getLogger("bench.store")


@dataclass
class Dataset:
    vectors: np.ndarray  # (N, DIM) float32, unit-norm
    tenant_of: np.ndarray  # (N,) tenant number
    sizes: list[int]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="~20k rows and fewer queries (under 2 minutes)")
    parser.add_argument("--rows", type=int, default=None, help="total rows (default 200000, 20000 with --quick)")
    parser.add_argument("--queries", type=int, default=None, help="near and far queries per tenant, each")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def tenant_sizes(total: int) -> list[int]:
    weights = 1.0 / np.arange(1, TENANTS + 1) ** ZIPF_EXPONENT
    return [max(int(round(total * w)), 20) for w in weights / weights.sum()]


def make_dataset(total: int, rng: np.random.Generator) -> Dataset:
    sizes = tenant_sizes(total)
    parts, owners = [], []
    for tenant, size in enumerate(sizes):
        centers = unit_rows(rng.normal(size=(max(2, size // 400), DIM)))
        picks = rng.integers(len(centers), size=size)
        parts.append(unit_rows(centers[picks] + rng.normal(scale=0.03, size=(size, DIM))))
        owners.append(np.full(size, tenant))
    return Dataset(np.concatenate(parts).astype(np.float32), np.concatenate(owners), sizes)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def make_queries(data: Dataset, per_tenant: int, rng: np.random.Generator) -> list[tuple[int, str, np.ndarray]]:
    """(tenant, 'near'|'far', query): near = a perturbed row of the tenant; far = a perturbed row of
    another tenant (drawn by size, so usually the big one), i.e. where the tenant has no media."""
    queries = []
    for tenant in range(TENANTS):
        own = np.flatnonzero(data.tenant_of == tenant)
        others = np.flatnonzero(data.tenant_of != tenant)
        for kind, pool in (("near", own), ("far", others)):
            for row in rng.choice(pool, size=per_tenant):
                moved = data.vectors[row] + rng.normal(scale=0.03, size=DIM)
                queries.append((tenant, kind, unit_rows(moved[None, :])[0]))
    return queries


def key_of(tenant: int, row: int) -> str:
    return f"clients/tenant-{tenant:02d}/products/p{row % 97}/media/image/{row}.jpg"


def row_of(key: str) -> int:
    return int(key.rsplit("/", 1)[1].split(".")[0])


def items_of(data: Dataset, rows) -> list[MediaVectors]:
    return [
        MediaVectors(ref=parse_media_key(key_of(int(data.tenant_of[r]), r)), bucket=BUCKET, etag=f"e{r}",
                     model_id=MODEL, vectors=data.vectors[r:r + 1], timestamps=[None], size=1)
        for r in rows
    ]


@dataclass
class LoadRates:
    raw: float  # rows/s: binary COPY of the vector rows into an unindexed table
    raw_with_media: float  # rows/s: the same plus the media rows (same columns as the writer's)
    writer: float  # rows/s: PgVectorWriter(bulk=True), once the tenants exist
    tenant_setup_s: float  # the writer's first write of every tenant (creates its partitions)


RAW_MEDIA_COPY = (
    "COPY {table} (client_id, media_id, bucket, key, sku, media_type, status, etag, version_id, sequencer,"
    " event_time, size, frame_count) FROM STDIN WITH (FORMAT BINARY)"
)
RAW_MEDIA_TYPES = ["text", "int8", "text", "text", "text", "text", "text", "text", "text", "text", "timestamptz",
                   "int8", "int4"]
RAW_VECTOR_TYPES = ["text", "int8", "int4", "float4", "text", "text", "text", HALFVEC_FIELD_TYPE]


def load_side_by_side(url: str, data: Dataset) -> LoadRates:
    """Load the same batches three ways, taking turns batch by batch (the order rotating), so that
    a noisy neighbour slows all three alike: the store's bulk writer into the tenants' partitions; a
    raw COPY of the vector rows into `raw_copy` (the naive shared index is built on it later); and a
    raw COPY of the vector rows plus media rows into scratch tables.

    Everything the clock should not see is done first: raw rows are built and their vectors encoded
    as the writer encodes them (`halfvec_fields`), the writer's items are built, and the writer's
    first write of every tenant (a fixed cost per tenant, not per row) is timed on its own."""
    firsts = [int(np.flatnonzero(data.tenant_of == tenant)[0]) for tenant in range(TENANTS)]
    rest = np.setdiff1d(np.arange(len(data.vectors)), firsts)
    batches = [rest[start:start + BATCH] for start in range(0, len(rest), BATCH)]
    with connect(url) as conn, PgVectorWriter(url, bulk=True) as writer:
        create_raw_tables(conn)
        copy_raw(conn, raw_rows(data, firsts), "raw_copy", None)
        started = time.perf_counter()
        writer.write(items_of(data, firsts))
        tenant_setup_s = time.perf_counter() - started

        loads = [
            ("raw", lambda raw, _: copy_raw(conn, raw, "raw_copy", None)),
            ("raw_with_media", lambda raw, _: copy_raw(conn, raw, "raw_copy_scratch", "raw_copy_media")),
            ("writer", lambda _, items: writer.write(items)),
        ]
        seconds = {name: 0.0 for name, _ in loads}
        for number, rows in enumerate(batches):
            raw, items = raw_rows(data, rows), items_of(data, rows)
            turn = loads[number % len(loads):] + loads[:number % len(loads)]
            for name, load in turn:
                started = time.perf_counter()
                load(raw, items)
                seconds[name] += time.perf_counter() - started
    return LoadRates(**{name: len(rest) / s for name, s in seconds.items()}, tenant_setup_s=tenant_setup_s)


def create_raw_tables(conn) -> None:
    conn.execute(
        "CREATE TABLE raw_copy (client_id text, media_id bigint, frame_no int, timestamp_s real, sku text,"
        f" media_type text, model_id text, embedding halfvec({DIM}))"
    )
    conn.execute("CREATE TABLE raw_copy_scratch (LIKE raw_copy)")
    conn.execute("CREATE TABLE raw_copy_media (LIKE media INCLUDING DEFAULTS)")


def raw_rows(data: Dataset, rows) -> tuple[list[tuple], list[tuple]]:
    """(media rows, vector rows with their encoded halfvec) of these dataset rows."""
    media = [(f"tenant-{data.tenant_of[r]:02d}", int(r), BUCKET, key_of(int(data.tenant_of[r]), r), f"p{r % 97}",
              "image", "active", f"e{r}", None, None, None, 1, 1) for r in rows]
    vectors = [(f"tenant-{data.tenant_of[r]:02d}", int(r), 0, None, f"p{r % 97}", "image", MODEL, field)
               for r, field in zip(rows, halfvec_fields(data.vectors[rows]))]
    return media, vectors


def copy_raw(conn, prepared: tuple[list[tuple], list[tuple]], table: str, media_table: str | None) -> None:
    """One transaction: COPY the vector rows into `table` (and the media rows into `media_table`)."""
    media, vectors = prepared
    with conn.transaction():
        if media_table is not None:
            with conn.cursor().copy(RAW_MEDIA_COPY.format(table=media_table)) as copy:
                copy.set_types(RAW_MEDIA_TYPES)
                for row in media:
                    copy.write_row(row)
        with conn.cursor().copy(f"COPY {table} FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(RAW_VECTOR_TYPES)
            for row in vectors:
                copy.write_row(row)


def build_naive_index(url: str, table: str) -> float:
    started = time.perf_counter()
    with connect(url) as conn:
        conn.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        conn.execute(f"SET max_parallel_maintenance_workers = {PARALLEL_MAINTENANCE_WORKERS}")
        conn.execute(
            f"CREATE INDEX ON {table} USING hnsw (embedding halfvec_cosine_ops)"
            f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )
        conn.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def settle(url: str) -> None:
    """Finish the load's background work before queries are timed: without this, autovacuum of the
    freshly loaded tables and the checkpoint after the index builds take a core mid-measurement."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def truth(data: Dataset, tenant: int, query: np.ndarray) -> set[int]:
    rows = np.flatnonzero(data.tenant_of == tenant)
    scores = data.vectors[rows] @ query
    return set(rows[np.argsort(-scores)[:K]].tolist())


def run_store_queries(url, queries) -> tuple[list[list[int]], list[float]]:
    results, latencies = [], []
    with connect(url) as conn:
        for tenant, _, query in queries:
            started = time.perf_counter()
            hits = search_vectors(conn, f"tenant-{tenant:02d}", query, K, model_id=MODEL)
            latencies.append(time.perf_counter() - started)
            results.append([row_of(hit.key) for hit in hits])
    return results, latencies


def run_naive_queries(url, table, queries, rows: int) -> tuple[list[list[int]], list[float]]:
    """The shared index gets the ef_search the store would give a table of its size."""
    results, latencies = [], []
    ef_search = ef_search_for(rows, K)
    statement = f"SELECT media_id FROM {table} WHERE client_id = %s ORDER BY embedding <=> %s LIMIT {K}"
    with connect(url) as conn:
        for tenant, _, query in queries:
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(f"SET LOCAL hnsw.ef_search = {ef_search}")
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                rows = conn.execute(statement, (f"tenant-{tenant:02d}", HalfVector(query)), prepare=False).fetchall()
            latencies.append(time.perf_counter() - started)
            results.append([r for (r,) in rows])
    return results, latencies


def per_tenant_recall(data, queries, results) -> dict[int, float]:
    recalls: dict[int, list[float]] = {}
    for (tenant, _, query), found in zip(queries, results):
        expected = truth(data, tenant, query)
        recalls.setdefault(tenant, []).append(len(expected & set(found)) / len(expected))
    return {tenant: float(np.mean(values)) for tenant, values in recalls.items()}


def recall_by_kind(data, queries, results, kind: str) -> float:
    pairs = [(q, r) for q, r in zip(queries, results) if q[1] == kind]
    return float(np.mean([len(truth(data, t, v) & set(r)) / K for (t, _, v), r in pairs]))


def start_server(root: Path) -> EmbeddedPostgres:
    server = EmbeddedPostgres(root / "data", free_port())
    server.start()
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        for name, value in SERVER_SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    server.stop()
    server.start()
    return server


def main(args: argparse.Namespace) -> None:
    total = args.rows or (20_000 if args.quick else 200_000)
    per_tenant = args.queries or (8 if args.quick else 20)
    rng = np.random.default_rng(args.seed)
    data = make_dataset(total, rng)
    queries = make_queries(data, per_tenant, rng)
    print(f"rows={len(data.vectors)} tenants={TENANTS} largest_tenant_share={data.sizes[0] / len(data.vectors):.2f}"
          f" smallest_tenant_rows={min(data.sizes)} dim={DIM} queries={len(queries)}")

    root = Path(tempfile.mkdtemp(prefix="stockmind-bench-store-"))
    server = start_server(root)
    try:
        url = server.create_database("bench")
        migrate(url)
        rates = load_side_by_side(url, data)
        started = time.perf_counter()
        build_deferred_indexes(url)
        partition_build_s = time.perf_counter() - started
        naive_build_s = build_naive_index(url, "raw_copy")
        print(f"raw_copy_rows_per_s={rates.raw:.0f}")
        print(f"raw_copy_with_media_rows_per_s={rates.raw_with_media:.0f}")
        print(f"writer_rows_per_s={rates.writer:.0f}")
        print(f"writer_tenant_setup_s={rates.tenant_setup_s:.2f} tenants={TENANTS}")
        print(f"index_build_s partitions={partition_build_s:.1f} naive_shared={naive_build_s:.1f}")
        with connect(url) as conn:
            sizes = storage_bytes(conn)

        settle(url)
        # One untimed pass of each design first: latency is measured with warm caches, as a
        # running service has them.
        run_store_queries(url, queries)
        run_naive_queries(url, "raw_copy", queries, len(data.vectors))
        store_results, store_latency = run_store_queries(url, queries)
        naive_results, naive_latency = run_naive_queries(url, "raw_copy", queries, len(data.vectors))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    store_recall = per_tenant_recall(data, queries, store_results)
    naive_recall = per_tenant_recall(data, queries, naive_results)
    print("tenant rows recall_at_10 naive_recall_at_10")
    for tenant in range(TENANTS):
        print(f"tenant-{tenant:02d} {data.sizes[tenant]} {store_recall[tenant]:.3f} {naive_recall[tenant]:.3f}")
    worst = min(store_recall, key=store_recall.get)
    naive_worst = min(naive_recall, key=naive_recall.get)
    print(f"worst_tenant=tenant-{worst:02d} rows={data.sizes[worst]} recall_at_10={store_recall[worst]:.3f}")
    print(f"naive_worst_tenant=tenant-{naive_worst:02d} rows={data.sizes[naive_worst]}"
          f" recall_at_10={naive_recall[naive_worst]:.3f}")
    for kind in ("near", "far"):
        print(f"recall_at_10_{kind} store={recall_by_kind(data, queries, store_results, kind):.3f}"
              f" naive={recall_by_kind(data, queries, naive_results, kind):.3f}")
    print(f"naive_search_p50_ms={np.percentile(naive_latency, 50) * 1000:.2f}")
    print(f"naive_search_p99_ms={np.percentile(naive_latency, 99) * 1000:.2f}")
    print(f"writer_vs_vectors_only_copy={rates.writer / rates.raw:.2f}")
    print(f"writer_vs_copy={rates.writer / rates.raw_with_media:.2f}")
    print(f"worst_tenant_recall_at_10={store_recall[worst]:.3f}")
    print(f"naive_worst_tenant_recall_at_10={naive_recall[naive_worst]:.3f}")
    print(f"search_p50_ms={np.percentile(store_latency, 50) * 1000:.2f}")
    print(f"search_p99_ms={np.percentile(store_latency, 99) * 1000:.2f}")
    for part in ("vectors", "hnsw", "media"):  # what a million more vectors cost on disk (and in RAM to search fast)
        print(f"{part}_mb_per_million_vectors={sizes[part] / sizes['count'] * 1e6 / 2**20:.0f}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main(parse_args())

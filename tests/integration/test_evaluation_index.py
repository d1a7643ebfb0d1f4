"""Index recall's three search methods on a real pgvector partition: exact is exact, the HNSW path
really scans the tenant's index, and the deployed path agrees with exact search on a small tenant."""

import numpy as np
import pytest

from stockmind.evaluation import index_recall
from stockmind.store import connect, count_embeddings, ranked_keys
from stockmind.store.partitions import tenant_index

MODEL_ID = "test-model"


def _unit(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def tenant(database_url):
    index_recall.load_tenant(database_url, "acme", _unit(300, 16, seed=1), MODEL_ID)
    with connect(database_url) as conn:
        yield conn


def _index_scans(conn, index_name: str) -> int:
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")  # the flush happens at the end of a transaction
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = %s",
                        (index_name,)).fetchone()[0]


def test_compare_measures_exact_hnsw_and_deployed_search(tenant):
    points = index_recall.compare(tenant, "acme", MODEL_ID, _unit(12, 16, seed=2), k=5, ef_values=[5, 100])
    assert [(p.method, p.ef_search) for p in points] == [("exact", None), ("hnsw", 5), ("hnsw", 100),
                                                         ("deployed", None)]
    assert all(p.rows == 300 for p in points)
    assert points[0].recall == 1.0
    assert points[2].recall >= 0.9  # a 300-row graph searched with ef 100 is close to exhaustive
    assert points[3].recall == 1.0  # a tenant this small is searched exactly as deployed


def test_the_hnsw_method_scans_the_tenants_index_and_exact_does_not(tenant):
    index = tenant_index(tenant, "acme", MODEL_ID)
    before = _index_scans(tenant, index.index_name)
    ranked_keys(tenant, index, _unit(1, 16, seed=3)[0], 5)
    assert _index_scans(tenant, index.index_name) == before
    ranked_keys(tenant, index, _unit(1, 16, seed=3)[0], 5, ef_search=40)
    assert _index_scans(tenant, index.index_name) == before + 1


def test_load_tenant_replaces_what_the_tenant_had(database_url, tenant):
    index_recall.load_tenant(database_url, "acme", _unit(40, 16, seed=4), MODEL_ID)
    assert count_embeddings(tenant, "acme") == 40
    assert tenant_index(tenant, "acme", MODEL_ID).ready

"""Search SQL on real pgvector: tenant isolation, video collapse, filters, k cap, index and exact paths."""

import numpy as np
import pytest
from psycopg import sql

from stockmind.errors import InvalidVector
from stockmind.media.types import MediaType
from stockmind.store import (
    PgVectorWriter,
    build_deferred_indexes,
    defer_indexes,
    partitions,
    queries,
    search_vectors,
)
from tests.integration.store_factories import DIM, image_key, media, near, unit, video_key


def test_a_query_never_returns_another_clients_media_even_when_closer(writer, conn):
    target = unit(7)
    writer.write([media(image_key("bravo", f"s{n}", "exact"), near(target, n, 0.001)) for n in range(20)])
    writer.write([media(image_key("alpha", f"s{n}", "far"), unit(100 + n)) for n in range(5)])

    hits = search_vectors(conn, "alpha", target, 10)

    assert len(hits) == 5
    assert all(hit.key.startswith("clients/alpha/") for hit in hits)


def test_video_frames_collapse_to_the_best_frame_with_its_timestamp(writer, conn):
    query = unit(1)
    frames = [unit(50), near(query, 1, 0.01), near(query, 2, 0.3), unit(51)]
    writer.write([
        media(video_key("acme", "s1", "clip"), frames, timestamps=[0.0, 1.0, 2.0, 3.0]),
        media(image_key("acme", "s2", "photo"), near(query, 3, 0.2)),
    ])

    hits = search_vectors(conn, "acme", query, 10)

    assert [(hit.key, hit.media_type, hit.timestamp_s) for hit in hits] == [
        (video_key("acme", "s1", "clip"), MediaType.VIDEO, 1.0),
        (image_key("acme", "s2", "photo"), MediaType.IMAGE, None),
    ]
    assert hits[0].score == pytest.approx(float(frames[1] @ query), abs=2e-3)
    assert hits[0].score > hits[1].score


def test_collapse_still_fills_k_when_one_video_has_many_near_frames(writer, conn):
    query = unit(1)
    frames = [near(query, n, 0.01) for n in range(60)]
    writer.write([media(video_key("acme", "s1", "clip"), frames, timestamps=[float(n) for n in range(60)])])
    writer.write([media(image_key("acme", f"s{n}", "photo"), near(query, 100 + n, 0.5)) for n in range(5)])

    hits = search_vectors(conn, "acme", query, 5)

    assert len(hits) == 5
    assert len({hit.key for hit in hits}) == 5


def test_sku_and_media_type_filters(writer, conn):
    writer.write([
        media(image_key("acme", "bag", "a"), unit(1)),
        media(image_key("acme", "shoe", "b"), unit(2)),
        media(video_key("acme", "bag", "c"), [unit(3)], timestamps=[0.0]),
    ])

    assert {hit.key for hit in search_vectors(conn, "acme", unit(2), 10, sku="bag")} == {
        image_key("acme", "bag", "a"), video_key("acme", "bag", "c"),
    }
    assert [hit.key for hit in search_vectors(conn, "acme", unit(2), 10, sku="bag", media_type=MediaType.VIDEO)] == [
        video_key("acme", "bag", "c"),
    ]


def test_k_is_capped_at_max_k(writer, conn):
    writer.write([media(image_key("acme", f"s{n}", "p"), unit(n)) for n in range(10)])

    assert len(search_vectors(conn, "acme", unit(0), 50, max_k=4)) == 4
    with pytest.raises(ValueError, match="k must be at least 1"):
        search_vectors(conn, "acme", unit(0), 0)


def test_a_malformed_query_vector_is_rejected(writer, conn):
    writer.write([media(image_key("acme", "s", "p"), unit(1))])

    with pytest.raises(InvalidVector, match="expected 16-d vectors for model 'test-model', got 17-d"):
        search_vectors(conn, "acme", np.ones(DIM + 1), 5)
    with pytest.raises(InvalidVector, match="expected one vector"):
        search_vectors(conn, "acme", np.ones((1, DIM)), 5)
    with pytest.raises(InvalidVector, match="NaN"):
        search_vectors(conn, "acme", np.full(DIM, np.nan), 5)


def test_an_unknown_client_has_no_results(conn):
    assert search_vectors(conn, "nobody", unit(1), 5) == []


@pytest.mark.parametrize("filtered", [False, True])
def test_index_and_exact_paths_agree_and_the_index_is_used(writer, conn, monkeypatch, filtered):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, DIM)).astype(np.float32)
    writer.write([media(image_key("acme", f"s{n % 3}", f"p{n}"), v) for n, v in enumerate(vectors)])
    conn.execute("ANALYZE embeddings")
    query, sku = unit(5), "s1" if filtered else None

    monkeypatch.setattr(queries, "EXACT_SEARCH_MAX_ROWS", 10)
    by_index = search_vectors(conn, "acme", query, 10, sku=sku)
    monkeypatch.setattr(queries, "EXACT_SEARCH_MAX_ROWS", 10_000)
    exact = search_vectors(conn, "acme", query, 10, sku=sku)

    assert [hit.key for hit in by_index] == [hit.key for hit in exact]
    index = partitions.tenant_index(conn, "acme", "test-model")
    # The index statement can use the partial expression index (on 300 rows the planner prefers to
    # sort, so sorting is priced out here); the exact statement cannot.
    assert f"Index Scan using {index.index_name}" in _plan(conn, index, query, exact=False, sku=None)
    assert index.index_name not in _plan(conn, index, query, exact=True, sku=None)


def _plan(conn, index, query, *, exact: bool, sku: str | None) -> str:
    conn.execute("SET enable_sort = off")
    statement = queries.search_sql(index, exact=exact, sku=sku is not None, media_type=False)
    literal = "[" + ",".join(str(float(v)) for v in query) + "]"
    params = {"client_id": "acme", "query": literal, "k": 10, "fetch": 40, "skus": None if sku is None else [sku],
              "media_type": None}
    rows = conn.execute(sql.SQL("EXPLAIN ") + statement, params, prepare=False).fetchall()
    conn.execute("RESET enable_sort")
    return "\n".join(row[0] for row in rows)


def test_bulk_mode_defers_the_index_and_search_still_works(database_url, conn):
    with PgVectorWriter(database_url, bulk=True) as writer:
        writer.write([media(image_key("bulkco", f"s{n}", "p"), unit(n)) for n in range(50)])
    assert conn.execute("SELECT state FROM tenant_indexes WHERE client_id = 'bulkco'").fetchone() == ("deferred",)
    before = search_vectors(conn, "bulkco", unit(3), 3)

    assert build_deferred_indexes(database_url) == [("bulkco", "test-model")]

    assert conn.execute("SELECT state FROM tenant_indexes WHERE client_id = 'bulkco'").fetchone() == ("ready",)
    assert before[0].key == image_key("bulkco", "s3", "p")
    assert search_vectors(conn, "bulkco", unit(3), 3) == before


def test_defer_indexes_drops_an_index_for_a_reload(writer, database_url, conn):
    writer.write([media(image_key("acme", "s", "p"), unit(1))])

    defer_indexes(database_url, ["acme"])

    assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%%hnsw%%'").fetchone() == (0,)
    assert build_deferred_indexes(database_url) == [("acme", "test-model")]
    assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%%hnsw%%'").fetchone() == (1,)

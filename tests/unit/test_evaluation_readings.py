from stockmind.evaluation import readings
from stockmind.evaluation.retrieval import EVERY_TENANT
from stockmind.service.combine import Weights


def _recall(client, scope, r1, r5, r10=1.0, queries=10):
    return {"client_id": client, "scope": scope, "queries": queries, "recall@1": r1, "recall@5": r5, "recall@10": r10}


def test_retrieval_reading_states_the_measured_values_and_names_a_lagging_tenant():
    text = readings.retrieval(
        [_recall(EVERY_TENANT, "all", 0.5, 0.9), _recall("t0", "all", 0.6, 0.95), _recall("t1", "all", 0.3, 0.6),
         _recall(EVERY_TENANT, "image", 0.4, 0.8), _recall(EVERY_TENANT, "video", 0.7, 0.9)],
        [{"client_id": EVERY_TENANT, "scope": "all", "queries": 8, "precision@1": 0.75, "precision@5": 0.5}],
    )
    assert "in the top 5 90 %" in text
    assert "`t1` deserves a look" in text
    assert "50 %" in text and "8 query photos" in text
    assert "video moments are found more reliably than photos (40 % for photos, 70 % for videos)" in text


def test_index_reading_finds_the_first_ef_search_reaching_95_percent():
    tenant = {"client_id": "t", "rows": 5000}
    points = [
        {**tenant, "method": "exact", "ef_search": None, "recall": 1.0, "p50_ms": 9.0, "p95_ms": 10.0},
        {**tenant, "method": "hnsw", "ef_search": 40, "recall": 0.9, "p50_ms": 1.0, "p95_ms": 2.0},
        {**tenant, "method": "hnsw", "ef_search": 80, "recall": 0.97, "p50_ms": 1.5, "p95_ms": 2.0},
        {**tenant, "method": "deployed", "ef_search": None, "recall": 0.99, "p50_ms": 2.0, "p95_ms": 3.0},
    ]
    text = readings.index(points, 10)
    assert "ef_search 80" in text
    assert "99 % of the exact top 10" in text


def test_latency_reading_names_the_larger_component():
    summary = {name: {"p50_ms": p50, "p95_ms": p50 * 2, "p99_ms": p50 * 3, "n": 50}
               for name, p50 in (("total", 10.0), ("text embed", 7.0), ("SQL", 2.5))}
    text = readings.latency(summary)
    assert "10.0 ms at the median" in text
    assert "70 %" in text and "embedding the query text" in text


def test_ingest_reading_names_the_busiest_stage_and_the_lag_when_measured():
    totals = {"media": 100, "rows": 120, "bytes": 1, "fetch": 1.0, "decode": 2.0, "embed": 5.0, "write": 2.0}
    assert "**embed** takes the largest share (50 %" in readings.ingest(totals, 10.0, None)
    lag = {"p50_ms": 800.0, "p95_ms": 1500.0, "n": 20}
    assert "0.80 s at the median" in readings.ingest(totals, 10.0, lag)


def test_products_reading_sets_product_level_recall_beside_media_level():
    text = readings.products([_recall(EVERY_TENANT, "all", 0.5, 0.7, 0.8, queries=12), _recall("t0", "all", 0, 0)],
                             [_recall(EVERY_TENANT, "all", 0.5, 0.9, 1.0, queries=12)])
    assert "**all** (12 text queries)" in text
    assert "70 % → 90 % at k = 5" in text and "80 % → 100 % at k = 10" in text
    assert "found only at product level" in text
    same = readings.products([_recall(EVERY_TENANT, "all", 1, 1)], [_recall(EVERY_TENANT, "all", 1, 1)])
    assert "no query needed it" in same


def _combination(strategy, mrr, r1, positive=None, negative=None, task="refine", text=1.0):
    return {"task": task, "strategy": strategy, "text": text if positive is not None else None,
            "positive": positive, "negative": negative, "queries": 30, "recall@1": r1, "recall@5": 0.9,
            "recall@10": 1.0, "MRR": mrr, "sku recall@5": 0.95}


def test_combinations_reading_names_the_better_strategy_its_weights_and_the_defaults():
    default = Weights()
    rows = [_combination("weighted sum", 0.8, 0.7, default.positive, default.negative),
            _combination("weighted sum", 0.85, 0.75, 2.0, 0.125),
            _combination("best score", 0.6, 0.5)]
    text = readings.combinations(rows, {"refine": (12, 3, 15)})
    assert "**refine** (30 queries): the weighted sum ranks better" in text
    assert "at its best (text 1, positive 2, negative 0.125): MRR 0.850" in text
    assert "best score: MRR 0.600" in text
    assert "higher on 12, best score on 3, 15 tie" in text
    assert (f"default weights (text 1, positive {default.positive:g}, negative {default.negative:g}) reach MRR 0.800"
            in text)
    rows.append(_combination("best score", 0.9, 0.8))
    assert "Qdrant's best score ranks better" in readings.combinations(rows, {"refine": (1, 20, 9)})


def test_combinations_reading_says_when_the_text_alone_ranks_best():
    rows = [_combination("weighted sum", 0.9, 0.8, 0.0, 0.0), _combination("weighted sum", 0.8, 0.7, 1.0, 0.5),
            _combination("best score", 0.6, 0.5)]
    assert "the examples add nothing to the text" in readings.combinations(rows, {"refine": (5, 1, 24)})
    assert "every weight on the examples ranks lower" in readings.combinations(rows, {"refine": (5, 1, 24)})
    assert "add nothing" not in readings.combinations(rows[1:], {"refine": (5, 1, 24)})
    tied = rows + [_combination("weighted sum", 0.9, 0.8, 0.5, 0.25)]
    assert "only equal" in readings.combinations(tied, {"refine": (5, 1, 24)})

from stockmind.evaluation.latency import query_texts


def test_latency_query_texts_are_distinct_varied_captions():
    texts = query_texts(300, seed=1)
    assert len(set(texts)) == 300
    assert any(text.startswith("product shot") for text in texts)
    assert query_texts(300, seed=1) == texts

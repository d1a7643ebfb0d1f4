"""Search latency as a client of `Searcher` sees it, split into text embedding, SQL and the rest.

Each query text is asked once per tenant, so the searcher's text cache serves only the repeats
across tenants; `cached` in a record says which ones those were.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from stockmind.dev.synthetic import catalogue
from stockmind.service.search import Filters, Timings


def text_search_latency(searcher, conn, client_ids: Sequence[str], texts: Sequence[str], k: int = 10,
                        warmup: int = 3) -> list[dict]:
    """One record per (tenant, text): embed/SQL/presign/total seconds and whether the text was cached."""
    for text in texts[:warmup]:  # first calls pay for lazy initialisation; not what a client sees later
        searcher.by_text(conn, client_ids[0], f"{text} (warm-up)", Filters(k=k))
    seen: set[str] = set()
    records = []
    for client_id in client_ids:
        for text in texts:
            timings = Timings()
            start = time.perf_counter()
            searcher.by_text(conn, client_id, text, Filters(k=k), timings)
            total = time.perf_counter() - start
            records.append({"client_id": client_id, "text": text, "cached": text in seen,
                            "embed_s": timings.embed_s, "sql_s": timings.sql_s, "presign_s": timings.presign_s,
                            "total_s": total})
            seen.add(text)
    return records


def query_texts(n: int, seed: int = 0) -> list[str]:
    """`n` distinct catalogue captions in varied wordings ("a red circle on a wooden table",
    "product shot of a blue star", ...): what shoppers type, and each new to the text cache."""
    texts: dict[str, None] = {}
    for index, item in enumerate(catalogue(4 * n, seed)):
        captions = item.captions()
        texts.setdefault(captions[index % len(captions)])
        if len(texts) == n:
            return list(texts)
    raise ValueError(f"the catalogue has fewer than {n} distinct captions for seed {seed}")

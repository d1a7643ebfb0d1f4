"""Search SQL: top-k by cosine inside one tenant's partition, videos collapsed to their best frame.

The query reads only the tenant's own embeddings table (and still filters on `client_id`). Small
tenants, and tenants whose index is deferred during a bulk load, are searched exactly (a sequential
scan of a few thousand rows is faster than the index and has perfect recall); larger ones use their
HNSW index. The two differ only in the ORDER BY expression: the index is on
`embedding::halfvec(D)`, so ordering by the uncast column cannot use it and scans exactly.

Frames of one video compete for the top rows, so the index scan over-fetches (`fetch` rows), the
outer query keeps the best frame per media, and `ranking.page_of` makes a page of them (exclusions,
a score floor, products, the items after a cursor's position); if that leaves the page short while
the scan was full, it is repeated with a larger fetch. A page ends where `MAX_PAGE_FETCH` rows from
the top end, which is what bounds paging depth (about 1,000 media, or 1,000 products of up to
~20 media each; `PAGING_DEPTH` in the service).
"""

import math
from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg import sql

from stockmind.errors import InvalidVector
from stockmind.media.types import MediaType
from stockmind.store import partitions, tenant_models
from stockmind.store.ranking import PageSpec, RankedPage, page_of
from stockmind.store.records import SearchHit
from stockmind.store.validation import check_dim, normalised

DEFAULT_MAX_K = 100
# Below this many rows an exact scan answers within a few ms (bench/store.py measures it).
EXACT_SEARCH_MAX_ROWS = 2000
# ef_search never below MIN_EF_SEARCH: queries far from all of a tenant's media (near another
# tenant's) meet a graph of well-separated clusters and need a wide search even on a small tenant,
# while near queries find their neighbours at any ef. Larger tenants need a wider search still, at
# a time cost in proportion (the measurements: README, "How the store's HNSW parameters were
# chosen"). HNSW's search cost grows with the log of its size, and so does ef_search here: from 10k
# rows on, EF_PER_E_FOLD more per e-fold of rows (620 at 30k, 820 at 82k), capped at MAX_EF_SEARCH.
MIN_EF_SEARCH = 400
MAX_EF_SEARCH = 1000
EF_GROWTH_FROM_ROWS = 10_000
EF_PER_E_FOLD = 200
OVERFETCH = 4
# Rows read from the top for one page (exact scan, or HNSW iterative scan); see the module docstring.
MAX_PAGE_FETCH = 20_000
DEFAULT_MAX_SCAN_TUPLES = 20_000  # pgvector's own default for hnsw.max_scan_tuples

_SEARCH = """
WITH nearest AS MATERIALIZED (
    SELECT media_id, timestamp_s, {distance} AS distance
    FROM {embeddings}
    WHERE client_id = %(client_id)s AND model_id = {model_id} {filters}
    ORDER BY distance
    LIMIT %(fetch)s
), best AS (
    SELECT DISTINCT ON (media_id) media_id, timestamp_s, distance FROM nearest ORDER BY media_id, distance
)
SELECT m.key, m.bucket, m.sku, m.media_type, 1 - b.distance, b.timestamp_s,
       (SELECT count(*) FROM nearest), 1 - (SELECT max(distance) FROM nearest)
FROM best b JOIN {media} m ON m.client_id = %(client_id)s AND m.media_id = b.media_id
ORDER BY b.distance, m.key
LIMIT %(k)s
"""


# On a small tenant the planner rightly prefers reading every row and sorting; to measure the index
# itself, the other ways to get ordered rows are priced out for one transaction.
_FORCE_INDEX_SCAN = (
    "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'off', true),"
    " set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),"
    " set_config('enable_sort', 'off', true)"
)


@dataclass(frozen=True)
class _Plan:
    index: partitions.TenantIndex
    exact: bool


def search_vectors(
    conn: psycopg.Connection,
    client_id: str,
    vector: np.ndarray,
    k: int,
    *,
    sku: str | None = None,
    media_type: MediaType | str | None = None,
    model_id: str | None = None,
    max_k: int = DEFAULT_MAX_K,
) -> list[SearchHit]:
    """The k (at most `max_k`) media of `client_id` closest to `vector` by cosine, best first.

    Without `model_id`, the tenant's active model's vectors are searched. A tenant with no
    vectors gives []. A vector of the wrong dimension, non-finite or zero raises `InvalidVector`.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    page = search_page(conn, client_id, vector, PageSpec(k=min(k, max_k)), skus=None if sku is None else (sku,),
                       media_type=media_type, model_id=model_id)
    return [group.hits[0] for group in page.groups]


def search_page(
    conn: psycopg.Connection,
    client_id: str,
    vector: np.ndarray,
    spec: PageSpec,
    *,
    skus: tuple[str, ...] | None = None,
    media_type: MediaType | str | None = None,
    model_id: str | None = None,
) -> RankedPage:
    """One page of the media (or products) of `client_id` closest to `vector`, as `spec` asks,
    optionally only of the SKUs `skus` and of one media type. Errors as `search_vectors`."""
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("client_id is required")
    index = _tenant_index(conn, client_id, model_id, len(vector) if np.ndim(vector) == 1 else None)
    if index is None:
        return RankedPage([], more=False)
    query = _query_vector(vector, index)
    plan = _Plan(index, exact=not index.ready or index.estimated_rows < EXACT_SEARCH_MAX_ROWS)
    # Enough rows for every item up to the end of this page and one more, as if each item held
    # `per_group` rows and a few frames; the loop reads further when that guess falls short.
    items = spec.depth + spec.k + 1 + len(spec.exclude_keys)
    fetch = min(items * (spec.per_group if spec.group_by_sku else 1) * OVERFETCH, MAX_PAGE_FETCH)
    filters = _Filters(None if skus is None else list(skus), None if media_type is None else str(media_type))
    while True:
        rows = _run(conn, plan, client_id, query, fetch, filters)
        page = page_of([SearchHit(key, bucket, sku_, MediaType(mt), float(score), ts)
                        for key, bucket, sku_, mt, score, ts, _, _ in rows], spec)
        scanned_all = not rows or rows[0][6] < fetch
        below_floor = bool(rows) and spec.min_score is not None and rows[0][7] < spec.min_score
        if page.more or scanned_all or below_floor or fetch >= MAX_PAGE_FETCH:
            return page
        fetch = min(fetch * OVERFETCH, MAX_PAGE_FETCH)


@dataclass(frozen=True)
class _Filters:
    skus: list[str] | None
    media_type: str | None


def _run(conn, plan: _Plan, client_id, query, fetch: int, filters: _Filters) -> list[tuple]:
    statement = search_sql(plan.index, exact=plan.exact, sku=filters.skus is not None,
                           media_type=filters.media_type is not None)
    params = {"client_id": client_id, "query": query, "k": fetch, "fetch": fetch, "skus": filters.skus,
              "media_type": filters.media_type}
    # One round trip for BEGIN, the settings, the query and COMMIT.
    with conn.pipeline(), conn.transaction():
        if not plan.exact:
            iterative = filters.skus is not None or filters.media_type is not None or fetch > MAX_EF_SEARCH
            _set_index_scan(conn, ef_search_for(plan.index.estimated_rows, fetch), iterative=iterative,
                            max_scan_tuples=max(DEFAULT_MAX_SCAN_TUPLES, 2 * fetch))
        return conn.execute(statement, params, prepare=False).fetchall()


def ranked_keys(conn: psycopg.Connection, index: partitions.TenantIndex, vector: np.ndarray, k: int, *,
                ef_search: int | None = None) -> list[str]:
    """The keys of the k media of one tenant's partition nearest `vector` (a unit vector), to measure
    the index: exact when `ef_search` is None (the ground truth), else through the HNSW index at
    `ef_search` whatever the tenant's size."""
    statement = search_sql(index, exact=ef_search is None, sku=False, media_type=False)
    params = {"client_id": index.client_id, "query": HalfVector(vector), "k": k, "fetch": k,
              "skus": None, "media_type": None}
    with conn.transaction():
        if ef_search is not None:
            conn.execute(_FORCE_INDEX_SCAN, (str(ef_search),))
        return [row[0] for row in conn.execute(statement, params, prepare=False)]


def search_sql(index: partitions.TenantIndex, *, exact: bool, sku: bool, media_type: bool) -> sql.Composed:
    """The search statement for one tenant's tables (parameters: client_id, query, fetch, k, skus, media_type)."""
    filters = []
    if sku:
        filters.append(sql.SQL("AND sku = ANY(%(skus)s)"))
    if media_type:
        filters.append(sql.SQL("AND media_type = %(media_type)s"))
    if exact:
        distance = sql.SQL("embedding <=> %(query)s::halfvec")
    else:
        distance = sql.SQL("embedding::halfvec({dim}) <=> %(query)s::halfvec({dim})").format(dim=sql.Literal(index.dim))
    return sql.SQL(_SEARCH).format(
        distance=distance,
        embeddings=sql.Identifier(index.table),
        media=sql.Identifier(index.media_table),
        model_id=sql.Literal(index.model_id),  # a literal, so the planner matches the partial index
        filters=sql.SQL(" ").join(filters),
    )


def ef_search_for(rows: float, fetch: int) -> int:
    """hnsw.ef_search for a scan that must return `fetch` rows from a table of about `rows` rows."""
    grown = MIN_EF_SEARCH + EF_PER_E_FOLD * math.log(max(rows, EF_GROWTH_FROM_ROWS) / EF_GROWTH_FROM_ROWS)
    return round(min(max(fetch, grown), MAX_EF_SEARCH))


def _set_index_scan(conn, ef_search: int, *, iterative: bool, max_scan_tuples: int) -> None:
    # Filters discard some candidates, so a filtered scan keeps going (relaxed order: the outer
    # ORDER BY restores exact order among what it returns), and so does one that must return more
    # rows than ef_search; a deep page may need more tuples than pgvector's default bound.
    conn.execute(
        "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', %s, true),"
        " set_config('hnsw.max_scan_tuples', %s, true)",
        (str(ef_search), "relaxed_order" if iterative else "off", str(max_scan_tuples)),
    )


def _tenant_index(conn, client_id: str, model_id: str | None, dim: int | None) -> partitions.TenantIndex | None:
    # Without a model named: the tenant's active model (the one its searches use).
    if model_id is None:
        model_id = tenant_models.active_model(conn, client_id)
        if model_id is None:
            return None
    return partitions.tenant_index(conn, client_id, model_id)


def _query_vector(vector: np.ndarray, index: partitions.TenantIndex) -> str:
    where = f"query for tenant {index.client_id!r}"
    try:
        array = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InvalidVector(f"{where}: the query vector is not numbers ({error})") from None
    if array.ndim != 1:
        raise InvalidVector(f"{where}: expected one vector, got shape {array.shape}")
    check_dim(array.shape[0], index.dim, index.model_id, where)
    if not np.isfinite(array).all():
        raise InvalidVector(f"{where}: the query vector contains NaN or infinity")
    # halfvec's text form; parameters travel as text so no adapter registration is needed here.
    return "[" + ",".join(repr(float(v)) for v in normalised(array[None, :], where)[0]) + "]"

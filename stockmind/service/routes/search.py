"""Search endpoints: the general query (POST /v1/search), a batch of them (POST /v1/search/batch),
and its two shortcuts, by text (GET /v1/search) and by an uploaded image or a stored media key
(POST /v1/search/image), which take the paging and filters as query parameters.

The client id always comes from the API key (`ClientId`); filters narrow the tenant's own results.
Each query is answered by the tenant's active model, which the response names (`model_id`); a
tenant whose model cannot be loaded gets a 503 (`model_unavailable`) naming it.
Each response carries a Server-Timing header (embed, sql, presign) so latency can be attributed.
"""

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from stockmind.config import Settings
from stockmind.media.types import MediaType
from stockmind.service.auth import ClientId
from stockmind.service.deps import ResourcesDep
from stockmind.service.errors import ApiError, input_problem
from stockmind.service.openapi import NON_BLANK_PATTERN, UNDECODABLE_UPLOAD, authenticated
from stockmind.service.query import DEFAULT_PER_GROUP, SearchQuery
from stockmind.service.rate_limits import count_queries
from stockmind.service.routes.models import SimilarTo
from stockmind.service.routes.search_models import (
    MAX_SKU_FILTER,
    BatchAnswer,
    BatchResponse,
    Cursor,
    ErrorOut,
    SearchResponse,
    Sku,
    request_bodies,
)
from stockmind.service.routes.uploads import FIELD, read_upload
from stockmind.service.search import MAX_QUERY_CHARS, Timings, normalised_query
from stockmind.store.ranking import MAX_PER_GROUP

MAX_FORM_FIELDS = 4

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": [FIELD], "maxProperties": MAX_FORM_FIELDS,
                           "properties": {FIELD: {"type": "string", "format": "binary", "minLength": 1}}},
                "encoding": {FIELD: {"contentType": "image/*"}},
            },
            "application/json": {"schema": SimilarTo.model_json_schema()},
        },
    }
}


_INVALID_CURSOR = ("a cursor that is not this query's, or was given out before the caller's search model changed"
                   " (invalid_cursor)")
_EXAMPLE_NOT_FOUND = "an example key names no media of the caller's (media_not_found); another tenant's reads the same"


@dataclass(frozen=True)
class PageParams:
    """A shortcut's paging and filters, from its query string."""

    k: int
    group: str | None
    per_group: int
    min_score: float | None
    skus: tuple[str, ...] | None
    media_type: MediaType | None
    cursor: str | None

    def query(self, **parts) -> SearchQuery:
        return SearchQuery(**parts, k=self.k, group=self.group, per_group=self.per_group, min_score=self.min_score,
                           skus=self.skus, media_type=self.media_type, cursor=self.cursor)


def router(settings: Settings) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["search"])
    page_params = _page_params_dependency(settings.search_max_k)
    SearchBody, BatchBody = request_bodies(settings.search_max_k)  # noqa: N806 (classes)

    @routes.get("/search", response_model=SearchResponse, response_model_exclude_unset=True,
                responses=authenticated(400, descriptions={400: _INVALID_CURSOR}),
                summary="Search the caller's media by text")
    def search_text(
        response: Response, client: ClientId, res: ResourcesDep, page: Annotated[PageParams, Depends(page_params)],
        q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, json_schema_extra={"pattern": NON_BLANK_PATTERN},
                                description="what to look for")],
    ) -> SearchResponse:
        return _answer(response, res, client, page.query(text=_text(q, "q")))

    @routes.post("/search/image", response_model=SearchResponse, response_model_exclude_unset=True,
                 openapi_extra=_IMAGE_BODY,
                 responses=authenticated(404, 415, body=True, descriptions={
                     400: UNDECODABLE_UPLOAD[400] + ", or " + _INVALID_CURSOR}),
                 summary="Search the caller's media by an uploaded image, or by the key of stored media")
    async def search_image(
        request: Request, response: Response, client: ClientId, res: ResourcesDep,
        page: Annotated[PageParams, Depends(page_params)],
    ) -> SearchResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            async with request.form(max_files=1, max_fields=MAX_FORM_FIELDS) as form:
                data = await read_upload(form.get(FIELD), settings.max_upload_bytes)
            query = page.query(image=data)
        elif content_type == "application/json":
            query = page.query(image_key=_similar_to(await request.body()).key)
        else:
            raise ApiError(415, "send an image as multipart/form-data (field 'file') or JSON {\"key\": ...}")
        return await run_in_threadpool(_answer, response, res, client, query)

    @routes.post("/search", response_model=SearchResponse, response_model_exclude_unset=True,
                 responses=authenticated(400, 404, body=True, descriptions={
                     400: "the body cannot be parsed (bad_request), or " + _INVALID_CURSOR, 404: _EXAMPLE_NOT_FOUND}),
                 summary="Search by any mix of text, stored example images and counter-examples")
    def search(body: SearchBody, response: Response, client: ClientId, res: ResourcesDep) -> SearchResponse:
        return _answer(response, res, client, body.query())

    @routes.post("/search/batch", response_model=BatchResponse, response_model_exclude_unset=True,
                 responses=authenticated(body=True),
                 summary="Up to 32 searches in one request, answered in order")
    def search_batch(body: BatchBody, request: Request, response: Response, client: ClientId,
                     res: ResourcesDep) -> BatchResponse:
        count_queries(request, len(body.queries))
        queries = [one.query() for one in body.queries]
        timings = Timings()
        with res.pool.connection() as conn:
            pages = res.searcher.search_many(conn, client, queries, timings)
        response.headers["Server-Timing"] = server_timing(timings)
        answers = []
        for page in pages:
            if isinstance(page, Exception):
                status, code = input_problem(page)
                answers.append(BatchAnswer(status=status, error=ErrorOut(code=code, message=str(page))))
            else:
                answers.append(BatchAnswer(status=200, body=SearchResponse.of(client, page)))
        return BatchResponse(responses=answers)

    return routes


def _page_params_dependency(max_k: int):
    def page_params(
        k: Annotated[int, Query(ge=1, le=max_k, description="how many results (products, with group=sku)")] = 10,
        group: Annotated[Literal["sku"] | None, Query(description="sku: one result per product")] = None,
        per_group: Annotated[int, Query(ge=1, le=MAX_PER_GROUP, description="media per product")] = DEFAULT_PER_GROUP,
        min_score: Annotated[float | None, Query(ge=-1, le=1, description="nothing below this cosine")] = None,
        sku: Annotated[list[Sku] | None, Query(max_length=MAX_SKU_FILTER, description="only these SKUs (repeatable)")]
        = None,
        media_type: Annotated[MediaType | None, Query(description="only images or only videos")] = None,
        cursor: Annotated[Cursor | None, Query(description="the previous page's next_cursor")] = None,
    ) -> PageParams:
        return PageParams(k=k, group=group, per_group=per_group, min_score=min_score,
                          skus=None if not sku else tuple(sku), media_type=media_type, cursor=cursor)

    return page_params


def _text(text: str, field: str) -> str:
    try:
        return normalised_query(text)
    except ValueError as error:
        raise ApiError(422, f"{field}: {error}") from None


def _similar_to(body: bytes) -> SimilarTo:
    try:
        return SimilarTo.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None


def _answer(response: Response, res, client: str, query: SearchQuery) -> SearchResponse:
    timings = Timings()
    with res.pool.connection() as conn:
        page = res.searcher.search(conn, client, query, timings)
    response.headers["Server-Timing"] = server_timing(timings)
    return SearchResponse.of(client, page)


def server_timing(timings: Timings) -> str:
    """`embed;dur=1.20, sql;dur=3.40, presign;dur=0.10` (milliseconds, the W3C Server-Timing format)."""
    parts = {"embed": timings.embed_s, "sql": timings.sql_s, "presign": timings.presign_s}
    return ", ".join(f"{name};dur={seconds * 1000:.2f}" for name, seconds in parts.items())

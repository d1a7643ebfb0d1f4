"""Search endpoints: by text (GET /v1/search) and by image or stored media key (POST /v1/search/image).

The client id always comes from the API key (`ClientId`); filters narrow the tenant's own results.
Each response carries a Server-Timing header (embed, sql, presign) so latency can be attributed.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from stockmind.config import Settings
from stockmind.media.types import MediaType
from stockmind.service.auth import ClientId
from stockmind.service.deps import ResourcesDep
from stockmind.service.errors import ApiError
from stockmind.service.routes.models import Result, SearchResponse, SimilarTo
from stockmind.service.routes.uploads import FIELD, read_upload
from stockmind.service.search import MAX_QUERY_CHARS, Filters, SearchResult, Timings, normalised_query

MAX_SKU_CHARS = 255
MAX_FORM_FIELDS = 4

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": [FIELD],
                           "properties": {FIELD: {"type": "string", "format": "binary"}}},
            },
            "application/json": {"schema": SimilarTo.model_json_schema()},
        },
    }
}


def router(settings: Settings) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["search"])
    filters = _filters_dependency(settings.search_max_k)

    @routes.get("/search", response_model=SearchResponse, summary="Search the caller's media by text")
    def search_text(
        response: Response, client: ClientId, res: ResourcesDep, search: Annotated[Filters, Depends(filters)],
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="what to look for")],
    ) -> SearchResponse:
        try:
            text = normalised_query(q)
        except ValueError as error:
            raise ApiError(422, f"q: {error}") from None
        timings = Timings()
        with res.pool.connection() as conn:
            results = res.searcher.by_text(conn, client, text, search, timings)
        return _respond(response, client, res.searcher.model_id, results, timings)

    @routes.post("/search/image", response_model=SearchResponse, openapi_extra=_IMAGE_BODY,
                 summary="Search the caller's media by an uploaded image, or by the key of stored media")
    async def search_image(
        request: Request, response: Response, client: ClientId, res: ResourcesDep,
        search: Annotated[Filters, Depends(filters)],
    ) -> SearchResponse:
        timings = Timings()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            async with request.form(max_files=1, max_fields=MAX_FORM_FIELDS) as form:
                data = await read_upload(form.get(FIELD), settings.max_upload_bytes)
            results = await run_in_threadpool(_with_connection, res, res.searcher.by_image, client, data, search,
                                              timings)
        elif content_type == "application/json":
            key = _similar_to(await request.body()).key
            results = await run_in_threadpool(_with_connection, res, res.searcher.like_media, client, key, search,
                                              timings)
        else:
            raise ApiError(415, "send an image as multipart/form-data (field 'file') or JSON {\"key\": ...}")
        return _respond(response, client, res.searcher.model_id, results, timings)

    return routes


def _filters_dependency(max_k: int):
    def filters(
        k: Annotated[int, Query(ge=1, le=max_k, description="how many results")] = 10,
        sku: Annotated[str | None, Query(min_length=1, max_length=MAX_SKU_CHARS, description="only this SKU")] = None,
        media_type: Annotated[MediaType | None, Query(description="only images or only videos")] = None,
    ) -> Filters:
        return Filters(k=k, sku=sku, media_type=media_type)

    return filters


def _similar_to(body: bytes) -> SimilarTo:
    try:
        return SimilarTo.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None


def _with_connection(res, search, *args):
    with res.pool.connection() as conn:
        return search(conn, *args)


def _respond(response: Response, client: str, model_id: str, results: list[SearchResult],
             timings: Timings) -> SearchResponse:
    response.headers["Server-Timing"] = server_timing(timings)
    return SearchResponse(client_id=client, model_id=model_id, results=[Result.of(r) for r in results])


def server_timing(timings: Timings) -> str:
    """`embed;dur=1.20, sql;dur=3.40, presign;dur=0.10` (milliseconds, the W3C Server-Timing format)."""
    parts = {"embed": timings.embed_s, "sql": timings.sql_s, "presign": timings.presign_s}
    return ", ".join(f"{name};dur={seconds * 1000:.2f}" for name, seconds in parts.items())

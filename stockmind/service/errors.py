"""Every error leaves the service as JSON, `{"error": {"code", "message"}}`, with the right status.

Bad input is the caller's to fix and says what is wrong (400/401/404/413/415/422); a key over its
rate limit gets a 429 with Retry-After (rate_limits.py); a failure of ours is a 503 (a dependency is
down) or a bare 500 whose details go to the log, never to the body.
"""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from stockmind.errors import InvalidMediaKey, MediaTooLarge, UndecodableMedia
from stockmind.service.search import MediaNotFound

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "body_too_large", 415: "unsupported_media_type", 422: "invalid_parameters",
          429: "rate_limited", 503: "unavailable"}


class ApiError(HTTPException):
    """An error with a stable machine-readable `code` beside its message."""

    def __init__(self, status_code: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code or _CODES.get(status_code, "error")


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
               **details: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **details}}, status_code=status,
                        headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(UndecodableMedia, _undecodable)
    app.add_exception_handler(InvalidMediaKey, _bad_key)
    app.add_exception_handler(MediaNotFound, _not_found)
    app.add_exception_handler(MediaTooLarge, _too_large)
    app.add_exception_handler(psycopg.OperationalError, _unavailable)
    app.add_exception_handler(psycopg_pool.PoolTimeout, _unavailable)
    app.add_exception_handler(Exception, _internal)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    code = getattr(error, "code", None) or _CODES.get(error.status_code, "error")
    return json_error(error.status_code, code, str(error.detail), headers=getattr(error, "headers", None))


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    # Only where and what: pydantic's `input` may be the uploaded bytes, which must not be echoed.
    problems = [{"location": [str(part) for part in e.get("loc", ())], "message": e.get("msg", "invalid")}
                for e in error.errors()]
    summary = "; ".join(f"{'.'.join(p['location'])}: {p['message']}" for p in problems) or "invalid request"
    return json_error(422, "invalid_parameters", summary, problems=problems)


async def _undecodable(request: Request, error: UndecodableMedia) -> JSONResponse:
    return json_error(400, error.reason, str(error))


async def _bad_key(request: Request, error: InvalidMediaKey) -> JSONResponse:
    return json_error(422, error.reason, str(error))


async def _not_found(request: Request, error: MediaNotFound) -> JSONResponse:
    return json_error(404, "media_not_found", str(error))


async def _too_large(request: Request, error: MediaTooLarge) -> JSONResponse:
    return json_error(413, error.reason, str(error))


async def _unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, error)
    return json_error(503, "unavailable", "the database is unavailable; retry later")


async def _internal(request: Request, error: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=error)
    return json_error(500, "internal_error", "internal error; the service log has the details")

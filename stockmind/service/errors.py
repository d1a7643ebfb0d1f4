"""Every error leaves the service as JSON, `{"error": {"code", "message"}}`, with the right status.

Bad input is the caller's to fix and says what is wrong (400/401/404/413/415/422); a key over its
rate limit gets a 429 with Retry-After (rate_limits.py); a failure of ours is a 503 (a dependency is
down, or the tenant's model failed to load) or a bare 500 whose details go to the log, never to the body.
"""

from __future__ import annotations

import logging
import math

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from stockmind.errors import InvalidMediaKey, MediaTooLarge, UndecodableMedia
from stockmind.service.combine import EmptyQuery
from stockmind.service.cursors import InvalidCursor
from stockmind.service.query_models import ModelUnavailable
from stockmind.service.search import MediaNotFound

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "body_too_large", 415: "unsupported_media_type", 422: "invalid_parameters",
          429: "rate_limited", 503: "unavailable"}
MODEL_UNAVAILABLE = "model_unavailable"

# The caller's input errors raised below the HTTP layer: (status, code; None: the error's own `reason`).
_INPUT_ERRORS: dict[type[Exception], tuple[int, str | None]] = {
    UndecodableMedia: (400, None),
    InvalidCursor: (400, "invalid_cursor"),
    MediaNotFound: (404, "media_not_found"),
    MediaTooLarge: (413, None),
    InvalidMediaKey: (422, None),
    EmptyQuery: (422, "empty_query"),
}


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
    for error_type in _INPUT_ERRORS:
        app.add_exception_handler(error_type, _input_error)
    app.add_exception_handler(ModelUnavailable, _model_unavailable)
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


def input_problem(error: Exception) -> tuple[int, str]:
    """The status and code of one of the caller's input errors (a batch answers each query with its own)."""
    for error_type, (status, code) in _INPUT_ERRORS.items():
        if isinstance(error, error_type):
            return status, code or error.reason
    raise TypeError(f"not an input error: {error!r}")


async def _input_error(request: Request, error: Exception) -> JSONResponse:
    status, code = input_problem(error)
    return json_error(status, code, str(error))


async def _unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, error)
    return json_error(503, "unavailable", "the database is unavailable; retry later")


async def _model_unavailable(request: Request, error: ModelUnavailable) -> JSONResponse:
    # The refresher tries the model again each interval: no sooner is worth asking.
    retry_s = math.ceil(request.app.state.settings.models_refresh_s)
    return json_error(503, MODEL_UNAVAILABLE, str(error), headers={"Retry-After": str(retry_s)},
                      model_id=error.model_id)


async def _internal(request: Request, error: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=error)
    return json_error(500, "internal_error", "internal error; the service log has the details")

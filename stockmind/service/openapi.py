"""What /openapi.json says about errors and text: the error body, each status an operation can answer,
and the rules (a non-blank text) that validation enforces, written so a generated client is never surprised.

Routes call `authenticated(...)` for their `responses=`: it adds the statuses every authenticated
operation shares (and 413 where there is a body) to the operation's own, so those live here only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

# Python's str.split() (and so `normalised_query`) treats exactly these as whitespace; ECMA's `\s` is not
# the same set (it has U+FEFF and lacks U+001C-U+001F and U+0085), so the class is spelled out.
# tests/unit/test_service_openapi.py checks it against str.isspace() over every code point.
PYTHON_WHITESPACE = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# JSON Schema patterns are not anchored: a text matches when it has one character that is not whitespace.
NON_BLANK_PATTERN = f"[^{PYTHON_WHITESPACE}]"


class Problem(BaseModel):
    location: list[str] = Field(description="where, e.g. ['body', 'texts', '0'] or ['query', 'k']")
    message: str


class Error(BaseModel):
    model_config = ConfigDict(extra="allow")  # `json_error(**details)` may add fields

    code: str = Field(description="stable and machine-readable: unauthorized, invalid_parameters, "
                                  "invalid_media_key, undecodable_media, decompression_bomb, media_not_found, "
                                  "body_too_large, media_too_large, unsupported_media_type, rate_limited, "
                                  "unavailable, model_unavailable (with `model_id`), internal_error, ...")
    message: str = Field(description="for people; it may change")
    problems: list[Problem] | SkipJsonSchema[None] = Field(
        default=None, description="with invalid_parameters from request validation: each invalid field")


class ErrorBody(BaseModel):
    """Every error the service answers: `{"error": {"code", "message", ...}}` (errors.py `json_error`)."""

    error: Error


def _header(description: str, kind: str = "integer", required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": kind}}


_RATE_HEADERS = {
    "Retry-After": _header("seconds until a request may succeed", required=True),
    "RateLimit-Limit": _header("requests allowed in the window", required=True),
    "RateLimit-Remaining": _header("requests left in the window", required=True),
    "RateLimit-Reset": _header("seconds until the window resets", required=True),
}

_STATUSES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("the request body cannot be parsed (bad_request)", {}),
    401: ("the API key is missing, unknown, malformed or revoked (unauthorized)",
          {"WWW-Authenticate": _header('Bearer realm="stockmind"', kind="string", required=True)}),
    404: ("no media of the caller's has this key (media_not_found); another tenant's key reads the same", {}),
    413: ("the request body, the upload or the stored media is over the size limit (body_too_large, "
          "media_too_large)", {}),
    415: ("the body's Content-Type is not one the operation takes (unsupported_media_type)", {}),
    422: ("invalid parameters or body (invalid_parameters, with `problems`) or an invalid media key "
          "(invalid_media_key)", {}),
    429: ("over the API key's rate limit (rate_limited); retry after Retry-After seconds", _RATE_HEADERS),
    500: ("internal error (internal_error); the details are in the service log, never in the body", {}),
    503: ("the service is starting or a dependency is down (unavailable), or the caller's search model failed "
          "to load (model_unavailable, naming it in `model_id`); retry later",
          {"Retry-After": _header("seconds to wait, when known")}),
}

# Every operation behind an API key can answer these, whatever it does.
AUTHENTICATED_STATUSES = (401, 422, 429, 500, 503)
# Any request body may fail to parse and is held to the service's size limit (limits.BodyLimit).
BODY_STATUSES = (400, 413)
UNDECODABLE_UPLOAD = {400: "the body cannot be parsed (bad_request), or the upload is not a decodable image "
                           "(undecodable_media: empty, truncated or not an image) or has too many pixels "
                           "(decompression_bomb)"}


def error_responses(*statuses: int, descriptions: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for these error statuses, each with the error body; `descriptions` overrides
    the general description of a status with what it means for one operation."""
    descriptions = descriptions or {}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        if status not in _STATUSES:
            raise ValueError(f"no description of status {status}: add it to openapi._STATUSES")
        description, headers = _STATUSES[status]
        response: dict[str, Any] = {"model": ErrorBody, "description": descriptions.get(status, description)}
        if headers:
            response["headers"] = headers
        responses[status] = response
    return responses


def authenticated(*statuses: int, body: bool = False,
                  descriptions: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` of an operation behind an API key: its own error `statuses`, those every such operation
    shares and, when it takes a request `body`, 413."""
    shared = AUTHENTICATED_STATUSES + (BODY_STATUSES if body else ())
    return error_responses(*shared, *statuses, descriptions=descriptions)


def image_upload(field: str) -> dict[str, Any]:
    """`openapi_extra=` of an operation taking one image as multipart `field`: any image format (the service
    decodes by content; what it cannot decode is a 400), so clients and test generators send images."""
    return {"requestBody": {"content": {"multipart/form-data": {"encoding": {field: {"contentType": "image/*"}}}}}}

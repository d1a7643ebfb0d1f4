"""Who is calling: the API key (`Authorization: Bearer …` or `X-API-Key: …`) names the client.

The client id comes from the key alone; no request parameter can choose it. Missing, unknown,
malformed and revoked keys all get the same 401, so a caller learns nothing about other keys.
Each authenticated request then counts against its key's rate limit (rate_limits.py): over it, a 429.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from stockmind.service import api_keys
from stockmind.service.deps import resources
from stockmind.service.errors import ApiError
from stockmind.service.rate_limits import count_request
from stockmind.service.resources import Resources

# auto_error=False: both schemes are optional one by one; `client_id` decides, with our JSON 401.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="stockmind"'}


def client_id(
    request: Request,
    res: Annotated[Resources, Depends(resources)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_header)],
) -> str:
    token = bearer.credentials if bearer else header_key
    if not token:
        raise ApiError(401, "an API key is required (Authorization: Bearer <key> or X-API-Key)", headers=_CHALLENGE)
    with res.pool.connection() as conn:
        key = api_keys.authenticate_key(conn, token.strip())
    if key is None:
        raise ApiError(401, "the API key is unknown or revoked", headers=_CHALLENGE)
    count_request(request, key)
    request.state.client_id = key.client_id
    return key.client_id


ClientId = Annotated[str, Depends(client_id)]

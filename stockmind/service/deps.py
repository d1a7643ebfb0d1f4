"""FastAPI dependencies shared by the routes: the loaded resources, or a 503 while they load."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stockmind.service.errors import ApiError
from stockmind.service.resources import NotReady, Resources


def resources(request: Request) -> Resources:
    try:
        return request.app.state.resources.get()
    except NotReady as error:
        raise ApiError(503, str(error), headers={"Retry-After": "5"}) from None


ResourcesDep = Annotated[Resources, Depends(resources)]

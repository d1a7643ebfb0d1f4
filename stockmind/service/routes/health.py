"""Liveness (/healthz: the process answers) and readiness (/readyz: model loaded, database usable)."""

from __future__ import annotations

from typing import Literal

import psycopg
import psycopg_pool
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from stockmind.service.openapi import Error, error_responses
from stockmind.service.resources import NotReady

router = APIRouter(tags=["health"])


class Alive(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    model_id: str
    dim: int


class NotReadyBody(BaseModel):
    status: Literal["not_ready"]
    error: Error


@router.get("/healthz", summary="The process is alive", response_model=Alive, responses=error_responses(500))
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="The model is loaded and the database is reachable and migrated",
            responses={200: {"model": Ready},
                       503: {"model": NotReadyBody, "description": "not ready; the body says why"},
                       **error_responses(500)})
def readyz(request: Request) -> JSONResponse:
    try:
        resources = request.app.state.resources.get()
    except NotReady as error:
        return _not_ready(str(error))
    try:
        migrated = resources.database_ready()
    except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
        return _not_ready(f"database unreachable: {type(error).__name__}")
    if not migrated:
        return _not_ready("database is not migrated: run `stockmind db migrate`")
    return JSONResponse({"status": "ready", "model_id": resources.searcher.model_id,
                         "dim": resources.searcher.embedder.dim})


def _not_ready(reason: str) -> JSONResponse:
    return JSONResponse({"status": "not_ready", "error": {"code": "not_ready", "message": reason}}, status_code=503)

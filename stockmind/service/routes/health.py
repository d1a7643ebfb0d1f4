"""Liveness (/healthz: the process answers) and readiness (/readyz: the default model loaded, the
database usable), with every model loaded and every one that failed to load."""

from __future__ import annotations

from typing import Literal

import psycopg
import psycopg_pool
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stockmind.service.openapi import Error, error_responses
from stockmind.service.resources import NotReady

router = APIRouter(tags=["health"])


class Alive(BaseModel):
    status: Literal["ok"]


class LoadedModel(BaseModel):
    model_id: str
    dim: int
    device: str = Field(description="where it runs: cpu, cuda, cuda:1, ...")


class FailedModel(BaseModel):
    model_id: str
    error: str = Field(description="why it failed to load, in one line; its tenants' queries are 503s meanwhile")


class Ready(BaseModel):
    status: Literal["ready"]
    model_id: str = Field(description="the default model (STOCKMIND_MODEL), for tenants with no vectors yet")
    dim: int = Field(description="the default model's dimension")
    models: list[LoadedModel] = Field(description="every model loaded, the default first: those the tenants hold")
    failed_models: list[FailedModel] = Field(description="models a tenant holds that could not be loaded")


class NotReadyBody(BaseModel):
    status: Literal["not_ready"]
    error: Error


@router.get("/healthz", summary="The process is alive", response_model=Alive, responses=error_responses(500))
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="The models are loaded and the database is reachable and migrated",
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
    # Ready even with failed models: the replica still serves every other tenant (its load balancer
    # must keep sending it traffic); the list tells operators which tenants are refused.
    models = resources.searcher.models
    return JSONResponse({
        "status": "ready", "model_id": models.default.model_id, "dim": models.default.dim,
        "models": [{"model_id": m.model_id, "dim": m.dim, "device": m.device} for m in models.loaded()],
        "failed_models": [{"model_id": m, "error": error} for m, error in sorted(models.failures().items())],
    })


def _not_ready(reason: str) -> JSONResponse:
    return JSONResponse({"status": "not_ready", "error": {"code": "not_ready", "message": reason}}, status_code=503)

"""The uvicorn entry point: `uvicorn stockmind.service.main:app --factory` (settings from the environment)."""

from fastapi import FastAPI

from stockmind.config import Settings
from stockmind.service.app import create_app


def app() -> FastAPI:
    return create_app(Settings.from_env(require=["DATABASE_URL"]))

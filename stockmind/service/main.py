"""The uvicorn entry point: `uvicorn stockmind.service.main:app --factory` (settings from the environment)."""

from fastapi import FastAPI

from stockmind.config import Settings
from stockmind.logs import SERVICE_LOGGERS, Destination, configure_logging
from stockmind.service.app import create_app
from stockmind.service.resources import use_one_torch_thread_per_request


def app() -> FastAPI:
    configure_logging("search", Destination.APPLICATION, also=SERVICE_LOGGERS)  # in each uvicorn worker
    use_one_torch_thread_per_request()
    return create_app(Settings.from_env(require=["DATABASE_URL"]))

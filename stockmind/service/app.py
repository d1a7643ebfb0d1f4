"""The search service's FastAPI app, built from Settings (and, in tests, already-open resources).

The same factory serves `stockmind serve` (uvicorn) and the Ray Serve deployment (serve.py).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from stockmind.config import Settings
from stockmind.logs import flush_logs
from stockmind.service.errors import install_error_handlers
from stockmind.service.limits import BodyLimit
from stockmind.service.rate_limits import install_rate_limits
from stockmind.service.resources import Resources, ResourceSlot
from stockmind.service.routes import duplicates, embed, health, page, search

# Room for the multipart envelope (boundaries, part headers, other fields) around a file at the limit.
ENVELOPE_BYTES = 64 * 1024


def create_app(settings: Settings, resources: Resources | None = None) -> FastAPI:
    """Without `resources`, the app opens its own at start-up, in the background (see resources.py);
    resources passed in stay the caller's to close."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if resources is None:
            app.state.resources.load_in_background(settings)
        yield
        if resources is None:
            app.state.resources.close()
        # uvicorn re-raises SIGTERM once it has stopped, so the process ends before logging.shutdown.
        flush_logs()

    app = FastAPI(
        title="Stock Mind search",
        summary="Text and image search over a client's product photos and videos",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.resources = ResourceSlot(resources)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + ENVELOPE_BYTES)
    install_rate_limits(app, settings)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(search.router(settings))
    app.include_router(embed.router(settings))
    app.include_router(duplicates.router(settings))
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    return app

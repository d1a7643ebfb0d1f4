"""What the service holds while it runs: a connection pool, a `Searcher` with every model the
tenants hold loaded, and the refresher that keeps those in step (model_refresher.py).

`open` loads the models (seconds each for the production CLIP), so the app opens its resources in a
background thread at start-up: /healthz answers at once, /readyz says 503 until the default model
and the database are there, and search endpoints answer 503 meanwhile rather than hang.
"""

from __future__ import annotations

import logging
import threading

from psycopg_pool import ConnectionPool

from stockmind.config import Settings
from stockmind.errors import SchemaNotReady, StockmindError
from stockmind.service.model_refresher import ModelRefresher
from stockmind.service.search import Searcher
from stockmind.store import connection_pool, is_migrated
from stockmind.store.migrations import pending_migrations

log = logging.getLogger(__name__)

POOL_MAX_SIZE = 8
POOL_TIMEOUT_S = 10.0


def use_one_torch_thread_per_request() -> None:
    """One intra-op thread per forward pass: requests run in parallel on the threadpool, and a
    one-query forward pass split over threads that compete with each other (and, on a busy node,
    with every other process) is far slower (measured: 12.6 ms with one thread vs 272 ms with two
    for a text query on a loaded 2-core machine). Call it once per serving process, before loading."""
    import torch

    torch.set_num_threads(1)


class Resources:
    def __init__(self, pool: ConnectionPool, searcher: Searcher, refresh_s: float):
        self.pool = pool
        self.searcher = searcher
        self._refresher = ModelRefresher(pool, searcher.models, refresh_s)

    @classmethod
    def open(cls, settings: Settings, searcher: Searcher | None = None) -> Resources:
        settings.require("DATABASE_URL")
        # A database without the vector extension fails every pooled connection's set-up: say why once.
        pending = pending_migrations(settings.database_url)
        if pending:
            raise SchemaNotReady(f"the database lacks migrations {pending}: run `stockmind db migrate`")
        pool = connection_pool(settings.database_url, name="stockmind-search", max_size=POOL_MAX_SIZE,
                               timeout_s=POOL_TIMEOUT_S)
        try:
            resources = cls(pool, searcher or Searcher.from_settings(settings), settings.models_refresh_s)
            # Every held model before the first query, so that none waits for a load (one that fails
            # costs its own tenants only); then the refresher follows new reindexes and retirements.
            resources.refresh_models()
        except BaseException:
            pool.close()
            raise
        resources._refresher.start()
        return resources

    def refresh_models(self) -> None:
        """Load the models tenants newly hold and unload the rest now, as the refresher does each interval."""
        self._refresher.refresh()

    def close(self) -> None:
        self._refresher.stop()
        self.pool.close()

    def database_ready(self) -> bool:
        """The database answers and holds every migration of the store's schema (API keys included)."""
        with self.pool.connection(timeout=2.0) as conn:
            return is_migrated(conn)


class ResourceSlot:
    """Resources that may still be loading; `get` raises `NotReady` until they are."""

    def __init__(self, resources: Resources | None = None):
        self._resources = resources
        self._error: BaseException | None = None
        self._loaded = threading.Event()
        if resources is not None:
            self._loaded.set()

    def load_in_background(self, settings: Settings) -> threading.Thread:
        thread = threading.Thread(target=self._load, args=(settings,), name="stockmind-load", daemon=True)
        thread.start()
        return thread

    def _load(self, settings: Settings) -> None:
        try:
            self._resources = Resources.open(settings)
            models = ", ".join(model.model_id for model in self._resources.searcher.models.loaded())
            log.info("search service ready (models %s)", models)
        except StockmindError as error:  # a known cause, named in one line; /readyz reports it too
            log.error("search service failed to load its resources: %s", error)
            self._error = error
        except Exception as error:  # kept and reported by /readyz; the process stays up to say why
            log.exception("search service failed to load its resources")
            self._error = error
        finally:
            self._loaded.set()

    def get(self) -> Resources:
        if self._resources is None:
            raise NotReady(f"failed to start: {self._error}" if self._error else "starting: the models are loading")
        return self._resources

    def wait(self, timeout_s: float) -> bool:
        return self._loaded.wait(timeout_s)

    def close(self) -> None:
        if self._resources is not None:
            self._resources.close()


class NotReady(Exception):
    """The service is starting (or failed to start); the message says which."""

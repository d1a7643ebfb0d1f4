"""Keeps the service's models in step with what tenants hold: a daemon thread that, every
STOCKMIND_MODELS_REFRESH_S, loads the models tenants newly hold (a reindex started, so an
activation may follow) and unloads those no tenant holds any more (retired).

Loading happens here, beside the requests, so that a switch finds its model loaded; a query whose
tenant switched before the next refresh loads it itself (query_models.py).
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import psycopg_pool
from psycopg_pool import ConnectionPool

from stockmind.service.query_models import QueryModels
from stockmind.store import held_models

log = logging.getLogger(__name__)


class ModelRefresher:
    def __init__(self, pool: ConnectionPool, models: QueryModels, interval_s: float):
        self._pool = pool
        self._models = models
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stockmind-models", daemon=True)

    def refresh(self) -> None:
        """Load what tenants hold (active models first: they answer queries now), unload the rest."""
        started = time.monotonic()
        with self._pool.connection() as conn:
            held = held_models(conn)
        actives = [models[0] for models in held.values()]
        others = [model for models in held.values() for model in models[1:]]
        wanted = list(dict.fromkeys(actives + others))
        self._models.ensure(wanted)
        self._models.keep_only(wanted, loaded_before=started)

    def start(self) -> ModelRefresher:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.refresh()
            except (psycopg.Error, psycopg_pool.PoolTimeout) as error:  # next time, or /readyz says why
                log.warning("could not read the tenants' models: %s", error)
            except Exception:  # the thread must outlive any one refresh, or models stop following tenants
                log.exception("refreshing the models failed")

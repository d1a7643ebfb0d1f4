"""The embedder pools of the held models other than the stream's own: each started in the background
when some tenant first holds its model, closed once none does.

Loading a model takes seconds (minutes from a hub), so a pool is built in a thread of its own and the
stream's loop asks `state` instead of waiting: objects that arrive meanwhile are written without that
model, which the reindex's catch-up pass embeds afterwards. A pool that failed to load is tried again
after `retry_s`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum

from stockmind.stream.embedders import EmbedderPool

log = logging.getLogger(__name__)

POOL_RETRY_S = 60.0


class PoolState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class ModelPools:
    """`make_pool(model)` builds a pool (blocking); `on_change(model)` is called, from any thread, when
    a model's pool becomes ready, fails to load, or is dropped."""

    def __init__(self, make_pool: Callable[[str], EmbedderPool], on_change: Callable[[str], None] = lambda _: None,
                 *, retry_s: float = POOL_RETRY_S, clock: Callable[[], float] = time.monotonic):
        self._make_pool, self._on_change, self._retry_s, self._clock = make_pool, on_change, retry_s, clock
        self._lock = threading.Lock()
        self._wanted: set[str] = set()
        self._ready: dict[str, EmbedderPool] = {}
        self._loading: set[str] = set()
        self._failed_at: dict[str, float] = {}
        self._closed = False
        self._starter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stockmind-model-load")

    def want(self, models: Iterable[str]) -> None:
        """Pools for exactly these models: start the missing ones (and failed ones due for another
        try), drop the others once their calls in flight have returned."""
        with self._lock:
            if self._closed:
                return
            self._wanted = set(models)
            dropped = [self._ready.pop(m) for m in list(self._ready) if m not in self._wanted]
            for model in list(self._failed_at):
                if model not in self._wanted:
                    del self._failed_at[model]
            now = self._clock()
            due = [m for m in self._wanted if m not in self._ready and m not in self._loading
                   and now - self._failed_at.get(m, -self._retry_s) >= self._retry_s]
            self._loading.update(due)
        for pool in dropped:
            log.info("closing the embedder pool of %s: no tenant holds it any more", pool.model_id)
            pool.close_when_idle()
            self._on_change(pool.model_id)
        for model in due:
            self._starter.submit(self._start, model)

    def state(self, model: str) -> PoolState | None:
        with self._lock:
            if model in self._ready:
                return PoolState.READY
            if model in self._loading:
                return PoolState.LOADING
            return PoolState.FAILED if model in self._failed_at else None

    def get(self, model: str) -> EmbedderPool | None:
        with self._lock:
            return self._ready.get(model)

    def states(self) -> dict[str, str]:
        return {model: str(self.state(model)) for model in sorted(self._wanted)}

    def close(self) -> None:
        """Close every pool now; one still loading is closed by its thread when it is built."""
        with self._lock:
            self._closed = True
            pools, self._ready = list(self._ready.values()), {}
        self._starter.shutdown(wait=False, cancel_futures=True)
        for pool in pools:
            pool.close()

    def _start(self, model: str) -> None:
        log.info("loading an embedder pool of %s: a tenant holds it", model)
        try:
            pool = self._make_pool(model)
        except Exception as error:  # noqa: BLE001 - a model that fails to load is retried later
            log.error("the embedder pool of %s failed to load (%s: %s); objects are written without it,"
                      " next try in %.0fs", model, type(error).__name__, str(error).strip()[:300], self._retry_s)
            with self._lock:
                self._loading.discard(model)
                self._failed_at[model] = self._clock()
            self._on_change(model)
            return
        with self._lock:
            self._loading.discard(model)
            keep = not self._closed and model in self._wanted
            if keep:
                self._ready[model] = pool
                self._failed_at.pop(model, None)
        if not keep:
            pool.close()
        self._on_change(model)


class ModelUnavailable(RuntimeError):
    """Transient: an object cannot be embedded with the model that answers its tenant's searches (its
    pool failed to load, or the tenant switched models while the object was embedded). Written
    without it, the object could not be found, so its message is retried instead."""

"""Which models each upload must be embedded with: the store's map of the models every tenant holds,
re-read in a background thread every `refresh_s`.

A tenant holds its active model and any model being re-embedded beside it (`stockmind reindex`);
embedding each upload with all of them keeps the new model complete until the switch. A tenant the
store has no vectors of yet starts on the stream's own model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from stockmind.store import connect, held_models

log = logging.getLogger(__name__)

HeldMap = dict[str, list[str]]


class HeldModels:
    """`read` returns {client_id: models, the active one first}; `on_refresh` is called (in the
    refresh thread) after each successful read, changed or not, so that whatever follows the map
    (a pool that failed to load and is due another try) is looked at again."""

    def __init__(self, read: Callable[[], HeldMap], default_model: str, refresh_s: float,
                 on_refresh: Callable[[], None] = lambda: None):
        self._read, self._default, self._refresh_s, self._on_refresh = read, default_model, refresh_s, on_refresh
        self._held: HeldMap | None = None
        self._read_once = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stockmind-held-models", daemon=True)

    @classmethod
    def from_store(cls, database_url: str, default_model: str, refresh_s: float,
                   on_refresh: Callable[[], None] = lambda: None) -> HeldModels:
        return cls(_StoreReader(database_url), default_model, refresh_s, on_refresh)

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout_s: float) -> bool:
        """Whether the map has been read once (before that, nothing can be told apart from a new tenant)."""
        return self._read_once.wait(timeout_s)

    def needed(self, client_id: str) -> list[str]:
        """The models an upload of `client_id` must be embedded with, its active one first."""
        return (self._held or {}).get(client_id) or [self._default]

    def models(self) -> set[str]:
        """Every model some tenant holds, and the default one (a new tenant's)."""
        return {self._default}.union(*(self._held or {}).values())

    def tenants(self) -> dict[str, int]:
        """{model: how many tenants hold it}."""
        counts: dict[str, int] = {}
        for models in (self._held or {}).values():
            for model in models:
                counts[model] = counts.get(model, 0) + 1
        return counts

    def stop(self) -> None:
        self._stopping.set()

    def refresh(self) -> None:
        try:
            held = self._read()
        except Exception as error:  # noqa: BLE001 - the store being unreachable is transient; keep the last map
            log.warning("could not read the models tenants hold (%s: %s); keeping the last map",
                        type(error).__name__, str(error).strip()[:200])
            return
        changed, self._held = held != self._held, held
        self._read_once.set()
        if changed:
            log.info("models held: %s", {model: count for model, count in sorted(self.tenants().items())})
        self._on_refresh()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self.refresh()
                self._stopping.wait(self._refresh_s)
        finally:
            getattr(self._read, "close", lambda: None)()


class _StoreReader:
    """`held_models` on one connection, reopened after a failure (the server may have restarted)."""

    def __init__(self, database_url: str):
        self._database_url = database_url
        self._conn = None

    def __call__(self) -> HeldMap:
        try:
            if self._conn is None:
                self._conn = connect(self._database_url)
            return held_models(self._conn)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

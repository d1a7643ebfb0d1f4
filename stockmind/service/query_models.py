"""The models the service answers with: one `QueryModel` per model some tenant holds, plus the
default (STOCKMIND_MODEL, for tenants with no vectors yet), each loaded once and shared.

A tenant's active model may change at any moment (`stockmind.store.activate_model`), so every held
model is kept loaded (model_refresher.py) and a switch costs nothing. One activated between two
refreshes is loaded by its tenant's first query, under that model's own lock: its tenants wait for
one load, other tenants not at all. A model that fails to load is remembered with its error, so its
tenants are refused at once (503) rather than each query paying for a failing load; the refresher
tries it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stockmind.config import Settings
from stockmind.errors import StockmindError

log = logging.getLogger(__name__)


class ModelUnavailable(StockmindError):
    """The tenant's model is not loaded and could not be; its queries are refused until it is."""

    def __init__(self, model_id: str):
        super().__init__(f"this client's search model {model_id!r} is unavailable (it failed to load;"
                         " the service log says why); retry later")
        self.model_id = model_id


@dataclass(frozen=True)
class QueryModel:
    """One model as queries use it: the embedder and its image preprocessing."""

    embedder: Any  # ClipEmbedder, or anything with its model_id, dim, device, embed_texts, embed_images
    preprocessor: Any  # ImagePreprocessor

    @classmethod
    def load(cls, model_id: str, settings: Settings, embedder=None) -> QueryModel:
        """Load `model_id` (or wrap `embedder`): on the GPU of a Serve replica that has one, else on the CPU."""
        from stockmind.decode.image import ImagePreprocessor
        from stockmind.embed.embedder import ClipEmbedder

        embedder = embedder or ClipEmbedder(model_id)
        preprocessor = ImagePreprocessor.from_pretrained(model_id, max_pixels=settings.max_image_pixels,
                                                         device=embedder.device)
        return cls(embedder, preprocessor)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def device(self) -> str:
        return str(self.embedder.device)

    def embed_image(self, data: bytes) -> np.ndarray:
        """Raises `UndecodableMedia` / `DecompressionBomb` for bytes that are not an acceptable image."""
        return self.embedder.embed_images(self.preprocessor.preprocess_batch([data]))[0]


class QueryModels:
    def __init__(self, load: Callable[[str], QueryModel], default: QueryModel):
        self.default = default
        self._load = load
        self._models: dict[str, QueryModel] = {default.model_id: default}
        self._loaded_at: dict[str, float] = {default.model_id: time.monotonic()}
        self._failures: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the dicts; loads run under each model's own lock

    def get(self, model_id: str) -> QueryModel:
        """The loaded model, loading it now if need be; `ModelUnavailable` if that failed (now or before)."""
        model = self._models.get(model_id)
        if model is not None:
            return model
        with self._lock_of(model_id):
            model = self._models.get(model_id)
            if model is not None:  # loaded by whoever held the lock before us
                return model
            if model_id in self._failures:
                raise ModelUnavailable(model_id)
            return self._load_now(model_id)

    def ensure(self, model_ids: Iterable[str]) -> None:
        """Load each of `model_ids` not loaded yet, in order, and try again those that failed before."""
        for model_id in model_ids:
            if model_id in self._models:
                continue
            with self._lock_of(model_id):
                if model_id not in self._models:
                    try:
                        self._load_now(model_id)
                    except ModelUnavailable:
                        pass  # logged; its tenants get 503s until a later refresh loads it

    def keep_only(self, model_ids: Iterable[str], loaded_before: float) -> None:
        """Unload the models not in `model_ids` (never the default), and forget their failures; one
        loaded since `loaded_before` (on demand, after the caller read `model_ids`) is kept."""
        wanted = set(model_ids) | {self.default.model_id}
        with self._lock:
            for model_id in [m for m in self._models if m not in wanted and self._loaded_at[m] < loaded_before]:
                # A query still using it keeps its reference; the memory goes when that query ends.
                del self._models[model_id], self._loaded_at[model_id]
                log.info("unloaded model %s: no tenant holds it any more", model_id)
            for model_id in [m for m in self._failures if m not in wanted]:
                del self._failures[model_id]

    def loaded(self) -> list[QueryModel]:
        """The loaded models, the default first."""
        models = dict(self._models)
        return [self.default] + [models[m] for m in sorted(models) if m != self.default.model_id]

    def failures(self) -> dict[str, str]:
        """{model: its load error, in one line} of the models that failed to load."""
        return dict(self._failures)

    def _lock_of(self, model_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(model_id, threading.Lock())

    def _load_now(self, model_id: str) -> QueryModel:
        started = time.perf_counter()
        try:
            model = self._load(model_id)
        except Exception as error:  # a model id is data from the database: whatever it does costs only its tenants
            problem = " ".join(f"{type(error).__name__}: {error}".split())
            if self._failures.get(model_id) != problem:  # the refresher retries: say each new problem once
                log.error("cannot load model %s: %s", model_id, problem)
            with self._lock:
                self._failures[model_id] = problem
            raise ModelUnavailable(model_id) from error
        with self._lock:
            self._models[model_id] = model
            self._loaded_at[model_id] = time.monotonic()
            self._failures.pop(model_id, None)
        log.info("loaded model %s (dim %d, %s) in %.1f s", model_id, model.dim, model.device,
                 time.perf_counter() - started)
        return model

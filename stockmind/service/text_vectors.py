"""Recent query texts and their vectors: text embedding is the cost of a text query, people repeat
queries (and pages re-query), and a batch embeds all the texts it lacks in one forward pass.

Entries are keyed by (model, text): tenants on different models share the cache and its one bound,
and a vector is never handed to a query of another model (its dimension may not even match).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

TEXT_CACHE_SIZE = 4096  # one 512-d vector is 2 KB


class TextEmbedder(Protocol):
    model_id: str

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...


class TextVectors:
    def __init__(self, size: int = TEXT_CACHE_SIZE):
        self._size = size
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # requests run on a thread pool

    def get(self, embedder: TextEmbedder, text: str) -> np.ndarray:
        return self.get_many(embedder, [text])[0]

    def get_many(self, embedder: TextEmbedder, texts: Sequence[str]) -> list[np.ndarray]:
        """`embedder`'s vectors of `texts` (already normalised), in order; the ones not cached are
        embedded together, outside the lock, so a slow forward pass holds up no other request."""
        model_id = embedder.model_id
        with self._lock:
            found = {text: self._vectors[model_id, text] for text in texts if (model_id, text) in self._vectors}
            for text in found:
                self._vectors.move_to_end((model_id, text))
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            for text, vector in zip(missing, embedder.embed_texts(missing), strict=True):
                vector.setflags(write=False)  # shared by every later hit of the cache
                found[text] = vector
            with self._lock:
                for text in missing:
                    self._vectors[model_id, text] = found[text]
                    self._vectors.move_to_end((model_id, text))
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return [found[text] for text in texts]

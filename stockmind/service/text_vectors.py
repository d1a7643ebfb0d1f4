"""Recent query texts and their vectors: text embedding is the cost of a text query, people repeat
queries (and pages re-query), and a batch embeds all the texts it lacks in one forward pass."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

TEXT_CACHE_SIZE = 4096  # one 512-d vector is 2 KB


class TextVectors:
    def __init__(self, embed_texts: Callable[[list[str]], np.ndarray], size: int = TEXT_CACHE_SIZE):
        self._embed_texts = embed_texts
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # requests run on a thread pool

    def get(self, text: str) -> np.ndarray:
        return self.get_many([text])[0]

    def get_many(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The vectors of `texts` (already normalised), in order; the ones not cached are embedded
        together, outside the lock, so a slow forward pass holds up no other request."""
        with self._lock:
            found = {text: self._vectors[text] for text in texts if text in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            for text, vector in zip(missing, self._embed_texts(missing), strict=True):
                vector.setflags(write=False)  # shared by every later hit of the cache
                found[text] = vector
            with self._lock:
                for text in missing:
                    self._vectors[text] = found[text]
                    self._vectors.move_to_end(text)
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return [found[text] for text in texts]

"""Pixel rows of many media objects → embedder batches of a bounded size, sent no later than a max wait.

An image gives one row and a video one row per sampled frame, so a batch mixes objects and a long
video spans several batches. Each batch carries `BatchSlice`s that say which rows belong to which
object, so the vectors can be put back together (`VectorAssembly`).

Image files bound for embedders that decode them (`stockmind.decode.placement`) wait in an
`EncodedBatcher`: one file is one row, and the same rule sends its batches.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BatchSlice:
    """Rows `start:stop` of `owner`'s pixels sit at rows `offset:offset + (stop - start)` of the batch."""

    owner: Hashable
    start: int
    stop: int
    offset: int


@dataclass
class EmbedBatch:
    pixels: np.ndarray
    slices: list[BatchSlice]

    @property
    def rows(self) -> int:
        return len(self.pixels)


@dataclass
class EncodedBatch:
    owners: list[Hashable]
    blobs: list[bytes]

    @property
    def rows(self) -> int:
        return len(self.blobs)


@dataclass
class _Pending:
    owner: Hashable
    pixels: np.ndarray
    added_at: float
    next_row: int = 0


class EmbedBatcher:
    """Collects rows; `take` hands out full batches, and the partial one once its oldest row has
    waited `max_wait_s` (or when forced)."""

    def __init__(self, batch_size: int, max_wait_s: float, clock: Callable[[], float] = time.monotonic):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._queue: deque[_Pending] = deque()
        self._rows = 0

    @property
    def pending_rows(self) -> int:
        return self._rows

    def add(self, owner: Hashable, pixels: np.ndarray) -> None:
        if pixels.ndim != 4 or len(pixels) == 0:
            raise ValueError(f"expected (N, 3, S, S) pixels with N >= 1, got shape {pixels.shape}")
        self._queue.append(_Pending(owner, pixels, self._clock()))
        self._rows += len(pixels)

    def deadline(self) -> float | None:
        """When the partial batch is due (clock time), or None when nothing waits."""
        return self._queue[0].added_at + self.max_wait_s if self._queue else None

    def take(self, force: bool = False) -> EmbedBatch | None:
        """The next batch: a full one, else the partial one if it is due or `force`; else None."""
        if self._rows >= self.batch_size or (self._rows and (force or self._clock() >= self.deadline())):
            return self._cut(min(self._rows, self.batch_size))
        return None

    def _cut(self, size: int) -> EmbedBatch:
        parts, slices, offset = [], [], 0
        while offset < size:
            head = self._queue[0]
            take = min(size - offset, len(head.pixels) - head.next_row)
            parts.append(head.pixels[head.next_row:head.next_row + take])
            slices.append(BatchSlice(head.owner, head.next_row, head.next_row + take, offset))
            head.next_row += take
            offset += take
            if head.next_row == len(head.pixels):
                self._queue.popleft()
        self._rows -= size
        return EmbedBatch(np.concatenate(parts) if len(parts) > 1 else parts[0], slices)


class EncodedBatcher(EmbedBatcher):
    """Image files → `EncodedBatch`es, one row per file, sent by `EmbedBatcher`'s rule."""

    def add(self, owner: Hashable, data: bytes) -> None:
        self._queue.append(_Pending(owner, [data], self._clock()))
        self._rows += 1

    def _cut(self, size: int) -> EncodedBatch:
        taken = [self._queue.popleft() for _ in range(size)]
        self._rows -= size
        return EncodedBatch([item.owner for item in taken], [item.pixels[0] for item in taken])


@dataclass
class VectorAssembly:
    """The vectors of one object, filled slice by slice as its batches come back."""

    rows: int
    vectors: np.ndarray | None = None
    filled: int = field(default=0)

    def fill(self, piece: BatchSlice, batch_vectors: np.ndarray) -> None:
        if self.vectors is None:
            self.vectors = np.empty((self.rows, batch_vectors.shape[1]), dtype=np.float32)
        count = piece.stop - piece.start
        self.vectors[piece.start:piece.stop] = batch_vectors[piece.offset:piece.offset + count]
        self.filled += count

    @property
    def complete(self) -> bool:
        return self.filled >= self.rows

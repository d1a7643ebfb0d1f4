"""The batching of image files bound for the stream's embedder actors, when they decode them.

Where the stream decodes images is `stockmind.decode.placement.DecodePlacement` (`ingestor`: its
loader threads; `embedder`: the embedder actors; `auto`: the embedders when they have a GPU). Videos
are always decoded to frames in the ingestor. The choice is the setting STOCKMIND_DECODE_ON
(`Settings.decode_on`), so it travels to the ingestor actor with the settings.

Images bound for the embedders wait in an `EncodedBatcher`: one image is one row, so a batch is a list
of files, sent when full or once its oldest file has waited the stream's max wait.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass
class EncodedBatch:
    owners: list[Hashable]
    blobs: list[bytes]

    @property
    def rows(self) -> int:
        return len(self.blobs)


class EncodedBatcher:
    """Image files → batches of at most `batch_size`, the partial one sent once `max_wait_s` old
    (or when forced); the same contract as `EmbedBatcher` for pixels."""

    def __init__(self, batch_size: int, max_wait_s: float, clock: Callable[[], float] = time.monotonic):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._queue: deque[tuple[Hashable, bytes, float]] = deque()

    @property
    def pending_rows(self) -> int:
        return len(self._queue)

    def add(self, owner: Hashable, data: bytes) -> None:
        self._queue.append((owner, data, self._clock()))

    def deadline(self) -> float | None:
        return self._queue[0][2] + self.max_wait_s if self._queue else None

    def take(self, force: bool = False) -> EncodedBatch | None:
        if len(self._queue) >= self.batch_size or (self._queue and (force or self._clock() >= self.deadline())):
            taken = [self._queue.popleft() for _ in range(min(len(self._queue), self.batch_size))]
            return EncodedBatch([owner for owner, _, _ in taken], [data for _, data, _ in taken])
        return None

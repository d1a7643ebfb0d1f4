"""The ingestor's bookkeeping: which messages it holds, and what each of their objects is waiting for.

A message is settled when every object it names is resolved (embedded, superseded, or poison); only
then does it go to the commit, and only after the commit is it deleted from the queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stockmind.errors import PoisonInput
from stockmind.media.events import S3Event
from stockmind.media.keys import MediaRef
from stockmind.media.objects import ObjectMeta
from stockmind.store import MediaRemoval, MediaVectors
from stockmind.stream.batching import VectorAssembly
from stockmind.stream.sqs_source import SqsMessage


@dataclass(eq=False)
class InFlightMessage:
    message: SqsMessage
    visible_until: float
    objects: list[PendingObject] = field(default_factory=list)
    removals: list[MediaRemoval] = field(default_factory=list)
    poison: PoisonInput | None = None
    poison_key: str | None = None
    open_objects: int = 0
    # Released for a retry: results that still arrive for its objects are dropped.
    abandoned: bool = False
    queued_for_commit: bool = False

    def add_object(self, event: S3Event, ref: MediaRef) -> PendingObject:
        pending = PendingObject(self, event, ref)
        self.objects.append(pending)
        self.open_objects += 1
        return pending

    def fail(self, error: PoisonInput, key: str | None) -> None:
        """Remember the first poison reason; the message goes to the DLQ once the rest is settled."""
        if self.poison is None:
            self.poison, self.poison_key = error, key

    @property
    def settled(self) -> bool:
        return self.open_objects == 0 and not self.abandoned

    def embedded(self) -> list[PendingObject]:
        return [o for o in self.objects if o.assembly is not None and o.assembly.complete]


@dataclass(eq=False)
class PendingObject:
    message: InFlightMessage
    event: S3Event
    ref: MediaRef
    source: ObjectMeta | None = None  # the version that was read (If-Match: the event's)
    timestamps: list[float | None] | None = None
    assembly: VectorAssembly | None = None
    resolved: bool = False

    def expect_vectors(self, source: ObjectMeta, timestamps: list[float | None]) -> None:
        self.source = source
        self.timestamps = timestamps
        self.assembly = VectorAssembly(rows=len(timestamps))

    def resolve(self) -> None:
        if not self.resolved:
            self.resolved = True
            self.message.open_objects -= 1

    def media_vectors(self, model_id: str) -> MediaVectors:
        vectors: np.ndarray = self.assembly.vectors
        return MediaVectors.from_object(self.source, self.ref, model_id, vectors, self.timestamps,
                                        sequencer=self.event.sequencer, event_time=self.event.event_time)

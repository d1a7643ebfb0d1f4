"""The ingestor's bookkeeping: which messages it holds, and what each of their objects is waiting for.

A message is settled when every object it names is resolved (embedded, superseded, or poison); only
then does it go to the commit, and only after the commit is it deleted from the queue. An object its
tenant holds several models of is resolved once every model it was sent to has answered.
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
        return [o for o in self.objects if o.assembly is not None and o.assembly.complete and not o.failed]


@dataclass(eq=False)
class PendingObject:
    message: InFlightMessage
    event: S3Event
    ref: MediaRef
    source: ObjectMeta | None = None  # the version that was read (If-Match: the event's)
    timestamps: list[float | None] | None = None
    assembly: VectorAssembly | None = None  # the stream's own model's vectors
    primary_answered: bool = False
    # Held models other than the stream's own: those still embedding it, and what they returned.
    waiting_for: set[str] = field(default_factory=set)
    held_vectors: dict[str, tuple[np.ndarray, list[float | None]]] = field(default_factory=dict)
    failed: bool = False  # poison for some model: nothing of it is written
    resolved: bool = False
    # Of its last write: the models it was written with, and the held models it lacked.
    written_models: list[str] = field(default_factory=list)
    missed_models: list[str] = field(default_factory=list)

    def expect_vectors(self, source: ObjectMeta, timestamps: list[float | None]) -> None:
        self.source = source
        self.timestamps = timestamps
        self.assembly = VectorAssembly(rows=len(timestamps))

    def fail(self, error: PoisonInput) -> None:
        self.failed = True
        self.message.fail(error, self.event.key)

    @property
    def answered(self) -> bool:
        """Every model it was sent to has answered, with vectors or poison."""
        return self.primary_answered and not self.waiting_for

    def resolve(self) -> None:
        if not self.resolved:
            self.resolved = True
            self.message.open_objects -= 1

    def models(self, primary: str) -> set[str]:
        """The models it has vectors of."""
        return {primary, *self.held_vectors}

    def media_vectors(self, primary: str, models: list[str]) -> list[MediaVectors]:
        """One `MediaVectors` per model of `models` that it has vectors of, in that order."""
        embedded = {primary: (self.assembly.vectors, self.timestamps), **self.held_vectors}
        return [MediaVectors.from_object(self.source, self.ref, model, *embedded[model],
                                         sequencer=self.event.sequencer, event_time=self.event.event_time)
                for model in models if model in embedded]

"""How one run of the stream behaves (the job's flags); the deployment's settings stay in `Settings`."""

from __future__ import annotations

from dataclasses import dataclass

from stockmind.stream.failures import RETRY_BASE_S


@dataclass(frozen=True)
class StreamOptions:
    # Stop after this many messages have been received and settled (tests, demos); None: run forever.
    max_messages: int | None = None
    # Stop once nothing has arrived for this long and nothing is in flight; None: run forever.
    idle_exit_s: float | None = None
    # SQS long polling; also bounds how long a stop waits for a receive call to return.
    receive_wait_s: float = 10.0
    # Concurrent long polls: one returns at most 10 messages per SQS round trip. More than one only
    # pays on real SQS (moto's receive has no lock and then hands one message to two polls).
    receive_threads: int = 1
    # None: the queue's own visibility timeout. Held messages are extended before it runs out.
    visibility_timeout_s: int | None = None
    # Threads that GET objects from S3 and decode them (PIL and decord release the GIL).
    load_threads: int = 8
    # On a stop: finish in-flight work for this long, then release the rest (visibility 0).
    shutdown_grace_s: float = 2.0
    # First delay of the backoff for transient failures (doubles with each receive).
    retry_base_s: float = RETRY_BASE_S
    # How often the models each tenant holds are re-read from the store: a model a reindex has just
    # registered is embedded from the next refresh on (the reindex's catch-up pass covers the gap).
    models_refresh_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_messages is not None and self.max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {self.max_messages}")
        for name in ("load_threads", "receive_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("receive_wait_s", "shutdown_grace_s", "retry_base_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.models_refresh_s <= 0:
            raise ValueError(f"models_refresh_s must be > 0, got {self.models_refresh_s}")

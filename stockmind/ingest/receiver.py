"""The long-polling thread: receives while fewer than `limit` messages are in flight.

This is the stream's backpressure: a slot is taken per message received and given back only when
the message is settled (deleted, sent to the DLQ or released), so a slow database or embedder stops
the polling instead of filling memory. Messages that arrive after a stop are released at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from stockmind.ingest.failures import retry_delay_s
from stockmind.ingest.metrics import IngestMetrics
from stockmind.ingest.sqs_source import SQS_BATCH_LIMIT, SqsMessage, SqsSource

log = logging.getLogger(__name__)


class Receiver:
    def __init__(self, source: SqsSource, deliver: Callable[[list[SqsMessage]], None], metrics: IngestMetrics,
                 *, limit: int, wait_s: float, visibility_s: int, max_messages: int | None = None):
        self._source = source
        self._deliver = deliver
        self._metrics = metrics
        self._limit = limit
        self._wait_s = wait_s
        self._visibility_s = visibility_s
        self._max_messages = max_messages
        self._room = threading.Condition()
        self._in_flight = 0
        self._received = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stockmind-receiver", daemon=True)
        self.last_message_at = time.monotonic()

    @property
    def in_flight(self) -> int:
        with self._room:
            return self._in_flight

    @property
    def exhausted(self) -> bool:
        """All of `max_messages` have been received (so the receiver has ended)."""
        with self._room:
            return self._max_messages is not None and self._received >= self._max_messages

    def start(self) -> None:
        self._thread.start()

    def settled(self, count: int = 1) -> None:
        with self._room:
            self._in_flight -= count
            self._room.notify()

    def stop(self, timeout_s: float) -> None:
        self._stopping.set()
        with self._room:
            self._room.notify()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("receiver still in a receive call after %.0fs; what it gets is released", timeout_s)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            want = self._wait_for_room()
            if not want:
                continue
            started = time.monotonic()
            try:
                messages = self._source.receive(want, self._wait_s, self._visibility_s)
                failures = 0
            except Exception as error:  # noqa: BLE001 - SQS trouble is transient: back off and poll again
                failures += 1
                log.warning("receive failed (%s: %s); polling again in %.0fs", type(error).__name__, error,
                            retry_delay_s(failures, 1.0, 30.0))
                self._stopping.wait(retry_delay_s(failures, 1.0, 30.0))
                continue
            self._metrics.stage("receive", time.monotonic() - started)
            if messages:
                self._take(messages)

    def _wait_for_room(self) -> int:
        with self._room:
            self._room.wait_for(lambda: self._in_flight < self._limit or self._stopping.is_set(), timeout=1.0)
            if self._stopping.is_set():
                return 0
            remaining = self._limit - self._in_flight
            if self._max_messages is not None:
                remaining = min(remaining, self._max_messages - self._received)
                if remaining <= 0:
                    self._stopping.set()
            return max(0, min(SQS_BATCH_LIMIT, remaining))

    def _take(self, messages: list[SqsMessage]) -> None:
        with self._room:
            self._in_flight += len(messages)
            self._received += len(messages)
        self.last_message_at = time.monotonic()
        if self._stopping.is_set():
            self._release(messages)
        else:
            self._deliver(messages)

    def _release(self, messages: list[SqsMessage]) -> None:
        try:
            self._source.change_visibility(messages, 0)
        except Exception as error:  # noqa: BLE001 - they come back when their visibility times out
            log.warning("could not release %d messages received during the stop: %s", len(messages), error)
        self.settled(len(messages))

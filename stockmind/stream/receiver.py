"""The long-polling threads: they receive while fewer than `limit` messages are in flight.

This is the stream's backpressure: each receive call first reserves room for the messages it may
get, each message keeps its slot until it is settled (deleted, sent to the DLQ or released), so a
slow database or embedder stops the polling instead of filling memory. Several threads poll at once
because one receive call returns at most 10 messages per round trip, which would cap the stream at
10 messages per SQS latency. Messages that arrive after a stop are released at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from stockmind.stream.failures import retry_delay_s
from stockmind.stream.metrics import StreamMetrics
from stockmind.stream.sqs_source import SQS_BATCH_LIMIT, SqsMessage, SqsSource

log = logging.getLogger(__name__)


class Receiver:
    def __init__(self, source: SqsSource, deliver: Callable[[list[SqsMessage]], None], metrics: StreamMetrics,
                 *, limit: int, wait_s: float, visibility_s: int, threads: int = 1,
                 max_messages: int | None = None):
        self._source = source
        self._deliver = deliver
        self._metrics = metrics
        self._limit = limit
        self._wait_s = wait_s
        self._visibility_s = visibility_s
        self._max_messages = max_messages
        self._room = threading.Condition()
        self._held = 0  # received and not yet settled
        self._reserved = 0  # room taken by receive calls in progress
        self._received = 0
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"stockmind-receiver-{n}", daemon=True)
                         for n in range(threads)]
        self.last_message_at = time.monotonic()

    @property
    def in_flight(self) -> int:
        with self._room:
            return self._held

    @property
    def exhausted(self) -> bool:
        """All of `max_messages` have been received (so the receiver has ended)."""
        with self._room:
            return self._max_messages is not None and self._received >= self._max_messages

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def settled(self, count: int = 1) -> None:
        with self._room:
            self._held -= count
            self._room.notify_all()

    def request_stop(self) -> None:
        """No new receive calls; calls in progress may still return messages (they are released)."""
        self._stopping.set()
        with self._room:
            self._room.notify_all()

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            log.warning("receiver still in a receive call after %.0fs; what it gets is released", timeout_s)

    def release(self, messages: list[SqsMessage]) -> None:
        """Make `messages` visible again at once and give back their slots."""
        try:
            self._source.change_visibility(messages, 0)
        except Exception as error:  # noqa: BLE001 - they come back when their visibility times out
            log.warning("could not release %d messages: %s", len(messages), error)
        self.settled(len(messages))

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            room = self._reserve()
            if not room:
                continue
            started = time.monotonic()
            try:
                messages = self._source.receive(room, self._wait_s, self._visibility_s)
                failures = 0
            except Exception as error:  # noqa: BLE001 - SQS trouble is transient: back off and poll again
                self._take([], room)
                failures += 1
                delay = retry_delay_s(failures, 1.0, 30.0)
                log.warning("receive failed (%s: %s); polling again in %.0fs", type(error).__name__, error, delay)
                self._stopping.wait(delay)
                continue
            self._metrics.stage("receive", time.monotonic() - started)
            self._take(messages, room)

    def _reserve(self) -> int:
        """Room for the next receive call (1-10 messages), reserved until the call returns; 0 to stop."""
        with self._room:
            self._room.wait_for(lambda: self._room_for_next() > 0 or self._stopping.is_set(), timeout=1.0)
            if self._max_messages is not None and self._received >= self._max_messages:
                self._stopping.set()  # every message asked for has arrived
            if self._stopping.is_set():
                return 0
            room = self._room_for_next()
            self._reserved += room
            return room

    def _room_for_next(self) -> int:
        room = min(SQS_BATCH_LIMIT, self._limit - self._held - self._reserved)
        if self._max_messages is not None:
            room = min(room, self._max_messages - self._received - self._reserved)
        return max(0, room)

    def _take(self, messages: list[SqsMessage], reserved: int) -> None:
        with self._room:
            self._reserved -= reserved
            self._held += len(messages)
            self._received += len(messages)
            self._room.notify_all()
        if not messages:
            return
        self.last_message_at = time.monotonic()
        if self._stopping.is_set():
            self.release(messages)
        else:
            self._deliver(messages)

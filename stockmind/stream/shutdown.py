"""SIGTERM / SIGINT → a shutdown request the stream polls.

`ray job stop` sends SIGTERM to the job's driver (and SIGKILL a few seconds later, after
RAY_JOB_STOP_SIGNAL_TIMEOUT_S), a Kubernetes pod or systemd unit does the same; the handler only
records the request, and the stream then stops polling and finishes or releases what it holds.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ShutdownRequest:
    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, reason: str = "requested") -> None:
        if not self._event.is_set():
            log.info("shutdown %s: stop polling, finish or release in-flight messages", reason)
        self._event.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        return self._event.wait(timeout_s)

    @contextmanager
    def on_signals(self, signals=STOP_SIGNALS):
        """Route `signals` to this request while the block runs (main thread only), then restore."""
        previous = {sig: signal.signal(sig, self._handle) for sig in signals}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        self.request(f"on {signal.Signals(signum).name}")

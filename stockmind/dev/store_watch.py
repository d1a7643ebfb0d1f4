"""Watches a store from beside a running pipeline, for benchmarks: when each media key's row first
became visible, and how many rows were committed when. It reads through the store's own
`embedded_media`, so it sees what a search would."""

from __future__ import annotations

import threading
import time

from stockmind.store import connect, embedded_media


def steady_rate(samples: list[tuple[float, int]], total: int, shares: tuple[float, float]) -> float:
    """Items/s between the first (time, items done) samples that reach `shares` of `total`."""
    low, high = (next((at, n) for at, n in samples if n >= share * total) for share in shares)
    if high[0] <= low[0]:
        raise RuntimeError(f"no time between {shares} of {total} items: sample more often or use more items")
    return (high[1] - low[1]) / (high[0] - low[0])


class StoreWatcher:
    """Polls PostgreSQL every `poll_s`: when each key's row first became visible (wall clock, for
    put→searchable), and how many rows were committed when (for a rate without start-up and tail)."""

    def __init__(self, database_url: str, poll_s: float = 0.02):
        self.seen: dict[str, float] = {}
        self.samples: list[tuple[float, int]] = []
        self._conn = connect(database_url)
        self._poll_s = poll_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            now = time.time()
            for _, key in embedded_media(self._conn):
                self.seen.setdefault(key, now)
            self.samples.append((time.perf_counter(), len(self.seen)))
            time.sleep(self._poll_s)

    def wait_for_rows(self, rows: int, timeout_s: float) -> None:
        self._wait(lambda: len(self.seen) >= rows, timeout_s, lambda: f"only {len(self.seen)} of {rows} rows committed")

    def wait_for(self, keys: set[str], timeout_s: float) -> None:
        self._wait(lambda: keys <= self.seen.keys(), timeout_s,
                   lambda: f"{len(keys - self.seen.keys())} uploads never became searchable")

    def steady_rate(self, total: int, shares: tuple[float, float]) -> float:
        """Rows/s between the first samples at `shares` of `total` (e.g. 10 % and 90 %): the run's rate
        without its start-up and tail."""
        return steady_rate(self.samples, total, shares)

    def first_row_at(self) -> float | None:
        """When (perf_counter) the first row was seen."""
        return next((at for at, n in self.samples if n > 0), None)

    def _wait(self, done, timeout_s: float, failure) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(failure())
            time.sleep(0.1)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._conn.close()

"""The run's tally: counts and failures reported by the pipeline's stages, read by the driver.

Objects that are skipped or fail never reach the end of the pipeline, so the stages that decide their
fate report them here (one small actor, no CPU reserved). Failures are keyed by object, so a task that
Ray retries reports the same failure once; counts are per batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    bucket: str
    key: str
    reason: str  # a short code: PoisonInput.reason, or fetch_failed / write_failed for transient errors
    detail: str


class Tally:
    """Use as a Ray actor: `ray.remote(num_cpus=0)(Tally).remote()`."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._failures: dict[tuple[str, str], Failure] = {}

    def record(self, counts: dict[str, int], failures: list[Failure]) -> None:
        self._counts.update(counts)
        for failure in failures:
            self._failures[(failure.bucket, failure.key)] = failure

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def failures(self) -> list[Failure]:
        return sorted(self._failures.values(), key=lambda f: (f.bucket, f.key))


def report(tally, counts: dict[str, int] | None = None, failures: list[Failure] | None = None) -> None:
    """Report from a pipeline task and wait: the driver reads the tally right after the last task,
    so a fire-and-forget call could still be in flight then."""
    import ray

    if counts or failures:
        ray.get(tally.record.remote(counts or {}, failures or []))

"""What a run did: the summary line (listed, skipped, embedded, failed, rate) and the failure report.

The failure report is JSON Lines, one failed object per line with its reason code and message, so a
person can read it and a script can turn it back into a keys file for a targeted re-run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from stockmind.backfill.tally import Failure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackfillSummary:
    listed: int
    skipped: int  # already embedded with this model at this eTag
    embedded: int  # objects whose vectors were stored by this run
    unchanged: int  # embedded, but the store already had them (another writer got there first)
    failed: int
    frames: int  # vectors written: one per image, one per sampled video frame
    seconds: float
    dry_run: bool = False
    to_embed: int = 0  # dry run only: what a real run would fetch and embed

    @property
    def rate(self) -> float:
        """Objects processed (embedded or found unchanged) per second of the run."""
        return (self.embedded + self.unchanged) / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        if self.dry_run:
            return (f"backfill dry run: listed={self.listed} skipped={self.skipped} to_embed={self.to_embed}"
                    f" failed={self.failed} seconds={self.seconds:.1f}")
        return (f"backfill: listed={self.listed} skipped={self.skipped} embedded={self.embedded}"
                f" unchanged={self.unchanged} failed={self.failed} frames={self.frames}"
                f" seconds={self.seconds:.1f} rate={self.rate:.1f}/s")


def write_failure_report(path: Path, failures: list[Failure]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as report:
        for failure in failures:
            report.write(json.dumps(asdict(failure), ensure_ascii=False) + "\n")
    log.info("%d failures written to %s", len(failures), path)


def read_failure_report(path: Path) -> list[Failure]:
    with open(path, encoding="utf-8") as report:
        return [Failure(**json.loads(line)) for line in report if line.strip()]

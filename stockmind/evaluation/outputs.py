"""Where a notebook's figures and key numbers go: one folder per notebook, PNGs and metrics.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

METRICS_FILE = "metrics.json"


class Outputs:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def figure(self, fig, name: str) -> Path:
        path = self.folder / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        return path

    def metrics(self, values: dict) -> Path:
        """Write the notebook's key numbers (the test suite asserts floors on them)."""
        path = self.folder / METRICS_FILE
        path.write_text(json.dumps(_finite(values), indent=2, sort_keys=True) + "\n")
        return path


def read_metrics(folder: str | Path) -> dict:
    return json.loads((Path(folder) / METRICS_FILE).read_text())


def _finite(value):
    # JSON has no NaN or infinity; a measure that could not be taken is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value

"""Model names: the alias of the CLIP this repository ships, resolved to its folder."""

from __future__ import annotations

from pathlib import Path

SMALL_CLIP = "stockmind-clip-small"
"""Our own small CLIP, trained on the synthetic catalogue by scripts/train_small_clip.py."""

_ASSETS = Path(__file__).resolve().parents[1] / "assets"


def resolve_model(name: str) -> str:
    """The alias `stockmind-clip-small` → the folder shipped in the package; anything else (a hub
    id such as `openai/clip-vit-base-patch32`, or a folder) is passed through unchanged."""
    if not name or not name.strip():
        raise ValueError("expected a model name, got an empty string")
    if name == SMALL_CLIP:
        return str(_ASSETS / SMALL_CLIP)
    return name

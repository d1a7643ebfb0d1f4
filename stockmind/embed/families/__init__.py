"""One module per checkpoint family; each loads its model and tokenizer and runs its two towers.

`ClipEmbedder` does the rest alike for all of them: batching, input checks, float32 unit vectors.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Protocol

from stockmind.embed.checkpoints import Family, one_line
from stockmind.errors import ConfigError

if TYPE_CHECKING:
    import torch


class Towers(Protocol):
    """A loaded checkpoint's image and text towers; outputs are (N, D) and not yet normalised."""

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor: ...

    def encode_texts(self, texts: list[str]) -> torch.Tensor: ...


def load_towers(model: str, family: Family, device: str, dtype: torch.dtype) -> Towers:
    """Load `model` of `family` onto `device` in `dtype`; ConfigError naming it if its weights or
    tokenizer cannot be loaded."""
    from safetensors import SafetensorError

    from stockmind.embed.families import clip, open_clip, siglip

    loaders = {Family.CLIP: clip.load, Family.SIGLIP: siglip.load, Family.OPEN_CLIP: open_clip.load}
    # Missing or unreadable files (OSError), configs the model class refuses (ValueError, KeyError,
    # TypeError), weights of the wrong shape or missing (RuntimeError), corrupt weight files.
    try:
        return loaders[family](model, device, dtype)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError, pickle.UnpicklingError) as error:
        raise ConfigError(f"cannot load CLIP model {model!r} ({family}): {one_line(error)}") from error

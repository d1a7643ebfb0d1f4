"""Tiny randomly initialised checkpoints, saved as real checkpoint folders, for tests (no hub here)."""

from __future__ import annotations

import shutil
from pathlib import Path

from stockmind.embed.models import SMALL_CLIP, resolve_model


def build_tiny_model(family: str, folder: str | Path, *, dim: int = 24, seed: int = 0) -> str:
    """A CLIP of `dim`-d vectors in `folder`, loadable by `ClipEmbedder(folder)`; returns the folder."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    if family != "clip":
        raise ValueError(f"unknown family {family!r}")
    torch.manual_seed(seed)
    small = Path(resolve_model(SMALL_CLIP))
    config = CLIPConfig(
        text_config={"vocab_size": 618, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 77, "bos_token_id": 616,
                     "eos_token_id": 617, "pad_token_id": 617},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 64, "patch_size": 16},
        projection_dim=dim,
    )
    CLIPModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        shutil.copy(small / name, Path(folder) / name)
    return str(folder)

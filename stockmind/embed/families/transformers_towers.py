"""What the two transformers families share: loading from a folder or the hub, pooled outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from stockmind.embed.models import resolve_model


def load_pretrained(model: str, model_class: type, dtype: torch.dtype, device: str) -> tuple[Any, Any]:
    """(model in eval mode on `device`, tokenizer) of a transformers checkpoint."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    # A per-load progress bar is noise in job logs and CLI output (every actor loads once).
    transformers_logging.disable_progress_bar()
    path = resolve_model(model)
    # A folder is loaded from disk only; a hub id goes through the hub client's cache, which honours
    # HF_HUB_OFFLINE.
    local = Path(path).is_dir()
    loaded = model_class.from_pretrained(path, dtype=dtype, local_files_only=local)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
    return loaded.eval().to(device), tokenizer


def pooled(output: Any) -> torch.Tensor:
    # transformers 5 returns an output object whose pooler_output is the embedding; older versions
    # return the tensor itself.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class TransformersTowers:
    """A transformers dual encoder's image tower; each family says how its texts are tokenised."""

    def __init__(self, model, tokenizer, device: str) -> None:
        self._model, self._tokenizer, self._device = model, tokenizer, device
        self._max_tokens: int = model.config.text_config.max_position_embeddings

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return pooled(self._model.get_image_features(pixel_values=pixels))

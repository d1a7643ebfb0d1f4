"""`ClipEmbedder`: pixels and texts → unit-norm CLIP vectors, with any transformers CLIP checkpoint.

The same class serves the streaming job, the backfill (as a Ray Data `map_batches` callable class:
the model loads once in `__init__`) and the search service. `embed_encoded` takes image files
instead of pixels and decodes them where the model is (nvJPEG on a GPU).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from stockmind.embed.models import resolve_model
from stockmind.errors import ConfigError, PoisonInput

if TYPE_CHECKING:
    from stockmind.decode.image import ImagePreprocessor

log = logging.getLogger(__name__)

# Bounds the memory of one forward pass when a caller hands over a very long list.
MAX_FORWARD_BATCH = 256


class ClipEmbedder:
    """Loads a CLIP checkpoint (hub id, local folder or the `stockmind-clip-small` alias) once.

    On CUDA the model runs in float16 (`dtype` overrides); outputs are always float32, L2-normalised."""

    def __init__(self, model: str, device: str | None = None, dtype: torch.dtype | None = None) -> None:
        self.model_id = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._dtype = dtype or (torch.float16 if self.device.startswith("cuda") else torch.float32)
        self._preprocessors: dict[int, ImagePreprocessor] = {}
        self._model, self._tokenizer = _load(resolve_model(model), self._dtype)
        self._model.to(self.device)
        config = self._model.config
        self.dim: int = config.projection_dim
        self.image_size: int = config.vision_config.image_size
        self._max_text_tokens: int = config.text_config.max_position_embeddings
        log.info("loaded CLIP %s on %s (%s): dim=%d, image_size=%d", model, self.device,
                 self._dtype, self.dim, self.image_size)

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @torch.inference_mode()
    def embed_images(self, pixels: np.ndarray | torch.Tensor) -> np.ndarray:
        """(N, 3, S, S) normalised pixels, as the checkpoint's preprocessor makes them → (N, D)."""
        pixels = torch.as_tensor(pixels)
        self._check_pixels(pixels)
        chunks = [
            self._model.get_image_features(
                pixel_values=chunk.to(self.device, self._dtype, non_blocking=True))
            for chunk in pixels.split(MAX_FORWARD_BATCH) if len(chunk)
        ]
        return self._normalised(chunks)

    def embed_encoded(self, blobs: Sequence[bytes], max_pixels: int | None = None
                      ) -> tuple[np.ndarray, dict[int, PoisonInput]]:
        """Encoded images → (vectors of the readable ones, in order; {index: error} of the others).

        Decoded on this embedder's device by the checkpoint's own preprocessing, with the pixel limit
        `max_pixels` (default: the decoder's). An unreadable image fails alone."""
        pixels, failures = self.preprocessor(max_pixels).preprocess_each(blobs)
        return self.embed_images(pixels), dict(failures)

    def preprocessor(self, max_pixels: int | None = None) -> ImagePreprocessor:
        """The checkpoint's preprocessing on this device (one per pixel limit, built once)."""
        from stockmind.decode.image import DEFAULT_MAX_PIXELS, ImagePreprocessor

        limit = max_pixels or DEFAULT_MAX_PIXELS
        if limit not in self._preprocessors:
            self._preprocessors[limit] = ImagePreprocessor.from_pretrained(self.model_id, max_pixels=limit,
                                                                           device=self.device)
        return self._preprocessors[limit]

    @torch.inference_mode()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Texts → (N, D). Texts longer than the model's context are truncated."""
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise TypeError("expected a list of strings")
        chunks = []
        for start in range(0, len(texts), MAX_FORWARD_BATCH):
            tokens = self._tokenizer(texts[start:start + MAX_FORWARD_BATCH], padding=True,
                                     truncation=True, max_length=self._max_text_tokens,
                                     return_tensors="pt").to(self.device)
            chunks.append(self._model.get_text_features(**tokens))
        return self._normalised(chunks)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Ray Data `map_batches`: reads `batch["pixels"]`, adds `"embedding"`, drops the pixels
        (they are large; nothing downstream needs them)."""
        embeddings = self.embed_images(np.asarray(batch["pixels"]))
        result = {key: value for key, value in batch.items() if key != "pixels"}
        result["embedding"] = embeddings
        return result

    def _check_pixels(self, pixels: torch.Tensor) -> None:
        expected = (3, self.image_size, self.image_size)
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != expected:
            raise ValueError(f"expected pixels of shape (N, {expected[0]}, {expected[1]}, "
                             f"{expected[2]}), got {tuple(pixels.shape)}")
        if not pixels.is_floating_point():
            raise ValueError(f"expected floating-point pixels, got {pixels.dtype}")

    def _normalised(self, outputs: list[Any]) -> np.ndarray:
        if not outputs:
            return np.zeros((0, self.dim), np.float32)
        # transformers 5 returns an output object whose pooler_output is the projected embedding;
        # older versions return the tensor itself.
        tensors = [out if isinstance(out, torch.Tensor) else out.pooler_output for out in outputs]
        vectors = torch.cat(tensors).float()
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
        return vectors.cpu().numpy()


def _load(path: str, dtype: torch.dtype) -> tuple[Any, Any]:
    """Load model + tokenizer; every known way this fails becomes one ConfigError naming the model."""
    from transformers import AutoConfig, AutoTokenizer, CLIPModel
    from transformers.utils import logging as transformers_logging

    # A per-load progress bar is noise in job logs and CLI output (every actor loads once).
    transformers_logging.disable_progress_bar()

    # A folder is loaded from disk only; a hub id goes through the hub client's cache, which honours
    # HF_HUB_OFFLINE.
    local = Path(path).is_dir()
    if not local and (Path(path).is_absolute() or path.startswith(".")):
        raise ConfigError(f"cannot load CLIP model {path!r}: no such folder")
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=local)
        if config.model_type != "clip":
            raise ConfigError(f"model {path!r} is a {config.model_type!r} checkpoint, not a CLIP")
        model = CLIPModel.from_pretrained(path, dtype=dtype, local_files_only=local)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"cannot load CLIP model {path!r}: {error}") from error
    return model.eval(), tokenizer

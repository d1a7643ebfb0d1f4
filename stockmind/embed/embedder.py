"""`ClipEmbedder`: pixels and texts → unit-norm vectors, with a CLIP-style checkpoint of any family
the checkpoint itself names (transformers CLIP or SigLIP, open_clip; see `checkpoints.py`).

The same class serves the streaming job, the backfill (as a Ray Data `map_batches` callable class:
the model loads once in `__init__`) and the search service. `embed_encoded` takes image files
instead of pixels and decodes them where the model is (nvJPEG on a GPU).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from stockmind.embed.checkpoints import checkpoint_info
from stockmind.embed.families import load_towers
from stockmind.errors import PoisonInput

if TYPE_CHECKING:
    from stockmind.decode.image import ImagePreprocessor

log = logging.getLogger(__name__)

# Bounds the memory of one forward pass when a caller hands over a very long list.
MAX_FORWARD_BATCH = 256


class ClipEmbedder:
    """Loads a checkpoint (hub id, local folder, `hf-hub:`/`local-dir:` open_clip name or the
    `stockmind-clip-small` alias) once; its config says which family it is (`family`).

    On CUDA the model runs in float16 (`dtype` overrides); outputs are always float32, L2-normalised.
    A checkpoint that cannot be loaded, or whose vectors the store cannot index, is a ConfigError."""

    def __init__(self, model: str, device: str | None = None, dtype: torch.dtype | None = None) -> None:
        self.model_id = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._dtype = dtype or (torch.float16 if self.device.startswith("cuda") else torch.float32)
        self._preprocessors: dict[int, ImagePreprocessor] = {}
        info = checkpoint_info(model)  # from the config alone: a bad one fails before any weight loads
        self.family = info.family
        self.dim: int = info.dim
        self.image_size: int = info.image_size
        self._towers = load_towers(model, info.family, self.device, self._dtype)
        log.info("loaded %s model %s on %s (%s): dim=%d, image_size=%d", self.family, model, self.device,
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
            self._towers.encode_images(chunk.to(self.device, self._dtype, non_blocking=True))
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
        chunks = [self._towers.encode_texts(texts[start:start + MAX_FORWARD_BATCH])
                  for start in range(0, len(texts), MAX_FORWARD_BATCH)]
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

    def _normalised(self, outputs: list[torch.Tensor]) -> np.ndarray:
        if not outputs:
            return np.zeros((0, self.dim), np.float32)
        vectors = torch.nn.functional.normalize(torch.cat(outputs).float(), dim=-1)
        return vectors.cpu().numpy()

"""open_clip checkpoints (`hf-hub:<repo>`, `local-dir:<folder>` or a folder with open_clip_config.json),
loaded by open_clip's own factory: its model classes, weight-file lookup, tokenizer and precision."""

from __future__ import annotations

import torch

from stockmind.embed.checkpoints import open_clip_name

# open_clip's "fp16"/"bf16" is its own mixed precision (layer norms stay float32), as OpenAI ran CLIP.
PRECISIONS = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


class OpenClipTowers:
    def __init__(self, model, tokenizer, device: str) -> None:
        self._model, self._tokenizer, self._device = model, tokenizer, device

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._model.encode_image(pixels)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        # The tokenizer pads (or truncates) to the model's context length, as the model was trained.
        return self._model.encode_text(self._tokenizer(texts).to(self._device))


def load(model: str, device: str, dtype: torch.dtype) -> OpenClipTowers:
    import open_clip

    if dtype not in PRECISIONS:
        raise ValueError(f"open_clip runs in {', '.join(map(str, PRECISIONS))}, not {dtype}")
    name = open_clip_name(model)
    # require_pretrained: a folder without weights is an error, not a silently random model.
    loaded = open_clip.create_model(name, precision=PRECISIONS[dtype], device=device, require_pretrained=True)
    return OpenClipTowers(loaded.eval(), open_clip.get_tokenizer(name), device)

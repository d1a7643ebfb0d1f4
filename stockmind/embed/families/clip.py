"""transformers CLIP (`CLIPModel`): texts padded to the longest in the batch, as CLIP was trained."""

from __future__ import annotations

import torch

from stockmind.embed.families.transformers_towers import TransformersTowers, load_pretrained, pooled


class ClipTowers(TransformersTowers):
    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        # CLIP pools the end-of-text token and masks the padding, so padding to the batch's longest
        # text gives each text the vector it has alone.
        tokens = self._tokenizer(texts, padding=True, truncation=True, max_length=self._max_tokens,
                                 return_tensors="pt").to(self._device)
        return pooled(self._model.get_text_features(**tokens))


def load(model: str, device: str, dtype: torch.dtype) -> ClipTowers:
    from transformers import CLIPModel

    return ClipTowers(*load_pretrained(model, CLIPModel, dtype, device), device)

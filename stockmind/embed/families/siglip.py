"""transformers SigLIP (`SiglipModel`): texts padded to the model's full length, without a mask.

SigLIP was trained on texts padded to its maximum length (64 tokens for the released models) and
pools the last position, so the padding is part of what the model reads: a text padded otherwise,
or with the padding masked out, gets a different vector from the one the model learnt.
"""

from __future__ import annotations

import torch

from stockmind.embed.families.transformers_towers import TransformersTowers, load_pretrained, pooled


class SiglipTowers(TransformersTowers):
    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self._tokenizer(texts, padding="max_length", truncation=True, max_length=self._max_tokens,
                                 return_tensors="pt")
        return pooled(self._model.get_text_features(input_ids=tokens["input_ids"].to(self._device)))


def load(model: str, device: str, dtype: torch.dtype) -> SiglipTowers:
    from transformers import SiglipModel

    return SiglipTowers(*load_pretrained(model, SiglipModel, dtype, device), device)

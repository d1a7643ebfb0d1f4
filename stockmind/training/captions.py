"""Every caption of every catalogue item, tokenized once, with what each caption pins down.

A caption with a background ("a red circle on a wooden table") describes only pictures on that
surface; one without ("a red circle") describes every red circle. `matches` encodes exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from stockmind.dev.synthetic import BACKGROUNDS, CAPTION_TEMPLATES, COLORS, SHAPES, Item, all_items

_ANY_BACKGROUND = -1


@dataclass(frozen=True)
class CaptionBank:
    input_ids: torch.Tensor       # (C, L) token ids, padded
    attention_mask: torch.Tensor  # (C, L)
    color: torch.Tensor           # (C,) index into COLORS
    shape: torch.Tensor           # (C,) index into SHAPES
    background: torch.Tensor      # (C,) index into BACKGROUNDS, or -1 when the caption names none
    item_offset: dict[Item, int]  # first caption of each item; its templates follow in order

    @classmethod
    def build(cls, tokenizer) -> CaptionBank:
        texts, color, shape, background, offsets = [], [], [], [], {}
        for item in all_items():
            offsets[item] = len(texts)
            for template, text in zip(CAPTION_TEMPLATES, item.captions()):
                texts.append(text)
                color.append(list(COLORS).index(item.color))
                shape.append(SHAPES.index(item.shape))
                named = "{background}" in template
                background.append(BACKGROUNDS.index(item.background) if named else _ANY_BACKGROUND)
        tokens = tokenizer(texts, padding=True, return_tensors="pt")
        return cls(tokens["input_ids"], tokens["attention_mask"], torch.tensor(color),
                   torch.tensor(shape), torch.tensor(background), offsets)

    def sample(self, items: list[Item], generator: torch.Generator) -> torch.Tensor:
        """One random caption index per item."""
        templates = torch.randint(len(CAPTION_TEMPLATES), (len(items),), generator=generator)
        return torch.tensor([self.item_offset[item] for item in items]) + templates

    def matches(self, items: list[Item], captions: torch.Tensor) -> torch.Tensor:
        """(len(items), len(captions)) bool: caption j describes item i."""
        color = torch.tensor([list(COLORS).index(item.color) for item in items])[:, None]
        shape = torch.tensor([SHAPES.index(item.shape) for item in items])[:, None]
        background = torch.tensor([BACKGROUNDS.index(item.background) for item in items])[:, None]
        caption_bg = self.background[captions][None, :]
        return ((color == self.color[captions][None, :]) & (shape == self.shape[captions][None, :])
                & ((caption_bg == _ANY_BACKGROUND) | (caption_bg == background)))

"""The training loop: random batches of pre-rendered pictures, one random caption each."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch

from stockmind.dev.synthetic import Item
from stockmind.training.captions import CaptionBank
from stockmind.training.loss import multi_positive_clip_loss

log = logging.getLogger(__name__)


def train(model, pixels: np.ndarray, items: list[Item], bank: CaptionBank, *, steps: int,
          batch_size: int, lr: float, seed: int, mean: list[float], std: list[float]) -> float:
    """Train in place; `pixels` (N, 3, S, S) uint8 show `items`. Returns the last loss."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(steps))
    mean_t = torch.tensor(mean).view(1, 3, 1, 1)
    std_t = torch.tensor(std).view(1, 3, 1, 1)
    all_pixels = torch.from_numpy(pixels)
    model.train()
    started, loss = time.monotonic(), torch.tensor(float("nan"))
    for step in range(steps):
        index = torch.randint(len(items), (batch_size,), generator=generator)
        batch_items = [items[i] for i in index.tolist()]
        captions = bank.sample(batch_items, generator)
        images = _flip_some(all_pixels[index].float() / 255.0, generator)
        out = model(input_ids=bank.input_ids[captions], attention_mask=bank.attention_mask[captions],
                    pixel_values=(images - mean_t) / std_t)
        loss = multi_positive_clip_loss(out.image_embeds, out.text_embeds, model.logit_scale,
                                        bank.matches(batch_items, captions))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == steps - 1:
            log.info("step %d/%d loss %.4f (%.0f s)", step, steps, loss.item(),
                     time.monotonic() - started)
    model.eval()
    return loss.item()


def _flip_some(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror half the pictures: every shape is still the same shape in a mirror."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def _warmup_cosine(steps: int):
    warmup = max(1, steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return factor

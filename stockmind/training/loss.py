"""The symmetric contrastive (CLIP) loss with several positives per row.

A batch of synthetic shots holds many pictures of the same colour + shape, and a short caption
("a red circle") truly describes every red circle in the batch. Treating those pairs as negatives,
as the plain CLIP loss does, would teach the model to tell apart what it should not; instead each
row's target is spread evenly over all texts (or images) that describe it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def multi_positive_clip_loss(image_embeds: torch.Tensor, text_embeds: torch.Tensor,
                             logit_scale: torch.Tensor, matches: torch.Tensor) -> torch.Tensor:
    """`matches[i, j]` is true when text j describes image i (the diagonal must be true)."""
    image_embeds = F.normalize(image_embeds, dim=-1)
    text_embeds = F.normalize(text_embeds, dim=-1)
    logits = logit_scale.exp().clamp(max=100) * image_embeds @ text_embeds.T
    targets = matches.float()
    image_to_text = _soft_cross_entropy(logits, targets / targets.sum(1, keepdim=True))
    text_to_image = _soft_cross_entropy(logits.T, (targets / targets.sum(0, keepdim=True)).T)
    return (image_to_text + text_to_image) / 2


def _soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()

"""CLIP checkpoints the project builds itself: the processor settings our small CLIP is saved with,
and a ViT-B/32-sized CLIP with random weights (the production model's cost, for benchmarks)."""

from __future__ import annotations

import logging
from pathlib import Path

from stockmind.decode.image import CLIP_MEAN, CLIP_STD
from stockmind.embed.models import SMALL_CLIP, resolve_model

log = logging.getLogger(__name__)


def build_random_vit_b32(folder: str | Path, seed: int = 0) -> str:
    """Save a CLIP with ViT-B/32's architecture and random weights (the cost of the production
    model, for benchmarks; its embeddings mean nothing) with our tokenizer and a 224 px
    preprocessor. Returns the folder, loadable by `ClipEmbedder`."""
    import torch
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel

    folder = Path(folder)
    small = resolve_model(SMALL_CLIP)
    tokenizer = AutoTokenizer.from_pretrained(small, local_files_only=True)
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
               "pad_token_id": tokenizer.pad_token_id}
    # CLIPConfig's defaults are ViT-B/32: 224 px, patch 32, width 768 × 12 layers; text 512 × 12.
    config = CLIPConfig(text_config=special)
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(**clip_processor_settings(config.vision_config.image_size)).save_pretrained(folder)
    log.info("saved a random-weights ViT-B/32-sized CLIP to %s", folder)
    return str(folder)


def clip_processor_settings(image_size: int) -> dict:
    """OpenAI CLIP's preprocessing at `image_size`: bicubic shortest-edge resize, centre crop."""
    return {
        "size": {"shortest_edge": image_size},
        "crop_size": {"height": image_size, "width": image_size},
        "do_resize": True,
        "do_center_crop": True,
        "do_normalize": True,
        "do_convert_rgb": True,
        "resample": 3,  # PIL.Image.BICUBIC
        "image_mean": list(CLIP_MEAN),
        "image_std": list(CLIP_STD),
    }

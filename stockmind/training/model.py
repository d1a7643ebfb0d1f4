"""The architecture of stockmind-clip-small: a tiny ViT and text transformer, sized to train on
two CPU cores in minutes and to stay far below the repository's 10 MB budget."""

from __future__ import annotations

from dataclasses import dataclass

from transformers import CLIPConfig, CLIPModel


@dataclass(frozen=True)
class SmallClipShape:
    image_size: int = 64
    # 4×4 patches of 16 px: on two busy cores, patch 8 (3 layers) learnt less per step at twice
    # the cost per step (loss 2.16 vs 2.15 at step 350/250 of 800).
    patch_size: int = 16
    width: int = 64
    vision_layers: int = 4
    text_layers: int = 2
    heads: int = 4
    projection_dim: int = 64


def small_clip(tokenizer, shape: SmallClipShape = SmallClipShape()) -> CLIPModel:
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
               "pad_token_id": tokenizer.pad_token_id}
    config = CLIPConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": shape.width,
                     "intermediate_size": 2 * shape.width, "num_hidden_layers": shape.text_layers,
                     "num_attention_heads": shape.heads,
                     "max_position_embeddings": tokenizer.model_max_length, **special},
        vision_config={"image_size": shape.image_size, "patch_size": shape.patch_size,
                       "hidden_size": shape.width, "intermediate_size": 2 * shape.width,
                       "num_hidden_layers": shape.vision_layers, "num_attention_heads": shape.heads},
        projection_dim=shape.projection_dim,
    )
    return CLIPModel(config)

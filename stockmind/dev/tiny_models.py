"""Tiny randomly initialised checkpoints of each family, saved as real checkpoint folders are laid out.

For tests that need a model of a given family or dimension without any download: a few hundred
kilobytes to a few megabytes each, built offline in well under a second. Their vectors mean nothing;
their loading, preprocessing and shapes are the real families' own.

- transformers CLIP and SigLIP: `save_pretrained` of the model, a tokenizer and the image processor;
- open_clip: `open_clip_config.json` (`model_cfg` + `preprocess_cfg`) beside `open_clip_model.safetensors`,
  as on the hub (open_clip's default BPE tokenizer ships inside the package).
"""

from __future__ import annotations

import json
from pathlib import Path

from stockmind.dev.checkpoints import clip_processor_settings
from stockmind.embed.checkpoints import OPEN_CLIP_CONFIG, Family

TINY_DIM = 24
"""Deliberately not 512 (nor any size a real model has), so a test notices a dimension taken for granted."""
TINY_IMAGE_SIZE = 32
TINY_TEXT_TOKENS = 16
TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)
OPEN_CLIP_WEIGHTS = "open_clip_model.safetensors"
# A few words of the synthetic catalogue get a piece of their own in the SigLIP stand-in tokenizer;
# any other text is spelt out letter by letter.
CATALOGUE_WORDS = ("a", "photo", "of", "red", "blue", "green", "yellow", "circle", "square", "star", "ring",
                   "on", "wooden", "table")


def build_tiny_model(family: Family | str, folder: str | Path, *, dim: int = TINY_DIM, seed: int = 0,
                     image_size: int = TINY_IMAGE_SIZE) -> str:
    """Save a tiny random `family` checkpoint making `dim`-dimensional vectors into `folder`.

    Returns the folder, loadable by `ClipEmbedder` and `ImagePreprocessor.from_pretrained`. The same
    `seed` gives the same weights."""
    import torch
    from transformers.utils import logging as transformers_logging

    builders = {Family.CLIP: _build_clip, Family.SIGLIP: _build_siglip, Family.OPEN_CLIP: _build_open_clip}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    # save_pretrained compares against a default SiglipTextConfig, which warns about its own defaults'
    # token ids, and draws a progress bar: noise in test output.
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        builders[Family(family)](folder, dim, image_size)
    finally:
        transformers_logging.set_verbosity(verbosity)
    return str(folder)


def _build_clip(folder: Path, dim: int, image_size: int) -> None:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    tokenizer = _byte_level_clip_tokenizer()
    text = {**TOWER, "vocab_size": len(tokenizer), "max_position_embeddings": TINY_TEXT_TOKENS,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}
    vision = {**TOWER, "image_size": image_size, "patch_size": image_size // 4}
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=dim)).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(**clip_processor_settings(image_size)).save_pretrained(folder)


def _byte_level_clip_tokenizer():
    """CLIP's byte-level BPE with no merges: every byte a token (offline; see shared/FACTS.md)."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    alphabet = sorted(ByteLevel.alphabet())
    pieces = alphabet + [char + "</w>" for char in alphabet] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={piece: index for index, piece in enumerate(pieces)}, merges=[],
                         model_max_length=TINY_TEXT_TOKENS)


def _build_siglip(folder: Path, dim: int, image_size: int) -> None:
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    tokenizer = _unigram_siglip_tokenizer()
    # SigLIP's image vector is its pooled vision state (no projection), so the vision tower is `dim`
    # wide; the text tower projects to it.
    text = {**TOWER, "vocab_size": len(tokenizer), "max_position_embeddings": TINY_TEXT_TOKENS,
            "projection_size": dim, "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": None}
    vision = {**TOWER, "hidden_size": dim, "image_size": image_size, "patch_size": image_size // 4}
    SiglipModel(SiglipConfig(text_config=text, vision_config=vision)).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessor(size={"height": image_size, "width": image_size}, resample=3,
                         image_mean=list(SIGLIP_MEAN), image_std=list(SIGLIP_STD)).save_pretrained(folder)


def _unigram_siglip_tokenizer():
    """A stand-in for SigLIP's SentencePiece tokenizer, built with `tokenizers` (no sentencepiece here):
    the same kind of model (Unigram over `▁`-marked pieces), lower-casing, `</s>` appended and used as
    padding, ids 0–2 as in the released checkpoints. Saved as tokenizer.json, it reloads through
    `AutoTokenizer` as a real SigLIP folder's fast tokenizer does."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    letters = [(char, -5.0) for char in "abcdefghijklmnopqrstuvwxyz0123456789"]
    words = [("▁" + word, -1.0) for word in CATALOGUE_WORDS]
    backend = Tokenizer(models.Unigram(specials + [("▁", -2.0)] + letters + words, unk_id=2))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="</s>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=TINY_TEXT_TOKENS)


def _build_open_clip(folder: Path, dim: int, image_size: int) -> None:
    import open_clip
    from safetensors.torch import save_file

    # vocab_size 49408: open_clip's default tokenizer (its bundled BPE) gives ids up to 49407.
    model_cfg = {
        "embed_dim": dim,
        "vision_cfg": {"image_size": image_size, "patch_size": image_size // 4, "width": 32, "layers": 2,
                       "head_width": 16, "mlp_ratio": 2.0},
        "text_cfg": {"context_length": TINY_TEXT_TOKENS, "vocab_size": 49408, "width": 32, "heads": 2,
                     "layers": 2, "mlp_ratio": 2.0},
    }
    preprocess_cfg = {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD),
                      "interpolation": "bicubic", "resize_mode": "shortest"}
    model = open_clip.CLIP(**model_cfg).eval()
    save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items()}, folder / OPEN_CLIP_WEIGHTS)
    (folder / OPEN_CLIP_CONFIG).write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg},
                                                      indent=2))


def main(argv: list[str] | None = None) -> None:
    """`python -m stockmind.dev.tiny_models --family open_clip --dim 24 FOLDER`: a stand-in second model
    for trying a model change where no hub is reachable (the README's walk-through)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--family", choices=[str(f) for f in Family], default=str(Family.CLIP))
    parser.add_argument("--dim", type=int, default=TINY_DIM)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_tiny_model(args.family, args.folder.resolve(), dim=args.dim, seed=args.seed))


if __name__ == "__main__":
    main()

"""Model names: the shipped alias resolves to a complete checkpoint folder; others pass through."""

import json
from pathlib import Path

import pytest

from stockmind.embed.models import SMALL_CLIP, resolve_model

CHECKPOINT_BUDGET_BYTES = 10 * 1024 * 1024


def test_alias_resolves_to_the_folder_shipped_in_the_package():
    folder = Path(resolve_model(SMALL_CLIP))
    assert folder.is_dir() and folder.name == SMALL_CLIP
    assert folder.parent.name == "assets" and folder.parent.parent.name == "stockmind"


def test_shipped_checkpoint_is_complete_and_within_budget():
    folder = Path(resolve_model(SMALL_CLIP))
    for name in ("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json",
                 "metrics.json"):
        assert (folder / name).is_file(), name
    assert sum(f.stat().st_size for f in folder.iterdir()) <= CHECKPOINT_BUDGET_BYTES
    assert json.loads((folder / "config.json").read_text())["model_type"] == "clip"


def test_shipped_checkpoint_met_its_quality_goal():
    metrics = json.loads((Path(resolve_model(SMALL_CLIP)) / "metrics.json").read_text())["metrics"]
    assert metrics["text_to_image_recall_at_5"] >= 0.9


@pytest.mark.parametrize("name", ["openai/clip-vit-base-patch32", "/models/my-clip", "./clip"])
def test_other_names_pass_through(name):
    assert resolve_model(name) == name


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_names_are_rejected(name):
    with pytest.raises(ValueError, match="model name"):
        resolve_model(name)


@pytest.mark.slow
def test_random_vit_b32_has_the_production_shape_and_loads_through_the_embedder(tmp_path):
    from stockmind.dev.checkpoints import build_random_vit_b32
    from stockmind.embed.embedder import ClipEmbedder

    folder = build_random_vit_b32(tmp_path / "vit-b32")
    config = json.loads((Path(folder) / "config.json").read_text())
    vision = config["vision_config"]
    assert (vision["image_size"], vision["patch_size"], vision["hidden_size"],
            vision["num_hidden_layers"]) == (224, 32, 768, 12)
    assert config["text_config"]["hidden_size"] == 512
    embedder = ClipEmbedder(folder)
    assert (embedder.dim, embedder.image_size) == (512, 224)
    assert embedder.embed_texts(["a red circle"]).shape == (1, 512)

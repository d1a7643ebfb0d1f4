"""ClipEmbedder with each checkpoint family (transformers CLIP and SigLIP, open_clip), on tiny random
checkpoints saved as real ones are laid out: the family is read from the checkpoint, the vectors have
its dimension, and a checkpoint that cannot be used fails as a one-line ConfigError naming it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stockmind.dev.tiny_models import OPEN_CLIP_WEIGHTS, TINY_DIM, TINY_IMAGE_SIZE, TINY_TEXT_TOKENS, build_tiny_model
from stockmind.embed.checkpoints import CheckpointInfo, Family, checkpoint_info
from stockmind.embed.embedder import ClipEmbedder
from stockmind.errors import ConfigError
from tests.unit import image_corpus as corpus

FAMILIES = list(Family)
TEXTS = ["a red circle", "a blue square on a wooden table", "Yellow STAR!", "ring"]
WEIGHTS = {Family.CLIP: "model.safetensors", Family.SIGLIP: "model.safetensors", Family.OPEN_CLIP: OPEN_CLIP_WEIGHTS}


@pytest.fixture(scope="module", autouse=True)
def offline():
    # Every model here loads with no network at all: the hub client may not even try.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[Family, str]:
    return {family: build_tiny_model(family, tmp_path_factory.mktemp(family)) for family in FAMILIES}


@pytest.fixture(scope="module")
def embedders(folders) -> dict[Family, ClipEmbedder]:
    return {family: ClipEmbedder(folder, device="cpu") for family, folder in folders.items()}


@pytest.fixture(params=FAMILIES, ids=str)
def family(request) -> Family:
    return request.param


def photos() -> list[bytes]:
    return [corpus.encode(corpus.gradient(320, 240), "JPEG", quality=90), corpus.rgba_png(),
            corpus.encode(corpus.gradient(200, 500), "PNG")]


def copy_of(folder: str, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "copy"))


# --- the family comes from the checkpoint ------------------------------------------------------------


def test_the_family_is_read_from_the_checkpoint(folders, embedders, family):
    assert checkpoint_info(folders[family]) == CheckpointInfo(family, TINY_DIM, TINY_IMAGE_SIZE)
    embedder = embedders[family]
    assert (embedder.family, embedder.dim, embedder.image_size) == (family, TINY_DIM, TINY_IMAGE_SIZE)


def test_an_open_clip_folder_also_loads_by_its_local_dir_name(folders, embedders):
    embedder = ClipEmbedder(f"local-dir:{folders[Family.OPEN_CLIP]}", device="cpu")
    assert embedder.family is Family.OPEN_CLIP
    np.testing.assert_array_equal(embedder.embed_texts(TEXTS), embedders[Family.OPEN_CLIP].embed_texts(TEXTS))


@pytest.mark.parametrize("dim", [8, 40])
def test_the_vectors_have_the_checkpoints_own_dimension(tmp_path, family, dim):
    embedder = ClipEmbedder(build_tiny_model(family, tmp_path, dim=dim), device="cpu")
    assert embedder.dim == dim == checkpoint_info(str(tmp_path)).dim
    assert embedder.embed_texts(TEXTS[:1]).shape == (1, dim)
    assert embedder.embed_encoded(photos()[:1])[0].shape == (1, dim)


# --- vectors ---------------------------------------------------------------------------------------


def test_texts_give_unit_norm_float32_vectors(embedders, family):
    vectors = embedders[family].embed_texts(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), TINY_DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_images_give_unit_norm_float32_vectors(embedders, family):
    vectors, failures = embedders[family].embed_encoded(photos())
    assert failures == {}
    assert vectors.dtype == np.float32 and vectors.shape == (3, TINY_DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_different_texts_give_different_vectors(embedders, family):
    vectors = embedders[family].embed_texts(TEXTS)
    similarity = vectors @ vectors.T
    assert np.all(similarity[~np.eye(len(TEXTS), dtype=bool)] < 0.9999)


def test_a_second_load_embeds_alike(folders, embedders, family):
    again = ClipEmbedder(folders[family], device="cpu")
    np.testing.assert_allclose(again.embed_texts(TEXTS), embedders[family].embed_texts(TEXTS), atol=1e-6)
    np.testing.assert_allclose(again.embed_encoded(photos())[0], embedders[family].embed_encoded(photos())[0],
                               atol=1e-6)


def test_the_seed_decides_the_weights(tmp_path, folders, embedders, family):
    same = ClipEmbedder(build_tiny_model(family, tmp_path / "same", seed=0), device="cpu")
    other = ClipEmbedder(build_tiny_model(family, tmp_path / "other", seed=1), device="cpu")
    np.testing.assert_allclose(same.embed_texts(TEXTS), embedders[family].embed_texts(TEXTS), atol=1e-6)
    assert not np.allclose(other.embed_texts(TEXTS), embedders[family].embed_texts(TEXTS), atol=1e-3)


def test_a_text_embeds_alike_alone_and_in_a_batch(embedders, family):
    embedder = embedders[family]
    alone = np.concatenate([embedder.embed_texts([text]) for text in TEXTS])
    np.testing.assert_allclose(embedder.embed_texts(TEXTS), alone, atol=1e-5)


def test_pixels_of_the_models_own_size_are_what_it_takes(embedders, family):
    embedder = embedders[family]
    pixels = embedder.preprocessor().preprocess_batch(photos())
    assert pixels.shape == (3, 3, TINY_IMAGE_SIZE, TINY_IMAGE_SIZE)
    np.testing.assert_allclose(embedder.embed_images(pixels), embedder.embed_encoded(photos())[0], atol=1e-5)
    out = embedder({"key": np.array(["a", "b", "c"]), "pixels": pixels})
    assert set(out) == {"key", "embedding"} and out["embedding"].shape == (3, TINY_DIM)


def test_long_texts_are_truncated_to_the_models_context(embedders, family):
    vectors = embedders[family].embed_texts(["a red circle " * 50])
    assert vectors.shape == (1, TINY_DIM) and np.isfinite(vectors).all()


# --- each family as its own library runs it ----------------------------------------------------------


def test_siglip_texts_are_padded_to_the_models_length_without_a_mask(folders, embedders):
    """SigLIP was trained on max-length padding it attends to; shorter padding gives other vectors."""
    from transformers import AutoTokenizer, SiglipModel

    folder = folders[Family.SIGLIP]
    model, tokenizer = SiglipModel.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)

    def reference(padding: str) -> np.ndarray:
        tokens = tokenizer(TEXTS, padding=padding, max_length=TINY_TEXT_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            vectors = model.get_text_features(input_ids=tokens["input_ids"]).pooler_output
        return torch.nn.functional.normalize(vectors, dim=-1).numpy()

    ours = embedders[Family.SIGLIP].embed_texts(TEXTS)
    np.testing.assert_allclose(ours, reference("max_length"), atol=1e-5)
    assert not np.allclose(ours, reference("longest"), atol=1e-3)


def test_open_clip_vectors_match_open_clips_own_pipeline(folders, embedders):
    import open_clip
    from PIL import Image

    name = f"local-dir:{folders[Family.OPEN_CLIP]}"
    model, preprocess = open_clip.create_model_from_pretrained(name)
    tokenizer = open_clip.get_tokenizer(name)
    png = corpus.encode(corpus.gradient(300, 200), "PNG")
    with torch.inference_mode():
        image = model.encode_image(preprocess(Image.open(io.BytesIO(png))).unsqueeze(0), normalize=True)
        texts = model.encode_text(tokenizer(TEXTS), normalize=True)
    embedder = embedders[Family.OPEN_CLIP]
    np.testing.assert_allclose(embedder.embed_texts(TEXTS), texts.numpy(), atol=1e-5)
    assert float(embedder.embed_encoded([png])[0][0] @ image[0].numpy()) > 0.999


def test_transformers_clip_vectors_match_clip_models_own(folders, embedders):
    from transformers import AutoTokenizer, CLIPModel

    folder = folders[Family.CLIP]
    model, tokenizer = CLIPModel.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
    with torch.inference_mode():
        vectors = model.get_text_features(**tokenizer(TEXTS, padding=True, truncation=True, max_length=TINY_TEXT_TOKENS,
                                                     return_tensors="pt")).pooler_output
    np.testing.assert_allclose(embedders[Family.CLIP].embed_texts(TEXTS),
                               torch.nn.functional.normalize(vectors, dim=-1).numpy(), atol=1e-5)


# --- checkpoints that cannot be used ------------------------------------------------------------------


def one_line_config_error(model: str, match: str) -> ConfigError:
    with pytest.raises(ConfigError, match=match) as raised:
        ClipEmbedder(model, device="cpu")
    message = str(raised.value)
    assert "\n" not in message and model in message
    return raised.value


@pytest.mark.parametrize("spelling", ["{}", "local-dir:{}"])
def test_a_missing_folder_is_a_config_error(tmp_path, spelling):
    one_line_config_error(spelling.format(tmp_path / "nowhere"), "no such folder")
    with pytest.raises(ConfigError, match="no such folder"):
        checkpoint_info(spelling.format(tmp_path / "nowhere"))


def test_a_folder_with_no_config_of_either_kind_is_a_config_error(tmp_path):
    one_line_config_error(str(tmp_path), "cannot read its config.json")


@pytest.mark.parametrize("family, config_file", [(Family.CLIP, "config.json"), (Family.SIGLIP, "config.json"),
                                                 (Family.OPEN_CLIP, "open_clip_config.json")])
def test_a_corrupt_config_is_a_config_error(folders, tmp_path, family, config_file):
    folder = copy_of(folders[family], tmp_path)
    (folder / config_file).write_text('{"model_type": "clip", "vision_config": ')
    one_line_config_error(str(folder), f"cannot read its {config_file}")


def test_a_config_missing_what_the_family_needs_is_a_config_error(folders, tmp_path, family):
    folder = copy_of(folders[family], tmp_path)
    config_file = folder / ("open_clip_config.json" if family is Family.OPEN_CLIP else "config.json")
    config = json.loads(config_file.read_text())
    (config.get("model_cfg") or config).pop("vision_config" if family is not Family.OPEN_CLIP else "vision_cfg")
    config_file.write_text(json.dumps(config))
    one_line_config_error(str(folder), "malformed config")


def test_missing_weights_are_a_config_error(folders, tmp_path, family):
    folder = copy_of(folders[family], tmp_path)
    (folder / WEIGHTS[family]).unlink()
    error = one_line_config_error(str(folder), "cannot load CLIP model")
    assert str(family) in str(error)


def test_corrupt_weights_are_a_config_error(folders, tmp_path, family):
    folder = copy_of(folders[family], tmp_path)
    (folder / WEIGHTS[family]).write_bytes(b"\x00not a safetensors file" * 10)
    one_line_config_error(str(folder), "cannot load CLIP model")


def test_an_unknown_family_is_a_config_error_naming_its_type(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    one_line_config_error(str(tmp_path), "is a 'bert' checkpoint, not a CLIP, SigLIP or open_clip model")


def _with_dim(folder: Path, family: Family, dim: int) -> None:
    if family is Family.OPEN_CLIP:
        config = json.loads((folder / "open_clip_config.json").read_text())
        config["model_cfg"]["embed_dim"] = dim
        (folder / "open_clip_config.json").write_text(json.dumps(config))
        return
    config = json.loads((folder / "config.json").read_text())
    if family is Family.CLIP:
        config["projection_dim"] = dim
    else:
        config["vision_config"]["hidden_size"] = config["text_config"]["projection_size"] = dim
    (folder / "config.json").write_text(json.dumps(config))


def test_a_dimension_over_the_stores_limit_is_refused_from_the_config(folders, tmp_path, family):
    folder = copy_of(folders[family], tmp_path)
    _with_dim(folder, family, 4000)
    assert checkpoint_info(str(folder)).dim == 4000
    _with_dim(folder, family, 4096)
    limit = r"4096-dimensional vectors; the store's HNSW index holds at most 4000 dimensions \(pgvector halfvec\)"
    with pytest.raises(ConfigError, match=limit):
        checkpoint_info(str(folder))
    one_line_config_error(str(folder), limit)


def test_the_limit_is_the_stores_own():
    from stockmind.embed.checkpoints import MAX_DIM
    from stockmind.store.validation import MAX_DIM as STORE_MAX_DIM

    assert MAX_DIM == STORE_MAX_DIM


def test_a_model_over_the_limit_is_refused_before_its_weights_load(tmp_path, monkeypatch):
    folder = build_tiny_model(Family.CLIP, tmp_path, dim=4001)
    monkeypatch.setattr("stockmind.embed.embedder.load_towers", pytest.fail)
    one_line_config_error(folder, "4001-dimensional vectors")


def test_siglip_towers_of_different_widths_are_a_config_error(folders, tmp_path):
    folder = copy_of(folders[Family.SIGLIP], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["text_config"]["projection_size"] = TINY_DIM * 2
    (folder / "config.json").write_text(json.dumps(config))
    one_line_config_error(str(folder), "image vectors have 24 dimensions, text vectors 48")

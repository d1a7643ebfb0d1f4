"""ClipEmbedder with the trained stockmind-clip-small, offline, through the checkpoint's own
CLIPImageProcessor (the reference preprocessing)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import CLIPImageProcessor

from stockmind.dev.synthetic import Item, render
from stockmind.embed.embedder import ClipEmbedder
from stockmind.embed.models import SMALL_CLIP, resolve_model
from stockmind.errors import ConfigError


@pytest.fixture(scope="module")
def embedder(monkeypatch_module):
    return ClipEmbedder(SMALL_CLIP)


@pytest.fixture(scope="module")
def monkeypatch_module():
    # The model must load with no network at all: the hub client may not even try.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield patch


@pytest.fixture(scope="module")
def processor():
    return CLIPImageProcessor.from_pretrained(resolve_model(SMALL_CLIP))


def pixels_of(processor, items, size=(224, 224), seed=0):
    images = [render(item, size=size, seed=seed + i) for i, item in enumerate(items)]
    return processor(images=images, return_tensors="np")["pixel_values"]


def test_text_about_a_red_circle_ranks_a_red_circle_above_a_blue_square(embedder, processor):
    red_circle, blue_square = Item("red", "circle", "wooden table"), Item("blue", "square", "wooden table")
    images = embedder.embed_images(pixels_of(processor, [red_circle, blue_square]))
    query = embedder.embed_texts(["a red circle"])[0]
    assert images[0] @ query > images[1] @ query


def test_each_colour_shape_query_prefers_its_own_picture(embedder, processor):
    items = [Item("red", "circle", "marble counter"), Item("blue", "square", "slate tile"),
             Item("yellow", "star", "linen cloth"), Item("green", "triangle", "concrete floor")]
    images = embedder.embed_images(pixels_of(processor, items, size=(640, 480), seed=10))
    texts = embedder.embed_texts([f"a {item.color} {item.shape}" for item in items])
    assert list(np.argmax(texts @ images.T, axis=1)) == [0, 1, 2, 3]


def test_image_embeddings_are_unit_norm_float32_of_the_model_dimension(embedder, processor):
    vectors = embedder.embed_images(pixels_of(processor, [Item("white", "ring", "wooden table")] * 3))
    assert vectors.dtype == np.float32 and vectors.shape == (3, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_text_embeddings_are_unit_norm_float32_of_the_model_dimension(embedder):
    vectors = embedder.embed_texts(["a red circle", "an orange star on a slate tile", "leather bag"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_batch_embeds_like_its_members_one_by_one(embedder, processor):
    pixels = pixels_of(processor, [Item("purple", "cross", "linen cloth"), Item("black", "star", "white backdrop")])
    together = embedder.embed_images(pixels)
    alone = np.concatenate([embedder.embed_images(pixels[i:i + 1]) for i in range(2)])
    assert np.allclose(together, alone, atol=1e-5)
    texts = ["a red circle", "a photo of an orange ring on a wooden table"]
    assert np.allclose(embedder.embed_texts(texts),
                       np.concatenate([embedder.embed_texts([t]) for t in texts]), atol=1e-5)


def test_torch_tensors_are_accepted_like_arrays(embedder, processor):
    pixels = pixels_of(processor, [Item("green", "ring", "slate tile")])
    assert np.allclose(embedder.embed_images(torch.from_numpy(pixels)), embedder.embed_images(pixels))


def test_empty_inputs_give_empty_matrices(embedder):
    size = embedder.image_size
    assert embedder.embed_images(np.zeros((0, 3, size, size), np.float32)).shape == (0, embedder.dim)
    assert embedder.embed_texts([]).shape == (0, embedder.dim)


def test_call_adds_embeddings_and_drops_pixels_for_ray_data(embedder, processor):
    pixels = pixels_of(processor, [Item("red", "circle", "wooden table"), Item("blue", "square", "slate tile")])
    batch = {"key": np.array(["a.jpg", "b.jpg"]), "pixels": pixels}
    out = embedder(batch)
    assert set(out) == {"key", "embedding"}
    assert list(out["key"]) == ["a.jpg", "b.jpg"]
    assert np.allclose(out["embedding"], embedder.embed_images(pixels))


def test_reports_what_it_loaded(embedder):
    config = json.loads((Path(resolve_model(SMALL_CLIP)) / "config.json").read_text())
    assert embedder.model_id == SMALL_CLIP
    assert embedder.dim == config["projection_dim"]
    assert embedder.image_size == config["vision_config"]["image_size"]
    assert embedder.device == "cpu"


@pytest.mark.parametrize("shape", [(2, 3, 10, 10), (3, 64, 64), (2, 1, 64, 64)])
def test_pixels_of_the_wrong_shape_are_rejected(embedder, shape):
    with pytest.raises(ValueError, match="expected pixels of shape"):
        embedder.embed_images(np.zeros(shape, np.float32))


def test_integer_pixels_are_rejected(embedder):
    size = embedder.image_size
    with pytest.raises(ValueError, match="floating-point"):
        embedder.embed_images(np.zeros((1, 3, size, size), np.uint8))


def test_texts_must_be_a_list_of_strings(embedder):
    with pytest.raises(TypeError):
        embedder.embed_texts("a red circle")


def test_a_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        ClipEmbedder(str(tmp_path / "nowhere"))


def test_a_folder_without_a_checkpoint_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot load CLIP model"):
        ClipEmbedder(str(tmp_path))


def test_a_checkpoint_that_is_not_clip_is_a_config_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConfigError, match="not a CLIP"):
        ClipEmbedder(str(tmp_path))

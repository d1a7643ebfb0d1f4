"""The synthetic catalogue: deterministic, balanced, captioned, and recognisable at any size."""

import numpy as np
import pytest

from stockmind.dev import synthetic
from stockmind.dev.synthetic import (
    BACKGROUNDS,
    COLORS,
    SHAPES,
    Item,
    catalogue,
    held_out_shots,
    query_caption,
    render,
    shots,
)


def test_caption_names_colour_shape_and_background():
    assert Item("red", "circle", "wooden table").caption == "a red circle on a wooden table"


def test_caption_uses_an_before_a_vowel():
    assert Item("orange", "star", "slate tile").caption == "an orange star on a slate tile"
    assert query_caption("orange", "ring") == "an orange ring"


def test_every_caption_template_mentions_colour_and_shape():
    item = Item("purple", "cross", "linen cloth")
    assert len(item.captions()) == len(synthetic.CAPTION_TEMPLATES) > 1
    assert all("purple" in text and "cross" in text for text in item.captions())


@pytest.mark.parametrize("field, value", [("color", "teal"), ("shape", "blob"), ("background", "sky")])
def test_unknown_vocabulary_is_rejected(field, value):
    fields = {"color": "red", "shape": "circle", "background": "wooden table"} | {field: value}
    with pytest.raises(ValueError, match=value):
        Item(**fields)


def test_catalogue_is_deterministic_for_a_seed():
    assert catalogue(50, seed=3) == catalogue(50, seed=3)
    assert catalogue(50, seed=3) != catalogue(50, seed=4)


def test_catalogue_is_balanced_over_all_combinations():
    combos = len(COLORS) * len(SHAPES) * len(BACKGROUNDS)
    items = catalogue(2 * combos, seed=0)
    assert len(set(items)) == combos
    assert all(items.count(item) == 2 for item in set(items))


def test_render_is_deterministic_for_a_seed():
    item = Item("green", "triangle", "marble counter")
    first = np.asarray(render(item, size=(96, 64), seed=5))
    assert np.array_equal(first, np.asarray(render(item, size=(96, 64), seed=5)))
    assert not np.array_equal(first, np.asarray(render(item, size=(96, 64), seed=6)))


@pytest.mark.parametrize("size", [(224, 224), (1920, 1080), (480, 640)])
def test_render_has_the_requested_size_and_mode(size):
    image = render(Item("blue", "square", "concrete floor"), size=size, seed=0)
    assert image.size == size and image.mode == "RGB"


@pytest.mark.parametrize("size", [(224, 224), (1920, 1080), (300, 900)])
def test_shape_colour_dominates_the_centre_crop(size):
    """The shape lies inside the centred square a CLIP preprocessor keeps, in its own colour."""
    item = Item("red", "circle", "white backdrop")
    pixels = np.asarray(render(item, size=size, seed=1)).astype(int)
    side = min(size)
    left, top = (size[0] - side) // 2, (size[1] - side) // 2
    crop = pixels[top:top + side, left:left + side]
    reddish = (crop[..., 0] > 150) & (crop[..., 1] < 90) & (crop[..., 2] < 90)
    assert reddish.mean() > 0.08
    everywhere = (pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert everywhere.sum() == reddish.sum()


def test_tiny_sizes_are_rejected():
    with pytest.raises(ValueError, match="16"):
        render(Item("red", "circle", "wooden table"), size=(8, 8))


def test_held_out_shots_never_share_a_render_seed_with_training_shots():
    training = {shot.seed for seed in range(3) for shot in shots(500, seed)}
    held_out = {shot.seed for shot in held_out_shots(500, 0)}
    assert training.isdisjoint(held_out)
    assert held_out_shots(20, 1) == held_out_shots(20, 1)

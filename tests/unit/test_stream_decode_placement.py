"""Where the stream decodes images, and the batching of image files bound for the embedders."""

import pytest

from stockmind.config import Settings
from stockmind.decode.placement import DecodePlacement, resolve_placement
from stockmind.errors import ConfigError
from stockmind.stream.batching import EncodedBatcher


@pytest.mark.parametrize("value, expected", [("", "auto"), ("ingestor", "ingestor"), (" Embedder ", "embedder"),
                                             ("auto", "auto")])
def test_the_placement_is_read_from_stockmind_decode_on(value, expected):
    assert DecodePlacement(Settings.from_env({"STOCKMIND_DECODE_ON": value}).decode_on) is DecodePlacement(expected)
    assert Settings.from_env({}).decode_on == DecodePlacement.AUTO


def test_an_unknown_placement_is_a_config_error_naming_the_choices():
    expected = r"STOCKMIND_DECODE_ON='gpu' is invalid: expected one of auto\|ingestor\|embedder"
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env({"STOCKMIND_DECODE_ON": "gpu"})


@pytest.mark.parametrize("placement, on_gpu, expected", [
    ("auto", True, "embedder"), ("auto", False, "ingestor"),
    ("ingestor", True, "ingestor"), ("embedder", False, "embedder"),
])
def test_auto_decodes_on_the_embedders_only_when_they_have_a_gpu(placement, on_gpu, expected):
    assert resolve_placement(placement, embedders_on_gpu=on_gpu) == expected


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_full_batches_go_at_once_and_the_partial_one_after_the_max_wait():
    clock = Clock()
    batcher = EncodedBatcher(batch_size=2, max_wait_s=1.0, clock=clock)
    for n in range(3):
        batcher.add(f"item-{n}", bytes([n]))
    full = batcher.take()
    assert (full.owners, full.blobs, full.rows) == (["item-0", "item-1"], [b"\x00", b"\x01"], 2)
    assert batcher.take() is None and batcher.deadline() == 1.0
    clock.now = 1.0
    assert batcher.take().owners == ["item-2"]
    assert batcher.take() is None and batcher.deadline() is None and batcher.pending_rows == 0


def test_a_forced_take_sends_the_partial_batch_now():
    batcher = EncodedBatcher(batch_size=8, max_wait_s=60.0, clock=Clock())
    batcher.add("only", b"x")
    assert batcher.take(force=True).blobs == [b"x"]

"""EmbedBatcher and VectorAssembly: rows across objects, size and wait bounds, reassembly."""

import numpy as np
import pytest

from stockmind.stream.batching import EmbedBatcher, VectorAssembly


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def pixels(rows: int, value: float) -> np.ndarray:
    return np.full((rows, 3, 2, 2), value, dtype=np.float32)


def test_a_full_batch_leaves_at_once_and_mixes_objects():
    batcher = EmbedBatcher(batch_size=4, max_wait_s=10, clock=FakeClock())
    batcher.add("a", pixels(1, 1))
    batcher.add("b", pixels(2, 2))
    assert batcher.take() is None
    batcher.add("c", pixels(3, 3))

    batch = batcher.take()

    assert batch.rows == 4
    assert [(s.owner, s.start, s.stop, s.offset) for s in batch.slices] == [
        ("a", 0, 1, 0), ("b", 0, 2, 1), ("c", 0, 1, 3)]
    assert batcher.pending_rows == 2


def test_a_partial_batch_waits_for_max_wait_from_its_oldest_row():
    clock = FakeClock()
    batcher = EmbedBatcher(batch_size=8, max_wait_s=0.5, clock=clock)
    batcher.add("a", pixels(2, 1))
    clock.now += 0.3
    batcher.add("b", pixels(1, 2))
    assert batcher.take() is None
    assert batcher.deadline() == pytest.approx(100.5)

    clock.now += 0.2

    assert batcher.take().rows == 3
    assert batcher.deadline() is None


def test_force_sends_the_partial_batch_now():
    batcher = EmbedBatcher(batch_size=8, max_wait_s=60, clock=FakeClock())
    batcher.add("a", pixels(3, 1))
    assert batcher.take(force=True).rows == 3
    assert batcher.take(force=True) is None


def test_a_long_video_spans_batches_and_reassembles_in_order():
    batcher = EmbedBatcher(batch_size=4, max_wait_s=0, clock=FakeClock())
    frames = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1).repeat(3, axis=1)
    batcher.add("video", frames)
    assembly = VectorAssembly(rows=10)

    while (batch := batcher.take()) is not None:
        vectors = batch.pixels.reshape(batch.rows, -1)[:, :2]  # stand-in "embedding": keeps the frame number
        for piece in batch.slices:
            assembly.fill(piece, vectors)

    assert assembly.complete
    assert assembly.vectors[:, 0].tolist() == list(range(10))


def test_assembly_is_incomplete_until_every_row_arrives():
    batcher = EmbedBatcher(batch_size=2, max_wait_s=0, clock=FakeClock())
    batcher.add("x", pixels(3, 1))
    assembly = VectorAssembly(rows=3)
    first = batcher.take()
    assembly.fill(first.slices[0], np.ones((2, 4), dtype=np.float32))
    assert not assembly.complete


@pytest.mark.parametrize("shape", [(0, 3, 2, 2), (3, 2, 2)])
def test_add_refuses_empty_or_misshapen_pixels(shape):
    with pytest.raises(ValueError, match="expected"):
        EmbedBatcher(4, 1).add("a", np.zeros(shape, dtype=np.float32))


def test_batch_size_and_wait_are_checked():
    with pytest.raises(ValueError, match="batch_size"):
        EmbedBatcher(0, 1)
    with pytest.raises(ValueError, match="max_wait_s"):
        EmbedBatcher(1, -1)

"""Embed, decoding the images here: image files and video-frame pixels → one vector per row.

Used when images are decoded on the embedders (`--decode-on`, `stockmind.decode.placement`): the
decoders pass image files through and send video frames as pixels, both in `MEDIA_ROW_SCHEMA`'s
`data` column. The images of a batch are decoded on the embedder's device (nvJPEG on a GPU, Pillow
per image for what it cannot read) under the run's pixel limit, and the whole batch is embedded in one
forward pass. An image that cannot be decoded is reported with the reason the decoders give
(`undecodable_media`, `decompression_bomb`) and its row dropped: an image is one row with
frame_count 1, so the writer has nothing of it to wait for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from stockmind.backfill.tally import Failure, report
from stockmind.embed.embedder import ClipEmbedder
from stockmind.errors import PoisonInput

# files → (pixels of the readable ones, in order; {index among the files: error}), as `preprocess_each`.
Decode = Callable[[list[bytes]], tuple[torch.Tensor, dict[int, PoisonInput]]]


class MediaEmbedder:
    """Ray Data `map_batches` callable class (numpy batches): reads `data`/`encoded`, adds `embedding`,
    drops the two (nothing downstream needs them) and the rows of undecodable images."""

    def __init__(self, model: str, max_pixels: int, tally):
        self._embedder = ClipEmbedder(model)
        self._decode: Decode = self._embedder.preprocessor(max_pixels).preprocess_each
        self._tally = tally

    def __call__(self, batch: dict[str, np.ndarray]):
        pixels, kept, failed = row_pixels(batch["data"], batch["encoded"], self._decode, self._embedder.image_size)
        report(self._tally, failures=[Failure(str(batch["bucket"][row]), str(batch["key"][row]), error.reason,
                                              str(error)) for row, error in failed.items()])
        if kept:
            yield {**{name: values[kept] for name, values in batch.items() if name not in ("data", "encoded")},
                   "embedding": self._embedder.embed_images(pixels)}


def row_pixels(data: Sequence[bytes], encoded: Sequence[bool], decode: Decode, image_size: int
               ) -> tuple[torch.Tensor, list[int], dict[int, PoisonInput]]:
    """(pixels of the rows kept, in row order, on the decoder's device; those rows; {row: error} of the
    images that did not decode). Frame rows are kept as they are."""
    images = [row for row, is_file in enumerate(encoded) if is_file]
    decoded, errors = decode([data[row] for row in images])
    failed = {images[index]: error for index, error in errors.items()}
    kept = [row for row in range(len(data)) if row not in failed]
    pixels = torch.empty((len(kept), 3, image_size, image_size), dtype=torch.float32, device=decoded.device)
    image_slots = [slot for slot, row in enumerate(kept) if encoded[row]]
    frame_slots = [slot for slot, row in enumerate(kept) if not encoded[row]]
    if image_slots:
        pixels[image_slots] = decoded
    if frame_slots:
        frames = np.stack([_frame(data[kept[slot]], image_size) for slot in frame_slots])
        pixels[frame_slots] = torch.from_numpy(frames).to(pixels.device)
    return pixels, kept, failed


def _frame(data: bytes, image_size: int) -> np.ndarray:
    shape = (3, image_size, image_size)
    if len(data) != 4 * int(np.prod(shape)):
        raise ValueError(f"a video frame of {len(data)} bytes is not {shape} float32 pixels: the decoders'"
                         " preprocessor and the embedder's model disagree on the image size")
    return np.frombuffer(data, dtype=np.float32).reshape(shape)

"""Where image files are decoded to pixels: before the embedders, or in the embedder actors.

- `ingestor`: the stage that feeds the embedders decodes on its CPUs and sends pixels: the stream's
  ingestor (its loader threads), the backfill's decoder pool (which calls this choice `decoders`);
- `embedder`: image files travel to the embedder actors, which decode them on their device (nvJPEG
  on a GPU, Pillow per image for what it cannot read), so decode scales with the embedder pool;
- `auto` (the default): `embedder` when the embedder actors have a GPU, else `ingestor`.

Videos are decoded to frames before the embedders either way. One enum for both jobs, so the
setting STOCKMIND_DECODE_ON means the same thing to each.
"""

from __future__ import annotations

from enum import StrEnum


class DecodePlacement(StrEnum):
    INGESTOR = "ingestor"
    EMBEDDER = "embedder"
    AUTO = "auto"

    @classmethod
    def _missing_(cls, value: object) -> DecodePlacement | None:
        # The backfill's name for the stage that feeds its embedders is "the decoders".
        return cls.INGESTOR if value == "decoders" else None


def resolve_placement(placement: DecodePlacement | str, embedders_on_gpu: bool) -> DecodePlacement:
    """`auto` → `embedder` when the embedders have a GPU (nvJPEG beats the CPUs), else `ingestor`."""
    placement = DecodePlacement(placement)
    if placement is DecodePlacement.AUTO:
        return DecodePlacement.EMBEDDER if embedders_on_gpu else DecodePlacement.INGESTOR
    return placement

"""What one backfill run is asked to do (built from the command line, see `arguments.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from stockmind.decode.placement import DecodePlacement, resolve_placement
from stockmind.errors import ConfigError


@dataclass(frozen=True)
class BackfillOptions:
    database_url: str
    bucket: str
    model: str
    # The source: a prefix to list, an Inventory manifest (s3://.../manifest.json, optionally filtered
    # by `prefix`), a file of keys, or (a reindex) the live media the store holds for these tenants,
    # optionally only those changed since `changed_since`.
    prefix: str | None = None
    manifest: str | None = None
    keys_file: Path | None = None
    stored_clients: tuple[str, ...] = ()
    changed_since: datetime | None = None
    batch_size: int = 32  # frames per embedder call
    pool_size: int = 1  # embedder actors at most
    gpus_per_actor: float = 0.0
    cpus_per_actor: float = 0.5
    threads_per_actor: int | None = None  # torch threads in each embedder actor (CPU-only runs)
    # Where images are decoded: by the decoder pool (`decoders`, alias of `ingestor`), by the embedder
    # actors (`embedder`), or `auto`: the embedders when they have GPUs. Videos: the decoders, always.
    decode_on: DecodePlacement | str = DecodePlacement.AUTO
    video_fps: float = 1.0
    video_max_frames: int = 64
    max_image_pixels: int = 100_000_000
    max_object_bytes: int = 2 * 1024**3  # larger objects are reported as media_too_large, never read
    dry_run: bool = False
    force: bool = False
    defer_indexes: bool = False
    report: Path | None = None

    def __post_init__(self) -> None:
        if self.keys_file is not None and (self.manifest is not None or self.prefix is not None):
            raise ConfigError("--keys-file cannot be combined with --prefix or --manifest")
        if self.stored_clients and (self.keys_file or self.manifest or self.prefix):
            raise ConfigError("a reindex reads the store's media; it takes no --prefix, --manifest or --keys-file")
        if self.keys_file is None and self.manifest is None and self.prefix is None and not self.stored_clients:
            raise ConfigError("give a source: --prefix, --manifest (optionally with --prefix) or --keys-file")
        if self.batch_size < 1 or self.pool_size < 1:
            raise ConfigError("--batch-size and --pool-size must be at least 1")
        if self.gpus_per_actor < 0 or self.cpus_per_actor < 0:
            raise ConfigError("--gpus-per-actor and --cpus-per-actor must be >= 0")
        try:
            object.__setattr__(self, "decode_on", DecodePlacement(self.decode_on))
        except ValueError:
            raise ConfigError(f"--decode-on {self.decode_on!r}: expected auto, decoders or embedder") from None
        if self.defer_indexes and (self.prefix is None or self.manifest is not None):
            raise ConfigError("--defer-indexes needs --prefix (it names the tenants whose indexes to rebuild)")

    @property
    def reindex(self) -> bool:
        """Whether this run re-embeds stored media (every key is already in the store)."""
        return bool(self.stored_clients)

    @property
    def decode_images_on_embedder(self) -> bool:
        """`decode_on` resolved: `auto` decodes on the embedders when they have GPUs (nvJPEG)."""
        placement = resolve_placement(self.decode_on, embedders_on_gpu=self.gpus_per_actor > 0)
        return placement is DecodePlacement.EMBEDDER

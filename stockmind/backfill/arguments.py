"""The backfill's command-line options, shared by `jobs/backfill.py` and `stockmind backfill`.

Defaults come from the settings (environment), so a cluster configured once needs only the input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stockmind.backfill.options import BackfillOptions
from stockmind.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", help="S3 prefix to list, e.g. clients/client-123/ or clients/; with"
                        " --manifest, only the manifest's keys under it")
    parser.add_argument("--manifest", help="S3 Inventory manifest, s3://bucket/.../manifest.json (no listing)")
    parser.add_argument("--keys-file", type=Path, help="local file with one object key per line")
    parser.add_argument("--bucket", help="media bucket (default: S3_BUCKET_NAME)")
    parser.add_argument("--model", help="CLIP model id or folder (default: STOCKMIND_MODEL)")
    add_embedding_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="list and count what would be embedded; write nothing")
    parser.add_argument("--force", action="store_true",
                        help="re-embed objects the store already has and replace their vectors")
    parser.add_argument("--defer-indexes", action="store_true",
                        help="drop the HNSW indexes of the tenants under --prefix and rebuild them after the load")


def add_reindex_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True,
                        help="the model to embed with: hub id (CLIP, SigLIP, hf-hub:... open_clip) or folder")
    tenants = parser.add_mutually_exclusive_group(required=True)
    tenants.add_argument("--client", action="append", dest="clients", metavar="CLIENT",
                         help="tenant to reindex (repeat for several)")
    tenants.add_argument("--all", action="store_true", help="every tenant in the store")
    add_embedding_arguments(parser)


def add_embedding_arguments(parser: argparse.ArgumentParser) -> None:
    """How the pipeline embeds: shared by the backfill and the reindex."""
    parser.add_argument("--batch-size", type=int, help="frames per embedder call (default: STOCKMIND_EMBED_BATCH_SIZE)")
    parser.add_argument("--pool-size", type=int, help="embedder actors at most (default: STOCKMIND_EMBEDDER_POOL_SIZE)")
    parser.add_argument("--gpus-per-actor", type=float, help="default: STOCKMIND_EMBEDDER_NUM_GPUS")
    parser.add_argument("--cpus-per-actor", type=float, help="default: STOCKMIND_EMBEDDER_NUM_CPUS")
    parser.add_argument("--threads-per-actor", type=int, help="torch threads per embedder actor (CPU-only runs)")
    parser.add_argument("--decode-on", choices=("auto", "decoders", "embedder"),
                        help="where images are decoded: the decoder actors, the embedder actors (nvJPEG on"
                        " their GPUs), or auto: the embedders when --gpus-per-actor > 0 (default:"
                        " STOCKMIND_DECODE_ON, whose `ingestor` means the decoders here)")
    parser.add_argument("--report", type=Path, help="write failed objects with their reasons here (JSON lines)")


def reindex_options_from(args: argparse.Namespace, settings: Settings, clients: list[str]) -> BackfillOptions:
    """The reindex as a backfill whose source is the store's live media of `clients`."""
    settings.require("DATABASE_URL")
    return _options(args, settings, model=args.model, bucket="", stored_clients=tuple(clients))


def options_from(args: argparse.Namespace, settings: Settings) -> BackfillOptions:
    settings.require("DATABASE_URL")
    if args.bucket is None and args.manifest is None:
        settings.require("S3_BUCKET_NAME")
    return _options(args, settings, model=args.model or settings.model,
                    bucket=args.bucket or settings.s3_bucket_name or "", prefix=args.prefix,
                    manifest=args.manifest, keys_file=args.keys_file, dry_run=args.dry_run, force=args.force,
                    defer_indexes=args.defer_indexes)


def _options(args: argparse.Namespace, settings: Settings, **source) -> BackfillOptions:
    return BackfillOptions(
        database_url=settings.database_url,
        batch_size=_given(args.batch_size, settings.embed_batch_size),
        pool_size=_given(args.pool_size, settings.embedder_pool_size),
        gpus_per_actor=_given(args.gpus_per_actor, settings.embedder_num_gpus),
        cpus_per_actor=_given(args.cpus_per_actor, settings.embedder_num_cpus),
        threads_per_actor=args.threads_per_actor,
        decode_on=_given(args.decode_on, settings.decode_on),
        video_fps=settings.video_fps,
        video_max_frames=settings.video_max_frames,
        max_image_pixels=settings.max_image_pixels,
        max_object_bytes=settings.max_object_bytes,
        report=args.report,
        **source,
    )


def _given(value, default):
    return default if value is None else value

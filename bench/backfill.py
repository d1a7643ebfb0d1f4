"""Benchmark of the backfill: images/s through the whole Ray Data pipeline versus the bare embedder.

Measured side by side in one run, on the same JPEG product photos (640×480) and the same model:

- bare: `ClipEmbedder.embed_images` on pixels preprocessed beforehand, in this process, in batches of
  the pipeline's batch size: the most the model itself can do here;
- backfill: `run_backfill` over an S3 prefix on a LocalStack brought up for the run (moto S3,
  PostgreSQL + pgvector, a Ray head): list → skip → GET → decode → embed (actor pool) → write.
  Its steady rate is the slope of committed objects over time (polled from the store) between
  STEADY's shares of the run (60 % and 95 %). Not from the first stored batch: the stages before the
  embedder keep working while its model loads, so the first rows are a drain of what was read and
  decoded during start-up, faster than any input could arrive. The light case is sized so that this
  drain ends well before 60 % (its GETs take several times the start-up); start-up itself is
  `backfill_first_row_s`.

Two models: "heavy", a CLIP with ViT-B/32's architecture and random weights (the production model's
cost), and "light", our small CLIP. Efficiency = backfill steady rate / bare rate; the goal is ≥ 0.8.
On a CPU-only machine the embedder actor gets as many torch threads as the bare run (all cores).

The light model stands in for a GPU-speed embedder, so its backfill is bounded by what feeds it. Two
ceilings are measured on the light case's bytes, beside its run:

- decode: the project's `ImagePreprocessor` (CPU path) over the JPEGs, one process per core;
- GET: boto3 GETs of the same objects from the same moto server, in threads;

`backfill_vs_ceiling` = light backfill steady rate / min(decode, GET) (goal ≥ 0.6), and
`backfill_first_row_s` is the light run's time from calling `run_backfill` to its first stored batch.

    python bench/backfill.py --quick
    python bench/backfill.py [--gpus-per-actor 1]

Headline figures are printed last, one per line, as name=value.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

IMAGE_SIZE = (640, 480)
JPEG_QUALITY = 90
MIN_BARE_SECONDS = 3.0
MIN_CEILING_SECONDS = 3.0
GET_THREADS = 8
DISTINCT_PHOTOS = 256
# The ceilings and the bare model are timed on a sample of the objects (each for MIN_*_SECONDS).
SAMPLE = 2048
CEILING_CASE = "light"
STEADY = (0.60, 0.95)
WATCH_POLL_S = 0.1

log = logging.getLogger("bench.backfill")


@dataclass(frozen=True)
class Case:
    name: str
    images: int
    batch_size: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer images (a few minutes on 2 cores)")
    parser.add_argument("--gpus-per-actor", type=float, default=0.0)
    parser.add_argument("--ray-cpus", type=int, default=os.cpu_count())
    parser.add_argument("--light-model", default="stockmind-clip-small", help="the light model (our small CLIP)")
    return parser.parse_args()


def cases(quick: bool) -> list[Case]:
    if quick:
        return [Case("heavy", images=96, batch_size=16), Case("light", images=12000, batch_size=32)]
    return [Case("heavy", images=384, batch_size=32), Case("light", images=30000, batch_size=64)]


def photos(count: int) -> list[bytes]:
    """`count` JPEGs: DISTINCT_PHOTOS rendered ones, repeated (GET and decode cost the same)."""
    from stockmind.dev.synthetic import catalogue, render

    def encode(numbered):
        seed, item = numbered
        buffer = io.BytesIO()
        render(item, size=IMAGE_SIZE, seed=seed).save(buffer, format="JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue()

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        distinct = list(pool.map(encode, enumerate(catalogue(min(count, DISTINCT_PHOTOS), seed=3))))
    return [distinct[n % len(distinct)] for n in range(count)]


def upload(s3, bucket: str, client: str, blobs: list[bytes]) -> tuple[str, list[str]]:
    """Existing media, as a backfill finds them: no events (moto's PUTs slow down as its queue grows)."""
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    prefix = f"clients/{client}/"
    keys = [f"{prefix}products/sku-{n // 4}/media/image/p{n}.jpg" for n in range(len(blobs))]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=bucket, Key=keys[n], Body=blobs[n]), range(len(blobs))))
    return prefix, keys


def bare_rate(model: str, blobs: list[bytes], batch_size: int, device: str | None) -> float:
    """Images/s of the embedder alone on preprocessed pixels (repeated for at least MIN_BARE_SECONDS)."""
    from stockmind.decode.image import ImagePreprocessor
    from stockmind.embed.embedder import ClipEmbedder

    embedder = ClipEmbedder(model, device=device)
    pixels = ImagePreprocessor.from_pretrained(model, device="cpu").preprocess_batch(blobs)
    embedder.embed_images(pixels[:batch_size])  # warm-up: first-call allocations
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < MIN_BARE_SECONDS or done < len(blobs):
        for start in range(0, len(pixels), batch_size):
            embedder.embed_images(pixels[start:start + batch_size])
            done += len(pixels[start:start + batch_size])
    return done / (time.perf_counter() - started)


def _decode_worker(model: str, blobs: list[bytes], seconds: float) -> tuple[int, float]:
    from stockmind.decode.image import ImagePreprocessor

    preprocessor = ImagePreprocessor.from_pretrained(model, device="cpu")
    preprocessor.preprocess_batch(blobs[:8])  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or done < len(blobs):
        for data in blobs:
            preprocessor.preprocess_batch([data])  # one object at a time, as the pipeline does
            done += 1
    return done, time.perf_counter() - started


def decode_ceiling(model: str, blobs: list[bytes]) -> float:
    """Images/s of `ImagePreprocessor` over the JPEGs in one process per core (one thread each)."""
    import multiprocessing

    processes = os.cpu_count() or 1
    with multiprocessing.get_context("spawn").Pool(processes, initializer=torch_one_thread) as pool:
        results = pool.starmap(_decode_worker, [(model, blobs, MIN_CEILING_SECONDS)] * processes)
    return sum(done / seconds for done, seconds in results)


def torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def get_ceiling(bucket: str, keys: list[str]) -> float:
    """Images/s of threaded boto3 GETs of the objects from the stack's moto server."""
    from stockmind.media.objects import s3_client

    s3 = s3_client()
    read = lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # noqa: E731
    with ThreadPoolExecutor(GET_THREADS) as pool:
        list(pool.map(read, keys[:GET_THREADS]))  # warm-up: connections
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < MIN_CEILING_SECONDS or done < len(keys):
            done += len(list(pool.map(read, keys)))
    return done / (time.perf_counter() - started)


def backfill_rates(stack, model: str, prefix: str, case: Case,
                   args: argparse.Namespace) -> tuple[float, float, float]:
    """(steady images/s, end-to-end images/s, seconds to the first stored batch) of one backfill into
    a fresh database."""
    from stockmind.backfill.options import BackfillOptions
    from stockmind.backfill.runner import run_backfill
    from stockmind.dev.store_watch import StoreWatcher
    from stockmind.store import migrate

    database_url = stack.postgres.create_database(f"bench_{case.name}")
    migrate(database_url)
    options = BackfillOptions(
        database_url=database_url, bucket=stack.bucket, model=model, prefix=prefix, batch_size=case.batch_size,
        pool_size=1, gpus_per_actor=args.gpus_per_actor,
        threads_per_actor=None if args.gpus_per_actor else os.cpu_count(),
    )
    # Rows as committed, polled from the store: the driver's own view of the written batches comes in
    # bursts, however steadily the writer commits.
    watcher = StoreWatcher(database_url, poll_s=WATCH_POLL_S)
    try:
        called = time.perf_counter()
        summary = run_backfill(options)
        watcher.wait_for_rows(case.images, timeout_s=30)
    finally:
        watcher.stop()
    log.info("%s: %s", case.name, summary.line())
    if summary.embedded != case.images:
        raise RuntimeError(f"{case.name}: expected {case.images} images embedded: {summary.line()}")
    return (watcher.steady_rate(case.images, STEADY), summary.embedded / summary.seconds,
            watcher.first_row_at() - called)


def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from stockmind.dev.checkpoints import build_random_vit_b32
    from stockmind.local.ports import free_port
    from stockmind.local.stack import LocalStack

    work = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    stack = LocalStack.up(state_dir=work / "stack", with_ray=True, ray_cpus=args.ray_cpus, service_port=free_port())
    try:
        os.environ.update(stack.env)
        import boto3
        import ray

        ray.init(address=stack.ray.address, logging_level=logging.WARNING, log_to_driver=False)
        models = {"heavy": build_random_vit_b32(work / "vit-b32-random"), "light": args.light_model}
        device = "cuda" if args.gpus_per_actor else "cpu"
        results, ceilings = {}, None
        for case in cases(args.quick):
            log.info("%s: rendering and uploading %d photos", case.name, case.images)
            blobs = photos(case.images)
            prefix, keys = upload(boto3.client("s3"), stack.bucket, f"bench-{case.name}", blobs)
            bare = bare_rate(models[case.name], blobs[:SAMPLE], case.batch_size, device)
            log.info("%s: bare embedder %.1f images/s; now the backfill", case.name, bare)
            steady, end_to_end, first_row = backfill_rates(stack, models[case.name], prefix, case, args)
            results[case.name] = (bare, steady, end_to_end, first_row)
            print(f"{case.name}: images={case.images} batch={case.batch_size} bare={bare:.1f}/s"
                  f" backfill_steady={steady:.1f}/s backfill_end_to_end={end_to_end:.1f}/s"
                  f" first_row={first_row:.1f}s", flush=True)
            if case.name == CEILING_CASE:
                ceilings = (decode_ceiling(models[case.name], blobs[:DISTINCT_PHOTOS]),
                            get_ceiling(stack.bucket, keys[:SAMPLE]))
                print(f"{case.name}: decode_ceiling={ceilings[0]:.1f}/s get_ceiling={ceilings[1]:.1f}/s", flush=True)
        ray.shutdown()
    finally:
        stack.down()
        shutil.rmtree(work, ignore_errors=True)
    for name, (bare, steady, end_to_end, _) in results.items():
        print(f"bare_images_per_s_{name}={bare:.1f}")
        print(f"backfill_images_per_s_{name}={steady:.1f}")
        print(f"backfill_end_to_end_images_per_s_{name}={end_to_end:.1f}")
    for name, (bare, steady, _, _) in results.items():
        print(f"backfill_efficiency_{name}={steady / bare:.2f}")
    if ceilings is not None:
        _, steady, _, first_row = results[CEILING_CASE]
        print(f"decode_ceiling_images_per_s={ceilings[0]:.1f}")
        print(f"get_ceiling_images_per_s={ceilings[1]:.1f}")
        print(f"backfill_vs_ceiling={steady / min(ceilings):.2f}")
        print(f"backfill_first_row_s={first_row:.1f}")


if __name__ == "__main__":
    main(parse_args())

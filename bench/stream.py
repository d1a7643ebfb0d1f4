"""Streaming ingestion vs the bare embedder, side by side in one run, and put→searchable latency.

For each model the same embedder actor (same Ray resources, same batch size, two batches queued as
the stream queues them) first embeds ready-made pixel batches ("bare"), then the whole stream runs
over uploaded JPEGs: S3 event → SQS → receive → S3 GET → decode → embed → COPY into pgvector →
delete. Efficiency = stream images/s ÷ bare images/s. The bare rate is measured before and after
the stream and averaged, so machine noise hits both alike.

- heavy: a ViT-B/32-sized CLIP with random weights (the production model's cost); the goal is ≥ 0.8,
  i.e. the pipeline keeps the model busy;
- light: our small CLIP, thousands of images/s bare, so the stream's own overheads (SQS, S3, decode,
  database) set its rate.

Latency: uploads at a steady rate below the light stream's capacity while the stream runs; each
object's time from the end of its PUT to its row being visible in PostgreSQL (polled every 20 ms).

It brings up its own local stack (PostgreSQL + pgvector, moto S3/SQS, a 2-CPU Ray head) in a
temporary folder and tears it down.

    python bench/stream.py [--quick]

Headline figures are printed last: stream_efficiency_heavy, stream_efficiency_light,
put_to_searchable_p50_s, put_to_searchable_p99_s.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from stockmind.local.ray_head import RAY_ENV

# Ray reads these when it is first imported (loopback only, no usage stats).
os.environ.update(RAY_ENV)

import boto3  # noqa: E402
import ray  # noqa: E402

from stockmind.config import Settings  # noqa: E402
from stockmind.decode.image import ImagePreprocessor  # noqa: E402
from stockmind.dev.checkpoints import build_random_vit_b32  # noqa: E402
from stockmind.dev.synthetic import catalogue, render  # noqa: E402
from stockmind.embed.models import SMALL_CLIP  # noqa: E402
from stockmind.local.stack import LocalStack  # noqa: E402
from stockmind.store import connect, embedded_media, migrate  # noqa: E402
from stockmind.stream.embedders import EmbedderPool  # noqa: E402
from stockmind.stream.ingestor import StreamIngestor  # noqa: E402
from stockmind.stream.options import StreamOptions  # noqa: E402

log = logging.getLogger("bench.stream")

BATCH_SIZE = 32
IN_FLIGHT = 4 * BATCH_SIZE
PHOTO_SIZE = (320, 240)
EMBEDDER_CPUS = 1.0  # one of the head's two CPUs; the other decodes (actors holding every CPU starve Ray's tasks)
POLL_S = 0.02


@dataclasses.dataclass(frozen=True)
class Plan:
    heavy_images: int
    light_images: int
    bare_batches_heavy: int
    bare_batches_light: int
    latency_seconds: float


PLANS = {"quick": Plan(64, 400, 3, 40, 10.0), "full": Plan(256, 1500, 8, 150, 30.0)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and a shorter latency run")
    parser.add_argument("--light-model", default=SMALL_CLIP, help="the light case's model")
    return parser.parse_args()


def photos(count: int) -> list[bytes]:
    blobs = []
    for index, item in enumerate(catalogue(min(count, 64), seed=11)):
        buffer = io.BytesIO()
        render(item, size=PHOTO_SIZE, seed=index).save(buffer, "JPEG", quality=90)
        blobs.append(buffer.getvalue())
    return [blobs[n % len(blobs)] for n in range(count)]


class Bench:
    def __init__(self, stack: LocalStack, plan: Plan):
        self.stack, self.plan = stack, plan
        self.s3, self.sqs = boto3.client("s3"), boto3.client("sqs")

    def settings(self, model: str, database_url: str) -> Settings:
        env = {**self.stack.env, "DATABASE_URL": database_url, "STOCKMIND_MODEL": model}
        # Room for the two batches queued on the actor plus a full one forming: with less, the held
        # messages all sit in the actor's queue and the next batch leaves partial.
        return dataclasses.replace(Settings.from_env(env), embed_batch_size=BATCH_SIZE,
                                   max_messages_in_flight=IN_FLIGHT)

    def fresh_database(self) -> str:
        url = self.stack.postgres.create_database(f"bench_{uuid.uuid4().hex[:10]}")
        migrate(url)
        return url

    def upload(self, prefix: str, blobs: list[bytes]) -> list[str]:
        keys = [f"clients/bench/products/sku-{n % 50}/media/image/{prefix}-{n}.jpg" for n in range(len(blobs))]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda kb: self.s3.put_object(Bucket=self.stack.bucket, Key=kb[0], Body=kb[1]),
                          zip(keys, blobs)))
        self.wait_for_queue(len(keys))
        return keys

    def wait_for_queue(self, count: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.stack.queue_url,
                                                       AttributeNames=["ApproximateNumberOfMessages"])
            if int(attributes["Attributes"]["ApproximateNumberOfMessages"]) >= count:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the queue did not reach {count} messages")

    def bare_rate(self, pool: EmbedderPool, pixels: np.ndarray, batches: int) -> float:
        """Images/s of the pool fed ready pixels, with the stream's pipelining (two batches queued)."""
        pool.submit(pixels).result()  # warm-up
        started, pending = time.perf_counter(), []
        for _ in range(batches):
            while not pool.has_capacity():
                pending.pop(0).result()
            pending.append(pool.submit(pixels))
        for future in pending:
            future.result()
        return batches * len(pixels) / (time.perf_counter() - started)

    def stream_rate(self, settings: Settings, pool: EmbedderPool, count: int, prefix: str) -> tuple[float, dict]:
        self.upload(prefix, photos(count))
        options = StreamOptions(max_messages=count, receive_wait_s=1)
        ingestor = StreamIngestor(settings, options, pool=pool)
        started = time.perf_counter()
        stats = ingestor.run()
        elapsed = time.perf_counter() - started
        if stats["counts"]["objects_embedded"] != count:
            raise RuntimeError(f"the stream embedded {stats['counts']['objects_embedded']} of {count}")
        return count / elapsed, stats

    def efficiency(self, label: str, model: str, images: int, bare_batches: int) -> tuple[float, float]:
        settings = self.settings(model, self.fresh_database())
        pool = EmbedderPool(model, size=1, num_cpus=EMBEDDER_CPUS)
        try:
            preprocessor = ImagePreprocessor.from_pretrained(model, device="cpu")
            pixels = preprocessor.preprocess_batch(photos(BATCH_SIZE))
            bare_before = self.bare_rate(pool, pixels, bare_batches)
            stream, stats = self.stream_rate(settings, pool, images, label)
            bare_after = self.bare_rate(pool, pixels, bare_batches)
        finally:
            pool.close()
        bare = (bare_before + bare_after) / 2
        log.info("%s stage seconds: %s; mean batch %.1f rows", label, stats["stage_seconds"], stats["mean_batch_rows"])
        print(f"bare_images_per_s_{label}={bare:.1f}  # before {bare_before:.1f}, after {bare_after:.1f}")
        print(f"stream_images_per_s_{label}={stream:.1f}")
        return stream / bare, stream

    def latency(self, model: str, rate_per_s: float) -> list[float]:
        """Put→searchable seconds for uploads at `rate_per_s` while the stream runs."""
        database_url = self.fresh_database()
        settings = dataclasses.replace(self.settings(model, database_url), embed_batch_size=BATCH_SIZE)
        pool = EmbedderPool(model, size=1, num_cpus=EMBEDDER_CPUS)
        ingestor = StreamIngestor(settings, StreamOptions(receive_wait_s=1), pool=pool)
        runner = threading.Thread(target=ingestor.run, daemon=True)
        runner.start()
        put_at: dict[str, float] = {}
        watcher = Watcher(database_url)
        try:
            blobs = photos(int(rate_per_s * self.plan.latency_seconds))
            started = time.monotonic()
            for n, data in enumerate(blobs):
                time.sleep(max(0.0, started + n / rate_per_s - time.monotonic()))
                key = f"clients/latency/products/sku-{n % 10}/media/image/p-{n}.jpg"
                self.s3.put_object(Bucket=self.stack.bucket, Key=key, Body=data)
                put_at[key] = time.time()
            watcher.wait_for(set(put_at), timeout_s=120)
        finally:
            watcher.stop()
            ingestor.stop()
            runner.join(60)
            pool.close()
        return [watcher.seen[key] - put_at[key] for key in put_at]


class Watcher:
    """Polls PostgreSQL and records when each key's row first became visible (wall clock)."""

    def __init__(self, database_url: str):
        self.seen: dict[str, float] = {}
        self._conn = connect(database_url)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            now = time.time()
            for _, key in embedded_media(self._conn):
                self.seen.setdefault(key, now)
            time.sleep(POLL_S)

    def wait_for(self, keys: set[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not keys <= self.seen.keys():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(keys - self.seen.keys())} uploads never became searchable")
            time.sleep(0.1)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._conn.close()


def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    plan = PLANS["quick" if args.quick else "full"]
    state_dir = Path(tempfile.mkdtemp(prefix="stockmind-bench-stream-"))
    models_dir = Path(tempfile.mkdtemp(prefix="stockmind-bench-models-"))
    stack = LocalStack.up(state_dir=state_dir, with_ray=True, ray_cpus=2)
    os.environ.update(stack.env)
    ray.init(address=stack.ray.address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        bench = Bench(stack, plan)
        heavy_model = build_random_vit_b32(models_dir / "vit-b32-random")
        heavy, _ = bench.efficiency("heavy", heavy_model, plan.heavy_images, plan.bare_batches_heavy)
        light, light_stream_rate = bench.efficiency("light", args.light_model, plan.light_images,
                                                    plan.bare_batches_light)
        rate = round(min(20.0, 0.5 * light_stream_rate), 1)
        lags = bench.latency(args.light_model, rate)
    finally:
        ray.shutdown()
        stack.down()
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(models_dir, ignore_errors=True)
    print(f"batch_size={BATCH_SIZE}")
    print(f"embedder_cpus={EMBEDDER_CPUS}")
    print(f"max_messages_in_flight={IN_FLIGHT}")
    print(f"latency_upload_rate_per_s={rate}")
    print(f"latency_uploads={len(lags)}")
    print(f"stream_efficiency_heavy={heavy:.3f}")
    print(f"stream_efficiency_light={light:.3f}")
    print(f"put_to_searchable_p50_s={np.percentile(lags, 50):.3f}")
    print(f"put_to_searchable_p99_s={np.percentile(lags, 99):.3f}")


if __name__ == "__main__":
    main(parse_args())

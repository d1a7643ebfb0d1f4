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

Ceilings, on the same JPEGs, machine and moto server in the same run: decode (the project's
ImagePreprocessor, one process per core), S3 GET (threaded boto3 GETs of the light run's objects,
as many threads as the stream's loaders) and SQS (a receive+delete drain of the light run's own
queue before the stream reads it: same batch size and as many long polls at a time as the stream's
receiver, `--receive-threads`, deletes beside them as the stream's loop does them).
stream_vs_ceiling = the light stream's steady images/s (rows committed between 10 % and 90 % of the
run) ÷ the lowest ceiling; the goal is ≥ 0.8.

Scale-out: the stream as the job runs it (`run_stream`, ingestor actors with their own embedder)
with 1 then 2 ingestors on a two-node local Ray cluster (stockmind/local/two_node_cluster.py), each over
an equally deep queue filled once the ingestors are up; stream_scaleout = the 2-ingestor steady rate
÷ the 1-ingestor one. Both nodes share this machine's cores and the one moto server, so it shows
whether a second ingestor adds throughput where the first is not at a ceiling, not a second machine.

Latency: uploads at a steady rate below the light stream's capacity while the stream runs; each
object's time from the end of its PUT to its row being visible in PostgreSQL (polled every 20 ms).

It brings up its own local stack (PostgreSQL + pgvector, moto S3/SQS, a 2-CPU Ray head) in a
temporary folder and tears it down.

    python bench/stream.py [--quick]

Headline figures are printed last: stream_efficiency_heavy, stream_efficiency_light,
put_to_searchable_p50_s, put_to_searchable_p99_s, the ceilings, stream_vs_ceiling, stream_scaleout.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import multiprocessing
import os
import queue
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
from botocore.config import Config  # noqa: E402
from ray.util.state import list_actors  # noqa: E402

from stockmind.config import Settings  # noqa: E402
from stockmind.decode.image import ImagePreprocessor  # noqa: E402
from stockmind.decode.prepare import prepare_media  # noqa: E402
from stockmind.dev.checkpoints import build_random_vit_b32  # noqa: E402
from stockmind.dev.store_watch import StoreWatcher, steady_rate  # noqa: E402
from stockmind.dev.synthetic import catalogue, render  # noqa: E402
from stockmind.embed.models import SMALL_CLIP  # noqa: E402
from stockmind.local.stack import LocalStack  # noqa: E402
from stockmind.local.two_node_cluster import two_node_cluster  # noqa: E402
from stockmind.media.objects import s3_client  # noqa: E402
from stockmind.media.types import MediaType  # noqa: E402
from stockmind.store import migrate  # noqa: E402
from stockmind.stream.embedders import EmbedderPool  # noqa: E402
from stockmind.stream.ingestor import StreamIngestor  # noqa: E402
from stockmind.stream.options import StreamOptions  # noqa: E402
from stockmind.stream.pipeline import run_stream  # noqa: E402
from stockmind.stream.shutdown import ShutdownRequest  # noqa: E402
from stockmind.stream.sqs_source import SQS_BATCH_LIMIT, SqsSource  # noqa: E402

log = logging.getLogger("bench.stream")

BATCH_SIZE = 32
IN_FLIGHT = 4 * BATCH_SIZE
PHOTO_SIZE = (320, 240)
EMBEDDER_CPUS = 1.0  # one of the head's two CPUs; the other decodes (actors holding every CPU starve Ray's tasks)
POLL_S = 0.02
COUNT_POLL_S = 0.05
STEADY = (0.1, 0.9)  # the share of a run's rows between which its steady rate is measured
MIN_DECODE_S = 2.0
# Not the stream's default of 1: with one poll at a time, each receive waits behind the loaders' GETs
# in moto's one process (0.8-1.2 s per call under load), and that alone sets the stream's rate.
RECEIVE_THREADS = 2
SCALEOUT_NODE_CPUS = "2"


@dataclasses.dataclass(frozen=True)
class Plan:
    heavy_images: int
    light_images: int
    bare_batches_heavy: int
    bare_batches_light: int
    latency_seconds: float
    scaleout_images: int


PLANS = {"quick": Plan(64, 400, 3, 40, 10.0, 200), "full": Plan(256, 1500, 8, 150, 30.0, 1000)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and a shorter latency run")
    parser.add_argument("--light-model", default=SMALL_CLIP, help="the light case's model")
    parser.add_argument("--receive-threads", type=int, default=RECEIVE_THREADS,
                        help="the stream's concurrent long polls (and the SQS ceiling's)")
    return parser.parse_args()


def photos(count: int) -> list[bytes]:
    blobs = []
    for index, item in enumerate(catalogue(min(count, 64), seed=11)):
        buffer = io.BytesIO()
        render(item, size=PHOTO_SIZE, seed=index).save(buffer, "JPEG", quality=90)
        blobs.append(buffer.getvalue())
    return [blobs[n % len(blobs)] for n in range(count)]


class Bench:
    def __init__(self, stack: LocalStack, plan: Plan, options: StreamOptions):
        self.stack, self.plan, self.options = stack, plan, options
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
        self.stack.wait_for_queued(len(keys))
        return keys

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

    def stream_rate(self, settings: Settings, pool: EmbedderPool, count: int, prefix: str,
                    ceilings: dict[str, float] | None = None) -> tuple[float, float, dict]:
        """(images/s over the whole run, steady images/s, stats); with `ceilings`, the S3 GET and SQS
        ceilings are measured on this run's objects and queue first (then the queue is filled again)."""
        keys = self.upload(prefix, photos(count))
        if ceilings is not None:
            ceilings["sqs_receive"], bodies = self.drain_queue(count)
            ceilings["s3_get"] = self.get_rate(keys)
            log.info("ceilings so far: %s", ceilings)
            self.send(bodies)
            self.stack.wait_for_queued(count)
        options = dataclasses.replace(self.options, max_messages=count)
        ingestor = StreamIngestor(settings, options, pool=pool)
        counter = StoreWatcher(settings.database_url, poll_s=COUNT_POLL_S)
        started = time.perf_counter()
        try:
            stats = ingestor.run()
        finally:
            counter.stop()
        elapsed = time.perf_counter() - started
        if stats["counts"]["objects_embedded"] != count:
            raise RuntimeError(f"the stream embedded {stats['counts']['objects_embedded']} of {count}")
        return count / elapsed, counter.steady_rate(count, STEADY), stats

    def efficiency(self, label: str, model: str, images: int, bare_batches: int,
                   ceilings: dict[str, float] | None = None) -> tuple[float, float, float]:
        """(stream ÷ bare, stream images/s, steady stream images/s)."""
        settings = self.settings(model, self.fresh_database())
        pool = EmbedderPool(model, size=1, num_cpus=EMBEDDER_CPUS)
        try:
            preprocessor = ImagePreprocessor.from_pretrained(model, device="cpu")
            pixels = preprocessor.preprocess_batch(photos(BATCH_SIZE))
            bare_before = self.bare_rate(pool, pixels, bare_batches)
            stream, steady, stats = self.stream_rate(settings, pool, images, label, ceilings)
            bare_after = self.bare_rate(pool, pixels, bare_batches)
        finally:
            pool.close()
        bare = (bare_before + bare_after) / 2
        log.info("%s stage seconds: %s; calls %s; mean batch %.1f rows", label, stats["stage_seconds"],
                 stats["stage_calls"], stats["mean_batch_rows"])
        print(f"bare_images_per_s_{label}={bare:.1f}  # before {bare_before:.1f}, after {bare_after:.1f}")
        print(f"stream_images_per_s_{label}={stream:.1f}  # steady {steady:.1f}")
        return stream / bare, stream, steady

    # --- ceilings --------------------------------------------------------------------------

    def drain_queue(self, count: int) -> tuple[float, list[str]]:
        """Receive+delete `count` messages as the stream does (its receive threads each long-polling for
        10, deletes in another thread); returns (messages/s, their bodies)."""
        config = Config(retries={"mode": "standard"}, max_pool_connections=self.options.load_threads + 4)
        source = SqsSource(boto3.client("sqs", region_name=self.stack.region, config=config),
                           self.stack.queue_url, self.stack.dlq_url)
        received: queue.Queue = queue.Queue()
        bodies: dict[str, str] = {}  # by message id: moto may hand one message out twice
        deadline = time.monotonic() + 300

        samples: list[tuple[float, int]] = []

        def poll() -> None:
            while len(bodies) < count and time.monotonic() < deadline:
                messages = source.receive(SQS_BATCH_LIMIT, self.options.receive_wait_s, 60)
                received.put(messages)
                bodies.update((m.message_id, m.body) for m in messages)
                samples.append((time.perf_counter(), len(bodies)))

        deleter = threading.Thread(target=_delete_all, args=(source, received), daemon=True)
        deleter.start()
        with ThreadPoolExecutor(self.options.receive_threads) as pollers:
            list(pollers.map(lambda _: poll(), range(self.options.receive_threads)))
        received.put(None)
        deleter.join()
        if len(bodies) < count:
            raise RuntimeError(f"drained {len(bodies)} of {count} messages")
        # Measured as the stream's steady rate is: between 10 % and 90 % of the messages.
        return steady_rate(samples, count, STEADY), list(bodies.values())

    def send(self, bodies: list[str]) -> None:
        """Put `bodies` back on the queue (10 per call, 8 calls at a time): much faster than uploading."""
        chunks = [bodies[n:n + SQS_BATCH_LIMIT] for n in range(0, len(bodies), SQS_BATCH_LIMIT)]

        def send_chunk(chunk: list[str]) -> None:
            entries = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(chunk)]
            self.sqs.send_message_batch(QueueUrl=self.stack.queue_url, Entries=entries)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send_chunk, chunks))

    def get_rate(self, keys: list[str]) -> float:
        """Objects/s of GETs with as many threads as the stream's loaders, through the stream's client."""
        threads = self.options.load_threads
        client = s3_client(self.stack.region, threads + 4)
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda key: client.get_object(Bucket=self.stack.bucket, Key=key)["Body"].read(), keys))
        return len(keys) / (time.perf_counter() - started)

    # --- scale-out -------------------------------------------------------------------------

    def scaleout(self, model: str, count: int, dashboard_url: str) -> dict[int, float]:
        """{ingestors: steady images/s} of `run_stream` with 1 and 2 ingestors, each over `count` queued
        messages sent once its ingestors are up (the first one up would otherwise start alone)."""
        self.upload("scale", photos(count))
        _, bodies = self.drain_queue(count)
        return {n: self.scaled_rate(model, n, bodies, dashboard_url) for n in (1, 2)}

    def scaled_rate(self, model: str, ingestors: int, bodies: list[str], dashboard_url: str) -> float:
        settings = dataclasses.replace(self.settings(model, self.fresh_database()), ingestors=ingestors)
        shutdown = ShutdownRequest()
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(stats=run_stream(settings, self.options, shutdown)),
                                  daemon=True)
        runner.start()
        alive = [("class_name", "=", "IngestorActor"), ("state", "=", "ALIVE")]
        deadline = time.monotonic() + 300
        while len(list_actors(address=dashboard_url, filters=alive)) < ingestors:
            if not runner.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{ingestors} ingestors did not start")
            time.sleep(0.5)
        counter = StoreWatcher(settings.database_url, poll_s=COUNT_POLL_S)
        try:
            self.send(bodies)
            counter.wait_for_rows(len(bodies), timeout_s=300)
        finally:
            counter.stop()
            shutdown.request()
            runner.join(120)
        runs = result["stats"]["ingestors"]
        log.info("%d ingestors: received %s on nodes %s; stage seconds %s", ingestors,
                 [r["counts"]["received"] for r in runs], [r["node_id"][:8] for r in runs],
                 [r["stage_seconds"] for r in runs])
        return counter.steady_rate(len(bodies), STEADY)

    def latency(self, model: str, rate_per_s: float) -> list[float]:
        """Put→searchable seconds for uploads at `rate_per_s` while the stream runs."""
        database_url = self.fresh_database()
        settings = dataclasses.replace(self.settings(model, database_url), embed_batch_size=BATCH_SIZE)
        pool = EmbedderPool(model, size=1, num_cpus=EMBEDDER_CPUS)
        ingestor = StreamIngestor(settings, StreamOptions(receive_wait_s=1), pool=pool)
        runner = threading.Thread(target=ingestor.run, daemon=True)
        runner.start()
        put_at: dict[str, float] = {}
        watcher = StoreWatcher(database_url)
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


def _decode_for(model: str, blobs: list[bytes], start: multiprocessing.Barrier, results: multiprocessing.Queue) -> None:
    """One decode process: the stream's decode (`prepare_media`) of `blobs` over and over for
    MIN_DECODE_S after every process is ready; reports (images, seconds)."""
    import torch

    torch.set_num_threads(1)  # one process per core
    preprocessor = ImagePreprocessor.from_pretrained(model, device="cpu")
    for data in blobs[:8]:
        prepare_media(MediaType.IMAGE, data, preprocessor)
    start.wait()
    started, done = time.perf_counter(), 0
    while time.perf_counter() - started < MIN_DECODE_S:
        done += sum(len(prepare_media(MediaType.IMAGE, data, preprocessor).timestamps) for data in blobs)
    results.put((done, time.perf_counter() - started))


def decode_rate(model: str, blobs: list[bytes], processes: int) -> float:
    """Images/s of the stream's decode with the model's preprocessor, one process per core."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_decode_for, args=(model, blobs, start, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    rates = [done / seconds for done, seconds in (results.get(timeout=300) for _ in workers)]
    for worker in workers:
        worker.join()
    return sum(rates)


def _delete_all(source: SqsSource, received: queue.Queue) -> None:
    while (messages := received.get()) is not None:
        if messages:
            source.delete(messages)




def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    plan = PLANS["quick" if args.quick else "full"]
    state_dir = Path(tempfile.mkdtemp(prefix="stockmind-bench-stream-"))
    models_dir = Path(tempfile.mkdtemp(prefix="stockmind-bench-models-"))
    stack = LocalStack.up(state_dir=state_dir, with_ray=True, ray_cpus=2)
    os.environ.update(stack.env)
    cores = os.cpu_count() or 1
    ceilings = {"decode": decode_rate(args.light_model, photos(plan.light_images), cores)}
    log.info("decode ceiling: %.1f images/s", ceilings["decode"])
    options = StreamOptions(receive_wait_s=1, receive_threads=args.receive_threads)
    ray.init(address=stack.ray.address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        bench = Bench(stack, plan, options)
        heavy_model = build_random_vit_b32(models_dir / "vit-b32-random")
        heavy, _, _ = bench.efficiency("heavy", heavy_model, plan.heavy_images, plan.bare_batches_heavy)
        light, light_stream_rate, light_steady = bench.efficiency(
            "light", args.light_model, plan.light_images, plan.bare_batches_light, ceilings)
        rate = round(min(20.0, 0.5 * light_stream_rate), 1)
        lags = bench.latency(args.light_model, rate)
        ray.shutdown()
        with two_node_cluster(("--num-cpus", SCALEOUT_NODE_CPUS), ("--num-cpus", SCALEOUT_NODE_CPUS)) as (gcs, dash):
            ray.init(address=gcs, logging_level=logging.WARNING, log_to_driver=False)
            scaled = bench.scaleout(args.light_model, plan.scaleout_images, dash)
            ray.shutdown()
    finally:
        ray.shutdown()
        stack.down()
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(models_dir, ignore_errors=True)
    lowest = min(ceilings, key=ceilings.get)
    print(f"batch_size={BATCH_SIZE}")
    print(f"embedder_cpus={EMBEDDER_CPUS}")
    print(f"max_messages_in_flight={IN_FLIGHT}")
    print(f"receive_threads={options.receive_threads}")
    print(f"latency_upload_rate_per_s={rate}")
    print(f"latency_uploads={len(lags)}")
    print(f"stream_efficiency_heavy={heavy:.3f}")
    print(f"stream_efficiency_light={light:.3f}")
    print(f"put_to_searchable_p50_s={np.percentile(lags, 50):.3f}")
    print(f"put_to_searchable_p99_s={np.percentile(lags, 99):.3f}")
    print(f"ceiling_decode_images_per_s={ceilings['decode']:.1f}  # {cores} processes, "
          f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEGs")
    print(f"ceiling_s3_get_per_s={ceilings['s3_get']:.1f}  # {options.load_threads} threads, moto")
    print(f"ceiling_sqs_receive_per_s={ceilings['sqs_receive']:.1f}  # receive 10 + delete, "
          f"{options.receive_threads} poll(s) at a time, {plan.light_images} queued, moto")
    print(f"stream_steady_images_per_s_light={light_steady:.1f}")
    print(f"stream_vs_ceiling={light_steady / ceilings[lowest]:.3f}  # lowest ceiling: {lowest}")
    print(f"stream_scaleout={scaled[2] / scaled[1]:.3f}  # 2 ingestors {scaled[2]:.1f} ÷ 1 ingestor {scaled[1]:.1f}"
          f" images/s; queue depth {plan.scaleout_images}; two nodes of {SCALEOUT_NODE_CPUS} CPUs on {cores} cores;"
          f" decode ceiling {ceilings['decode']:.0f}/s {'not ' if ceilings['decode'] > 1.5 * scaled[2] else ''}"
          f"the limit; one moto server (SQS ceiling {ceilings['sqs_receive']:.0f}/s)")


if __name__ == "__main__":
    main(parse_args())

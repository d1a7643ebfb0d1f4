"""GPU throughput (issue #16): the bare model, nvJPEG decode, the pipelines end to end, GPU/CPU fidelity.

Offline: the production model's cost comes from a CLIP with ViT-B/32's architecture and random
weights (`build_random_vit_b32`), fidelity from our trained small CLIP kept in the repo. Every
figure is printed as soon as it is measured, one `name=value` line each (a measurement that fails
prints `name=not_measured  # why` and the rest carry on):

- vit_b32_fp16_images_per_s_batch256: `ClipEmbedder.embed_images` on pixels already on the GPU, fp16;
- nvjpeg_decode_images_per_s_{1080p,12mp}: JPEG bytes → normalised pixel batches on the GPU (nvJPEG
  decode, GPU resize + crop), batched; cpu_decode_images_per_s_{1080p,12mp}: the same bytes through
  the CPU path (Pillow, DCT-scaled decode), one process per core;
- stream_images_per_s_gpu, backfill_images_per_s_gpu: the stream (decode on the embedder) and the
  backfill, each with one GPU embedder, on a local stack (moto S3/SQS, PostgreSQL, a Ray head)
  brought up for the run; moto's SQS, not the GPU, bounds the stream here (FACTS.md: ~70-100 messages/s);
- cosine_gpu_fp16_vs_cpu_fp32_min: the same files embedded on the GPU (nvJPEG, fp16) and on the CPU
  (Pillow, fp32) by the trained small CLIP (goal ≥ 0.99); also for the random ViT-B/32.

    bash bench/gpu.sh                      # on a GPU machine (< 8 minutes)
    python bench/gpu.py --dry-run-cpu      # every measurement on the CPU at tiny sizes (a smoke test)

Without a CUDA device and without --dry-run-cpu it exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("bench.gpu")

SIZES = {"1080p": (1920, 1080), "12mp": (4000, 3000)}
E2E_PHOTO_SIZE = (640, 480)
JPEG_QUALITY = 90
NO_CUDA_EXIT = 2


@dataclass(frozen=True)
class Plan:
    device: str
    dtype: torch.dtype
    model_batch: int
    seconds: float  # each timed loop runs at least this long
    decode_photos: dict[str, int]  # distinct photos per size
    decode_batch: int
    e2e_images: int
    e2e_batch: int
    cosine_photos: int
    # ViT-B/32's cost is what the GPU run measures; the dry run only needs the code paths to run.
    small_model_stands_in: bool = False


PLANS = {
    "gpu": Plan("cuda", torch.float16, model_batch=256, seconds=5.0, decode_photos={"1080p": 64, "12mp": 32},
                decode_batch=64, e2e_images=512, e2e_batch=64, cosine_photos=48),
    # The same code paths on the CPU, as small as they go (fp16 stays: it runs on the CPU too).
    "dry-run-cpu": Plan("cpu", torch.float16, model_batch=2, seconds=0.0, decode_photos={"1080p": 2, "12mp": 1},
                        decode_batch=2, e2e_images=6, e2e_batch=4, cosine_photos=5, small_model_stands_in=True),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run-cpu", action="store_true", help="run every measurement on the CPU, tiny")
    parser.add_argument("--skip-end-to-end", action="store_true", help="no local stack: skip stream and backfill")
    return parser.parse_args()


def emit(name: str, value: str, note: str = "") -> None:
    print(f"{name}={value}" + (f"  # {note}" if note else ""), flush=True)


def measured(names: list[str], measure: Callable[[], None]) -> None:
    """Run one measurement; if it fails, each of its figures is reported as not measured, and why."""
    try:
        measure()
    except Exception as error:  # noqa: BLE001 - a benchmark reports what broke and goes on
        log.warning("%s failed:\n%s", names, traceback.format_exc())
        why = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200] if str(error).strip() else ''}"
        for name in names:
            emit(name, "not_measured", why)


def timed_rate(run: Callable[[], int], seconds: float, sync: Callable[[], None]) -> float:
    """Items/s of `run` (returns items done), repeated for at least `seconds` after one warm-up."""
    run()
    sync()
    done, started = 0, time.perf_counter()
    while True:
        done += run()
        sync()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def synchronizer(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


# --- inputs ---------------------------------------------------------------------------------------


def photos(count: int, size: tuple[int, int], seed: int = 7) -> list[bytes]:
    from stockmind.dev.synthetic import catalogue, render

    def encode(numbered) -> bytes:
        index, item = numbered
        buffer = io.BytesIO()
        render(item, size=size, seed=index).save(buffer, "JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue()

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        return list(pool.map(encode, enumerate(catalogue(count, seed=seed))))


def catalogue_mix(count: int) -> list[bytes]:
    """Product photos, and the same photos as the kinds nvJPEG leaves to the CPU (CMYK, PNG, WebP)."""
    from PIL import Image

    blobs = photos(count, E2E_PHOTO_SIZE, seed=5)
    mixed = []
    for index, data in enumerate(blobs):
        image = Image.open(io.BytesIO(data))
        kind = index % 5
        buffer = io.BytesIO()
        if kind == 1:
            image.convert("CMYK").save(buffer, "JPEG", quality=JPEG_QUALITY)
        elif kind == 2:
            image.save(buffer, "JPEG", quality=JPEG_QUALITY, progressive=True)
        elif kind == 3:
            image.save(buffer, "PNG")
        elif kind == 4:
            image.save(buffer, "WEBP", quality=JPEG_QUALITY)
        mixed.append(buffer.getvalue() if kind else data)
    return mixed


def device_pixels(preprocessor, blobs: list[bytes]) -> torch.Tensor:
    """The GPU's decode path: nvJPEG + tensor resize on CUDA; in a dry run the same torchvision code on
    the CPU (the unit tests run it so too)."""
    if preprocessor.device.type == "cuda":
        pixels, failures = preprocessor.preprocess_each(blobs)
    else:
        crops, failures = preprocessor._crops_with_torchvision(blobs)
        pixels = preprocessor._normalise(preprocessor._stack(crops))
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(blobs)} bench photos did not decode: {failures}")
    return pixels


# --- measurements -----------------------------------------------------------------------------------


def measure_model(plan: Plan, vit: str) -> None:
    from stockmind.embed.embedder import ClipEmbedder

    embedder = ClipEmbedder(vit, device=plan.device, dtype=plan.dtype)
    pixels = torch.randn(plan.model_batch, 3, embedder.image_size, embedder.image_size, device=plan.device)
    rate = timed_rate(lambda: len(embedder.embed_images(pixels)), plan.seconds, synchronizer(plan.device))
    emit("vit_b32_fp16_images_per_s_batch256", f"{rate:.1f}",
         f"{plan.device} {str(plan.dtype).removeprefix('torch.')} batch {plan.model_batch}")


def measure_decode(plan: Plan, vit: str, label: str, blobs: list[bytes]) -> None:
    from stockmind.decode.image import ImagePreprocessor

    preprocessor = ImagePreprocessor.from_pretrained(vit, device=plan.device)
    batch = [blobs[n % len(blobs)] for n in range(plan.decode_batch)]
    rate = timed_rate(lambda: len(device_pixels(preprocessor, batch)), plan.seconds, synchronizer(plan.device))
    emit(f"nvjpeg_decode_images_per_s_{label}", f"{rate:.1f}",
         f"{'nvJPEG' if plan.device == 'cuda' else 'torchvision on the CPU (dry run)'}, batch {plan.decode_batch},"
         f" {len(blobs)} distinct photos, mean {np.mean([len(b) for b in blobs]) / 1e3:.0f} KB")


_worker_preprocessor = None
_worker_photos: dict[str, list[bytes]] = {}


def _init_cpu_worker(model: str, photos_by_size: dict[str, list[bytes]]) -> None:
    global _worker_preprocessor, _worker_photos
    torch.set_num_threads(1)
    from stockmind.decode.image import ImagePreprocessor

    _worker_preprocessor = ImagePreprocessor.from_pretrained(model, device="cpu")
    _worker_photos = photos_by_size


def _decode_on_cpu_worker(label: str) -> int:
    return len(_worker_preprocessor.preprocess_batch(_worker_photos[label]))


def measure_cpu_decode(plan: Plan, model: str, photos_by_size: dict[str, list[bytes]]) -> None:
    """The CPU path's images/s with one single-threaded process per core, each decoding every photo."""
    workers = os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds CUDA
    with context.Pool(workers, initializer=_init_cpu_worker, initargs=(model, photos_by_size)) as pool:
        for label in photos_by_size:
            rate = timed_rate(lambda: sum(pool.map(_decode_on_cpu_worker, [label] * workers, chunksize=1)),
                              plan.seconds, lambda: None)
            emit(f"cpu_decode_images_per_s_{label}", f"{rate:.1f}", f"{workers} processes × 1 thread, Pillow path")


def measure_cosine(plan: Plan, name: str, model: str, blobs: list[bytes]) -> None:
    from stockmind.decode.image import ImagePreprocessor
    from stockmind.embed.embedder import ClipEmbedder

    device_side = ClipEmbedder(model, device=plan.device, dtype=plan.dtype)
    device_vectors = device_side.embed_images(device_pixels(device_side.preprocessor(), blobs))
    cpu_side = ClipEmbedder(model, device="cpu", dtype=torch.float32)
    cpu_vectors = cpu_side.embed_images(ImagePreprocessor.from_pretrained(model, device="cpu").preprocess_batch(blobs))
    cosines = (device_vectors * cpu_vectors).sum(axis=1)
    emit(name, f"{cosines.min():.5f}", f"{model if '/' not in model else Path(model).name}, {len(blobs)} files"
         f" (JPEG, CMYK, progressive, PNG, WebP), mean {cosines.mean():.5f}")


class EndToEnd:
    """A local stack (moto S3/SQS, PostgreSQL + pgvector, a Ray head seeing every CPU and GPU)."""

    def __init__(self, plan: Plan, work: Path):
        from stockmind.local.ports import free_port
        from stockmind.local.stack import LocalStack

        self.plan = plan
        self.stack = LocalStack.up(state_dir=work / "stack", with_ray=True, ray_cpus=os.cpu_count() or 2,
                                   service_port=free_port())
        os.environ.update(self.stack.env)
        import boto3
        import ray

        ray.init(address=self.stack.ray.address, logging_level=logging.WARNING, log_to_driver=False)
        self.s3 = boto3.client("s3")
        self.gpus = 1 if plan.device == "cuda" else 0
        if ray.cluster_resources().get("GPU", 0) < self.gpus:
            # A GPU actor would wait for a GPU forever, with no error.
            self.close()
            raise RuntimeError(f"the Ray head sees no GPU: {ray.cluster_resources()}")

    def close(self) -> None:
        import ray

        ray.shutdown()
        self.stack.down()

    def fresh_database(self, name: str) -> str:
        from stockmind.store import migrate

        url = self.stack.postgres.create_database(name)
        migrate(url)
        return url

    def upload(self, client: str, blobs: list[bytes]) -> str:
        prefix = f"clients/{client}/"
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: self.s3.put_object(
                Bucket=self.stack.bucket, Key=f"{prefix}products/sku-{n % 50}/media/image/p{n}.jpg", Body=blobs[n]),
                range(len(blobs))))
        return prefix

    def stream(self, model: str, blobs: list[bytes]) -> None:
        from stockmind.config import Settings
        from stockmind.stream.embedders import EmbedderPool
        from stockmind.stream.ingestor import StreamIngestor
        from stockmind.stream.options import StreamOptions

        env = {**self.stack.env, "DATABASE_URL": self.fresh_database("bench_gpu_stream"), "STOCKMIND_MODEL": model}
        settings = dataclasses.replace(Settings.from_env(env), embed_batch_size=self.plan.e2e_batch,
                                       max_messages_in_flight=4 * self.plan.e2e_batch)
        self.upload("bench-stream", blobs)
        self.stack.wait_for_queued(len(blobs))
        pool = EmbedderPool(model, size=1, num_cpus=1, num_gpus=self.gpus)
        try:
            ingestor = StreamIngestor(settings, StreamOptions(max_messages=len(blobs), receive_wait_s=1),
                                      pool=pool, decode_on="embedder")
            started = time.perf_counter()
            stats = ingestor.run()
            elapsed = time.perf_counter() - started
        finally:
            pool.close()
        if stats["counts"].get("objects_embedded") != len(blobs):
            raise RuntimeError(f"the stream embedded {stats['counts'].get('objects_embedded')} of {len(blobs)}")
        emit("stream_images_per_s_gpu", f"{len(blobs) / elapsed:.1f}",
             f"{len(blobs)} photos {E2E_PHOTO_SIZE[0]}x{E2E_PHOTO_SIZE[1]}, decode_on={stats['decode_on']},"
             f" embedder on {pool.device}, batch {self.plan.e2e_batch}; stage seconds {stats['stage_seconds']}")

    def backfill(self, model: str, blobs: list[bytes]) -> None:
        from stockmind.backfill.options import BackfillOptions
        from stockmind.backfill.runner import run_backfill
        from stockmind.dev.store_watch import StoreWatcher

        prefix = self.upload("bench-backfill", blobs)
        database_url = self.fresh_database("bench_gpu_backfill")
        options = BackfillOptions(database_url=database_url, bucket=self.stack.bucket,
                                  model=model, prefix=prefix, batch_size=self.plan.e2e_batch, pool_size=1,
                                  gpus_per_actor=self.gpus, threads_per_actor=None if self.gpus else os.cpu_count())
        watcher = StoreWatcher(database_url, poll_s=0.05)
        try:
            summary = run_backfill(options)
            watcher.wait_for_rows(len(blobs), timeout_s=30)
        finally:
            watcher.stop()
        if summary.embedded != len(blobs):
            raise RuntimeError(f"the backfill embedded {summary.embedded} of {len(blobs)}: {summary.line()}")
        # Committed rows between 60 % and 95 % of the run: past the drain of what start-up buffered.
        steady = watcher.steady_rate(len(blobs), (0.6, 0.95))
        emit("backfill_images_per_s_gpu", f"{steady:.1f}",
             f"{len(blobs)} photos, steady; end to end {summary.embedded / summary.seconds:.1f}/s incl. start-up;"
             f" images decoded {'on the GPU embedder' if self.gpus else 'by the decoders'}")


def describe_environment(plan: Plan) -> None:
    emit("python", sys.executable)
    emit("torch", torch.__version__)
    if plan.device == "cuda":
        emit("device", torch.cuda.get_device_name(0))
    else:
        emit("device", "cpu", "dry run: tiny sizes, the figures mean nothing")
    emit("cpu_count", str(os.cpu_count()))


def main(args: argparse.Namespace) -> int:
    from stockmind.local.ray_head import RAY_ENV

    os.environ.update(RAY_ENV)  # Ray reads these when it is first imported (loopback only, no usage stats)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # gpu.sh's timeout sends SIGTERM: unwind, so the local stack's servers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.dry_run_cpu and not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device is visible to torch "
              f"({torch.__version__}, CUDA build {torch.version.cuda}); run it on a GPU machine, "
              "or pass --dry-run-cpu to run every measurement on the CPU at tiny sizes", file=sys.stderr)
        return NO_CUDA_EXIT
    plan = PLANS["dry-run-cpu" if args.dry_run_cpu else "gpu"]
    from stockmind.dev.checkpoints import build_random_vit_b32
    from stockmind.embed.models import SMALL_CLIP

    describe_environment(plan)
    work = Path(tempfile.mkdtemp(prefix="stockmind-bench-gpu-"))
    try:
        if plan.small_model_stands_in:
            vit = SMALL_CLIP
            emit("model", SMALL_CLIP, "dry run: the small CLIP stands in for ViT-B/32")
        else:
            vit = build_random_vit_b32(work / "vit-b32-random")
            emit("model", "vit-b32-random", vit)
        measured(["vit_b32_fp16_images_per_s_batch256"], lambda: measure_model(plan, vit))
        photos_by_size = {label: photos(plan.decode_photos[label], size) for label, size in SIZES.items()}
        measured([f"cpu_decode_images_per_s_{label}" for label in SIZES],
                 lambda: measure_cpu_decode(plan, vit, photos_by_size))
        for label, blobs in photos_by_size.items():
            measured([f"nvjpeg_decode_images_per_s_{label}"], lambda: measure_decode(plan, vit, label, blobs))
        mix = catalogue_mix(plan.cosine_photos)
        if not plan.small_model_stands_in:
            measured(["cosine_gpu_fp16_vs_cpu_fp32_min_vit_b32_random"],
                     lambda: measure_cosine(plan, "cosine_gpu_fp16_vs_cpu_fp32_min_vit_b32_random", vit, mix))
        measured(["cosine_gpu_fp16_vs_cpu_fp32_min"],
                 lambda: measure_cosine(plan, "cosine_gpu_fp16_vs_cpu_fp32_min", SMALL_CLIP, mix))
        end_to_end(plan, args, work, vit)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def end_to_end(plan: Plan, args: argparse.Namespace, work: Path, vit: str) -> None:
    names = ["stream_images_per_s_gpu", "backfill_images_per_s_gpu"]
    if args.skip_end_to_end:
        for name in names:
            emit(name, "not_measured", "--skip-end-to-end")
        return
    model = vit
    holder: list[EndToEnd] = []
    measured(names, lambda: holder.append(EndToEnd(plan, work)))
    if not holder:
        return
    e2e = holder[0]
    try:
        blobs = photos(plan.e2e_images, E2E_PHOTO_SIZE, seed=3)
        measured(names[:1], lambda: e2e.stream(model, blobs))
        measured(names[1:], lambda: e2e.backfill(model, blobs))
    finally:
        e2e.close()


if __name__ == "__main__":
    sys.exit(main(parse_args()))

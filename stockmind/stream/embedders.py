"""A pool of `ClipEmbedder` actors: one model per actor (a GPU each on a GPU cluster, a fraction of
a CPU here), fed batches through Ray futures.

Ray restarts a dead actor (`max_restarts`) and replays the calls it had not finished
(`max_task_retries`), so a crash mid-stream costs time, not data; what still fails reaches the
ingestor as an exception and is handled as transient by the failure policy. Each actor holds at
most `queue_per_actor` batches, so one is always waiting while another runs (the model never idles
between batches) without hoarding work that a restarting actor would have to replay.

Batches are either pixels (decoded by the ingestor) or image files (`submit_encoded`), which the
actor decodes itself: on its GPU with nvJPEG, or on its CPUs, spreading decode over the embedder
processes instead of the ingestor's. A pool of a held model other than the stream's own gets whole
objects instead (`submit_object`): the ingestor's pixels are made for the stream's model, and models
differ in image size and normalisation, so the actor prepares each object with its own.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np
import ray

from stockmind.config import Settings
from stockmind.errors import PoisonInput
from stockmind.logs import configure_worker_logging
from stockmind.media.types import MediaType

log = logging.getLogger(__name__)

QUEUE_PER_ACTOR = 2
MAX_TASK_RETRIES = 3


class EmbedderActor:
    """The Ray actor class: loads the model once, then embeds pixel batches or image files."""

    def __init__(self, model: str):
        from stockmind.embed.embedder import ClipEmbedder

        configure_worker_logging("stream-embedder")
        self._embedder = ClipEmbedder(model)

    def describe(self) -> dict:
        e = self._embedder
        return {"model_id": e.model_id, "dim": e.dim, "image_size": e.image_size, "device": e.device,
                "pid": os.getpid()}

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        return self._embedder.embed_images(pixels)

    def embed_encoded(self, blobs: Sequence[bytes], max_pixels: int | None = None
                      ) -> tuple[np.ndarray, dict[int, PoisonInput]]:
        return self._embedder.embed_encoded(blobs, max_pixels)

    def embed_object(self, media_type: str, data: bytes, fps: float, max_frames: int, max_pixels: int | None
                     ) -> tuple[np.ndarray, list[float | None]] | PoisonInput:
        """One object's bytes → (its vectors, their timestamps), decoded with this model's own
        preprocessing; the same `fps`/`max_frames` as the stream's model give the same frames.
        Poison is returned, not raised, so that it reaches the ingestor as the object's reason."""
        from stockmind.decode.prepare import prepare_media

        try:
            prepared = prepare_media(MediaType(media_type), data, self._embedder.preprocessor(max_pixels),
                                     fps=fps, max_frames=max_frames)
        except PoisonInput as error:
            return error
        return self._embedder.embed_images(prepared.pixels), prepared.timestamps


class EmbedderPool:
    def __init__(self, model: str, size: int = 1, num_cpus: float = 0.5, num_gpus: float = 0.0,
                 queue_per_actor: int = QUEUE_PER_ACTOR, max_task_retries: int = MAX_TASK_RETRIES,
                 load_timeout_s: float | None = None):
        if size < 1:
            raise ValueError(f"the pool needs at least one actor, got size={size}")
        actor_class = ray.remote(EmbedderActor).options(
            num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=-1, max_task_retries=max_task_retries,
        )
        self._actors = [actor_class.remote(model) for _ in range(size)]
        self._outstanding = [0] * size
        self._queue_per_actor = queue_per_actor
        self._lock = threading.Lock()
        self._closing = False
        # Waits for every model to load, so a bad checkpoint fails the start, not the first batch.
        try:
            first, *_ = ray.get([actor.describe.remote() for actor in self._actors], timeout=load_timeout_s)
        except BaseException:
            self.close()  # the caller never gets the pool, so nothing else would free its actors
            raise
        self.model_id: str = first["model_id"]
        self.dim: int = first["dim"]
        self.image_size: int = first["image_size"]
        self.device: str = first["device"]
        log.info("embedder pool ready: %d × %s (dim %d) on %s", size, self.model_id, self.dim, first["device"])

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbedderPool:
        return cls(settings.model, settings.embedder_pool_size, settings.embedder_num_cpus,
                   settings.embedder_num_gpus)

    @property
    def size(self) -> int:
        return len(self._actors)

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def has_capacity(self) -> bool:
        with self._lock:
            return min(self._outstanding) < self._queue_per_actor

    def submit(self, pixels: np.ndarray) -> Future:
        """Send a batch to the least busy actor; the future yields (N, D) float32 vectors."""
        return self._send(lambda actor: actor.embed.remote(pixels))

    def submit_encoded(self, blobs: Sequence[bytes], max_pixels: int | None = None) -> Future:
        """Send image files to the least busy actor, which decodes them; the future yields
        (vectors of the readable ones in order, {index: PoisonInput} of the others)."""
        return self._send(lambda actor: actor.embed_encoded.remote(list(blobs), max_pixels))

    def submit_object(self, media_type: MediaType, data: bytes, fps: float, max_frames: int,
                      max_pixels: int | None = None) -> Future:
        """Send one object's bytes to the least busy actor; the future yields (vectors, timestamps),
        or the `PoisonInput` that its bytes are for this model."""
        return self._send(lambda actor: actor.embed_object.remote(str(media_type), data, fps, max_frames,
                                                                  max_pixels))

    def _send(self, call) -> Future:
        with self._lock:
            index = min(range(len(self._actors)), key=self._outstanding.__getitem__)
            self._outstanding[index] += 1
        future = call(self._actors[index]).future()
        future.add_done_callback(lambda _: self._done(index))
        return future

    def pids(self) -> list[int]:
        """The actors' current process ids (they change when Ray restarts an actor)."""
        return [info["pid"] for info in ray.get([a.describe.remote() for a in self._actors])]

    def close(self) -> None:
        for actor in self._actors:
            ray.kill(actor, no_restart=True)

    def close_when_idle(self) -> None:
        """Close once the calls in flight have returned (a model no tenant holds any more still
        answers the objects sent to it, instead of failing them as transient)."""
        with self._lock:
            self._closing = True
            idle = not any(self._outstanding)
        if idle:
            self.close()

    def _done(self, index: int) -> None:
        with self._lock:
            self._outstanding[index] -= 1
            idle = self._closing and not any(self._outstanding)
        if idle:
            self.close()

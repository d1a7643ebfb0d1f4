"""The streaming ingestor: SQS messages → S3 objects → pixels → embedder pool → pgvector → delete.

One loop thread owns all state; everything slow runs elsewhere and reports back by putting a
callable on the loop's queue: the receiver thread (long polling), the loader threads (S3 GET +
decode) and the embedder actors (Ray futures). The loop batches pixel rows across messages, writes
every settled message in one transaction, and deletes messages only after their rows are
committed (at-least-once delivery, exactly-once effect through the store's idempotent upserts).

Images are decoded in the loader threads or, with decode placed on the embedders (the default when
they have GPUs; see `stockmind.decode.placement`), sent to them as files; an image the embedder cannot
decode comes back as that image's error and is handled exactly like one the loader could not decode.

Each upload is embedded with every model its tenant holds (`held_models`): the stream's own model
(the primary) through the batches above, and each other held model by a pool of its own that
prepares the object's bytes itself (`model_pools`); the object is written once every model has
answered, one `MediaVectors` per model in the same transaction. Vectors are written only for the
models the tenant holds at commit time: a tenant that switched to another model and retired the
primary does not get the primary's vectors back (the primary still embeds its uploads: the price of
one code path). A held model whose pool is not loaded yet is left out and counted (`missed`); the
reindex that registered it makes a catch-up pass for those. The tenant's active model is never left
out: the object waits for its pool, or its message is retried.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone

import boto3
from botocore.config import Config

from stockmind.config import Settings
from stockmind.decode.image import ImagePreprocessor
from stockmind.decode.placement import DecodePlacement, resolve_placement
from stockmind.decode.prepare import PreparedMedia, prepare_media
from stockmind.errors import PoisonInput
from stockmind.logs import configure_worker_logging, flush_logs
from stockmind.media.events import parse_s3_message
from stockmind.media.keys import parse_media_key
from stockmind.media.objects import ObjectMeta, s3_client
from stockmind.media.types import EventKind, MediaType
from stockmind.store import MediaRemoval, MediaVectors, PgVectorWriter
from stockmind.stream.batching import BatchSlice, EmbedBatch, EmbedBatcher, EncodedBatch, EncodedBatcher
from stockmind.stream.embedders import EmbedderPool
from stockmind.stream.failures import FailurePolicy, is_poison, retry_delay_s
from stockmind.stream.fetch import ObjectFetcher
from stockmind.stream.held_models import HeldModels
from stockmind.stream.metrics import StreamMetrics
from stockmind.stream.model_pools import ModelPools, ModelUnavailable, PoolState
from stockmind.stream.options import StreamOptions
from stockmind.stream.receiver import Receiver
from stockmind.stream.shutdown import ShutdownRequest
from stockmind.stream.sqs_source import SqsMessage, SqsSource
from stockmind.stream.work import InFlightMessage, PendingObject

log = logging.getLogger(__name__)

# The loop wakes at least this often to flush batches, retry writes and extend visibility.
MAX_IDLE_TICK_S = 0.25
# A held message is extended once less than this share of its visibility timeout is left.
EXTEND_WHEN_LEFT = 0.5
WRITE_RETRY_BASE_S = 0.5
WRITE_RETRY_CAP_S = 15.0
# Actors of each held model other than the stream's own: that load is a model being re-embedded
# beside the live one, for a while, and on a GPU cluster each actor takes a GPU.
HELD_POOL_SIZE = 1
# An actor the cluster cannot place (no free GPU) would wait for ever, and with it the objects of a
# tenant whose active model it is: after this long the pool counts as failed, and those are retried.
HELD_POOL_LOAD_TIMEOUT_S = 600.0


# The queue it consumes, where poison goes (never looked up: that would need sqs:GetQueueUrl), the store.
REQUIRED_SETTINGS = ("SQS_QUEUE_URL", "STOCKMIND_DLQ_URL", "DATABASE_URL")


class StreamIngestor:
    """Run it in-process (`run()` blocks) or as a threaded Ray actor (`stop`/`stats` run beside `run`).

    `decode_on` places image decoding (default: the setting STOCKMIND_DECODE_ON)."""

    def __init__(self, settings: Settings, options: StreamOptions = StreamOptions(), *,
                 pool: EmbedderPool | None = None, decode_on: DecodePlacement | str | None = None):
        configure_worker_logging("stream-ingestor")
        settings.require(*REQUIRED_SETTINGS)
        self._settings, self._options = settings, options
        self.metrics = StreamMetrics()
        self._pool = pool or EmbedderPool.from_settings(settings)
        self._owns_pool = pool is None
        self._preprocessor = ImagePreprocessor.from_pretrained(
            settings.model, max_pixels=settings.max_image_pixels, device="cpu")
        if self._preprocessor.image_size != self._pool.image_size:
            raise ValueError(f"preprocessor makes {self._preprocessor.image_size}px images, the model takes "
                             f"{self._pool.image_size}px")
        self.decode_on = resolve_placement(decode_on or settings.decode_on, self._pool.on_gpu)
        self._primary = self._pool.model_id
        self._held = HeldModels.from_store(settings.database_url, self._primary, options.models_refresh_s,
                                           on_refresh=lambda: self._post(self._on_held_refreshed))
        self._held_pools = ModelPools(self._make_held_pool,
                                      on_change=lambda model: self._post(lambda: self._on_pool_changed(model)))
        # Objects waiting for the pool of their tenant's active model to load, with their bytes.
        self._parked: dict[str, list[tuple[PendingObject, bytes]]] = {}
        retries = Config(retries={"mode": "standard"}, max_pool_connections=options.load_threads + 4)
        self._source = SqsSource(boto3.client("sqs", region_name=settings.aws_region, config=retries),
                                 settings.sqs_queue_url, settings.dlq_url)
        self._fetcher = ObjectFetcher(s3_client(settings.aws_region, options.load_threads + 4),
                                      settings.max_object_bytes)
        # A model retired while an upload was being embedded with it must not come back with its vectors.
        self._writer = PgVectorWriter(settings.database_url, new_models=False)
        self._failures = FailurePolicy(self._source, self.metrics, options.retry_base_s)
        self._batcher = EmbedBatcher(settings.embed_batch_size, settings.batch_max_wait_s)
        self._encoded = EncodedBatcher(settings.embed_batch_size, settings.batch_max_wait_s)
        self._visibility_s = options.visibility_timeout_s or self._source.visibility_timeout()
        self._events: queue.Queue[Callable[[], None]] = queue.Queue()
        self._loaders = ThreadPoolExecutor(options.load_threads, thread_name_prefix="stockmind-load")
        self._receiver = Receiver(
            self._source, lambda messages: self._post(lambda: self._on_received(messages)), self.metrics,
            limit=settings.max_messages_in_flight, wait_s=options.receive_wait_s,
            visibility_s=self._visibility_s, threads=options.receive_threads, max_messages=options.max_messages)
        self._inflight: dict[str, InFlightMessage] = {}
        self._to_commit: list[InFlightMessage] = []
        self._write_failures = 0
        self._next_write_at = 0.0
        self._next_extend_at = 0.0
        self._shutdown = ShutdownRequest()
        self._closing = False
        self._stop_deadline = float("inf")
        self._started_at = time.monotonic()

    # --- control ---------------------------------------------------------------------------

    def run(self) -> dict:
        """Process messages until stopped (or `max_messages` / `idle_exit_s`); returns `stats()`."""
        log.info("stream started: queue=%s model=%s pool=%d on %s batch=%d in_flight<=%d visibility=%ds "
                 "decode_on=%s", self._source.queue_url, self._pool.model_id, self._pool.size, self._pool.device,
                 self._batcher.batch_size, self._settings.max_messages_in_flight, self._visibility_s,
                 self.decode_on)
        self._started_at = time.monotonic()
        self._held.start()
        # Until the map is read, a tenant that moved to another model cannot be told from a new one.
        while not self._held.wait_ready(MAX_IDLE_TICK_S) and not self._shutdown.requested:
            pass
        self._receiver.start()
        try:
            while not self._should_exit():
                self._next_event()()
                self._run_posted()
                self._send_batches()
                self._commit()
                self._extend_visibility()
        finally:
            self._close()
        return self.stats()

    def stop(self) -> None:
        """Stop polling; finish in-flight work within the grace period, release the rest, return from run."""
        self._stop_deadline = time.monotonic() + self._options.shutdown_grace_s
        self._shutdown.request()
        self._post(lambda: None)  # wake the loop

    def stats(self) -> dict:
        snapshot = self.metrics.snapshot()
        snapshot.update(model_id=self._pool.model_id, decode_on=str(self.decode_on),
                        in_flight=self._receiver.in_flight,
                        elapsed_s=round(time.monotonic() - self._started_at, 3),
                        models=self._model_stats(snapshot["models"]))
        return snapshot

    def _model_stats(self, counted: dict[str, dict[str, int]]) -> dict[str, dict]:
        """Per model in use: its role, its pool's state, how many tenants hold it, objects written
        with it and objects written without it."""
        tenants = self._held.tenants()
        models = {}
        for model in sorted(self._held.models() | set(counted)):
            primary = model == self._primary
            state = PoolState.READY if primary else self._held_pools.state(model)
            models[model] = {"role": "stream" if primary else "held", "pool": str(state) if state else "none",
                             "tenants": tenants.get(model, 0), "written": 0, "missed": 0, **counted.get(model, {})}
        return models

    # --- the loop --------------------------------------------------------------------------

    def _post(self, callback: Callable[[], None]) -> None:
        self._events.put(callback)

    def _next_event(self) -> Callable[[], None]:
        deadlines = [self._batcher.deadline(), self._encoded.deadline(),
                     self._next_write_at if self._to_commit else None]
        soonest = min((d for d in deadlines if d is not None), default=float("inf"))
        timeout = max(0.0, min(MAX_IDLE_TICK_S, soonest - time.monotonic()))
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return lambda: None

    def _run_posted(self) -> None:
        while True:
            try:
                callback = self._events.get_nowait()
            except queue.Empty:
                return
            callback()

    def _should_exit(self) -> bool:
        if self._shutdown.requested:
            return self._receiver.in_flight == 0 or time.monotonic() >= self._stop_deadline
        if self._receiver.in_flight or not self._events.empty():
            return False
        if self._receiver.exhausted:
            return True
        idle_exit_s = self._options.idle_exit_s
        return idle_exit_s is not None and time.monotonic() - self._receiver.last_message_at >= idle_exit_s

    # --- receive ---------------------------------------------------------------------------

    def _on_received(self, messages: list[SqsMessage]) -> None:
        if self._closing:
            self._receiver.release(messages)
            return
        self.metrics.count("received", len(messages))
        for message in messages:
            self._accept(message)

    def _accept(self, message: SqsMessage) -> None:
        flight = InFlightMessage(message, visible_until=time.monotonic() + self._visibility_s)
        self._inflight[message.receipt_handle] = flight
        try:
            events = parse_s3_message(message.body)
        except PoisonInput as error:
            self._reject(flight, error, None)
            return
        if not events:  # s3:TestEvent
            self.metrics.count("skipped")
            self._delete([flight])
            return
        for event in events:
            try:
                ref = parse_media_key(event.key)
            except PoisonInput as error:
                flight.fail(error, event.key)
                continue
            if event.kind is EventKind.REMOVED:
                flight.removals.append(MediaRemoval(event.bucket, ref, event.sequencer, event.event_time))
            else:
                self._load(flight.add_object(event, ref))
        self._queue_if_settled(flight)

    # --- load: S3 GET + decode (or not: decode on the embedder), in the loader threads -------

    def _load(self, item: PendingObject) -> None:
        future = self._loaders.submit(self._fetch_and_prepare, item)
        future.add_done_callback(lambda done: self._post(lambda: self._on_loaded(item, done)))

    def _fetch_and_prepare(self, item: PendingObject) -> tuple[ObjectMeta, bytes, PreparedMedia | None] | None:
        """(the version read, its bytes, its pixel rows: None for an image the embedder decodes);
        None when the key holds a newer object."""
        started = time.monotonic()
        fetched_object = self._fetcher.fetch(item.event)
        fetched = time.monotonic()
        self.metrics.stage("fetch", fetched - started)
        if fetched_object is None:
            return None
        meta, data = fetched_object
        if self.decode_on is DecodePlacement.EMBEDDER and item.ref.media_type is MediaType.IMAGE:
            return meta, data, None
        prepared = prepare_media(item.ref.media_type, data, self._preprocessor, fps=self._settings.video_fps,
                                 max_frames=self._settings.video_max_frames)
        self.metrics.stage("decode", time.monotonic() - fetched)
        return meta, data, prepared

    def _on_loaded(self, item: PendingObject, done: Future) -> None:
        flight = item.message
        if flight.abandoned:
            return
        error = done.exception()
        if error is not None and not is_poison(error):
            self._retry(flight, error, item.event.key)
            return
        if error is not None:
            flight.fail(error, item.event.key)
            item.resolve()
        elif done.result() is None:
            log.info("superseded key=%s etag=%s: the key holds a newer object now", item.event.key, item.event.etag)
            item.resolve()
        else:
            meta, data, prepared = done.result()
            if prepared is None:
                item.expect_vectors(meta, [None])
                self._encoded.add(item, data)
            else:
                item.expect_vectors(meta, prepared.timestamps)
                self._batcher.add(item, prepared.pixels)
            self._embed_with_held_models(item, data)
        self._queue_if_settled(flight)

    # --- the tenant's other held models: one pool each, whole objects --------------------------

    def _make_held_pool(self, model: str) -> EmbedderPool:
        s = self._settings
        return EmbedderPool(model, HELD_POOL_SIZE, s.embedder_num_cpus, s.embedder_num_gpus,
                            load_timeout_s=HELD_POOL_LOAD_TIMEOUT_S)

    def _embed_with_held_models(self, item: PendingObject, data: bytes) -> None:
        needed = self._held.needed(item.ref.client_id)
        for model in needed:
            if model == self._primary:
                continue
            if self._held_pools.get(model) is not None:
                self._submit_object(item, model, data)
            elif model == needed[0]:
                self._wait_for_pool(item, model, data)
            # else: written without it, counted as missed; the reindex's catch-up pass embeds it
            if item.message.abandoned:
                return

    def _wait_for_pool(self, item: PendingObject, model: str, data: bytes) -> None:
        """The tenant's searches use `model`: park the object until its pool is loaded (the message
        stays in flight and its visibility is extended), or retry it if the pool failed to load."""
        if self._held_pools.state(model) is PoolState.FAILED:
            self._retry(item.message, ModelUnavailable(f"the pool of {model!r}, the tenant's active model,"
                                                       " failed to load"), item.event.key)
            return
        item.waiting_for.add(model)
        self._parked.setdefault(model, []).append((item, data))

    def _submit_object(self, item: PendingObject, model: str, data: bytes) -> None:
        started = time.monotonic()
        item.waiting_for.add(model)
        s = self._settings
        future = self._held_pools.get(model).submit_object(item.ref.media_type, data, s.video_fps,
                                                           s.video_max_frames, s.max_image_pixels)
        future.add_done_callback(
            lambda done: self._post(lambda: self._on_held_embedded(item, model, done, started)))

    def _on_held_embedded(self, item: PendingObject, model: str, done: Future, started: float) -> None:
        self.metrics.stage("embed_held", time.monotonic() - started)
        if item.message.abandoned:
            return
        error = done.exception()
        if error is not None:  # as the primary's: Ray already restarted the actor and replayed the call
            self._retry(item.message, error, item.event.key)
            return
        result = done.result()
        if isinstance(result, PoisonInput):
            item.fail(result)
        else:
            item.held_vectors[model] = result
        item.waiting_for.discard(model)
        self._settle(item)

    def _on_held_refreshed(self) -> None:
        self._held_pools.want(self._held.models() - {self._primary})
        for model in list(self._parked):
            self._on_pool_changed(model)

    def _on_pool_changed(self, model: str) -> None:
        """A pool became ready, failed, or was dropped: what to do with the objects parked for it."""
        state = self._held_pools.state(model)
        for item, data in self._parked.pop(model, []):
            if item.message.abandoned:  # an earlier object of its message was retried meanwhile
                continue
            item.waiting_for.discard(model)
            if state is PoolState.READY:
                self._submit_object(item, model, data)
            elif state is PoolState.LOADING:
                item.waiting_for.add(model)
                self._parked.setdefault(model, []).append((item, data))
            elif state is PoolState.FAILED:
                self._retry(item.message, ModelUnavailable(f"the pool of {model!r}, the tenant's active model,"
                                                           " failed to load"), item.event.key)
            else:  # no tenant holds it any more
                self._settle(item)

    def _settle(self, item: PendingObject) -> None:
        if item.answered:
            item.resolve()
            self._queue_if_settled(item.message)

    # --- embed: batches across messages, on the embedder pool ------------------------------

    def _send_batches(self) -> None:
        """Pixel batches and image-file batches share the pool; the one waiting longer goes first."""
        senders = ((self._batcher, self._submit), (self._encoded, self._submit_encoded))
        while self._pool.has_capacity():
            for batcher, send in sorted(senders, key=lambda pair: pair[0].deadline() or float("inf")):
                batch = batcher.take(force=self._shutdown.requested)
                if batch is not None:
                    send(batch)
                    break
            else:
                return

    def _submit(self, batch: EmbedBatch) -> None:
        started = time.monotonic()
        self.metrics.batch(batch.rows)
        future = self._pool.submit(batch.pixels)
        future.add_done_callback(lambda done: self._post(lambda: self._on_embedded(batch, done, started)))

    def _submit_encoded(self, batch: EncodedBatch) -> None:
        started = time.monotonic()
        self.metrics.batch(batch.rows)
        future = self._pool.submit_encoded(batch.blobs, self._settings.max_image_pixels)
        future.add_done_callback(lambda done: self._post(lambda: self._on_embedded_encoded(batch, done, started)))

    def _on_embedded(self, batch: EmbedBatch, done: Future, started: float) -> None:
        self.metrics.stage("embed", time.monotonic() - started)
        error = done.exception()
        if error is not None:
            self._retry_batch([piece.owner for piece in batch.slices], error)
            return
        vectors = done.result()
        for piece in batch.slices:
            item: PendingObject = piece.owner
            if item.message.abandoned:
                continue
            item.assembly.fill(piece, vectors)
            if item.assembly.complete:
                item.primary_answered = True
                self._settle(item)

    def _on_embedded_encoded(self, batch: EncodedBatch, done: Future, started: float) -> None:
        """Like `_on_embedded`; an image the embedder could not decode is that object's poison."""
        self.metrics.stage("embed", time.monotonic() - started)
        error = done.exception()
        if error is not None:
            self._retry_batch(batch.owners, error)
            return
        vectors, failures = done.result()
        decoded = [index for index in range(batch.rows) if index not in failures]
        row_of = {index: row for row, index in enumerate(decoded)}  # vectors hold the decoded images only
        for index, item in enumerate(batch.owners):
            if item.message.abandoned:
                continue
            if index in failures:
                item.fail(failures[index])
            else:
                item.assembly.fill(BatchSlice(item, 0, 1, row_of[index]), vectors)
            item.primary_answered = True
            self._settle(item)

    def _retry_batch(self, owners: list[PendingObject], error: BaseException) -> None:
        # Ray already restarted the actor and replayed the call; what still fails is transient.
        for flight in {item.message for item in owners}:
            if not flight.abandoned:
                self._retry(flight, error, flight.objects[0].event.key if flight.objects else None)

    # --- commit: one transaction for every settled message, then delete --------------------

    def _queue_if_settled(self, flight: InFlightMessage) -> None:
        if flight.settled and not flight.queued_for_commit:
            flight.queued_for_commit = True
            self._to_commit.append(flight)

    def _commit(self) -> None:
        if not self._to_commit or time.monotonic() < self._next_write_at:
            return
        flights, self._to_commit = self._to_commit, []
        flights = self._without_unsearchable(flights)
        if not flights:
            return
        started = time.monotonic()
        try:
            self._write(flights)
        except Exception as error:  # noqa: BLE001 - the store being unreachable is transient
            self._write_failures += 1
            delay = retry_delay_s(self._write_failures, WRITE_RETRY_BASE_S, WRITE_RETRY_CAP_S)
            log.warning("write failed (%s: %s); %d messages held, retrying in %.1fs", type(error).__name__,
                        str(error).strip()[:200], len(flights), delay)
            self._writer.close()  # a fresh connection next time (the server may have restarted)
            self._to_commit = flights + self._to_commit
            self._next_write_at = time.monotonic() + delay
            return
        self.metrics.stage("write", time.monotonic() - started)
        self._write_failures = 0
        self._record_committed(flights)
        for flight in [f for f in flights if f.poison is not None]:
            self._reject(flight, flight.poison, flight.poison_key)
        self._delete([f for f in flights if f.poison is None], succeeded=True)

    def _without_unsearchable(self, flights: list[InFlightMessage]) -> list[InFlightMessage]:
        """Retry the messages with an object that lacks its tenant's active model (the tenant switched
        while it was embedded): written so, search could not find it."""
        kept = []
        for flight in flights:
            lacking = [item for item in flight.embedded()
                       if self._held.needed(item.ref.client_id)[0] not in item.models(self._primary)]
            if lacking:
                active = self._held.needed(lacking[0].ref.client_id)[0]
                self._retry(flight, ModelUnavailable(f"the tenant's active model is now {active!r}, which"
                                                     " did not embed this object"), lacking[0].event.key)
            else:
                kept.append(flight)
        return kept

    def _write(self, flights: list[InFlightMessage]) -> None:
        try:
            self._write_rows(flights)
        except PoisonInput:
            # One bad vector fails the whole batch before anything is written: find it, message by message.
            for flight in flights:
                try:
                    self._write_rows([flight])
                except PoisonInput as error:
                    flight.fail(error, flight.objects[0].event.key if flight.objects else None)

    def _write_rows(self, flights: list[InFlightMessage]) -> None:
        vectors = [v for f in flights for item in f.embedded() for v in self._vectors_to_write(item)]
        removals = [removal for f in flights for removal in f.removals]
        if vectors:
            self._writer.write(vectors)
        if removals:
            self.metrics.count("media_removed", self._writer.delete(removals))

    def _vectors_to_write(self, item: PendingObject) -> list[MediaVectors]:
        """Its vectors of the models its tenant holds now (read again here: a model may have been
        retired since the object was sent), the active one first; the held models it lacks are noted."""
        needed = self._held.needed(item.ref.client_id)
        vectors = item.media_vectors(self._primary, needed)
        item.written_models = [v.model_id for v in vectors]
        item.missed_models = [model for model in needed if model not in item.models(self._primary)]
        return vectors

    def _record_committed(self, flights: list[InFlightMessage]) -> None:
        now = datetime.now(timezone.utc)
        for flight in flights:
            if flight.poison is not None:
                continue
            for item in flight.embedded():
                self.metrics.count("objects_embedded")
                for model in item.written_models:
                    self.metrics.model_count(model, "written")
                for model in item.missed_models:
                    self.metrics.model_count(model, "missed")
                self.metrics.count("frames_embedded", len(item.timestamps))
                if item.event.event_time is not None:
                    self.metrics.lag((now - item.event.event_time).total_seconds())

    # --- settling messages -----------------------------------------------------------------

    def _delete(self, flights: list[InFlightMessage], succeeded: bool = False) -> None:
        if not flights:
            return
        started = time.monotonic()
        try:
            failed = self._source.delete([f.message for f in flights])
        except Exception as error:  # noqa: BLE001 - undeleted messages come back; the writes are idempotent
            log.warning("delete of %d messages failed (%s); they will be redelivered", len(flights), error)
            failed = [f.message for f in flights]
        self.metrics.stage("delete", time.monotonic() - started)
        if succeeded:
            self.metrics.count("succeeded", len(flights) - len(failed))
        for flight in flights:
            self._forget(flight)

    def _reject(self, flight: InFlightMessage, error: PoisonInput, key: str | None) -> None:
        self._failures.reject(flight.message, error, key)
        self._forget(flight)

    def _retry(self, flight: InFlightMessage, error: BaseException, key: str | None) -> None:
        flight.abandoned = True
        self._failures.retry_later([flight.message], error, key)
        self._forget(flight)

    def _forget(self, flight: InFlightMessage) -> None:
        if self._inflight.pop(flight.message.receipt_handle, None) is not None:
            self._receiver.settled()

    def _extend_visibility(self) -> None:
        now = time.monotonic()
        if now < self._next_extend_at:
            return
        self._next_extend_at = now + 1.0
        due = [f for f in self._inflight.values() if f.visible_until - now < self._visibility_s * EXTEND_WHEN_LEFT]
        if not due:
            return
        try:
            failed = set(m.receipt_handle for m in self._source.change_visibility([f.message for f in due],
                                                                                 self._visibility_s))
        except Exception as error:  # noqa: BLE001 - try again on the next tick
            log.warning("could not extend the visibility of %d messages: %s", len(due), error)
            return
        for flight in due:
            if flight.message.receipt_handle not in failed:
                flight.visible_until = now + self._visibility_s

    # --- shutdown --------------------------------------------------------------------------

    def _close(self) -> None:
        # Release first, then wait for a receive call in progress: `ray job stop` kills the job a
        # few seconds after its SIGTERM, and held messages matter more than an empty long poll.
        self._closing = True
        self._receiver.request_stop()
        self._run_posted()
        self._commit_once_more()
        self._release_held()
        self._receiver.join(timeout_s=self._options.receive_wait_s + 5)
        self._run_posted()  # messages the receiver delivered meanwhile are released by _on_received
        self._loaders.shutdown(wait=False, cancel_futures=True)
        self._writer.close()
        self._held.stop()
        self._held_pools.close()
        if self._owns_pool:
            self._pool.close()
        log.info("stream stopped: %s", json.dumps(self.stats(), sort_keys=True))
        flush_logs()  # the job ends soon after, and Ray does not wait for this actor's threads

    def _release_held(self) -> None:
        held = list(self._inflight.values())
        if not held:
            return
        log.info("releasing %d in-flight messages (visibility 0)", len(held))
        for flight in held:
            flight.abandoned = True
            self._inflight.pop(flight.message.receipt_handle)
        self._receiver.release([f.message for f in held])

    def _commit_once_more(self) -> None:
        """On the way out, commit what is settled if the store answers (no waiting for a backoff)."""
        self._next_write_at = 0.0
        self._commit()

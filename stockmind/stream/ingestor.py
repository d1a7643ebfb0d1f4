"""The streaming ingestor: SQS messages → S3 objects → pixels → embedder pool → pgvector → delete.

One loop thread owns all state; everything slow runs elsewhere and reports back by putting a
callable on the loop's queue: the receiver thread (long polling), the loader threads (S3 GET +
decode) and the embedder actors (Ray futures). The loop batches pixel rows across messages, writes
every settled message in one transaction, and deletes messages only after their rows are
committed (at-least-once delivery, exactly-once effect through the store's idempotent upserts).

Images are decoded in the loader threads or, with decode placed on the embedders (the default when
they have GPUs; see `stockmind.decode.placement`), sent to them as files; an image the embedder cannot
decode comes back as that image's error and is handled exactly like one the loader could not decode.
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
from stockmind.store import MediaRemoval, PgVectorWriter
from stockmind.stream.batching import BatchSlice, EmbedBatch, EmbedBatcher, EncodedBatch, EncodedBatcher
from stockmind.stream.embedders import EmbedderPool
from stockmind.stream.failures import FailurePolicy, is_poison, retry_delay_s
from stockmind.stream.fetch import ObjectFetcher
from stockmind.stream.metrics import StreamMetrics
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
        retries = Config(retries={"mode": "standard"}, max_pool_connections=options.load_threads + 4)
        self._source = SqsSource(boto3.client("sqs", region_name=settings.aws_region, config=retries),
                                 settings.sqs_queue_url, settings.dlq_url)
        self._fetcher = ObjectFetcher(s3_client(settings.aws_region, options.load_threads + 4),
                                      settings.max_object_bytes)
        self._writer = PgVectorWriter(settings.database_url)
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
                        elapsed_s=round(time.monotonic() - self._started_at, 3))
        return snapshot

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

    def _fetch_and_prepare(self, item: PendingObject) -> tuple[ObjectMeta, PreparedMedia | bytes] | None:
        """(the version read, its pixel rows), or its bytes for an image the embedder decodes;
        None when the key holds a newer object."""
        started = time.monotonic()
        fetched_object = self._fetcher.fetch(item.event)
        fetched = time.monotonic()
        self.metrics.stage("fetch", fetched - started)
        if fetched_object is None:
            return None
        meta, data = fetched_object
        if self.decode_on is DecodePlacement.EMBEDDER and item.ref.media_type is MediaType.IMAGE:
            return meta, data
        prepared = prepare_media(item.ref.media_type, data, self._preprocessor, fps=self._settings.video_fps,
                                 max_frames=self._settings.video_max_frames)
        self.metrics.stage("decode", time.monotonic() - fetched)
        return meta, prepared

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
            meta, prepared = done.result()
            if isinstance(prepared, bytes):
                item.expect_vectors(meta, [None])
                self._encoded.add(item, prepared)
            else:
                item.expect_vectors(meta, prepared.timestamps)
                self._batcher.add(item, prepared.pixels)
        self._queue_if_settled(flight)

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
                item.resolve()
                self._queue_if_settled(item.message)

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
                item.message.fail(failures[index], item.event.key)
            else:
                item.assembly.fill(BatchSlice(item, 0, 1, row_of[index]), vectors)
            item.resolve()
            self._queue_if_settled(item.message)

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
        vectors = [item.media_vectors(self._pool.model_id) for f in flights for item in f.embedded()]
        removals = [removal for f in flights for removal in f.removals]
        if vectors:
            self._writer.write(vectors)
        if removals:
            self.metrics.count("media_removed", self._writer.delete(removals))

    def _record_committed(self, flights: list[InFlightMessage]) -> None:
        now = datetime.now(timezone.utc)
        for flight in flights:
            if flight.poison is not None:
                continue
            for item in flight.embedded():
                self.metrics.count("objects_embedded")
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

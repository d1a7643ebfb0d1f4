"""Helpers for the streaming tests: settings for one test's database, uploads, running an ingestor,
and reading back what the queue, the DLQ and the store hold."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time

from PIL import Image

from stockmind.config import Settings
from stockmind.dev.synthetic import catalogue, render
from stockmind.dev.synthetic_video import encode_video, slideshow
from stockmind.embed.models import SMALL_CLIP
from stockmind.media.keys import media_key
from stockmind.media.types import MediaType
from stockmind.store import connect
from stockmind.stream.ingestor import StreamIngestor
from stockmind.stream.options import StreamOptions

TEST_MODEL = SMALL_CLIP
# Short waits keep a drained test from idling: the queue is empty for good once uploads are done.
FAST_OPTIONS = StreamOptions(idle_exit_s=3.0, receive_wait_s=1.0, load_threads=4, retry_base_s=1.0)


def stream_settings(stack_env: dict, database_url: str, **overrides) -> Settings:
    settings = Settings.from_env({**stack_env, "DATABASE_URL": database_url, "STOCKMIND_MODEL": TEST_MODEL})
    return dataclasses.replace(settings, **{"embed_batch_size": 8, "batch_max_wait_s": 0.05, **overrides})


def image_key(client: str, sku: str, name: str, ext: str = "jpg") -> str:
    return media_key(client, sku, MediaType.IMAGE, f"{name}.{ext}")


def video_key(client: str, sku: str, name: str, ext: str = "mp4") -> str:
    return media_key(client, sku, MediaType.VIDEO, f"{name}.{ext}")


def jpeg_bytes(index: int, size: tuple[int, int] = (96, 96)) -> bytes:
    item = catalogue(index + 1, seed=7)[index]
    buffer = io.BytesIO()
    render(item, size=size, seed=index).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def video_bytes(seconds: int = 3, fps: int = 4) -> bytes:
    stills = [render(item, size=(96, 96), seed=n) for n, item in enumerate(catalogue(seconds, seed=3))]
    return encode_video(slideshow(stills, seconds_each=1.0, fps=fps), fps=fps, codec="h264")


def put(aws, key: str, data: bytes) -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)


def upload_images(aws, client: str, count: int, prefix: str = "img") -> list[str]:
    keys = [image_key(client, f"sku-{n % 3}", f"{prefix}-{n}") for n in range(count)]
    for n, key in enumerate(keys):
        put(aws, key, jpeg_bytes(n))
    return keys


def run_ingestor(settings: Settings, pool, options: StreamOptions = FAST_OPTIONS) -> dict:
    return StreamIngestor(settings, options, pool=pool).run()


class BackgroundIngestor:
    """An ingestor running in a thread, so a test can act while it works. One a failed test left
    running is stopped after it (`stop_all`, an autouse fixture): the queue is shared, and it would
    take the next test's messages."""

    _running: set[BackgroundIngestor] = set()

    def __init__(self, settings: Settings, pool, options: StreamOptions = FAST_OPTIONS):
        self.ingestor = StreamIngestor(settings, options, pool=pool)
        self.stats: dict | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        BackgroundIngestor._running.add(self)

    @classmethod
    def stop_all(cls, timeout_s: float = 60) -> None:
        for running in list(cls._running):
            if running._thread.is_alive():
                running.ingestor.stop()
                running._thread.join(timeout_s)
        cls._running.clear()

    def _run(self) -> None:
        self.stats = self.ingestor.run()

    def join(self, timeout_s: float) -> dict:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"the ingestor did not finish within {timeout_s}s"
        return self.stats


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def rows_per_key(database_url: str) -> dict[str, int]:
    """{key: vector rows} of every active media object."""
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT m.key, count(e.frame_no) FROM media m LEFT JOIN embeddings e USING (client_id, media_id)"
            " WHERE m.status = 'active' GROUP BY m.key"
        ).fetchall()
    return dict(rows)


def media_rows(database_url: str) -> dict[str, tuple]:
    """{key: (client_id, sku, media_type, frame timestamps in order)} of every active media object."""
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT m.key, m.client_id, m.sku, m.media_type, array_agg(e.timestamp_s ORDER BY e.frame_no)"
            " FROM media m JOIN embeddings e USING (client_id, media_id) WHERE m.status = 'active'"
            " GROUP BY m.key, m.client_id, m.sku, m.media_type"
        ).fetchall()
    return {key: (client, sku, MediaType(kind), stamps) for key, client, sku, kind, stamps in rows}


def queue_counts(aws, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = aws.sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drain_dlq(aws) -> list[dict]:
    """Every DLQ message as {'body', 'attributes': {name: value}} (removed from the DLQ)."""
    found = []
    while True:
        response = aws.sqs.receive_message(QueueUrl=aws.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                           MessageAttributeNames=["All"])
        messages = response.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            attributes = {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}
            found.append({"body": message["Body"], "attributes": attributes})
            aws.sqs.delete_message(QueueUrl=aws.dlq_url, ReceiptHandle=message["ReceiptHandle"])


def duplicate_queue_messages(aws) -> int:
    """Send every message now in the queue a second time (what at-least-once delivery may do)."""
    bodies = []
    while True:
        response = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           VisibilityTimeout=60)
        messages = response.get("Messages", [])
        if not messages:
            break
        bodies += [m["Body"] for m in messages]
        for m in messages:
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    for body in bodies:
        for _ in range(2):
            aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)
    return len(bodies)


def s3_test_event_body(bucket: str) -> str:
    return json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket})


def jpeg_of_size(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()

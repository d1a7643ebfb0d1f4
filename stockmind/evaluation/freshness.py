"""Put → searchable: how long after an upload returns its media can be found by search.

The lag is measured from the client's side, the way a tenant experiences it: the clock starts when
`put_object` returns and stops when a poll of the store first sees the media's committed rows (so
the resolution is the poll interval). Whatever consumes the queue does the work: the deployment's
always-on streaming job, or one started beside the notebook with `running_stream`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from stockmind.evaluation.datasets import MediaFile
from stockmind.media.etags import bare_etag
from stockmind.store import is_searchable

log = logging.getLogger(__name__)


def put_to_searchable(s3, bucket: str, conn, files: Sequence[MediaFile], timeout_s: float = 60.0,
                      poll_s: float = 0.05) -> list[dict]:
    """Upload each file in turn and wait until it is searchable; one record (key, bytes, lag_s) each.
    Raises TimeoutError naming the key when one is still not searchable after `timeout_s`."""
    records = []
    for file in files:
        etag = bare_etag(s3.put_object(Bucket=bucket, Key=file.media.key, Body=file.data)["ETag"])
        put_done = time.perf_counter()
        while not is_searchable(conn, file.media.client_id, file.media.key, etag):
            if time.perf_counter() - put_done > timeout_s:
                raise TimeoutError(f"{file.media.key} was not searchable {timeout_s:.0f} s after its upload")
            time.sleep(poll_s)
        records.append({"key": file.media.key, "media_type": str(file.media.media_type), "bytes": len(file.data),
                        "lag_s": time.perf_counter() - put_done})
    return records


def wait_until_drained(sqs, queue_url: str, timeout_s: float = 300.0, poll_s: float = 0.5) -> float:
    """Wait until the queue holds no message (visible or in flight), so that lags measured next are
    not queued behind a backlog; returns the seconds waited."""
    started = time.perf_counter()
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        if all(int(attributes.get(name, 0)) == 0 for name in names):
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"{queue_url} still holds messages after {timeout_s:.0f} s: {attributes}")
        time.sleep(poll_s)


@contextmanager
def running_stream(settings, options) -> Iterator[object]:
    """The streaming ingestor running in a thread of this process (its embedders are Ray actors, so
    Ray must be initialised); stopped on exit. Yields the `StreamIngestor` (see its `stats()`)."""
    from stockmind.stream.ingestor import StreamIngestor

    ingestor = StreamIngestor(settings, options)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            ingestor.run()
        except BaseException as error:  # re-raised in the notebook's thread below
            failure.append(error)

    thread = threading.Thread(target=run, name="evaluation-stream", daemon=True)
    thread.start()
    try:
        yield ingestor
    finally:
        ingestor.stop()
        thread.join()
        if failure:  # the stream's own failure is the cause of whatever the caller saw (a timeout)
            raise failure[0]

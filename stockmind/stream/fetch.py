"""S3 event → the object's bytes, exactly the version the event announced.

The GET carries `If-Match: <event's ETag>`: when the key was overwritten after the event, S3 answers
412 and the fetch returns None (a newer ObjectCreated event for the key is on its way, and that one
will be embedded), so old events never write the new object's bytes under the old ETag. An object
over STOCKMIND_MAX_OBJECT_BYTES is `MediaTooLarge` (poison), refused before its body is read.
Called from the ingestor's loader threads; boto3 clients are thread-safe.
"""

from __future__ import annotations

from stockmind.media.events import S3Event
from stockmind.media.objects import ObjectMeta, read_object


class ObjectFetcher:
    def __init__(self, s3, max_bytes: int):
        self._s3 = s3
        self.max_bytes = max_bytes

    def fetch(self, event: S3Event) -> tuple[ObjectMeta, bytes] | None:
        """The object's metadata and bytes; None when the key now holds a newer object than the event's."""
        return read_object(self._s3, event.bucket, event.key, etag=event.etag, version_id=event.version_id,
                           size=event.size, max_bytes=self.max_bytes)

"""S3 event → the object's bytes, exactly the version the event announced.

The GET carries `If-Match: <event's ETag>`: when the key was overwritten after the event, S3 answers
412 and the fetch returns None (a newer ObjectCreated event for the key is on its way, and that one
will be embedded), so old events never write the new object's bytes under the old ETag.
Called from the ingestor's loader threads; boto3 clients are thread-safe.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from stockmind.errors import MediaMissing, PoisonInput
from stockmind.media.events import S3Event

_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_SUPERSEDED_CODES = {"PreconditionFailed", "412"}


class MediaTooLarge(PoisonInput):
    """An object bigger than STOCKMIND_MAX_UPLOAD_BYTES (never read into memory)."""

    reason = "media_too_large"


class ObjectFetcher:
    def __init__(self, s3, max_bytes: int):
        self._s3 = s3
        self.max_bytes = max_bytes

    def fetch(self, event: S3Event) -> bytes | None:
        """The object's bytes; None when the key now holds a newer object than the event's."""
        self._check_size(event.size, event)
        request = {"Bucket": event.bucket, "Key": event.key}
        if event.etag:
            request["IfMatch"] = f'"{event.etag}"'
        if event.version_id:
            request["VersionId"] = event.version_id
        try:
            response = self._s3.get_object(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _MISSING_CODES or code == "NoSuchVersion":
                raise MediaMissing(f"s3://{event.bucket}/{event.key} is not in the bucket any more") from None
            if code in _SUPERSEDED_CODES:
                return None
            raise
        self._check_size(response.get("ContentLength"), event)
        with response["Body"] as body:
            return body.read()

    def _check_size(self, size: int | None, event: S3Event) -> None:
        if size is not None and size > self.max_bytes:
            raise MediaTooLarge(
                f"s3://{event.bucket}/{event.key} is {size:,} bytes, over the limit of {self.max_bytes:,}"
            )

"""S3 event notifications: an SQS message body → `S3Event`s (the first step of the data flow).

`parse_s3_message` turns the body of an SQS message that S3 sent directly (S3 → SQS, no SNS in
between) into `S3Event`s, or says precisely why it is not an S3 event notification (`InvalidEvent`,
a `PoisonInput`: the message goes to the DLQ with the text as its reason). The eTag is kept bare,
by the same rule as every other eTag (`objects.bare_etag`).
"""

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote_plus

from stockmind.errors import InvalidEvent
from stockmind.media.objects import bare_etag
from stockmind.media.types import EventKind

_KIND_BY_EVENT_PREFIX = {"ObjectCreated:": EventKind.CREATED, "ObjectRemoved:": EventKind.REMOVED}
_TEST_EVENT = "s3:TestEvent"
_EVENT_SOURCE = "aws:s3"
_EVENT_MAJOR_VERSION = "2"


@dataclass(frozen=True)
class S3Event:
    """One record of an S3 event notification. `key` is decoded; the optional fields are None when
    S3 (or moto, which sends no sequencer/versionId) leaves them out or empty."""

    kind: EventKind
    event_name: str
    bucket: str
    key: str
    size: int | None
    etag: str | None
    version_id: str | None
    sequencer: str | None
    event_time: datetime | None


def parse_s3_message(body: str) -> list[S3Event]:
    """The events in the body of an SQS message that S3 sent to the queue directly.

    Returns [] for the `s3:TestEvent` S3 sends when notifications are configured. Accepts the real
    AWS format (eventVersion 2.x) with or without `sequencer`/`versionId` (moto omits them).
    Only `ObjectCreated:*` and `ObjectRemoved:*` records are accepted: the bucket is configured to
    send nothing else, so any other kind (ObjectRestore:*, LifecycleExpiration:*, ...) means a
    misconfiguration and is an `InvalidEvent`, as is one bad record (the message goes to the DLQ
    whole). SNS envelopes are not unwrapped, since the topology is S3 → SQS with no SNS between;
    one is rejected with a message that says so. The key is decoded, not validated: that is
    `parse_media_key`'s job.
    """
    message = _json_object(body)
    if message.get("Event") == _TEST_EVENT:
        return []
    records = _records(message)
    return [_event(record, f"record {index}") for index, record in enumerate(records)]


def _json_object(body: str) -> dict:
    if not isinstance(body, str):
        raise InvalidEvent(f"message body must be a string, got {type(body).__name__}")
    try:
        message = json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidEvent(f"message body is not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(message, dict):
        raise InvalidEvent(f"message body is JSON {_json_kind(message)}, not an object")
    return message


def _records(message: dict) -> list:
    if message.get("Type") == "Notification" and "Message" in message:
        raise InvalidEvent(
            "message is an SNS envelope; S3 must notify the queue directly (or use raw message delivery)"
        )
    if "Records" not in message:
        raise InvalidEvent("message has no 'Records' and is not an s3:TestEvent")
    records = message["Records"]
    if not isinstance(records, list):
        raise InvalidEvent(f"'Records' is JSON {_json_kind(records)}, not an array")
    if not records:
        raise InvalidEvent("'Records' is empty")
    return records


def _event(record: object, where: str) -> S3Event:
    record = _object(record, where)
    _check_origin(record, where)
    event_name = _required_text(record, "eventName", where, "eventName")
    s3 = _object(record.get("s3"), f"{where}: s3")
    bucket = _object(s3.get("bucket"), f"{where}: s3.bucket")
    obj = _object(s3.get("object"), f"{where}: s3.object")
    return S3Event(
        kind=_kind(event_name, where),
        event_name=event_name,
        bucket=_required_text(bucket, "name", where, "s3.bucket.name"),
        key=_decoded_key(_required_text(obj, "key", where, "s3.object.key"), where),
        size=_size(obj.get("size"), where),
        etag=_etag(obj.get("eTag"), where),
        version_id=_optional_text(obj, "versionId", where, "s3.object.versionId"),
        sequencer=_optional_text(obj, "sequencer", where, "s3.object.sequencer"),
        event_time=_event_time(record.get("eventTime"), where),
    )


def _check_origin(record: dict, where: str) -> None:
    source = record.get("eventSource")
    if source != _EVENT_SOURCE:
        raise InvalidEvent(f"{where}: eventSource is {source!r}, expected '{_EVENT_SOURCE}'")
    version = record.get("eventVersion")
    if not isinstance(version, str) or version.split(".")[0] != _EVENT_MAJOR_VERSION:
        # A new major version may move fields; reading it as 2.x could silently mis-parse.
        raise InvalidEvent(f"{where}: eventVersion is {version!r}, expected 2.x")


def _kind(event_name: str, where: str) -> EventKind:
    for prefix, kind in _KIND_BY_EVENT_PREFIX.items():
        if event_name.startswith(prefix) and len(event_name) > len(prefix):
            return kind
    raise InvalidEvent(f"{where}: eventName '{event_name}' is not ObjectCreated:* or ObjectRemoved:*")


def _decoded_key(raw_key: str, where: str) -> str:
    # S3 sends keys quote_plus-encoded ('/' as %2F, space as '+', UTF-8 as %XX).
    try:
        return unquote_plus(raw_key, errors="strict")
    except UnicodeDecodeError:
        raise InvalidEvent(f"{where}: s3.object.key {raw_key!r} is not percent-encoded UTF-8") from None


def _size(value: object, where: str) -> int | None:
    if value is None:
        return None  # ObjectRemoved records carry no size.
    # bool is an int in Python, but `true` is not a size.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent(f"{where}: s3.object.size {value!r} is not a whole number")
    if value < 0:
        raise InvalidEvent(f"{where}: s3.object.size {value} is negative")
    return value


def _etag(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{where}: s3.object.eTag {value!r} is not a string")
    # Some producers keep the HTTP quotes around the ETag; the store compares bare values.
    return bare_etag(value)


def _event_time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{where}: eventTime {value!r} is not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"{where}: eventTime {value!r} is not an ISO 8601 time") from None
    # S3 event times are UTC, so a time written without a zone is read as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _object(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{where} is {_json_kind(value)}, expected an object")
    return value


def _required_text(container: dict, name: str, where: str, path: str) -> str:
    value = container.get(name)
    if not isinstance(value, str) or not value:
        found = "missing" if value is None else repr(value)
        raise InvalidEvent(f"{where}: {path} must be a non-empty string, got {found}")
    return value


def _optional_text(container: dict, name: str, where: str, path: str) -> str | None:
    value = container.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidEvent(f"{where}: {path} {value!r} is not a string")
    return value or None  # moto versions that send these fields send them empty.


def _json_kind(value: object) -> str:
    """How a decoded JSON value reads in a message: 'an array', 'a string', 'missing'..."""
    if value is None:
        return "missing or null"
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return kinds.get(type(value), "a number")

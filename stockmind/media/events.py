"""S3 event notifications: an SQS message body → `S3Event`s (the first step of the data flow).

`parse_s3_message` turns the body of an SQS message into `S3Event`s, whichever way S3's event reached
the queue: directly (an S3 event notification), through SNS (a `Notification` envelope around one, or
the bare notification with raw message delivery) or through EventBridge (an `Object Created` /
`Object Deleted` event). Anything else is an `InvalidEvent` (a `PoisonInput`: the message goes to
the DLQ with the text as its reason). Standard library only.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote_plus

from stockmind.errors import InvalidEvent
from stockmind.media.etags import bare_etag
from stockmind.media.types import EventKind

_KIND_BY_EVENT_PREFIX = {"ObjectCreated:": EventKind.CREATED, "ObjectRemoved:": EventKind.REMOVED}
_TEST_EVENT = "s3:TestEvent"
_EVENT_SOURCE = "aws:s3"
_EVENT_MAJOR_VERSION = "2"

# SNS messages that carry no S3 event: SNS confirms a subscription of a queue in the topic owner's
# account by itself, so these are only news (subscribe from the queue's account across accounts).
_SNS_NOTICES = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
_SNS_NOTIFICATION = "Notification"

_EVENTBRIDGE_SOURCE = "aws.s3"
_EVENTBRIDGE_VERSION = "0"
_EVENTBRIDGE_KINDS = {"Object Created": EventKind.CREATED, "Object Deleted": EventKind.REMOVED}
# EventBridge says which API made the event (`reason`) and, for deletes, what it left
# (`deletion-type`); the S3 notification names say both in one. Values as AWS documents them.
_EVENTBRIDGE_CREATED_NAMES = {
    "PutObject": "ObjectCreated:Put",
    "POST Object": "ObjectCreated:Post",
    "CopyObject": "ObjectCreated:Copy",
    "CompleteMultipartUpload": "ObjectCreated:CompleteMultipartUpload",
}
_EVENTBRIDGE_DELETED_NAMES = {
    ("DeleteObject", "Permanently Deleted"): "ObjectRemoved:Delete",
    ("DeleteObject", "Delete Marker Created"): "ObjectRemoved:DeleteMarkerCreated",
    ("Lifecycle Expiration", "Permanently Deleted"): "LifecycleExpiration:Delete",
    ("Lifecycle Expiration", "Delete Marker Created"): "LifecycleExpiration:DeleteMarkerCreated",
}


@dataclass(frozen=True)
class S3Event:
    """One object's event (a record of an S3 event notification, or an EventBridge event). `key` is
    decoded; the optional fields are None when S3 (or moto, which sends no sequencer/versionId) leaves
    them out or empty."""

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
    """The S3 events in the body of an SQS message, in whichever envelope they came.

    - An S3 event notification (eventVersion 2.x, with or without `sequencer`/`versionId`, which moto
      omits), sent by S3 itself or by SNS with raw message delivery. The `s3:TestEvent` S3 sends when
      notifications are configured gives [].
    - An SNS `Notification` whose `Message` is either of the others. SNS `SubscriptionConfirmation`
      and `UnsubscribeConfirmation` messages give [].
    - An EventBridge `Object Created` / `Object Deleted` event from S3, named like the notification
      it stands for (`ObjectCreated:Put`, `ObjectRemoved:DeleteMarkerCreated`, ...).

    Only object creations and removals are accepted: the bucket (or rule) is configured to send
    nothing else, so any other kind (ObjectRestore:*, Object Restore Completed, ...) means a
    misconfiguration and is an `InvalidEvent`, as is one bad record (the message goes to the DLQ
    whole). The key is decoded, not validated: that is `parse_media_key`'s job.
    """
    message = _json_object(body, "message body")
    if "Type" in message:  # neither S3 nor EventBridge sends a top-level Type
        return _sns_events(message)
    return _s3_events(message)


def _s3_events(message: dict) -> list[S3Event]:
    if "detail-type" in message:
        return [_eventbridge_event(message)]
    return _notification_events(message)


def _sns_events(message: dict) -> list[S3Event]:
    kind = message["Type"]
    if kind in _SNS_NOTICES:
        return []
    if kind != _SNS_NOTIFICATION:
        raise InvalidEvent(f"SNS message Type {kind!r} is not {_SNS_NOTIFICATION!r} or one of {_SNS_NOTICES}")
    try:
        inner = _json_object(message.get("Message"), "Message")
        if "Type" in inner:
            raise InvalidEvent("Message is another SNS message, not an S3 event")
        return _s3_events(inner)
    except InvalidEvent as error:
        raise InvalidEvent(f"SNS Notification {message.get('MessageId')!r}: {error}") from None


def _notification_events(message: dict) -> list[S3Event]:
    if message.get("Event") == _TEST_EVENT:
        return []
    records = _records(message)
    return [_event(record, f"record {index}") for index, record in enumerate(records)]


def _json_object(text: object, what: str) -> dict:
    if not isinstance(text, str):
        raise InvalidEvent(f"{what} must be a string, got {type(text).__name__}")
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidEvent(f"{what} is not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(message, dict):
        raise InvalidEvent(f"{what} is JSON {_json_kind(message)}, not an object")
    return message


def _records(message: dict) -> list:
    if "Records" not in message:
        raise InvalidEvent("message has no 'Records' and is not an s3:TestEvent, SNS or EventBridge message")
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


def _eventbridge_event(message: dict) -> S3Event:
    where = "EventBridge event"
    _check_eventbridge_origin(message, where)
    detail_type = message["detail-type"]
    kind = _EVENTBRIDGE_KINDS.get(detail_type)
    if kind is None:
        raise InvalidEvent(f"{where}: detail-type {detail_type!r} is not one of {tuple(_EVENTBRIDGE_KINDS)}")
    detail = _object(message.get("detail"), f"{where}: detail")
    bucket = _object(detail.get("bucket"), f"{where}: detail.bucket")
    obj = _object(detail.get("object"), f"{where}: detail.object")
    return S3Event(
        kind=kind,
        event_name=_eventbridge_name(kind, detail, where),
        bucket=_required_text(bucket, "name", where, "detail.bucket.name"),
        key=_required_text(obj, "key", where, "detail.object.key"),  # EventBridge keys are not encoded
        size=_size(obj.get("size"), where, "detail.object.size"),
        etag=_etag(_optional_text(obj, "etag", where, "detail.object.etag"), where),
        version_id=_optional_text(obj, "version-id", where, "detail.object.version-id"),
        sequencer=_optional_text(obj, "sequencer", where, "detail.object.sequencer"),
        event_time=_event_time(message.get("time"), where, "time"),
    )


def _check_eventbridge_origin(message: dict, where: str) -> None:
    source = message.get("source")
    if source != _EVENTBRIDGE_SOURCE:
        raise InvalidEvent(f"{where}: source is {source!r}, expected '{_EVENTBRIDGE_SOURCE}'")
    version = message.get("version")
    if version != _EVENTBRIDGE_VERSION:
        raise InvalidEvent(f"{where}: version is {version!r}, expected '{_EVENTBRIDGE_VERSION}'")


def _eventbridge_name(kind: EventKind, detail: dict, where: str) -> str:
    reason = _required_text(detail, "reason", where, "detail.reason")
    if kind is EventKind.CREATED:
        name = _EVENTBRIDGE_CREATED_NAMES.get(reason)
        if name is None:
            raise InvalidEvent(f"{where}: detail.reason {reason!r} of Object Created is not one of "
                               f"{tuple(_EVENTBRIDGE_CREATED_NAMES)}")
        return name
    deletion = _required_text(detail, "deletion-type", where, "detail.deletion-type")
    name = _EVENTBRIDGE_DELETED_NAMES.get((reason, deletion))
    if name is None:
        raise InvalidEvent(f"{where}: Object Deleted with detail.reason {reason!r} and detail.deletion-type "
                           f"{deletion!r} is not a known deletion")
    return name


def _size(value: object, where: str, path: str = "s3.object.size") -> int | None:
    if value is None:
        return None  # ObjectRemoved records carry no size.
    # bool is an int in Python, but `true` is not a size.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent(f"{where}: {path} {value!r} is not a whole number")
    if value < 0:
        raise InvalidEvent(f"{where}: {path} {value} is negative")
    return value


def _etag(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{where}: s3.object.eTag {value!r} is not a string")
    # Some producers keep the HTTP quotes around the ETag; the store compares bare values.
    return bare_etag(value)


def _event_time(value: object, where: str, name: str = "eventTime") -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{where}: {name} {value!r} is not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"{where}: {name} {value!r} is not an ISO 8601 time") from None
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

"""parse_s3_message: S3 event notifications as SQS delivers them, from real AWS and from moto."""

import copy
import json
import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from stockmind.errors import InvalidEvent, PoisonInput
from stockmind.media.events import S3Event, parse_s3_message
from stockmind.media.types import EventKind

# The record AWS documents for eventVersion 2.1, with our key layout.
REAL_AWS_RECORD = {
    "eventVersion": "2.1",
    "eventSource": "aws:s3",
    "awsRegion": "us-east-1",
    "eventTime": "2024-05-01T12:34:56.789Z",
    "eventName": "ObjectCreated:Put",
    "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
    "requestParameters": {"sourceIPAddress": "203.0.113.7"},
    "responseElements": {
        "x-amz-request-id": "C3D13FE58DE4C810",
        "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
    },
    "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "media-created",
        "bucket": {
            "name": "stock-mind-media",
            "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
            "arn": "arn:aws:s3:::stock-mind-media",
        },
        "object": {
            "key": "clients/acme/products/SKU-1/media/image/front.jpg",
            "size": 1024000,
            "eTag": "d41d8cd98f00b204e9800998ecf8427e",
            "versionId": "096fKKXTRTtl3on89fVO.nfljtsv6qko",
            "sequencer": "0055AED6DCD90281E5",
        },
    },
}

# What moto 5 sends: the key quote_plus-encoded ('/' as %2F), no sequencer, no versionId.
MOTO_RECORD = {
    "eventVersion": "2.1",
    "eventSource": "aws:s3",
    "awsRegion": "us-east-1",
    "eventTime": "2024-05-01T12:34:56.789Z",
    "eventName": "ObjectCreated:Put",
    "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "media-created",
        "bucket": {"name": "stock-mind-media", "arn": "arn:aws:s3:::stock-mind-media"},
        "object": {
            "key": "clients%2Facme%2Fproducts%2FSKU-1%2Fmedia%2Fimage%2Ffront.jpg",
            "size": 2048,
            "eTag": "0cc175b9c0f1b6a831c399e269772661",
        },
    },
}

# A delete as AWS sends it: no size, no eTag.
REAL_AWS_REMOVED_RECORD = {
    **REAL_AWS_RECORD,
    "eventName": "ObjectRemoved:Delete",
    "s3": {
        **REAL_AWS_RECORD["s3"],
        "object": {
            "key": "clients/acme/products/SKU-1/media/video/spin.mp4",
            "versionId": "3HL4kqtJvjVBH40Nrjfkd",
            "sequencer": "0055AED6DCD90281F0",
        },
    },
}

TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2024-05-01T12:00:00.000Z",
    "Bucket": "stock-mind-media",
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}


def body_of(*records: dict) -> str:
    return json.dumps({"Records": list(records)})


def record_with(base: dict = MOTO_RECORD, **changes) -> dict:
    """A deep copy of `base` with dotted paths changed; a value of `...` removes the field."""
    record = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, name = path.split("__")
        target = record
        for parent in parents:
            target = target[parent]
        if value is ...:
            target.pop(name, None)
        else:
            target[name] = value
    return record


def test_real_aws_record_parses_every_field():
    (event,) = parse_s3_message(body_of(REAL_AWS_RECORD))

    assert event == S3Event(
        kind=EventKind.CREATED,
        event_name="ObjectCreated:Put",
        bucket="stock-mind-media",
        key="clients/acme/products/SKU-1/media/image/front.jpg",
        size=1024000,
        etag="d41d8cd98f00b204e9800998ecf8427e",
        version_id="096fKKXTRTtl3on89fVO.nfljtsv6qko",
        sequencer="0055AED6DCD90281E5",
        event_time=datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=timezone.utc),
    )


def test_moto_record_parses_without_sequencer_or_version():
    (real,) = parse_s3_message(body_of(REAL_AWS_RECORD))
    (event,) = parse_s3_message(body_of(MOTO_RECORD))

    assert event == replace(
        real, size=2048, etag="0cc175b9c0f1b6a831c399e269772661", version_id=None, sequencer=None
    )


def test_real_aws_delete_has_no_size_or_etag():
    (event,) = parse_s3_message(body_of(REAL_AWS_REMOVED_RECORD))

    assert event.kind is EventKind.REMOVED
    assert event.key == "clients/acme/products/SKU-1/media/video/spin.mp4"
    assert (event.size, event.etag) == (None, None)
    assert (event.version_id, event.sequencer) == ("3HL4kqtJvjVBH40Nrjfkd", "0055AED6DCD90281F0")


@pytest.mark.parametrize(
    ("raw_key", "decoded"),
    [
        ("clients%2Facme%2Fproducts%2FSKU-1%2Fmedia%2Fimage%2Fa.jpg", "clients/acme/products/SKU-1/media/image/a.jpg"),
        ("clients/acme/products/SKU-1/media/image/a.jpg", "clients/acme/products/SKU-1/media/image/a.jpg"),
        ("clients/acme/products/SKU+1/media/image/front+view.jpg", "clients/acme/products/SKU 1/media/image/front view.jpg"),
        ("clients/acme/products/SKU-1/media/image/caf%C3%A9+1.jpg", "clients/acme/products/SKU-1/media/image/café 1.jpg"),
        ("clients%2F%E5%AE%A2%E6%88%B7%2Fproducts%2Fx%2Fmedia%2Fvideo%2Fa.mp4", "clients/客户/products/x/media/video/a.mp4"),
        # A literal '+' in a key arrives as %2B; only the encoded form means a plus sign.
        ("clients/acme/products/A%2BB/media/image/1%2B1.png", "clients/acme/products/A+B/media/image/1+1.png"),
        ("clients/acme/products/50%25/media/image/a.jpg", "clients/acme/products/50%/media/image/a.jpg"),
        # Decoding is not validation: parse_media_key judges the result later.
        ("clients%2F..%2Fetc%2Fpasswd", "clients/../etc/passwd"),
    ],
)
def test_key_is_decoded_like_unquote_plus(raw_key, decoded):
    (event,) = parse_s3_message(body_of(record_with(s3__object__key=raw_key)))

    assert event.key == decoded


@pytest.mark.parametrize(
    ("event_name", "kind"),
    [
        ("ObjectCreated:Put", EventKind.CREATED),
        ("ObjectCreated:Post", EventKind.CREATED),
        ("ObjectCreated:Copy", EventKind.CREATED),
        ("ObjectCreated:CompleteMultipartUpload", EventKind.CREATED),
        ("ObjectRemoved:Delete", EventKind.REMOVED),
        ("ObjectRemoved:DeleteMarkerCreated", EventKind.REMOVED),
    ],
)
def test_event_name_gives_the_kind(event_name, kind):
    (event,) = parse_s3_message(body_of(record_with(eventName=event_name)))

    assert (event.kind, event.event_name) == (kind, event_name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"d41d8cd98f00b204e9800998ecf8427e"', "d41d8cd98f00b204e9800998ecf8427e"),
        ("d41d8cd98f00b204e9800998ecf8427e-2", "d41d8cd98f00b204e9800998ecf8427e-2"),
        ("", None),
        ('""', None),
    ],
)
def test_etag_loses_its_quotes(raw, expected):
    (event,) = parse_s3_message(body_of(record_with(s3__object__eTag=raw)))

    assert event.etag == expected


@pytest.mark.parametrize(
    ("changes", "version_id", "sequencer"),
    [
        ({}, None, None),
        ({"s3__object__versionId": "", "s3__object__sequencer": ""}, None, None),
        ({"s3__object__versionId": "null", "s3__object__sequencer": "0A1B"}, "null", "0A1B"),
    ],
)
def test_version_and_sequencer_are_optional(changes, version_id, sequencer):
    (event,) = parse_s3_message(body_of(record_with(**changes)))

    assert (event.version_id, event.sequencer) == (version_id, sequencer)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T12:34:56.789Z", datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=timezone.utc)),
        ("2024-05-01T12:34:56Z", datetime(2024, 5, 1, 12, 34, 56, tzinfo=timezone.utc)),
        ("2024-05-01T12:34:56.789123", datetime(2024, 5, 1, 12, 34, 56, 789123, tzinfo=timezone.utc)),
        ("2024-05-01T14:34:56+02:00", datetime(2024, 5, 1, 12, 34, 56, tzinfo=timezone.utc)),
        (..., None),
    ],
)
def test_event_time_is_timezone_aware(raw, expected):
    (event,) = parse_s3_message(body_of(record_with(eventTime=raw)))

    assert event.event_time == expected
    assert event.event_time is None or event.event_time.tzinfo is not None


def test_test_event_gives_no_events():
    assert parse_s3_message(json.dumps(TEST_EVENT)) == []


def test_multi_record_body_keeps_record_order():
    body = body_of(
        REAL_AWS_RECORD,
        record_with(eventName="ObjectCreated:CompleteMultipartUpload"),
        REAL_AWS_REMOVED_RECORD,
    )

    events = parse_s3_message(body)

    assert [(e.event_name, e.key.rsplit("/", 1)[1]) for e in events] == [
        ("ObjectCreated:Put", "front.jpg"),
        ("ObjectCreated:CompleteMultipartUpload", "front.jpg"),
        ("ObjectRemoved:Delete", "spin.mp4"),
    ]


def test_events_are_immutable():
    (event,) = parse_s3_message(body_of(MOTO_RECORD))

    with pytest.raises(AttributeError):
        event.key = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # not JSON, or not an object
        ("", "message body is not JSON"),
        ("not json", "message body is not JSON"),
        ('{"Records": [', "message body is not JSON"),
        ("[]", "message body is JSON an array, not an object"),
        ('"Records"', "message body is JSON a string, not an object"),
        ("42", "message body is JSON a number, not an object"),
        ("null", "message body is JSON missing or null, not an object"),
        # no records
        ("{}", "message has no 'Records' and is not an s3:TestEvent"),
        (json.dumps({**TEST_EVENT, "Event": "s3:SomethingElse"}), "message has no 'Records'"),
        ('{"Records": []}', "'Records' is empty"),
        ('{"Records": {}}', "'Records' is JSON an object, not an array"),
        ('{"Records": null}', "'Records' is JSON missing or null, not an array"),
        ('{"Records": ["x"]}', "record 0 is a string, expected an object"),
        # SNS in between
        (
            json.dumps({"Type": "Notification", "Message": body_of(MOTO_RECORD)}),
            "message is an SNS envelope; S3 must notify the queue directly",
        ),
        # the first bad record is named by its position
        (body_of(MOTO_RECORD, record_with(eventName="ObjectRestore:Completed")), "record 1: eventName"),
    ],
)
def test_body_that_is_not_an_s3_notification_is_rejected(body, reason):
    with pytest.raises(InvalidEvent, match=re.escape(reason)):
        parse_s3_message(body)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        # origin
        ({"eventSource": "aws:sqs"}, "record 0: eventSource is 'aws:sqs', expected 'aws:s3'"),
        ({"eventSource": "minio:s3"}, "eventSource is 'minio:s3', expected 'aws:s3'"),
        ({"eventSource": ...}, "eventSource is None, expected 'aws:s3'"),
        ({"eventVersion": "3.0"}, "record 0: eventVersion is '3.0', expected 2.x"),
        ({"eventVersion": ...}, "eventVersion is None, expected 2.x"),
        ({"eventVersion": 2.1}, "eventVersion is 2.1, expected 2.x"),
        # event name
        ({"eventName": ...}, "record 0: eventName must be a non-empty string, got missing"),
        ({"eventName": ""}, "eventName must be a non-empty string, got ''"),
        ({"eventName": 7}, "eventName must be a non-empty string, got 7"),
        ({"eventName": "ObjectRestore:Completed"}, "eventName 'ObjectRestore:Completed' is not ObjectCreated:* or ObjectRemoved:*"),
        ({"eventName": "LifecycleExpiration:Delete"}, "eventName 'LifecycleExpiration:Delete' is not"),
        ({"eventName": "ObjectTagging:Put"}, "eventName 'ObjectTagging:Put' is not"),
        ({"eventName": "s3:ObjectCreated:Put"}, "eventName 's3:ObjectCreated:Put' is not"),
        ({"eventName": "ObjectCreated:"}, "eventName 'ObjectCreated:' is not"),
        ({"eventName": "ObjectCreated"}, "eventName 'ObjectCreated' is not"),
        # structure
        ({"s3": ...}, "record 0: s3 is missing or null, expected an object"),
        ({"s3": []}, "record 0: s3 is an array, expected an object"),
        ({"s3__bucket": ...}, "record 0: s3.bucket is missing or null, expected an object"),
        ({"s3__object": "key"}, "record 0: s3.object is a string, expected an object"),
        # bucket and key
        ({"s3__bucket__name": ...}, "record 0: s3.bucket.name must be a non-empty string, got missing"),
        ({"s3__bucket__name": ""}, "s3.bucket.name must be a non-empty string, got ''"),
        ({"s3__object__key": ...}, "record 0: s3.object.key must be a non-empty string, got missing"),
        ({"s3__object__key": ""}, "s3.object.key must be a non-empty string, got ''"),
        ({"s3__object__key": ["a"]}, "s3.object.key must be a non-empty string, got ['a']"),
        ({"s3__object__key": "clients%2Fcaf%E9.jpg"}, "s3.object.key 'clients%2Fcaf%E9.jpg' is not percent-encoded UTF-8"),
        # size
        ({"s3__object__size": "1024"}, "record 0: s3.object.size '1024' is not a whole number"),
        ({"s3__object__size": 10.5}, "s3.object.size 10.5 is not a whole number"),
        ({"s3__object__size": 1024.0}, "s3.object.size 1024.0 is not a whole number"),
        ({"s3__object__size": True}, "s3.object.size True is not a whole number"),
        ({"s3__object__size": -1}, "s3.object.size -1 is negative"),
        # optional text fields
        ({"s3__object__eTag": 123}, "record 0: s3.object.eTag 123 is not a string"),
        ({"s3__object__versionId": 5}, "record 0: s3.object.versionId 5 is not a string"),
        ({"s3__object__sequencer": ["0A"]}, "record 0: s3.object.sequencer ['0A'] is not a string"),
        # time
        ({"eventTime": "yesterday"}, "record 0: eventTime 'yesterday' is not an ISO 8601 time"),
        ({"eventTime": "2024-13-01T00:00:00Z"}, "eventTime '2024-13-01T00:00:00Z' is not an ISO 8601 time"),
        ({"eventTime": 1714566896}, "eventTime 1714566896 is not a string"),
    ],
)
def test_bad_record_is_rejected_with_a_precise_reason(changes, reason):
    with pytest.raises(InvalidEvent, match=re.escape(reason)):
        parse_s3_message(body_of(record_with(**changes)))


@pytest.mark.parametrize("not_a_string", [None, b'{"Records": []}', {"Records": []}])
def test_non_string_body_is_rejected(not_a_string):
    with pytest.raises(InvalidEvent, match="message body must be a string"):
        parse_s3_message(not_a_string)


def test_invalid_event_is_poison_with_its_reason_code():
    with pytest.raises(PoisonInput) as caught:
        parse_s3_message("not json")

    assert caught.value.reason == "invalid_event"

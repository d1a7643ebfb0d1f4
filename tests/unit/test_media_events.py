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
        ("clients/acme/products/SKU+1/media/image/front+view.jpg",
         "clients/acme/products/SKU 1/media/image/front view.jpg"),
        ("clients/acme/products/SKU-1/media/image/caf%C3%A9+1.jpg",
         "clients/acme/products/SKU-1/media/image/café 1.jpg"),
        ("clients%2F%E5%AE%A2%E6%88%B7%2Fproducts%2Fx%2Fmedia%2Fvideo%2Fa.mp4",
         "clients/客户/products/x/media/video/a.mp4"),
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
        ({"eventName": "ObjectRestore:Completed"},
         "eventName 'ObjectRestore:Completed' is not ObjectCreated:* or ObjectRemoved:*"),
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
        ({"s3__object__key": "clients%2Fcaf%E9.jpg"},
         "s3.object.key 'clients%2Fcaf%E9.jpg' is not percent-encoded UTF-8"),
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


# --- SNS and EventBridge envelopes -----------------------------------------------------------------

# S3's event as EventBridge delivers it (AWS's documented example, with our bucket and key layout).
# Keys are not URL-encoded here, unlike in S3 notifications.
EVENTBRIDGE_CREATED = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2024-05-01T12:34:56Z",
    "region": "us-east-1",
    "resources": ["arn:aws:s3:::stock-mind-media"],
    "detail": {
        "version": "0",
        "bucket": {"name": "stock-mind-media"},
        "object": {
            "key": "clients/acme/products/SKU-1/media/image/front.jpg",
            "size": 1024000,
            "etag": "d41d8cd98f00b204e9800998ecf8427e",
            "version-id": "096fKKXTRTtl3on89fVO.nfljtsv6qko",
            "sequencer": "0055AED6DCD90281E5",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "203.0.113.7",
        "reason": "PutObject",
    },
}

EVENTBRIDGE_DELETED = {
    **EVENTBRIDGE_CREATED,
    "id": "2ee9cc15-d022-99ea-1fb8-1b1bac4850f9",
    "detail-type": "Object Deleted",
    "detail": {
        "version": "0",
        "bucket": {"name": "stock-mind-media"},
        "object": {
            "key": "clients/acme/products/SKU-1/media/video/spin.mp4",
            "version-id": "3HL4kqtJvjVBH40Nrjfkd",
            "sequencer": "0055AED6DCD90281F0",
        },
        "request-id": "0BH729840619AG5K",
        "requester": "123456789012",
        "source-ip-address": "203.0.113.7",
        "reason": "DeleteObject",
        "deletion-type": "Permanently Deleted",
    },
}


def sns_notification(message: str, **changes) -> str:
    """An SQS body as SNS delivers `message` without raw message delivery."""
    envelope = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:111122223333:stock-mind-media-events",
        "Subject": "Amazon S3 Notification",
        "Message": message,
        "Timestamp": "2024-05-01T12:34:57.001Z",
        "SignatureVersion": "1",
        "Signature": ("EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxY"
                      "DVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q="),
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:111122223333:stock-mind-media-events:c9135db0",
    }
    for name, value in changes.items():
        if value is ...:
            envelope.pop(name)
        else:
            envelope[name] = value
    return json.dumps(envelope)


def eventbridge_with(base: dict = EVENTBRIDGE_CREATED, **changes) -> dict:
    return record_with(base, **changes)


def test_eventbridge_object_created_parses_to_the_same_event_as_the_notification():
    (direct,) = parse_s3_message(body_of(REAL_AWS_RECORD))
    (event,) = parse_s3_message(json.dumps(EVENTBRIDGE_CREATED))

    # EventBridge times have whole seconds; everything else is the notification's.
    assert event == replace(direct, event_time=datetime(2024, 5, 1, 12, 34, 56, tzinfo=timezone.utc))


def test_eventbridge_delete_of_a_video_has_no_size_or_etag():
    (direct,) = parse_s3_message(body_of(REAL_AWS_REMOVED_RECORD))
    (event,) = parse_s3_message(json.dumps(EVENTBRIDGE_DELETED))

    assert event == replace(direct, event_time=datetime(2024, 5, 1, 12, 34, 56, tzinfo=timezone.utc))
    assert (event.kind, event.size, event.etag) == (EventKind.REMOVED, None, None)


@pytest.mark.parametrize(
    "key",
    [
        "clients/acme/products/SKU+1/media/image/front+view.jpg",
        "clients/acme/products/50%25/media/image/caf%C3%A9.jpg",
        "clients/acme/products/SKU 1/media/image/café 1.jpg",
    ],
)
def test_eventbridge_key_is_taken_as_it_is(key):
    (event,) = parse_s3_message(json.dumps(eventbridge_with(detail__object__key=key)))

    assert event.key == key


@pytest.mark.parametrize(
    ("detail_type", "reason", "deletion_type", "kind", "event_name"),
    [
        ("Object Created", "PutObject", ..., EventKind.CREATED, "ObjectCreated:Put"),
        ("Object Created", "POST Object", ..., EventKind.CREATED, "ObjectCreated:Post"),
        ("Object Created", "CopyObject", ..., EventKind.CREATED, "ObjectCreated:Copy"),
        ("Object Created", "CompleteMultipartUpload", ..., EventKind.CREATED, "ObjectCreated:CompleteMultipartUpload"),
        ("Object Deleted", "DeleteObject", "Permanently Deleted", EventKind.REMOVED, "ObjectRemoved:Delete"),
        ("Object Deleted", "DeleteObject", "Delete Marker Created", EventKind.REMOVED,
         "ObjectRemoved:DeleteMarkerCreated"),
        ("Object Deleted", "Lifecycle Expiration", "Permanently Deleted", EventKind.REMOVED,
         "LifecycleExpiration:Delete"),
        ("Object Deleted", "Lifecycle Expiration", "Delete Marker Created", EventKind.REMOVED,
         "LifecycleExpiration:DeleteMarkerCreated"),
    ],
)
def test_eventbridge_event_is_named_like_the_s3_notification(detail_type, reason, deletion_type, kind, event_name):
    message = eventbridge_with(**{"detail-type": detail_type, "detail__reason": reason,
                                  "detail__deletion-type": deletion_type})

    (event,) = parse_s3_message(json.dumps(message))

    assert (event.kind, event.event_name) == (kind, event_name)


def test_eventbridge_optional_fields_may_be_missing_or_empty():
    message = eventbridge_with(**{"detail__object__etag": '""', "detail__object__version-id": "",
                                  "detail__object__sequencer": ..., "time": ...})

    (event,) = parse_s3_message(json.dumps(message))

    assert (event.etag, event.version_id, event.sequencer, event.event_time) == (None, None, None, None)


@pytest.mark.parametrize(
    "body",
    [
        body_of(REAL_AWS_RECORD),
        body_of(MOTO_RECORD, REAL_AWS_REMOVED_RECORD),
        body_of(record_with(s3__object__key="clients%2Facme%2Fproducts%2Fx%2Fmedia%2Fvideo%2Fspin+1.mp4")),
        json.dumps(EVENTBRIDGE_CREATED),
        json.dumps(EVENTBRIDGE_DELETED),
    ],
)
def test_sns_notification_gives_the_events_of_its_message(body):
    assert parse_s3_message(sns_notification(body)) == parse_s3_message(body)


def test_sns_raw_message_delivery_is_the_bare_notification():
    # With raw message delivery the SQS body is the S3 notification itself: the direct case.
    (event,) = parse_s3_message(body_of(MOTO_RECORD))

    assert (event.key, event.size) == ("clients/acme/products/SKU-1/media/image/front.jpg", 2048)


@pytest.mark.parametrize(
    "body",
    [
        sns_notification(json.dumps(TEST_EVENT)),
        sns_notification("You have chosen to subscribe to the topic arn:aws:sns:us-east-1:111122223333:t.",
                         Type="SubscriptionConfirmation", Token="2336412f37", SubscribeURL="https://sns.example/"),
        sns_notification("You have chosen to deactivate subscription arn:aws:sns:us-east-1:111122223333:t.",
                         Type="UnsubscribeConfirmation", Token="2336412f37", SubscribeURL="https://sns.example/"),
    ],
)
def test_sns_test_event_and_subscription_notices_give_no_events(body):
    assert parse_s3_message(body) == []


SNS_ID = "SNS Notification '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324'"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (sns_notification("x", Type="Publish"), "SNS message Type 'Publish' is not 'Notification' or one of"),
        (sns_notification("x", Type=None), "SNS message Type None is not 'Notification'"),
        (sns_notification("x", Message=...), f"{SNS_ID}: Message must be a string, got NoneType"),
        (sns_notification("x", Message={"Records": []}), f"{SNS_ID}: Message must be a string, got dict"),
        (sns_notification("x", MessageId=..., Message="no json"), "SNS Notification None: Message is not JSON"),
        (sns_notification("not json"), f"{SNS_ID}: Message is not JSON (Expecting value at character 0)"),
        (sns_notification("[1]"), f"{SNS_ID}: Message is JSON an array, not an object"),
        (sns_notification("{}"), f"{SNS_ID}: message has no 'Records'"),
        (sns_notification(sns_notification(body_of(MOTO_RECORD))),
         f"{SNS_ID}: Message is another SNS message, not an S3 event"),
        (sns_notification(body_of(record_with(eventSource="aws:sqs"))),
         f"{SNS_ID}: record 0: eventSource is 'aws:sqs', expected 'aws:s3'"),
        (sns_notification(json.dumps(eventbridge_with(source="aws.ec2"))),
         f"{SNS_ID}: EventBridge event: source is 'aws.ec2', expected 'aws.s3'"),
    ],
)
def test_malformed_sns_notification_is_rejected_with_a_precise_reason(body, reason):
    with pytest.raises(InvalidEvent, match=re.escape(reason)):
        parse_s3_message(body)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        # origin
        ({"source": "aws.ec2"}, "EventBridge event: source is 'aws.ec2', expected 'aws.s3'"),
        ({"source": ...}, "EventBridge event: source is None, expected 'aws.s3'"),
        ({"version": "1"}, "EventBridge event: version is '1', expected '0'"),
        ({"version": 0}, "EventBridge event: version is 0, expected '0'"),
        # event type: the rule should only let creations and deletions through
        ({"detail-type": "Object Restore Completed"},
         ("EventBridge event: detail-type 'Object Restore Completed' is not one of "
          "('Object Created', 'Object Deleted')")),
        ({"detail-type": None}, "detail-type None is not one of"),
        ({"detail__reason": ...}, "EventBridge event: detail.reason must be a non-empty string, got missing"),
        ({"detail__reason": "RestoreObject"},
         "EventBridge event: detail.reason 'RestoreObject' of Object Created is not one of ('PutObject',"),
        # structure
        ({"detail": ...}, "EventBridge event: detail is missing or null, expected an object"),
        ({"detail": "x"}, "EventBridge event: detail is a string, expected an object"),
        ({"detail__bucket": ...}, "EventBridge event: detail.bucket is missing or null, expected an object"),
        ({"detail__object": []}, "EventBridge event: detail.object is an array, expected an object"),
        # fields
        ({"detail__bucket__name": ""}, "EventBridge event: detail.bucket.name must be a non-empty string, got ''"),
        ({"detail__object__key": ...}, "EventBridge event: detail.object.key must be a non-empty string, got missing"),
        ({"detail__object__size": "5"}, "EventBridge event: detail.object.size '5' is not a whole number"),
        ({"detail__object__size": -5}, "EventBridge event: detail.object.size -5 is negative"),
        ({"detail__object__etag": 5}, "EventBridge event: detail.object.etag 5 is not a string"),
        ({"detail__object__version-id": 5}, "EventBridge event: detail.object.version-id 5 is not a string"),
        ({"detail__object__sequencer": 5}, "EventBridge event: detail.object.sequencer 5 is not a string"),
        ({"time": "soon"}, "EventBridge event: time 'soon' is not an ISO 8601 time"),
        ({"time": 1714566896}, "EventBridge event: time 1714566896 is not a string"),
    ],
)
def test_malformed_eventbridge_event_is_rejected_with_a_precise_reason(changes, reason):
    with pytest.raises(InvalidEvent, match=re.escape(reason)):
        parse_s3_message(json.dumps(eventbridge_with(**changes)))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"detail__deletion-type": ...},
         "EventBridge event: detail.deletion-type must be a non-empty string, got missing"),
        ({"detail__reason": "PutObject"},
         ("EventBridge event: Object Deleted with detail.reason 'PutObject' and detail.deletion-type "
          "'Permanently Deleted' is not a known deletion")),
        ({"detail__deletion-type": "Archived"}, "detail.deletion-type 'Archived' is not a known deletion"),
    ],
)
def test_malformed_eventbridge_deletion_is_rejected_with_a_precise_reason(changes, reason):
    with pytest.raises(InvalidEvent, match=re.escape(reason)):
        parse_s3_message(json.dumps(eventbridge_with(EVENTBRIDGE_DELETED, **changes)))

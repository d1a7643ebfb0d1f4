"""S3 events that reach the queue through SNS or EventBridge give the stream the same rows as S3's
own notifications: the same uploads and deletes, replayed in each envelope into its own database."""

# embedder_pool is a fixture: imported so pytest finds it.

import dataclasses
import json
import uuid
from urllib.parse import unquote_plus

import pytest

from stockmind.store import connect, migrate
from tests.integration.stream_support import (
    FAST_OPTIONS,
    drain_dlq,
    image_key,
    jpeg_bytes,
    put,
    run_ingestor,
    stream_settings,
    video_bytes,
    video_key,
)

ENVELOPES = ("direct", "sns", "eventbridge")
OPTIONS = dataclasses.replace(FAST_OPTIONS, idle_exit_s=1.5)
# A space and a '+' in the key: S3 notifications encode them (as '+' and '%2B'), EventBridge does not.
IMAGE = image_key("acme", "bag 1", "front+view")
OTHER_IMAGE = image_key("acme", "bag-2", "side", "png")
VIDEO = video_key("globex", "shoe-9", "spin")

_EVENTBRIDGE_REASONS = {
    "ObjectCreated:Put": ("Object Created", "PutObject", None),
    "ObjectCreated:CompleteMultipartUpload": ("Object Created", "CompleteMultipartUpload", None),
    "ObjectRemoved:Delete": ("Object Deleted", "DeleteObject", "Permanently Deleted"),
    "ObjectRemoved:DeleteMarkerCreated": ("Object Deleted", "DeleteObject", "Delete Marker Created"),
}


@pytest.fixture
def databases(local_stack):
    """A migrated database per envelope."""
    names = {envelope: f"test_{envelope}_{uuid.uuid4().hex[:8]}" for envelope in ENVELOPES}
    urls = {envelope: local_stack.postgres.create_database(name) for envelope, name in names.items()}
    for url in urls.values():
        migrate(url)
    yield urls
    for name in names.values():
        local_stack.postgres.drop_database(name)


def test_sns_and_eventbridge_envelopes_give_the_rows_of_direct_notifications(
        aws, databases, stack_env, embedder_pool):
    for key, data in {IMAGE: jpeg_bytes(0), OTHER_IMAGE: jpeg_bytes(1), VIDEO: video_bytes(seconds=2)}.items():
        put(aws, key, data)
    settings = {envelope: stream_settings(stack_env, url) for envelope, url in databases.items()}
    stats = {}

    created = take_queued_bodies(aws)
    for envelope in ENVELOPES:
        send(aws, wrapped(created, envelope))
        stats[envelope] = run_ingestor(settings[envelope], embedder_pool, OPTIONS)["counts"]
    # Deletes in a later run, so arrival order (moto sends no sequencer) cannot reorder them.
    aws.s3.delete_object(Bucket=aws.bucket, Key=IMAGE)
    aws.s3.delete_object(Bucket=aws.bucket, Key=VIDEO)
    deleted = take_queued_bodies(aws)
    assert [event_names(body) for body in deleted] == [["ObjectRemoved:Delete"]] * 2
    for envelope in ENVELOPES:
        send(aws, wrapped(deleted, envelope))
        run_ingestor(settings[envelope], embedder_pool, OPTIONS)

    rows = {envelope: media_table(url) for envelope, url in databases.items()}
    assert {key: status for key, status, *_ in rows["direct"]} == {IMAGE: "deleted", OTHER_IMAGE: "active",
                                                                   VIDEO: "deleted"}
    assert rows["sns"] == rows["direct"]
    assert rows["eventbridge"] == rows["direct"]
    assert stats["sns"]["skipped"] == stats["direct"]["skipped"] + 1  # the SubscriptionConfirmation
    assert drain_dlq(aws) == []


def take_queued_bodies(aws) -> list[str]:
    """The S3 notifications moto has queued (taken off the queue), without the s3:TestEvent."""
    bodies = []
    while True:
        response = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = response.get("Messages", [])
        if not messages:
            return [body for body in bodies if "Records" in json.loads(body)]
        for message in messages:
            bodies.append(message["Body"])
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])


def wrapped(bodies: list[str], envelope: str) -> list[str]:
    if envelope == "direct":
        return bodies
    if envelope == "sns":
        return [sns_subscription_confirmation()] + [sns_notification(body) for body in bodies]
    return [json.dumps(eventbridge_event(record)) for body in bodies for record in json.loads(body)["Records"]]


def sns_notification(message: str) -> str:
    return json.dumps({
        "Type": "Notification", "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:media-events", "Subject": "Amazon S3 Notification",
        "Message": message, "Timestamp": "2024-05-01T12:00:00.000Z", "SignatureVersion": "1",
        "Signature": "EXAMPLE", "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    })


def sns_subscription_confirmation() -> str:
    return json.dumps({
        "Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": "2336412f37",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:media-events",
        "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:media-events.",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2024-05-01T12:00:00.000Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
    })


def eventbridge_event(record: dict) -> dict:
    """What S3 sends EventBridge for the event of this notification record."""
    detail_type, reason, deletion_type = _EVENTBRIDGE_REASONS[record["eventName"]]
    source = record["s3"]["object"]
    fields = {"size": "size", "eTag": "etag", "versionId": "version-id", "sequencer": "sequencer"}
    obj = {"key": unquote_plus(source["key"])} | {name: source[field] for field, name in fields.items()
                                                   if source.get(field)}
    detail = {"version": "0", "bucket": {"name": record["s3"]["bucket"]["name"]}, "object": obj,
              "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "reason": reason}
    if deletion_type:
        detail["deletion-type"] = deletion_type
    # moto's event time, kept to the millisecond so both runs order events alike (AWS's has seconds).
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": "aws.s3",
            "account": "123456789012", "time": record["eventTime"], "region": record["awsRegion"],
            "resources": [f"arn:aws:s3:::{record['s3']['bucket']['name']}"], "detail": detail}


def event_names(body: str) -> list[str]:
    return [record["eventName"] for record in json.loads(body)["Records"]]


def send(aws, bodies: list[str]) -> None:
    for body in bodies:
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)


def media_table(database_url: str) -> list[tuple]:
    """Every media row (tombstones too) with its frames' timestamps and vectors, without database ids."""
    with connect(database_url) as conn:
        return conn.execute(
            "SELECT m.key, m.status, m.bucket, m.client_id, m.sku, m.media_type, m.etag, m.version_id,"
            " m.sequencer, m.event_time, m.size, m.frame_count,"
            " array_agg(e.timestamp_s ORDER BY e.frame_no), array_agg(e.embedding::text ORDER BY e.frame_no)"
            " FROM media m LEFT JOIN embeddings e USING (client_id, media_id)"
            " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 ORDER BY m.key"
        ).fetchall()

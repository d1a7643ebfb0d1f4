"""SqsSource against the moto server: receive counts, visibility changes, deletes and the DLQ."""

import time

import pytest

from stockmind.stream.sqs_source import SqsSource
from tests.integration.stream_support import queue_counts


@pytest.fixture
def source(aws):
    return SqsSource(aws.sqs, aws.queue_url, aws.dlq_url)


def send(aws, *bodies):
    for body in bodies:
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)


def test_receive_returns_bodies_and_receive_counts(aws, source):
    send(aws, "one")
    [first] = source.receive(10, wait_s=1, visibility_s=0)
    [again] = source.receive(10, wait_s=1)
    assert (first.body, first.receive_count, again.receive_count) == ("one", 1, 2)
    assert first.sent_at is not None


def test_extending_visibility_keeps_a_message_hidden_past_its_first_timeout(aws, source):
    send(aws, "long work")
    [message] = source.receive(1, wait_s=1, visibility_s=1)
    assert source.change_visibility([message], 30) == []
    time.sleep(1.5)
    assert source.receive(1, wait_s=0) == []
    assert queue_counts(aws, aws.queue_url) == (0, 1)


def test_release_makes_messages_visible_at_once_and_delete_removes_them(aws, source):
    send(aws, *[f"m{n}" for n in range(12)])
    held = []
    while len(held) < 12:
        held += source.receive(10, wait_s=1, visibility_s=60)
    assert source.change_visibility(held, 0) == []
    assert queue_counts(aws, aws.queue_url) == (12, 0)
    again = []
    while len(again) < 12:
        again += source.receive(10, wait_s=1, visibility_s=60)
    assert source.delete(again) == []
    assert queue_counts(aws, aws.queue_url) == (0, 0)


def test_dlq_send_keeps_the_body_and_the_reason_attributes(aws, source):
    send(aws, "bad body")
    [message] = source.receive(1, wait_s=1)
    source.send_to_dlq(message, {"ErrorType": {"DataType": "String", "StringValue": "invalid_event"}})
    [dead] = aws.sqs.receive_message(QueueUrl=aws.dlq_url, MessageAttributeNames=["All"],
                                     WaitTimeSeconds=1)["Messages"]
    assert dead["Body"] == "bad body"
    assert dead["MessageAttributes"]["ErrorType"]["StringValue"] == "invalid_event"


@pytest.mark.parametrize("dlq_url", [None, ""])
def test_the_dlq_url_is_required_not_looked_up(aws, dlq_url):
    # Looking it up from the redrive policy would need sqs:GetQueueUrl, which workers are not granted.
    with pytest.raises(ValueError, match="STOCKMIND_DLQ_URL is required"):
        SqsSource(aws.sqs, aws.queue_url, dlq_url)

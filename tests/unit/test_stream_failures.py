"""The failure policy's pure parts: which errors are poison, the DLQ reason attributes, the backoff."""

from datetime import datetime, timezone

import pytest

from stockmind.errors import DecompressionBomb, InvalidEvent, MediaMissing, MediaTooLarge, UndecodableMedia
from stockmind.stream.failures import MAX_DETAIL_CHARS, dlq_attributes, is_poison, retry_delay_s
from stockmind.stream.sqs_source import SqsMessage

MESSAGE = SqsMessage("m-1", "handle", "{}", receive_count=3, sent_at=datetime(2026, 1, 1, tzinfo=timezone.utc))


@pytest.mark.parametrize("error", [InvalidEvent("x"), MediaMissing("x"), UndecodableMedia("x"),
                                   DecompressionBomb("x"), MediaTooLarge("x")])
def test_poison_input_is_poison(error):
    assert is_poison(error)


@pytest.mark.parametrize("error", [ConnectionError("db down"), TimeoutError(), RuntimeError("actor died")])
def test_everything_else_is_transient(error):
    assert not is_poison(error)


def test_dlq_attributes_carry_type_detail_receive_count_and_key():
    attributes = dlq_attributes(DecompressionBomb("image is 9000x9000"), MESSAGE, "clients/a/x.jpg")

    values = {name: value["StringValue"] for name, value in attributes.items()}
    assert values == {
        "ErrorType": "decompression_bomb", "ErrorClass": "DecompressionBomb", "ErrorDetail": "image is 9000x9000",
        "ReceiveCount": "3", "SourceMessageId": "m-1", "ObjectKey": "clients/a/x.jpg",
    }
    assert attributes["ReceiveCount"]["DataType"] == "Number"


def test_dlq_detail_is_bounded_and_never_empty():
    long = dlq_attributes(UndecodableMedia("x" * 5000), MESSAGE, None)
    empty = dlq_attributes(UndecodableMedia(""), MESSAGE, None)
    assert len(long["ErrorDetail"]["StringValue"]) == MAX_DETAIL_CHARS
    assert empty["ErrorDetail"]["StringValue"] == "undecodable_media"
    assert "ObjectKey" not in long


def test_backoff_doubles_from_the_base_and_is_capped():
    assert [retry_delay_s(n, 2.0, 30.0) for n in (1, 2, 3, 4, 5, 6)] == [2, 4, 8, 16, 30, 30]
    assert retry_delay_s(0, 1.0) == 1.0

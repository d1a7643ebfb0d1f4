"""Poison input goes to the DLQ with its reason while every good object in the same run is embedded."""

import json

from tests.integration.stream_support import (  # embedder_pool is a fixture
    drain_dlq,
    image_key,
    jpeg_bytes,
    jpeg_of_size,
    put,
    queue_counts,
    rows_per_key,
    run_ingestor,
    stream_settings,
    video_bytes,
    video_key,
)

MAX_OBJECT_BYTES = 100_000  # every good object here is a few KB


def test_each_poison_object_lands_in_the_dlq_with_its_reason_and_the_good_ones_are_embedded(
        aws, database_url, stack_env, embedder_pool):
    good = {
        image_key("acme", "sku-1", "good-0"): jpeg_bytes(0),
        image_key("acme", "sku-2", "good-1"): jpeg_bytes(1),
        image_key("globex", "sku-3", "good-2"): jpeg_bytes(2),
        video_key("globex", "sku-3", "good-clip"): video_bytes(seconds=2),
    }
    poison = {
        image_key("acme", "sku-1", "corrupt"): (jpeg_bytes(3)[:200], "undecodable_media"),
        image_key("acme", "sku-1", "empty"): (b"", "undecodable_media"),
        image_key("acme", "sku-1", "bomb"): (jpeg_of_size(200, 200), "decompression_bomb"),
        video_key("acme", "sku-1", "not-a-video"): (b"hello, I am a text file\n" * 20, "undecodable_media"),
        "clients/acme/oops.jpg": (jpeg_bytes(4), "invalid_media_key"),
        # Over STOCKMIND_MAX_OBJECT_BYTES below: refused by the event's size, never downloaded.
        image_key("acme", "sku-1", "huge"): (b"\0" * (MAX_OBJECT_BYTES + 1), "media_too_large"),
    }
    for key, data in good.items():
        put(aws, key, data)
    for key, (data, _) in poison.items():
        put(aws, key, data)
    missing = image_key("acme", "sku-1", "deleted-before-processing")
    put(aws, missing, jpeg_bytes(5))
    aws.s3.delete_object(Bucket=aws.bucket, Key=missing)
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="this is not JSON")
    # 96×96 catalogue images pass; the 200×200 "bomb" is over the limit.
    settings = stream_settings(stack_env, database_url, max_image_pixels=10_000, max_object_bytes=MAX_OBJECT_BYTES)

    stats = run_ingestor(settings, embedder_pool)

    assert rows_per_key(database_url) == {**{key: 1 for key in good}, video_key("globex", "sku-3", "good-clip"): 2}
    dead = drain_dlq(aws)
    reasons = {m["attributes"].get("ObjectKey"): m["attributes"]["ErrorType"] for m in dead}
    assert reasons == {**{key: reason for key, (_, reason) in poison.items()}, missing: "media_missing",
                       None: "invalid_event"}
    for message in dead:
        assert message["attributes"]["ReceiveCount"] == "1"
        assert message["attributes"]["ErrorDetail"]
    assert "this is not JSON" in [m["body"] for m in dead]
    assert all(json.loads(m["body"])["Records"] for m in dead if m["body"] != "this is not JSON")
    assert stats["counts"]["dlq"] == 8
    assert queue_counts(aws, aws.queue_url) == (0, 0)

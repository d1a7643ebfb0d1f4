"""The stream end to end on the real local stack: uploads become searchable rows, exactly once."""

import dataclasses

import pytest

from stockmind.media.types import MediaType
from tests.integration.stream_support import (
    FAST_OPTIONS,
    drain_dlq,
    duplicate_queue_messages,
    image_key,
    jpeg_bytes,
    media_rows,
    put,
    queue_counts,
    rows_per_key,
    run_ingestor,
    s3_test_event_body,
    stream_settings,
    upload_images,
    video_bytes,
    video_key,
)


def test_images_and_a_video_of_two_clients_become_rows_with_their_client_sku_type_and_timestamps(
        aws, database_url, stack_env, embedder_pool):
    uploads = {
        image_key("acme", "bag-1", "front"): jpeg_bytes(0),
        image_key("acme", "bag-2", "side", "png"): jpeg_bytes(1),
        image_key("globex", "shoe-9", "top"): jpeg_bytes(2),
        video_key("globex", "shoe-9", "spin"): video_bytes(seconds=3),
    }
    for key, data in uploads.items():
        put(aws, key, data)
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=s3_test_event_body(aws.bucket))

    stats = run_ingestor(stream_settings(stack_env, database_url), embedder_pool)

    rows = media_rows(database_url)
    assert set(rows) == set(uploads)
    assert rows[image_key("acme", "bag-1", "front")][:3] == ("acme", "bag-1", MediaType.IMAGE)
    assert rows[image_key("acme", "bag-2", "side", "png")][:3] == ("acme", "bag-2", MediaType.IMAGE)
    assert rows[image_key("globex", "shoe-9", "top")] == ("globex", "shoe-9", MediaType.IMAGE, [None])
    client, sku, kind, stamps = rows[video_key("globex", "shoe-9", "spin")]
    assert (client, sku, kind) == ("globex", "shoe-9", MediaType.VIDEO)
    assert stamps == pytest.approx([0.0, 1.0, 2.0], abs=0.3)
    assert stats["counts"]["succeeded"] == 4 and stats["counts"]["skipped"] == 1
    assert stats["counts"]["frames_embedded"] == 6
    assert queue_counts(aws, aws.queue_url) == (0, 0)
    assert drain_dlq(aws) == []


def test_duplicate_events_and_reuploads_leave_exactly_one_set_of_rows(aws, database_url, stack_env, embedder_pool):
    settings = stream_settings(stack_env, database_url)
    keys = [image_key("acme", "sku-1", f"dup-{n}") for n in range(3)]
    for n, key in enumerate(keys):
        put(aws, key, jpeg_bytes(n))
    video = video_key("acme", "sku-1", "clip", "mp4")
    put(aws, video, video_bytes(seconds=2))
    assert duplicate_queue_messages(aws) == 4
    run_ingestor(settings, embedder_pool)

    put(aws, keys[0], jpeg_bytes(0))  # the same bytes again: same ETag
    put(aws, keys[1], jpeg_bytes(9))  # new content: replaces the old vectors
    stats = run_ingestor(settings, embedder_pool)

    assert rows_per_key(database_url) == {keys[0]: 1, keys[1]: 1, keys[2]: 1, video: 2}
    assert stats["counts"]["succeeded"] == 2
    assert queue_counts(aws, aws.queue_url) == (0, 0)


def test_object_removed_deletes_the_media_rows(aws, database_url, stack_env, embedder_pool):
    settings = stream_settings(stack_env, database_url)
    keep, gone = image_key("acme", "sku-1", "keep"), image_key("acme", "sku-1", "gone")
    put(aws, keep, jpeg_bytes(0))
    put(aws, gone, jpeg_bytes(1))
    run_ingestor(settings, embedder_pool)
    aws.s3.delete_object(Bucket=aws.bucket, Key=gone)

    stats = run_ingestor(settings, embedder_pool)

    assert rows_per_key(database_url) == {keep: 1}
    assert stats["counts"]["media_removed"] == 1


def test_concurrent_pollers_that_get_one_message_twice_still_write_one_set_of_rows(
        aws, database_url, stack_env, embedder_pool):
    # moto's receive has no lock, so three polls at once hand out some messages twice: the
    # at-least-once delivery the idempotent commit exists for.
    keys = upload_images(aws, "acme", 30)
    options = dataclasses.replace(FAST_OPTIONS, receive_threads=3)

    stats = run_ingestor(stream_settings(stack_env, database_url), embedder_pool, options)

    assert rows_per_key(database_url) == {key: 1 for key in keys}
    assert stats["counts"]["received"] >= 30
    assert queue_counts(aws, aws.queue_url) == (0, 0)

"""Transient trouble mid-stream: an embedder actor dies, PostgreSQL restarts. Afterwards every object
is embedded exactly once and nothing is left in flight."""

import dataclasses
import os
import signal
import time

from tests.integration.stream_support import (
    FAST_OPTIONS,
    BackgroundIngestor,
    drain_dlq,
    queue_counts,
    rows_per_key,
    stream_settings,
    upload_images,
    wait_for,
)

OBJECTS = 24


def assert_each_exactly_once(aws, database_url, keys):
    assert rows_per_key(database_url) == {key: 1 for key in keys}
    assert queue_counts(aws, aws.queue_url) == (0, 0)
    assert drain_dlq(aws) == []


def test_an_embedder_actor_killed_mid_stream_restarts_and_every_object_is_embedded_once(
        aws, database_url, stack_env, embedder_pool):
    keys = upload_images(aws, "acme", OBJECTS)
    settings = stream_settings(stack_env, database_url, embed_batch_size=2)
    [pid_before] = embedder_pool.pids()
    stream = BackgroundIngestor(settings, embedder_pool)
    wait_for(lambda: len(rows_per_key(database_url)) >= 4, 120, "the first rows")

    os.kill(pid_before, signal.SIGKILL)
    stats = stream.join(timeout_s=240)

    assert_each_exactly_once(aws, database_url, keys)
    assert embedder_pool.pids() != [pid_before]
    assert stats["counts"]["succeeded"] == OBJECTS


def test_postgres_stopped_and_restarted_mid_stream_loses_nothing_and_held_messages_stay_invisible(
        aws, database_url, stack_env, local_stack, embedder_pool):
    keys = upload_images(aws, "globex", OBJECTS)
    settings = stream_settings(stack_env, database_url, embed_batch_size=2)
    # A short visibility timeout: held messages must be extended while the database is down.
    options = dataclasses.replace(FAST_OPTIONS, visibility_timeout_s=4)
    stream = BackgroundIngestor(settings, embedder_pool, options)
    wait_for(lambda: len(rows_per_key(database_url)) >= 1, 120, "the first rows")

    local_stack.postgres.stop()
    try:
        time.sleep(6)
    finally:
        local_stack.postgres.start()
    stats = stream.join(timeout_s=240)

    assert_each_exactly_once(aws, database_url, keys)
    assert stats["counts"]["received"] == OBJECTS  # no redelivery: visibility was extended
    assert stats["counts"]["succeeded"] == OBJECTS

"""The stream scaled out: `jobs/stream.py --ingestors 2` on a two-node local Ray cluster puts one
ingestor on each node, both take messages from the one queue, every good image gets exactly one row,
the bad ones reach the DLQ with their reasons, and the queue ends empty.

The job runs as a process (this test session may already be connected to the stack's own Ray head)
against the session's moto S3/SQS and a fresh database; its --stats-file holds the merged stats.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ray.util.state import list_actors

from stockmind.local.two_node_cluster import TWO_NODE_RAY_ENV, two_node_cluster
from tests.integration.stream_support import (
    TEST_MODEL,
    drain_dlq,
    image_key,
    jpeg_bytes,
    put,
    queue_counts,
    rows_per_key,
    upload_images,
    wait_for,
)

pytestmark = pytest.mark.timeout(600)

JOB = Path(__file__).resolve().parents[2] / "jobs" / "stream.py"
GOOD = 30


@pytest.fixture(scope="module")
def two_nodes():
    with two_node_cluster(("--num-cpus", "2"), ("--num-cpus", "2")) as addresses:
        yield addresses


def start_job(two_nodes, stack_env, database_url, stats_file: Path, log_file: Path) -> subprocess.Popen:
    gcs, _ = two_nodes
    env = {**os.environ, **stack_env, **TWO_NODE_RAY_ENV, "STOCKMIND_RAY_ADDRESS": gcs, "DATABASE_URL": database_url,
           "STOCKMIND_MODEL": TEST_MODEL, "HF_HUB_OFFLINE": "1",
           # One embedder each at a quarter CPU (each torch actor costs ~1.3 GB); few messages in flight
           # per ingestor, so neither can hold the whole queue while the other is busy.
           "STOCKMIND_EMBEDDER_POOL_SIZE": "1", "STOCKMIND_EMBEDDER_NUM_CPUS": "0.25",
           "STOCKMIND_EMBED_BATCH_SIZE": "2", "STOCKMIND_BATCH_MAX_WAIT_S": "0.05",
           "STOCKMIND_MAX_MESSAGES_IN_FLIGHT": "4"}
    command = [sys.executable, str(JOB), "--ingestors", "2", "--idle-exit-s", "30", "--receive-wait-s", "1",
               "--load-threads", "2", "--ingestor-cpus", "0.25", "--stats-file", str(stats_file)]
    with open(log_file, "wb") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def ingestors_alive(dashboard_url: str) -> int:
    """Ingestor actors past their __init__ (embedder pool and preprocessor loaded)."""
    alive = [("class_name", "=", "IngestorActor"), ("state", "=", "ALIVE")]
    return len(list_actors(address=dashboard_url, filters=alive))


def test_two_ingestors_on_two_nodes_share_the_queue_and_embed_every_image_exactly_once(
        two_nodes, aws, database_url, stack_env, tmp_path):
    log_file, stats_file = tmp_path / "job.log", tmp_path / "stats.json"
    job = start_job(two_nodes, stack_env, database_url, stats_file, log_file)
    try:
        # Uploads wait for both ingestors: the first one up would otherwise drain the queue alone.
        # (Each one's idle clock starts in its __init__: --idle-exit-s covers the gap between them, with
        # room for a loaded machine.)
        wait_for(lambda: ingestors_alive(two_nodes[1]) == 2 or job.poll() is not None, 300, "both ingestors",
                 interval_s=1.0)
        assert job.poll() is None, log_file.read_text()[-3000:]
        good = upload_images(aws, "acme", GOOD)
        poison = {image_key("acme", "sku-1", "corrupt"): "undecodable_media",
                  "clients/acme/oops.jpg": "invalid_media_key"}
        put(aws, image_key("acme", "sku-1", "corrupt"), jpeg_bytes(3)[:200])
        put(aws, "clients/acme/oops.jpg", jpeg_bytes(4))
        assert job.wait(timeout=240) == 0, log_file.read_text()[-3000:]
    finally:
        job.kill()
    stats = json.loads(stats_file.read_text())

    first, second = stats["ingestors"]
    assert first["node_id"] != second["node_id"]
    assert first["counts"]["received"] > 0 and second["counts"]["received"] > 0
    assert stats["counts"]["received"] == first["counts"]["received"] + second["counts"]["received"]
    assert rows_per_key(database_url) == {key: 1 for key in good}
    # moto's receive has no lock: a message may reach both ingestors (SQS is at-least-once too).
    dead = drain_dlq(aws)
    assert {(m["attributes"]["ObjectKey"], m["attributes"]["ErrorType"]) for m in dead} == set(poison.items())
    assert all(m["attributes"]["ErrorDetail"] for m in dead)
    assert queue_counts(aws, aws.queue_url) == (0, 0)

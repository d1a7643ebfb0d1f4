"""jobs/stream.py as a process (the ingestor in a Ray actor): SIGTERM mid-stream releases what it
holds and exits cleanly; after a restart every object ends up embedded exactly once."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.stream_support import (
    TEST_MODEL,
    drain_dlq,
    queue_counts,
    rows_per_key,
    run_ingestor,
    stream_settings,
    upload_images,
    wait_for,
)

JOB = Path(__file__).resolve().parents[2] / "jobs" / "stream.py"
# Enough that the stream cannot finish them all in the moment between its first rows and the SIGTERM
# (with 40 it once did, and the test saw no mid-stream stop).
OBJECTS = 120


def start_job(stack_env, database_url, stats_file: Path, log_file: Path) -> subprocess.Popen:
    env = {**os.environ, **stack_env, "DATABASE_URL": database_url, "STOCKMIND_MODEL": TEST_MODEL,
           "STOCKMIND_EMBED_BATCH_SIZE": "2", "STOCKMIND_BATCH_MAX_WAIT_S": "0.05",
           # Few messages in flight and no grace period: a stop must release work, not finish it.
           "STOCKMIND_MAX_MESSAGES_IN_FLIGHT": "4"}
    command = [sys.executable, str(JOB), "--idle-exit-s", "4", "--receive-wait-s", "1", "--shutdown-grace-s", "0",
               "--ingestor-cpus", "0.25", "--stats-file", str(stats_file)]
    with open(log_file, "wb") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_sigterm_mid_stream_then_a_restart_embeds_every_object_exactly_once(
        aws, database_url, stack_env, embedder_pool, tmp_path):
    keys = upload_images(aws, "acme", OBJECTS)
    log_file = tmp_path / "job.log"
    first = start_job(stack_env, database_url, tmp_path / "first.json", log_file)
    try:
        wait_for(lambda: len(rows_per_key(database_url)) >= 2, 240, "the job's first rows")
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 0, log_file.read_text()[-3000:]
    finally:
        first.kill()
    stopped = json.loads((tmp_path / "first.json").read_text())
    assert stopped["counts"]["succeeded"] < OBJECTS  # it really stopped mid-stream
    assert queue_counts(aws, aws.queue_url)[1] == 0  # nothing left invisible: released or deleted

    # The restart runs the same ingestor in this process (a second job launch only costs minutes).
    resumed = run_ingestor(stream_settings(stack_env, database_url), embedder_pool)

    assert rows_per_key(database_url) == {key: 1 for key in keys}
    assert queue_counts(aws, aws.queue_url) == (0, 0)
    assert drain_dlq(aws) == []
    assert stopped["counts"]["succeeded"] + resumed["counts"]["succeeded"] >= OBJECTS

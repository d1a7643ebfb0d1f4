"""Log records reach the stack's CloudWatch Logs (moto): the streaming job's driver and ingestor actor
write to the worker group, the search service's request lines to the application group."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import httpx

from stockmind import topology
from stockmind.local.aws_topology import create_log_groups
from stockmind.local.ports import LOOPBACK, free_port
from tests.integration.stream_support import (
    TEST_MODEL,
    rows_per_key,
    upload_images,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
SHIP = {"STOCKMIND_CLOUDWATCH_LOGS": "1"}


def messages_by_stream(logs, group: str) -> dict[str, list[str]]:
    streams: dict[str, list[str]] = {}
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
        for event in page["events"]:
            streams.setdefault(event["logStreamName"], []).append(event["message"])
    return streams


def records_of(streams: dict[str, list[str]], process: str) -> list[dict]:
    """The JSON records of `process`'s streams (`<process>/<hostname>/<pid>`)."""
    return [json.loads(m) for name, messages in streams.items() if name.startswith(process + "/") for m in messages]


def text_of(records: list[dict]) -> str:
    return "\n".join(f"{r['level']} {r['logger']}: {r['message']}" for r in records)


def test_a_stream_run_ships_the_driver_and_ingestor_records_to_the_worker_group(aws, database_url, stack_env,
                                                                                tmp_path):
    logs = boto3.client("logs")
    create_log_groups(logs)
    keys = upload_images(aws, "acme", 2)
    env = {**os.environ, **stack_env, **SHIP, "DATABASE_URL": database_url, "STOCKMIND_MODEL": TEST_MODEL,
           "STOCKMIND_EMBED_BATCH_SIZE": "2", "STOCKMIND_BATCH_MAX_WAIT_S": "0.05"}
    command = [sys.executable, str(ROOT / "jobs" / "stream.py"), "--idle-exit-s", "3", "--receive-wait-s", "1",
               "--ingestor-cpus", "0.25"]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert rows_per_key(database_url) == {key: 1 for key in keys}

    streams = messages_by_stream(logs, topology.WORKER_LOG_GROUP)
    driver, ingestor = text_of(records_of(streams, "stream")), text_of(records_of(streams, "stream-ingestor"))
    assert "INFO stockmind.stream.job: stream finished" in driver
    assert "INFO stockmind.stream.embedders: embedder pool ready" in ingestor
    assert "stream stopped" in ingestor and '"succeeded": 2' in ingestor  # flushed before the actor ends
    assert not any("botocore" in m for messages in streams.values() for m in messages)
    assert messages_by_stream(logs, topology.APPLICATION_LOG_GROUP) == {}


def test_a_search_request_line_reaches_the_application_group(aws, database_url, stack_env, tmp_path):
    logs = boto3.client("logs")
    create_log_groups(logs)
    port = free_port()
    env = {**os.environ, **stack_env, **SHIP, "DATABASE_URL": database_url, "STOCKMIND_MODEL": TEST_MODEL}
    command = [sys.executable, "-m", "uvicorn", "stockmind.service.main:app", "--factory", "--host", LOOPBACK,
               "--port", str(port)]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        base = f"http://{LOOPBACK}:{port}"
        wait_for(lambda: _answers(f"{base}/healthz"), 120, "the service to listen")
        response = httpx.get(f"{base}/v1/search", params={"q": "a red circle"}, timeout=30)
        assert response.status_code in (401, 503)  # no key; 503 while the model still loads
        server.send_signal(signal.SIGTERM)  # the app's shutdown sends what is queued
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once stopped
    finally:
        server.kill()
        stderr = server.stderr.read()

    service = text_of(records_of(messages_by_stream(logs, topology.APPLICATION_LOG_GROUP), "search"))
    assert f'"GET /v1/search?q=a+red+circle HTTP/1.1" {response.status_code}' in service, stderr[-3000:]
    assert "INFO uvicorn.access:" in service
    assert messages_by_stream(logs, topology.WORKER_LOG_GROUP) == {}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

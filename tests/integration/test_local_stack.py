"""The embedded local stack behaves like the AWS topology: events, filters, redrive; and Postgres, Ray work."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import nbformat
import psycopg
import pytest

from stockmind import topology
from stockmind.evaluation.notebook_runner import announce_target
from stockmind.local.stack import LocalStack

IMAGE_KEY = "clients/client-123/products/SKU 9/media/image/red circle.jpg"


def receive_all(sqs, queue_url: str, wait_s: int = 1) -> list[dict]:
    return sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s,
                               MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages", [])


def test_env_file_sources_cleanly_and_sets_the_seed_variables(local_stack):
    script = f"set -eu; source {local_stack.env_file}; echo $SQS_QUEUE_URL; echo $DATABASE_URL; echo $S3_BUCKET_NAME"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == [local_stack.queue_url, local_stack.database_url, local_stack.bucket]


def test_everything_listens_on_loopback_only(local_stack):
    ports = [local_stack.postgres.port, local_stack.moto.port, local_stack.ray.gcs_port, local_stack.ray.dashboard_port]
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    for port in ports:
        addresses = [line.split()[3] for line in listening.splitlines() if line.split()[3].endswith(f":{port}")]
        assert addresses, f"nothing listens on port {port}"
        # gRPC binds an IPv6 socket to the IPv4-mapped loopback address: loopback all the same.
        assert all(a.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")) for a in addresses), addresses


def test_an_upload_under_clients_produces_an_s3_event_with_the_encoded_key(aws):
    aws.s3.put_object(Bucket=aws.bucket, Key=IMAGE_KEY, Body=b"\xff\xd8 not really a jpeg")
    messages = receive_all(aws.sqs, aws.queue_url, wait_s=2)
    assert len(messages) == 1
    record = json.loads(messages[0]["Body"])["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == aws.bucket
    from urllib.parse import unquote_plus
    assert unquote_plus(record["s3"]["object"]["key"]) == IMAGE_KEY


def test_upper_case_suffixes_are_notified_too(aws):
    aws.s3.put_object(Bucket=aws.bucket, Key="clients/c/products/s/media/video/CLIP.MP4", Body=b"x")
    assert len(receive_all(aws.sqs, aws.queue_url, wait_s=2)) == 1


@pytest.mark.parametrize("key", [
    "clients/client-123/products/sku/media/image/notes.txt",
    "uploads/client-123/products/sku/media/image/photo.jpg",
])
def test_objects_outside_the_filters_produce_no_message(aws, key):
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=b"x")
    assert receive_all(aws.sqs, aws.queue_url, wait_s=1) == []


def test_a_delete_produces_an_object_removed_event(aws):
    aws.s3.put_object(Bucket=aws.bucket, Key=IMAGE_KEY, Body=b"x")
    for m in receive_all(aws.sqs, aws.queue_url, wait_s=2):
        aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    aws.s3.delete_object(Bucket=aws.bucket, Key=IMAGE_KEY)
    messages = receive_all(aws.sqs, aws.queue_url, wait_s=2)
    assert [json.loads(m["Body"])["Records"][0]["eventName"][:13] for m in messages] == ["ObjectRemoved"]


def test_a_message_received_past_max_receive_count_moves_to_the_dlq(aws):
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="poison")
    for _ in range(topology.MAX_RECEIVE_COUNT):
        messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=1, VisibilityTimeout=0)
        assert len(messages.get("Messages", [])) == 1
    assert aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=0).get("Messages", []) == []
    dead = receive_all(aws.sqs, aws.dlq_url, wait_s=1)
    assert [m["Body"] for m in dead] == ["poison"]


def test_queue_has_the_terraform_settings(aws):
    attributes = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["VisibilityTimeout"]) == topology.VISIBILITY_TIMEOUT_SECONDS
    assert int(attributes["ReceiveMessageWaitTimeSeconds"]) == topology.RECEIVE_WAIT_SECONDS
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == topology.MAX_RECEIVE_COUNT


def test_postgres_runs_pgvector(empty_database_url):
    with psycopg.connect(empty_database_url) as conn:
        distance = conn.execute("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector").fetchone()[0]
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    assert distance == pytest.approx(1.0)
    assert tuple(int(p) for p in version.split(".")[:2]) >= (0, 8)


def test_a_ray_task_runs_on_the_stack(ray_cluster):
    import ray

    @ray.remote(num_cpus=0.1)
    def square(x):
        return x * x

    assert ray.get([square.remote(i) for i in range(4)]) == [0, 1, 4, 9]


def test_up_twice_is_harmless_and_down_leaves_nothing_behind(state_dir):
    stack = LocalStack.up(state_dir=state_dir, with_ray=False)
    again = LocalStack.up(state_dir=state_dir, with_ray=False)
    assert (again.postgres.port, again.moto.pid) == (stack.postgres.port, stack.moto.pid)
    again.down()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (stack.postgres.is_running() or stack.moto.is_running()):
        time.sleep(0.1)
    assert not stack.postgres.is_running() and not stack.moto.is_running()
    assert LocalStack.load(state_dir) is None


def test_a_crashed_stack_does_not_block_the_next_up(state_dir):
    stack = LocalStack.up(state_dir=state_dir, with_ray=False)
    stack.moto.stop()  # a crash: the state file still names the dead server
    revived = LocalStack.up(state_dir=state_dir, with_ray=False)
    assert revived.moto.pid != stack.moto.pid and revived.status() == {"postgres": True, "moto": True, "ray": False}
    revived.down()


def test_a_relative_state_dir_works_from_any_working_directory(state_dir, monkeypatch):
    # PostgreSQL runs as its own system user from that user's home: a relative path would point there.
    monkeypatch.chdir(state_dir.parent)
    stack = LocalStack.up(state_dir=Path(state_dir.name), with_ray=False)
    try:
        assert stack.state_dir == state_dir.resolve() and stack.postgres.data_dir.is_absolute()
        assert stack.status()["postgres"]
        assert LocalStack.load(Path(state_dir.name)).postgres.data_dir == stack.postgres.data_dir
    finally:
        stack.down()


def test_a_notebook_without_a_database_brings_the_stack_up_and_says_so(state_dir, monkeypatch, capsys):
    notebook = state_dir / "notebooks" / "nb.ipynb"
    notebook.parent.mkdir()
    cell = nbformat.v4.new_code_cell('DATABASE_URL = None\nSTATE_DIR = "../.stockmind"',
                                     metadata={"tags": ["parameters"]})
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), notebook)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir("/")
    announce_target(notebook, {})
    announce_target(notebook, {})
    first, second = capsys.readouterr().out.splitlines()
    stack = LocalStack.load(state_dir / ".stockmind")
    try:
        assert first.startswith(f"no DATABASE_URL: brought the local stack up in {state_dir.resolve() / '.stockmind'} ")
        assert second.startswith("no DATABASE_URL: using the local stack running in ")
        assert stack.status() == {"postgres": True, "moto": True, "ray": False}
    finally:
        stack.down()

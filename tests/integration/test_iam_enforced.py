"""Every role's code path under enforced IAM, with exactly the policies Terraform gives it.

A moto server of its own (iam_enforced.py) authorises every request against IAM users whose inline
policies are terraform/policies/ rendered with its ARNs. Who runs as what, as on the cluster:

- worker policy: the stream (ingestor: SQS receive/delete/visibility/DLQ, versioned S3 GETs; the
  embedder actors make no AWS calls).
- head policy (the worker policy plus launching workers): the backfill driver and its Ray tasks
  (the head runs the drivers and may host any task), and the search service (presigned GETs,
  "more like this" on a key not indexed yet).

What moto's evaluator cannot show is listed in terraform/README.md ("What the IAM test covers").
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from stockmind.config import Settings
from tests.integration.iam_enforced import (
    BUCKET,
    delete_with_event,
    s3_event,
    start_enforced_aws,
    upload_with_event,
    with_moto_action_names,
    without_action,
)
from tests.integration.stream_support import (
    FAST_OPTIONS,
    TEST_MODEL,
    image_key,
    jpeg_bytes,
    media_rows,
    run_ingestor,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BACKFILL_TIMEOUT_S = 240
KEPT = [image_key("acme", "bag-1", "front"), image_key("acme", "bag-2", "side view"),
        image_key("globex", "shoe-9", "top")]
DELETED = image_key("acme", "bag-1", "gone")
UNINDEXED = image_key("acme", "bag-3", "new arrival")
ACCESS_ERRORS = ("AccessDenied", "not authorized", "InvalidClientTokenId", "SignatureDoesNotMatch")


@pytest.fixture(scope="module")
def enforced(tmp_path_factory):
    aws = start_enforced_aws(tmp_path_factory.mktemp("moto-iam"))
    yield aws
    aws.stop()


@pytest.fixture
def as_identity(monkeypatch, enforced):
    """Point this process's boto3 (and the env Ray workers are given) at the enforced server as one identity."""
    def use(who: str) -> dict[str, str]:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        env = enforced.identities[who].env(enforced.endpoint_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # boto3's default session keeps the credentials it first found: start a new one.
        boto3.setup_default_session()
        return env

    yield use
    monkeypatch.undo()
    boto3.setup_default_session()


def stream_settings(env: dict, database_url: str, queue_url: str, dlq_url: str) -> Settings:
    settings = Settings.from_env({**env, "SQS_QUEUE_URL": queue_url, "STOCKMIND_DLQ_URL": dlq_url,
                                  "S3_BUCKET_NAME": BUCKET, "DATABASE_URL": database_url,
                                  "STOCKMIND_MODEL": TEST_MODEL})
    return dataclasses.replace(settings, embed_batch_size=8, batch_max_wait_s=0.05)


def stream_scenario(s3, sqs, queue_url: str, bucket: str, run) -> list[dict]:
    """Uploads, then a delete marker, each announced as AWS would; `run()` runs the stream after each."""
    for n, key in enumerate([*KEPT, DELETED]):
        upload_with_event(s3, sqs, queue_url, bucket, key, jpeg_bytes(n))
    first = run()
    delete_with_event(s3, sqs, queue_url, bucket, DELETED)
    return [first, run()]


def dlq_messages(sqs, dlq_url: str) -> list[dict]:
    messages = []
    while batch := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       MessageAttributeNames=["All"]).get("Messages", []):
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


@pytest.fixture(scope="module")
def unauthenticated_rows(local_stack, stack_env, embedder_pool):
    """The same scenario on the session's moto server (no auth), in a database of its own."""
    from stockmind.store import migrate

    name = f"iam_noauth_{os.getpid()}"
    database_url = local_stack.postgres.create_database(name)
    migrate(database_url)
    urllib_reset(local_stack.endpoint_url)
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    from stockmind.local.aws_topology import create_topology

    urls = create_topology(s3, sqs, local_stack.bucket, local_stack.region)
    s3.put_bucket_versioning(Bucket=local_stack.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=local_stack.bucket, NotificationConfiguration={})
    settings = stream_settings(stack_env, database_url, urls.queue_url, urls.dlq_url)
    settings = dataclasses.replace(settings, s3_bucket_name=local_stack.bucket)
    stream_scenario(s3, sqs, urls.queue_url, local_stack.bucket, lambda: run_ingestor(settings, embedder_pool))
    rows = media_rows(database_url)
    local_stack.postgres.drop_database(name)
    return rows


def urllib_reset(endpoint_url: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.fixture(scope="module")
def streamed(enforced, local_stack, embedder_pool):
    """The stream under the worker policy, into a database the service tests then search."""
    from stockmind.store import migrate

    name = f"iam_enforced_{os.getpid()}"
    database_url = local_stack.postgres.create_database(name)
    migrate(database_url)
    env = enforced.identities["worker"].env(enforced.endpoint_url)
    settings = stream_settings(env, database_url, enforced.queue_url, enforced.dlq_url)
    saved = {name: os.environ.get(name) for name in [*env, "AWS_SESSION_TOKEN"]}
    os.environ.update(env)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    boto3.setup_default_session()  # it keeps the credentials it first found
    try:
        stats = stream_scenario(enforced.client("s3"), enforced.client("sqs"), enforced.queue_url, BUCKET,
                                lambda: run_ingestor(settings, embedder_pool))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        boto3.setup_default_session()
    yield database_url, stats
    local_stack.postgres.drop_database(name)


def test_the_stream_under_the_worker_policy_indexes_and_deletes_without_an_access_error(
        enforced, streamed, unauthenticated_rows):
    database_url, stats = streamed
    rows = media_rows(database_url)
    assert set(rows) == set(KEPT)
    assert rows == unauthenticated_rows
    assert [s["counts"].get("failed", 0) for s in stats] == [0, 0]
    assert stats[0]["counts"]["succeeded"] == 4 and stats[1]["counts"]["media_removed"] == 1
    assert dlq_messages(enforced.client("sqs"), enforced.dlq_url) == []


def test_without_get_object_version_the_versioned_get_is_denied_and_the_event_ends_in_the_dlq(
        enforced, local_stack, embedder_pool, as_identity):
    from stockmind.store import migrate

    policy = without_action(enforced.resources.worker_policy(), "s3:GetObjectVersion")
    enforced.add_identity("worker-without-get-version", {"worker": policy})
    s3, sqs = enforced.client("s3"), enforced.client("sqs")
    key = image_key("acme", "bag-7", "versioned")
    version = upload_with_event(s3, sqs, enforced.queue_url, BUCKET, key, jpeg_bytes(7))
    env = as_identity("worker-without-get-version")
    with pytest.raises(ClientError, match="AccessDenied"):
        enforced.client("s3", "worker-without-get-version").get_object(Bucket=BUCKET, Key=key, VersionId=version)

    name = f"iam_noversion_{os.getpid()}"
    database_url = local_stack.postgres.create_database(name)
    try:
        migrate(database_url)
        settings = stream_settings(env, database_url, enforced.queue_url, enforced.dlq_url)
        # Retries at once (visibility 0), so SQS's redrive moves it after maxReceiveCount receives.
        options = dataclasses.replace(FAST_OPTIONS, retry_base_s=0.1)
        stats = run_ingestor(settings, embedder_pool, options)
        assert media_rows(database_url) == {}
    finally:
        local_stack.postgres.drop_database(name)
        s3.delete_object(Bucket=BUCKET, Key=key)  # the other tests' bucket holds only their media
    assert stats["counts"]["retried"] >= 1 and stats["counts"].get("succeeded", 0) == 0
    [dead] = dlq_messages(sqs, enforced.dlq_url)
    assert json.loads(dead["Body"])["Records"][0]["s3"]["object"]["versionId"] == version


def test_the_backfill_driver_and_tasks_under_the_head_policy_list_and_read_without_an_access_error(
        enforced, streamed, local_stack, stack_env, tmp_path):
    from stockmind.store import migrate

    name = f"iam_backfill_{os.getpid()}"
    database_url = local_stack.postgres.create_database(name)
    try:
        migrate(database_url)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
               **enforced.identities["head"].env(enforced.endpoint_url),
               "DATABASE_URL": database_url, "S3_BUCKET_NAME": BUCKET,
               "STOCKMIND_RAY_ADDRESS": stack_env["STOCKMIND_RAY_ADDRESS"]}
        report = tmp_path / "failures.jsonl"
        result = subprocess.run(
            [sys.executable, "jobs/backfill.py", "--prefix", "clients/", "--model", TEST_MODEL, "--report", str(report),
             # The stream tests' embedder actor keeps 0.25 of the 2 CPUs: leave Ray Data enough (FACTS).
             "--cpus-per-actor", "0.25"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=BACKFILL_TIMEOUT_S, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        assert not any(error in output for error in ACCESS_ERRORS), output[-4000:]
        assert report.read_text() == ""
        assert set(media_rows(database_url)) == set(media_rows(streamed[0])) == set(KEPT)
    finally:
        local_stack.postgres.drop_database(name)


def test_the_search_service_under_the_head_policy_presigns_and_embeds_unindexed_media(
        enforced, streamed, as_identity):
    from stockmind.local.ports import free_port
    from stockmind.service import api_keys
    from stockmind.service.app import create_app
    from stockmind.service.resources import Resources
    from stockmind.store import connect
    from tests.integration.service.support import UvicornThread

    database_url = streamed[0]
    enforced.client("s3").put_object(Bucket=BUCKET, Key=UNINDEXED, Body=jpeg_bytes(11))
    env = as_identity("head")
    settings = Settings.from_env({**env, "DATABASE_URL": database_url, "S3_BUCKET_NAME": BUCKET,
                                  "STOCKMIND_MODEL": TEST_MODEL})
    with connect(database_url) as conn:
        token = api_keys.create_key(conn, "acme", "iam test").token
    resources = Resources.open(settings)
    try:
        with UvicornThread(create_app(settings, resources), free_port()) as running:
            base = f"http://{running.server.config.host}:{running.server.config.port}"
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
                found = api.get("/v1/search", params={"q": "a red bag", "k": 5})
                like = api.post("/v1/search/image", params={"k": 5}, json={"key": UNINDEXED})
    finally:
        resources.close()
    assert found.status_code == 200, found.text
    assert like.status_code == 200, like.text
    results = found.json()["results"] + like.json()["results"]
    assert {r["key"] for r in results} == {k for k in KEPT if k.startswith("clients/acme/")}
    head = enforced.identities["head"]
    head_s3 = enforced.client("s3", "head")
    for result in results:
        # A presigned GET is authorised as whoever signed it: the head. moto's enforcement reads only
        # the Authorization header (a query-signed URL gets a 500 there), so check the signer and
        # that the signer may GET the object.
        query = parse_qs(urlparse(result["url"]).query)
        signer = query.get("AWSAccessKeyId") or [query["X-Amz-Credential"][0].split("/")[0]]  # SigV2 or SigV4
        assert signer == [head.access_key_id]
        assert head_s3.get_object(Bucket=BUCKET, Key=result["key"])["ContentLength"] > 0


def test_moto_enforces_the_policies_it_is_given(enforced):
    """The check above means something: an identity without the grant is refused."""
    worker_sqs, head_s3 = enforced.client("sqs", "worker"), enforced.client("s3", "head")
    with pytest.raises(ClientError, match="AccessDenied"):
        worker_sqs.get_queue_url(QueueName="stock-mind-media-dlq")  # the DLQ URL is configured, never looked up
    with pytest.raises(ClientError, match="AccessDenied"):
        head_s3.put_object(Bucket=BUCKET, Key=image_key("acme", "x", "y"), Body=b"no writes")
    assert with_moto_action_names({"Statement": [{"Action": "sqs:DeleteMessage"}]})["Statement"][0]["Action"] == [
        "sqs:DeleteMessage", "sqs:DeleteMessageBatch"]
    assert s3_event("ObjectCreated:Put", BUCKET, "a b/c", "v1", '"e"', 1).count("a+b%2Fc") == 1

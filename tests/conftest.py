"""Shared fixtures: one embedded local stack per test session, fresh databases and clean queues per test.

Integration tests talk to real services only: PostgreSQL 18 + pgvector, a moto S3/SQS server and a
Ray head, all on 127.0.0.1 and all started here, so a fresh machine needs nothing but `make test`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from stockmind.local.aws_topology import create_topology
from stockmind.local.ports import free_port
from stockmind.local.ray_head import RAY_ENV

# Ray reads its settings (auth mode above all) when first imported, and test modules import it at
# collection time, long before any fixture runs: the stack's Ray settings must be in place first.
os.environ.update(RAY_ENV)


def make_state_dir() -> Path:
    """A state folder outside pytest's tmp: pytest keeps its base folder at mode 0700, which the
    unprivileged PostgreSQL server user (when tests run as root) could not traverse."""
    return Path(tempfile.mkdtemp(prefix="stockmind-test-stack-"))


@pytest.fixture(scope="session")
def local_stack():
    from stockmind.local.stack import LocalStack

    state_dir = make_state_dir()
    stack = LocalStack.up(state_dir=state_dir, with_ray=True, ray_cpus=2, service_port=free_port())
    yield stack
    stack.down()
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def state_dir() -> Path:
    path = make_state_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_env(local_stack) -> dict[str, str]:
    """The stack's environment, set in this process too (boto3 and Ray read it)."""
    saved = dict(os.environ)
    os.environ.update(local_stack.env)
    yield dict(local_stack.env)
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def empty_database_url(local_stack) -> str:
    """A brand-new database with only the vector extension."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = local_stack.postgres.create_database(name)
    yield url
    local_stack.postgres.drop_database(name)


@pytest.fixture
def database_url(empty_database_url) -> str:
    """A brand-new, migrated database."""
    from stockmind.store import migrate

    migrate(empty_database_url)
    return empty_database_url


@pytest.fixture
def aws(local_stack, stack_env):
    """Empty S3/SQS with the Terraform topology: moto's state is reset before each test."""
    reset = urllib.request.Request(f"{local_stack.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    create_topology(s3, sqs, local_stack.bucket, local_stack.region)
    return AwsClients(s3=s3, sqs=sqs, bucket=local_stack.bucket, queue_url=local_stack.queue_url,
                      dlq_url=local_stack.dlq_url)


@dataclass(frozen=True)
class AwsClients:
    """boto3 clients on the local moto server, and the topology's names there."""

    s3: Any
    sqs: Any
    bucket: str
    queue_url: str
    dlq_url: str


@pytest.fixture(scope="session")
def ray_cluster(local_stack, stack_env):
    """This process connected, as a driver, to the stack's Ray head."""
    import ray

    ray.init(address=local_stack.ray.address, logging_level="WARNING", log_to_driver=False)
    yield local_stack.ray
    ray.shutdown()

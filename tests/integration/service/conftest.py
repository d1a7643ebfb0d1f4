"""The search service for its tests: the two tenants' catalogue (see support.py) indexed into a fresh
database, API keys for each tenant (and a revoked one), and the real app served by uvicorn on a free
loopback port, once per session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import boto3
import httpx
import pytest

from stockmind.config import Settings
from stockmind.local.aws_topology import create_topology
from stockmind.local.ports import free_port
from stockmind.service import api_keys
from stockmind.service.app import create_app
from stockmind.service.resources import Resources
from stockmind.service.search import Searcher
from stockmind.store import connect, migrate
from tests.integration.service.support import (
    CLIENTS,
    MAX_UPLOAD_BYTES,
    Catalogue,
    UvicornThread,
    index_catalogue,
    upload_objects,
)

DEFAULT_RATE_PER_S = 500
DEFAULT_BURST = 5000


@dataclass
class Service:
    url: str
    settings: Settings
    searcher: Searcher
    catalogue: Catalogue
    tokens: dict[str, str]  # client (or "revoked") → API key
    s3: object
    env: dict[str, str]  # the environment the settings were read from

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def mint_tokens(database_url: str) -> dict[str, str]:
    with connect(database_url) as conn:
        tokens = {client: api_keys.create_key(conn, client, "tests").token for client in CLIENTS}
        revoked = api_keys.create_key(conn, "acme", "revoked in tests")
        api_keys.revoke_key(conn, revoked.key.key_id)
    return {**tokens, "revoked": revoked.token}


def service_env(stack_env: dict[str, str], database_url: str) -> dict[str, str]:
    # Default rate limits far above what any module sends on the shared keys; the rate-limit tests
    # mint keys with small limits of their own.
    return {**stack_env, "DATABASE_URL": database_url, "STOCKMIND_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            "STOCKMIND_RATE_LIMIT_PER_S": str(DEFAULT_RATE_PER_S), "STOCKMIND_RATE_LIMIT_BURST": str(DEFAULT_BURST)}


@pytest.fixture(scope="session")
def indexed_service(local_stack, stack_env):
    """The service over a fresh database holding both tenants' catalogues, for the whole session."""
    name = f"svc_{int(time.time() * 1000) % 10**9}_{free_port()}"
    database_url = local_stack.postgres.create_database(name)
    migrate(database_url)
    env = service_env(stack_env, database_url)
    settings = Settings.from_env(env)
    s3 = boto3.client("s3")
    create_topology(s3, boto3.client("sqs"), local_stack.bucket, local_stack.region)
    resources = Resources.open(settings)
    try:
        catalogue = index_catalogue(settings, resources.searcher, s3, local_stack.bucket)
        tokens = mint_tokens(database_url)
        with UvicornThread(create_app(settings, resources), free_port()) as running:
            host, port = running.server.config.host, running.server.config.port
            yield Service(f"http://{host}:{port}", settings, resources.searcher, catalogue, tokens, s3, env)
    finally:
        resources.close()
        local_stack.postgres.drop_database(name)


@pytest.fixture(scope="module")
def service(indexed_service, local_stack):
    """`indexed_service` with its objects put back: other modules' tests reset the shared S3 server."""
    s3 = indexed_service.s3
    create_topology(s3, boto3.client("sqs"), local_stack.bucket, local_stack.region)
    upload_objects(indexed_service.catalogue, s3, local_stack.bucket)
    return indexed_service

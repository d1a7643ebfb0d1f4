"""Fixtures shared by the integration tests: a writer and a connection on a fresh database (the store's
tests), one embedder actor for the session (the streaming tests), a moto server of a module's own
(AWS services the session stack does not hold). The stack itself is in tests/conftest.py."""

import urllib.request

import pytest

from stockmind.local.moto_server import MotoServer
from stockmind.local.ports import free_port
from stockmind.store import PgVectorWriter, connect


@pytest.fixture
def writer(database_url):
    with PgVectorWriter(database_url) as writer:
        yield writer


@pytest.fixture
def conn(database_url):
    with connect(database_url) as conn:
        yield conn


@pytest.fixture(scope="session")
def embedder_pool(ray_cluster):
    """One embedder actor shared by the streaming tests (loading a torch actor takes seconds). It holds
    0.25 of the session cluster's 2 CPUs until the session ends: a backfill run after it, which sizes
    itself from the free CPUs, asks for at most 0.25 per embedder."""
    from stockmind.stream.embedders import EmbedderPool
    from tests.integration.stream_support import TEST_MODEL

    pool = EmbedderPool(TEST_MODEL, size=1, num_cpus=0.25)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def own_moto(tmp_path_factory):
    """A moto server for one module, apart from the session stack's (which it would otherwise fill)."""
    server = MotoServer.start(free_port(), tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def own_moto_env(own_moto, monkeypatch):
    """`own_moto` emptied, and boto3 in this process pointed at it with moto's fake keys."""
    urllib.request.urlopen(urllib.request.Request(f"{own_moto.endpoint_url}/moto-api/reset", method="POST")).close()
    for name, value in {"AWS_ENDPOINT_URL": own_moto.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    return own_moto


@pytest.fixture
def backfill_options(local_stack, ray_cluster, database_url):
    """BackfillOptions for this test's database and the stack's bucket, with the small CLIP and small
    batches, and embedders of a quarter CPU (the streaming tests' shared embedder may hold another
    quarter of the session cluster's 2 CPUs); keyword arguments override any field."""
    from stockmind.backfill.options import BackfillOptions
    from tests.integration.backfill_media import MODEL

    def make(**overrides) -> BackfillOptions:
        values = {"database_url": database_url, "bucket": local_stack.bucket, "model": MODEL, "batch_size": 4,
                  "cpus_per_actor": 0.25}
        return BackfillOptions(**{**values, **overrides})

    return make


@pytest.fixture(autouse=True)
def stop_background_ingestors():
    yield
    from tests.integration.stream_support import BackgroundIngestor

    BackgroundIngestor.stop_all()

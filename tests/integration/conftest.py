"""Fixtures shared by the integration tests: a writer and a connection on a fresh database (the store's
tests), one embedder actor for the session (the streaming tests). The stack itself is in tests/conftest.py."""

import pytest

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

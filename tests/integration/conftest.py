"""Fixtures shared by the store's integration tests: a writer and a connection on a fresh database."""

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

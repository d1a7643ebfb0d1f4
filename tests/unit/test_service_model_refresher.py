"""ModelRefresher: its thread loads what tenants newly hold, unloads what none holds, and outlives a
database that is down."""

import contextlib
import time

import psycopg

from stockmind.service import model_refresher
from stockmind.service.model_refresher import ModelRefresher
from stockmind.service.query_models import QueryModel, QueryModels


class FakeEmbedder:
    def __init__(self, model_id: str):
        self.model_id, self.dim, self.device = model_id, 4, "cpu"


class FakePool:
    @contextlib.contextmanager
    def connection(self):
        yield None


def loaded(models: QueryModels) -> list[str]:
    return [model.model_id for model in models.loaded()]


def eventually(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_thread_follows_what_tenants_hold_and_survives_a_database_outage(monkeypatch):
    held: dict = {"acme": ["default", "new"], "globex": ["other"]}

    def held_models(conn):
        if held is None:
            raise psycopg.OperationalError("the database is down")
        return held

    monkeypatch.setattr(model_refresher, "held_models", held_models)
    models = QueryModels(lambda m: QueryModel(FakeEmbedder(m), None), QueryModel(FakeEmbedder("default"), None))
    refresher = ModelRefresher(FakePool(), models, interval_s=0.01).start()
    try:
        assert eventually(lambda: loaded(models) == ["default", "new", "other"])
        held = None
        time.sleep(0.05)
        held = {"acme": ["new"]}  # "other" retired; the default stays whatever tenants hold
        assert eventually(lambda: loaded(models) == ["default", "new"])
    finally:
        refresher.stop()

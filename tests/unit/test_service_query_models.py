"""QueryModels: each model loads once, under its own lock; a failed load is remembered and costs its
model's queries only; models no tenant holds are unloaded, never the default."""

import threading
import time

import pytest

from stockmind.errors import ConfigError
from stockmind.service.query_models import ModelUnavailable, QueryModel, QueryModels


class FakeEmbedder:
    def __init__(self, model_id: str):
        self.model_id, self.dim, self.device = model_id, 4, "cpu"


class Loader:
    """Loads any model at once, but "slow" only when `release` is set and "broken" never."""

    def __init__(self):
        self.calls: list[str] = []
        self.release = threading.Event()
        self.broken = True

    def __call__(self, model_id: str) -> QueryModel:
        self.calls.append(model_id)
        if model_id == "slow":
            self.release.wait(10)
        if model_id == "broken" and self.broken:
            raise ConfigError(f"cannot load CLIP model {model_id!r}:\n no such folder")
        return QueryModel(FakeEmbedder(model_id), preprocessor=None)


def models() -> tuple[QueryModels, Loader]:
    loader = Loader()
    return QueryModels(loader, QueryModel(FakeEmbedder("default"), preprocessor=None)), loader


def test_a_model_loads_once_however_many_queries_ask_at_once():
    registry, loader = models()
    got = []
    threads = [threading.Thread(target=lambda: got.append(registry.get("slow"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    loader.release.set()
    for thread in threads:
        thread.join(10)
    assert loader.calls == ["slow"] and len({id(model) for model in got}) == 1 and len(got) == 4


def test_a_slow_load_holds_up_no_other_model():
    registry, loader = models()
    waiting = threading.Thread(target=registry.get, args=("slow",))
    waiting.start()
    try:
        time.sleep(0.05)
        assert registry.get("default").model_id == "default"
        assert registry.get("other").model_id == "other"  # loaded while "slow" still loads
        assert waiting.is_alive()
    finally:
        loader.release.set()
        waiting.join(10)
    assert [m.model_id for m in registry.loaded()] == ["default", "other", "slow"]


def test_a_failed_load_is_remembered_in_one_line_and_refused_at_once_until_a_refresh_loads_it():
    registry, loader = models()
    for _ in range(3):
        with pytest.raises(ModelUnavailable, match="'broken'") as refused:
            registry.get("broken")
    assert refused.value.model_id == "broken" and loader.calls == ["broken"]
    assert registry.failures() == {"broken": "ConfigError: cannot load CLIP model 'broken': no such folder"}
    registry.ensure(["broken"])  # the refresher tries again
    assert loader.calls == ["broken", "broken"]
    loader.broken = False
    registry.ensure(["broken"])
    assert registry.get("broken").model_id == "broken" and registry.failures() == {}


def test_models_no_tenant_holds_are_unloaded_but_never_the_default_nor_one_loaded_since():
    registry, _ = models()
    registry.ensure(["a", "b", "broken"])
    time.sleep(0.01)
    before = time.monotonic()
    registry.get("c")  # on demand, after the refresher read what tenants hold
    registry.keep_only(["a"], loaded_before=before)
    assert [m.model_id for m in registry.loaded()] == ["default", "a", "c"]
    assert registry.failures() == {}

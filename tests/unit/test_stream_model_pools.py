"""The held models' embedder pools: built in the background, dropped when no tenant holds the model,
retried after a failed load."""

import threading

import pytest

from stockmind.stream.model_pools import ModelPools, PoolState


class FakePool:
    def __init__(self, model: str):
        self.model_id = model
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def close_when_idle(self) -> None:
        self.closed = True


class Pools:
    """A `ModelPools` whose pools are built when a test lets them (`release`), or fail to load."""

    def __init__(self, failing=()):
        self.gates: dict[str, threading.Event] = {}
        self.built: list[FakePool] = []
        self.changes: list[str] = []
        self.changed = threading.Condition()
        self.failing = set(failing)
        self.now = 0.0
        self.pools = ModelPools(self.make, self.on_change, retry_s=60, clock=lambda: self.now)

    def make(self, model: str) -> FakePool:
        self.gates.setdefault(model, threading.Event()).wait(5)
        if model in self.failing:
            raise RuntimeError(f"cannot load {model}")
        pool = FakePool(model)
        self.built.append(pool)
        return pool

    def release(self, model: str) -> None:
        self.gates.setdefault(model, threading.Event()).set()
        with self.changed:
            assert self.changed.wait_for(lambda: model in self.changes, timeout=5)
        self.changes.remove(model)

    def on_change(self, model: str) -> None:
        with self.changed:
            self.changes.append(model)
            self.changed.notify_all()


@pytest.fixture
def pools():
    made = Pools(failing={"broken"})
    yield made
    made.pools.close()
    for gate in made.gates.values():
        gate.set()


def test_a_pool_is_loading_until_built_then_ready_and_closed_when_no_tenant_holds_its_model(pools):
    pools.pools.want({"m"})
    assert pools.pools.state("m") is PoolState.LOADING and pools.pools.get("m") is None

    pools.release("m")
    assert pools.pools.state("m") is PoolState.READY and pools.pools.get("m").model_id == "m"

    pools.pools.want(set())
    assert pools.pools.state("m") is None and pools.built[0].closed and pools.changes == ["m"]


def test_a_model_that_fails_to_load_is_tried_again_only_after_the_retry_period(pools):
    pools.pools.want({"broken"})
    pools.release("broken")
    assert pools.pools.state("broken") is PoolState.FAILED

    pools.pools.want({"broken"})
    assert pools.pools.state("broken") is PoolState.FAILED
    pools.now = 61.0
    pools.pools.want({"broken"})
    assert pools.pools.state("broken") is PoolState.LOADING


def test_a_pool_built_after_its_model_was_dropped_or_after_close_is_closed_at_once(pools):
    pools.pools.want({"m", "n"})
    pools.pools.want({"n"})
    pools.release("m")
    assert pools.pools.get("m") is None and pools.built[-1].closed

    pools.pools.close()
    pools.release("n")
    assert pools.pools.get("n") is None and pools.built[-1].closed

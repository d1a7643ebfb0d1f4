"""Which models an upload is embedded with: the store's map, refreshed; a new tenant gets the stream's model."""

import threading

from stockmind.stream.held_models import HeldModels


def test_a_tenant_gets_the_models_it_holds_active_first_and_a_new_tenant_the_streams_model():
    held = HeldModels(lambda: {"acme": ["new-model", "old-model"]}, "old-model", refresh_s=60)
    held.refresh()

    assert held.needed("acme") == ["new-model", "old-model"]
    assert held.needed("globex") == ["old-model"]
    assert held.models() == {"new-model", "old-model"}
    assert held.tenants() == {"new-model": 1, "old-model": 1}


def test_a_failed_read_keeps_the_last_map_and_each_successful_one_is_announced():
    reads = iter([{"acme": ["a"]}, {"acme": ["a"]}, ConnectionError("server gone"), {"acme": ["b"]}])
    refreshes = []

    def read():
        value = next(reads)
        if isinstance(value, Exception):
            raise value
        return value

    held = HeldModels(read, "a", refresh_s=60, on_refresh=lambda: refreshes.append(held.needed("acme")))
    assert not held.wait_ready(0)
    for _ in range(3):
        held.refresh()
    assert held.wait_ready(0) and held.needed("acme") == ["a"] and refreshes == [["a"], ["a"]]

    held.refresh()
    assert refreshes == [["a"], ["a"], ["b"]]


def test_the_thread_reads_at_once_and_then_every_refresh_period_until_stopped():
    reads = threading.Semaphore(0)

    def read():
        reads.release()
        return {}

    held = HeldModels(read, "a", refresh_s=0.01)
    held.start()
    assert held.wait_ready(5)
    assert all(reads.acquire(timeout=5) for _ in range(3))
    held.stop()

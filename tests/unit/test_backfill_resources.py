"""How the backfill sizes its decoder and fetcher pools from the cluster's free CPUs, and when it refuses."""

from __future__ import annotations

import pytest

from stockmind.backfill import pipeline
from stockmind.backfill.options import BackfillOptions
from stockmind.errors import ConfigError


def options(**overrides) -> BackfillOptions:
    return BackfillOptions(database_url="postgresql://db", bucket="b", model="m", prefix="clients/", **overrides)


@pytest.fixture
def free_cpus(monkeypatch):
    def set_free(free: float, total: float = 2.0) -> None:
        monkeypatch.setattr(pipeline.ray, "available_resources", lambda: {"CPU": free})
        monkeypatch.setattr(pipeline.ray, "cluster_resources", lambda: {"CPU": total})

    return set_free


def test_two_free_cpus_give_one_decoder_and_one_fetcher_beside_the_default_embedder(free_cpus):
    free_cpus(2.0)
    pipeline.check_resources(options(), wait_s=0)
    assert pipeline.decoder_pool_size(options()) == 1


def test_a_quarter_cpu_embedder_still_fits_beside_the_streams_actor_on_the_shared_two_cpu_cluster(free_cpus):
    # The integration suite's session keeps a stream embedder (0.25 CPU) alive beside the backfills.
    free_cpus(1.75)
    pipeline.check_resources(options(cpus_per_actor=0.25), wait_s=0)


def test_an_embedder_pool_that_leaves_no_cpu_for_a_decoder_and_its_fetcher_is_refused(free_cpus):
    free_cpus(2.0)
    with pytest.raises(ConfigError, match="lower --pool-size or --cpus-per-actor"):
        pipeline.check_resources(options(pool_size=2), wait_s=0)


def test_gpu_embedders_leave_the_node_cpus_to_decoders_up_to_the_cap(free_cpus):
    free_cpus(8.0, total=8.0)
    assert pipeline.decoder_pool_size(options(gpus_per_actor=1.0, pool_size=2)) == pipeline.MAX_DECODERS

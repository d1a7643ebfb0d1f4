"""The reindex against the real local stack (moto S3, PostgreSQL + pgvector, the stack's Ray head), and
the `stockmind models` commands that switch and retire: refusals exit 2 and change nothing."""

from __future__ import annotations

import pytest

from stockmind.backfill.options import BackfillOptions
from stockmind.cli import main as cli
from stockmind.dev.tiny_models import build_tiny_model
from stockmind.embed.embedder import ClipEmbedder
from stockmind.errors import ConfigError, ModelChangeRefused
from stockmind.store import active_model, connect, held_models, reindex_lock, search_vectors, tenant_models
from tests.integration.backfill_media import MODEL, upload_catalogue

pytestmark = pytest.mark.slow

CLIENT = "shop-r"


def run(options: BackfillOptions):
    # Imported late: Ray reads its loopback settings on first import (see test_backfill_pipeline.py).
    from stockmind.backfill.reindex import run_reindex
    from stockmind.backfill.runner import run_backfill

    return (run_reindex if options.reindex else run_backfill)(options)


@pytest.fixture(scope="module")
def second_model(tmp_path_factory) -> str:
    return build_tiny_model("clip", tmp_path_factory.mktemp("tiny-clip-24"), dim=24)


@pytest.fixture
def catalogue(aws, backfill_options):
    uploaded = upload_catalogue(aws.s3, aws.bucket, CLIENT, images=2)
    run(backfill_options(prefix=f"clients/{CLIENT}/"))
    return uploaded


def test_reindex_embeds_every_stored_object_beside_the_live_model_and_a_rerun_embeds_nothing(
        catalogue, backfill_options, second_model, database_url, monkeypatch, capsys):
    summary = run(backfill_options(stored_clients=(CLIENT,), model=second_model))

    (first, *catch_up) = summary.passes
    assert (first.listed, first.embedded, first.failed) == (3, 3, 0)
    assert all(p.embedded == 0 for p in catch_up)
    (held,) = summary.tenants
    assert (held.objects, held.live_media, held.vectors, held.index_state, held.active) == (
        3, 3, sum(u.frames for u in catalogue), "ready", False)
    with connect(database_url) as conn:
        assert active_model(conn, CLIENT) == MODEL  # search is unaffected until the switch
        assert held_models(conn) == {CLIENT: [MODEL, second_model]}

    again = run(backfill_options(stored_clients=(CLIENT,), model=second_model))
    assert (again.passes[0].skipped, again.passes[0].embedded) == (3, 0)

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli(["models", "activate", second_model, "--client", CLIENT]) == 0
    assert cli(["models", "retire", MODEL]) == 0
    listing = capsys.readouterr().out
    assert f"now searches with {second_model!r}" in listing and "retired" in listing
    with connect(database_url) as conn:
        query = ClipEmbedder(second_model).embed_texts(["a red shoe"])[0]
        assert len(search_vectors(conn, CLIENT, query, k=10)) == 3
        assert [m.model_id for m in tenant_models(conn, CLIENT)] == [second_model]


def test_refusals_exit_2_with_one_line_and_change_nothing(catalogue, backfill_options, second_model, database_url,
                                                          monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli(["models", "activate", second_model, "--client", CLIENT]) == 2
    assert "holds no vectors of it" in capsys.readouterr().err
    assert cli(["models", "retire", MODEL, "--client", CLIENT]) == 2
    assert "active model" in capsys.readouterr().err

    with pytest.raises(ConfigError, match="no such folder"):
        run(backfill_options(stored_clients=(CLIENT,), model=str(tmp_path / "missing")))
    too_wide = build_tiny_model("clip", tmp_path / "wide", dim=4001)
    with pytest.raises(ConfigError, match="at most 4000 dimensions"):
        run(backfill_options(stored_clients=(CLIENT,), model=too_wide))
    with connect(database_url) as conn, reindex_lock(conn, CLIENT, second_model):
        with pytest.raises(ModelChangeRefused, match="already running"):
            run(backfill_options(stored_clients=(CLIENT,), model=second_model))

    with connect(database_url) as conn:
        assert held_models(conn) == {CLIENT: [MODEL]}
        assert active_model(conn, CLIENT) == MODEL
    assert cli(["models", "list", "--client", CLIENT]) == 0
    (header, row) = capsys.readouterr().out.splitlines()
    assert header.split() == ["client", "model", "dim", "vectors", "objects", "coverage", "index", "active"]
    frames = sum(u.frames for u in catalogue)
    assert row.split() == [CLIENT, MODEL, "64", str(frames), "3/3", "100.0%", "ready", "yes"]

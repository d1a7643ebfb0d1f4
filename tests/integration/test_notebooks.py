"""The evaluation notebooks, executed headless on small settings against the session's local stack.

Each notebook writes its key numbers to metrics.json in its output folder; the floors below are
what our small CLIP and the store must reach on the held-out synthetic catalogue. No timing is
asserted (the machines are shared), only that timings were measured and are consistent.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from stockmind.embed.models import SMALL_CLIP
from stockmind.evaluation.notebook_runner import execute_notebook
from stockmind.evaluation.outputs import read_metrics
from stockmind.store import migrate
from stockmind.store.queries import EXACT_SEARCH_MAX_ROWS

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
MODEL = SMALL_CLIP
TEXT_RECALL_AT_5_FLOOR = 0.8
IMAGE_PRECISION_AT_5_FLOOR = 0.4
INDEX_RECALL_FLOOR = 0.9


@pytest.fixture(scope="module")
def evaluation_database(local_stack) -> str:
    """One database for the module: notebook 3 searches the tenants notebook 1 ingested."""
    name = f"test_notebooks_{uuid.uuid4().hex[:8]}"
    url = local_stack.postgres.create_database(name)
    migrate(url)
    yield url
    local_stack.postgres.drop_database(name)


def run(name: str, out: Path, **parameters) -> dict:
    folder = out / name
    execute_notebook(NOTEBOOKS / f"{name}.ipynb", {"MODEL": MODEL, "OUTPUT_DIR": str(folder), **parameters},
                     save_to=out / f"{name}.executed.ipynb", timeout_s=300)
    return read_metrics(folder)


@pytest.fixture(scope="module")
def retrieval_metrics(evaluation_database, local_stack, stack_env, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("notebooks")
    metrics = run("01_retrieval_quality", out, DATABASE_URL=evaluation_database, TENANTS=2, IMAGES_PER_TENANT=48,
                  LABELS_PER_TENANT=8, VIDEOS_PER_TENANT=2, VIDEO_SECONDS=4, IMAGE_QUERIES_PER_TENANT=16,
                  GALLERY_QUERIES=3)
    metrics["output"] = out / "01_retrieval_quality"
    return metrics


def test_retrieval_quality_of_the_small_clip_on_its_held_out_catalogue(retrieval_metrics):
    text = retrieval_metrics["text_to_image"]
    assert set(text) == {"all", "image", "video"}
    assert text["all"]["recall@5"] >= TEXT_RECALL_AT_5_FLOOR
    assert text["image"]["recall@5"] >= TEXT_RECALL_AT_5_FLOOR
    assert text["all"]["recall@1"] <= text["all"]["recall@5"] <= text["all"]["recall@10"]
    assert retrieval_metrics["image_to_image"]["precision@5"] >= IMAGE_PRECISION_AT_5_FLOOR
    assert retrieval_metrics["image_to_image"]["queries"] == 2 * 16
    assert {row["client_id"] for row in retrieval_metrics["per_tenant"]} == {"eval-0", "eval-1"}
    for figure in ("text_to_image_recall.png", "gallery.png"):
        assert (retrieval_metrics["output"] / figure).stat().st_size > 10_000


def test_search_latency_is_measured_per_component(retrieval_metrics, evaluation_database, tmp_path):
    metrics = run("03_latency", tmp_path, DATABASE_URL=evaluation_database, TENANTS=["eval-0", "eval-1"], QUERIES=40)
    summary = metrics["summary"]
    assert summary["total"]["n"] == summary["text embed"]["n"] == 40  # each text new on its first tenant
    assert summary["SQL"]["n"] == summary["presigned URLs"]["n"] == summary["total (cached text)"]["n"] + 40 == 80
    for component in summary.values():
        assert 0 < component["p50_ms"] <= component["p95_ms"] <= component["p99_ms"]
    assert (tmp_path / "03_latency" / "latency_histograms.png").exists()


def test_hnsw_recall_per_tenant_against_exact_search(evaluation_database, stack_env, tmp_path):
    # One tenant small enough to be searched exactly as deployed, one just large enough for its index.
    sizes = [150, EXACT_SEARCH_MAX_ROWS + 50]
    metrics = run("02_index_recall", tmp_path, DATABASE_URL=evaluation_database, TENANT_SIZES=sizes,
                  IMAGE_QUERIES=16, EF_SEARCH=[10, 40, 200])
    points = metrics["points"]
    assert {(p["client_id"], p["rows"]) for p in points} == {(f"eval-index-{n}", n) for n in sizes}
    assert all(p["recall"] == 1.0 for p in points if p["method"] == "exact")
    assert metrics["hnsw_max_ef_min_recall"] >= INDEX_RECALL_FLOOR
    assert metrics["deployed_min_recall"] >= INDEX_RECALL_FLOOR
    assert (tmp_path / "02_index_recall" / "recall_latency_tradeoff.png").exists()


def test_ingest_stages_and_put_to_searchable_through_the_streaming_job(evaluation_database, aws, ray_cluster, tmp_path):
    metrics = run("04_ingest", tmp_path, DATABASE_URL=evaluation_database, IMAGES=20, VIDEOS=1, VIDEO_SECONDS=3,
                  BATCH_SIZE=8, LAG_UPLOADS=4)
    in_process = metrics["in_process"]
    assert (in_process["media"], in_process["rows"]) == (21, 20 + 3)
    assert all(in_process[stage] > 0 for stage in ("fetch", "decode", "embed", "write"))
    assert metrics["put_to_searchable"]["n"] == 4
    stats = metrics["stream_stats"]
    assert stats["counts"]["objects_embedded"] >= 4
    assert stats["counts"]["dlq"] == 0
    assert (tmp_path / "04_ingest" / "stage_seconds.png").exists()

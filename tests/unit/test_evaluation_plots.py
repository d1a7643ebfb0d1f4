import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from stockmind.evaluation import plots  # noqa: E402
from stockmind.evaluation.outputs import Outputs  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_gallery_frames_hits_green_and_misses_red():
    rows = [("a red circle", [("red circle", True), ("blue star", False)]), ("a blue star", [("blue star", True)])]
    fig = plots.gallery(rows, lambda r, c: Image.new("RGB", (32, 24), (200, 30, 30)))
    result_axes = [ax for ax in fig.axes if ax.images]
    assert len(result_axes) == 3
    colours = [matplotlib.colors.to_hex(ax.spines["top"].get_edgecolor()) for ax in result_axes]
    assert colours == [plots.HIT, plots.MISS, plots.HIT]


def test_tradeoff_draws_one_curve_per_tenant_in_ef_search_order(tmp_path):
    points = [{"client_id": "t", "rows": 100, "method": "hnsw", "ef_search": ef, "recall": r, "p50_ms": ms}
              for ef, r, ms in ((40, 0.9, 2.0), (10, 0.7, 1.0))]
    points += [{"client_id": "t", "rows": 100, "method": m, "ef_search": None, "recall": 1.0, "p50_ms": 5.0}
               for m in ("exact", "deployed")]
    fig = plots.tradeoff(points, "title")
    curve = fig.axes[0].lines[0]
    assert list(curve.get_xdata()) == [1.0, 2.0]
    assert Outputs(tmp_path).figure(fig, "tradeoff").stat().st_size > 0


def test_histograms_stacked_stages_and_grouped_bars_draw_one_panel_per_series():
    assert len(plots.latency_histograms({"SQL": [0.01, 0.02], "total": [0.1, 0.2]}, "t").axes) == 2
    fig = plots.stacked_stages(["batch 0", "batch 1"], {"fetch": [1, 2], "embed": [3, 4]}, "s", "t")
    assert len(fig.axes[0].patches) == 4
    rows = [{"client_id": c, "scope": s, "recall@1": 0.5, "recall@5": 0.9}
            for c in ("a", "b") for s in ("all", "image")]
    assert len(plots.grouped_bars(rows, "client_id", "scope", ["recall@1", "recall@5"], "t").axes) == 2

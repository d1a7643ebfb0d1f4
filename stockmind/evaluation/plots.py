"""The notebooks' figures (matplotlib): each function draws one figure and returns it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from PIL import Image

HIT, MISS = "#1a9850", "#d73027"


def grouped_bars(rows: list[dict], group: str, series: str, measures: Sequence[str], title: str):
    """Bars of `measures` for each value of `group`, one panel per value of `series`."""
    panels = sorted({row[series] for row in rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False, sharey=True)
    for ax, panel in zip(axes[0], panels):
        chosen = [row for row in rows if row[series] == panel]
        x = np.arange(len(chosen))
        width = 0.8 / len(measures)
        for i, measure in enumerate(measures):
            ax.bar(x + i * width, [row[measure] for row in chosen], width, label=measure)
        ax.set_xticks(x + width * (len(measures) - 1) / 2, [str(row[group]) for row in chosen], rotation=20)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{series} = {panel}")
    axes[0][0].legend(loc="lower left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def gallery(rows: list[tuple[str, list[tuple[str, bool]]]], thumbnail: Callable[[int, int], Image.Image]):
    """One row per query: its text, then its results with a green (hit) or red (miss) frame.
    `rows` holds (query text, [(caption, relevant), ...]); `thumbnail(row, column)` gives a picture."""
    columns = max((len(results) for _, results in rows), default=1)
    fig, axes = plt.subplots(len(rows), columns + 1, figsize=(1.6 * (columns + 1), 1.8 * len(rows)), squeeze=False)
    for r, (query, results) in enumerate(rows):
        for ax in axes[r]:
            ax.axis("off")
        axes[r][0].text(0.5, 0.5, query, ha="center", va="center", wrap=True, fontsize=9)
        for c, (caption, relevant) in enumerate(results):
            ax = axes[r][c + 1]
            ax.imshow(thumbnail(r, c))
            ax.set_title(caption, fontsize=7, color=HIT if relevant else MISS)
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor(HIT if relevant else MISS)
                spine.set_linewidth(3)
    fig.tight_layout()
    return fig


def tradeoff(points: list[dict], title: str):
    """Recall against p50 latency for each tenant: one line through its ef_search values, the
    deployed configuration as a star."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for client_id in sorted({p["client_id"] for p in points}):
        mine = [p for p in points if p["client_id"] == client_id]
        curve = sorted((p for p in mine if p["method"] == "hnsw"), key=lambda p: p["ef_search"])
        line, = ax.plot([p["p50_ms"] for p in curve], [p["recall"] for p in curve], marker="o",
                        label=f"{client_id} ({mine[0]['rows']} rows)")
        for p in curve:
            ax.annotate(str(p["ef_search"]), (p["p50_ms"], p["recall"]), fontsize=7, xytext=(3, -9),
                        textcoords="offset points")
        for p in mine:
            if p["method"] == "deployed":
                ax.plot(p["p50_ms"], p["recall"], marker="*", markersize=14, color=line.get_color())
            if p["method"] == "exact":
                ax.plot(p["p50_ms"], 1.0, marker="s", color=line.get_color(), fillstyle="none")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("p50 latency per query (ms, log)")
    ax.set_ylabel("recall@k against exact search")
    ax.set_title(title)
    ax.legend(fontsize=8, title="HNSW by ef_search; ★ deployed, □ exact", title_fontsize=8)
    fig.tight_layout()
    return fig


def latency_histograms(samples: dict[str, Sequence[float]], title: str):
    """One histogram per component (seconds in, milliseconds shown) with p50/p95/p99 marked."""
    fig, axes = plt.subplots(1, len(samples), figsize=(4.2 * len(samples), 3.4), squeeze=False)
    for ax, (name, seconds) in zip(axes[0], samples.items()):
        ms = np.asarray(seconds) * 1000
        ax.hist(ms, bins=40, color="#4575b4")
        for p, style in ((50, "-"), (95, "--"), (99, ":")):
            ax.axvline(np.percentile(ms, p), color="black", linestyle=style, label=f"p{p}")
        ax.set_title(name)
        ax.set_xlabel("ms")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def stacked_stages(labels: Sequence[str], stages: dict[str, Sequence[float]], ylabel: str, title: str):
    """Stacked bars: for each label, the share of time (or the seconds) of every stage."""
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(labels) + 3), 3.8))
    bottom = np.zeros(len(labels))
    for stage, values in stages.items():
        ax.bar(labels, values, bottom=bottom, label=stage)
        bottom += np.asarray(values, dtype=float)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig

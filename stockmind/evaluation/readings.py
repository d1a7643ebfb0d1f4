"""The written reading of each result, generated from the measured values (Markdown).

Prose in a notebook must not carry numbers that the next run changes, so each reading is built
here from the values it describes and the notebook displays it.
"""

from __future__ import annotations

from stockmind.evaluation.retrieval import ALL_MEDIA, EVERY_TENANT

# Below this spread between tenants' recall@5 the tenants are "alike"; above it one deserves a look.
TENANT_SPREAD = 0.1


def retrieval(recall_rows: list[dict], precision_rows: list[dict]) -> str:
    overall = {row["scope"]: row for row in recall_rows if row["client_id"] == EVERY_TENANT}
    lines = []
    for scope, row in sorted(overall.items()):
        lines.append(f"- **{scope}**: over {row['queries']} text queries, the right product is the first result "
                     f"{_pct(row['recall@1'])} of the time, in the top 5 {_pct(row['recall@5'])} and in the top 10 "
                     f"{_pct(row['recall@10'])}.")
    tenants = [row for row in recall_rows if row["client_id"] != EVERY_TENANT and row["scope"] == ALL_MEDIA]
    if len(tenants) > 1:
        low, high = min(tenants, key=lambda r: r["recall@5"]), max(tenants, key=lambda r: r["recall@5"])
        spread = high["recall@5"] - low["recall@5"]
        verdict = "tenants are served alike" if spread <= TENANT_SPREAD else f"`{low['client_id']}` deserves a look"
        lines.append(f"- Per tenant, recall@5 ranges from {_pct(low['recall@5'])} (`{low['client_id']}`) to "
                     f"{_pct(high['recall@5'])} (`{high['client_id']}`): {verdict}.")
    image = next((row for row in precision_rows if row["client_id"] == EVERY_TENANT), None)
    if image:
        lines.append(f"- Image → image: of the top 5 neighbours of a product photo, {_pct(image['precision@5'])} show "
                     f"the same product on average ({image['queries']} query photos; precision@1 "
                     f"{_pct(image['precision@1'])}).")
    images, videos = overall.get("image"), overall.get("video")
    if images and videos:
        better, worse = (("video moments", "photos") if videos["recall@1"] > images["recall@1"]
                         else ("photos", "video moments"))
        lines.append(f"- At rank 1, {better} are found more reliably than {worse} ({_pct(images['recall@1'])} for "
                     f"photos, {_pct(videos['recall@1'])} for videos). A video search ranks whole videos by their "
                     "best moment, among far fewer candidates than photos, so the two are not directly comparable.")
    return "\n".join(lines)


def index(points: list[dict], k: int) -> str:
    lines = []
    for client_id in sorted({p["client_id"] for p in points}):
        mine = [p for p in points if p["client_id"] == client_id]
        exact = next(p for p in mine if p["method"] == "exact")
        curve = sorted((p for p in mine if p["method"] == "hnsw"), key=lambda p: p["ef_search"])
        deployed = next((p for p in mine if p["method"] == "deployed"), None)
        good = next((p for p in curve if p["recall"] >= 0.95), None)
        reach = (f"reaches 95 % recall@{k} at ef_search {good['ef_search']} ({good['p50_ms']:.1f} ms p50)"
                 if good else f"stays below 95 % recall@{k} up to ef_search {curve[-1]['ef_search']}")
        text = (f"- **{client_id}** ({exact['rows']} rows): exact search takes {exact['p50_ms']:.1f} ms p50; "
                f"HNSW {reach}.")
        if deployed:
            text += (f" As deployed, search returns {_pct(deployed['recall'])} of the exact top {k} in "
                     f"{deployed['p50_ms']:.1f} ms p50.")
        lines.append(text)
    return "\n".join(lines)


def latency(summary: dict[str, dict]) -> str:
    total, embed, sql = summary["total"], summary["text embed"], summary["SQL"]
    share = embed["p50_ms"] / total["p50_ms"] if total["p50_ms"] else 0.0
    bound = "embedding the query text" if embed["p50_ms"] >= sql["p50_ms"] else "the SQL search"
    return "\n".join([
        f"- A text search takes {total['p50_ms']:.1f} ms at the median, {total['p95_ms']:.1f} ms at p95 and "
        f"{total['p99_ms']:.1f} ms at p99 ({total['n']} queries).",
        f"- The median query spends {_pct(share)} of its time in the text encoder; the larger part is {bound}.",
        f"- The tail (p99 / p50 = {total['p99_ms'] / max(total['p50_ms'], 1e-9):.1f}×) shows how much a busy "
        "machine or a cold cache stretches the slowest queries.",
    ])


def ingest(totals: dict[str, float], wall_s: float, lag: dict | None) -> str:
    stages = {name: totals[name] for name in ("fetch", "decode", "embed", "write")}
    busiest = max(stages, key=stages.get)
    spent = sum(stages.values())
    lines = [
        f"- In-process, {int(totals['media'])} media ({int(totals['rows'])} vectors) went through in "
        f"{wall_s:.1f} s: {totals['media'] / wall_s:.1f} media/s, {totals['rows'] / wall_s:.1f} vectors/s.",
        f"- **{busiest}** takes the largest share ({_pct(stages[busiest] / spent if spent else 0.0)} of stage time): "
        "it is the stage to scale first (more embedder actors or a GPU for embed, "
        "more loader threads for fetch/decode).",
    ]
    if lag:
        lines.append(f"- Put → searchable through the streaming job: {lag['p50_ms'] / 1000:.2f} s at the median, "
                     f"{lag['p95_ms'] / 1000:.2f} s at p95 over {lag['n']} uploads.")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"

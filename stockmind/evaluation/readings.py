"""The written reading of each result, generated from the measured values (Markdown).

Prose in a notebook must not carry numbers that the next run changes, so each reading is built
here from the values it describes and the notebook displays it.
"""

from __future__ import annotations

from stockmind.evaluation.combinations import BEST_SCORE, WEIGHTED_SUM, best
from stockmind.evaluation.retrieval import ALL_MEDIA, EVERY_TENANT
from stockmind.service.combine import Weights

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


def products(media_rows: list[dict], product_rows: list[dict]) -> str:
    """Media-level against product-level recall@k (`recall_table` and `product_recall_table`)."""
    media = {row["scope"]: row for row in media_rows if row["client_id"] == EVERY_TENANT}
    lines = []
    for scope, row in sorted({row["scope"]: row for row in product_rows
                              if row["client_id"] == EVERY_TENANT}.items()):
        ks = sorted(int(name.split("@")[1]) for name in row if name.startswith("recall@"))
        gains = ", ".join(f"{_pct(media[scope][f'recall@{k}'])} → {_pct(row[f'recall@{k}'])} at k = {k}" for k in ks)
        lines.append(f"- **{scope}** ({row['queries']} text queries), recall@k over the first k media → over the "
                     f"first k products: {gains}.")
    gained = any(row[name] > media[row["scope"]][name] for row in product_rows if row["client_id"] == EVERY_TENANT
                 for name in row if name.startswith("recall@"))
    lines.append("- Counted over products, several media of one wrong product take one place in the top k, not "
                 "several; " + ("that is where the queries found only at product level were lost." if gained else
                                "here no query needed it: media-level recall was already as high."))
    return "\n".join(lines)


def combinations(rows: list[dict], wins: dict[str, tuple[int, int, int]]) -> str:
    """Which combination strategy ranks better per task kind; `wins[kind]` is (best weighted sum
    ahead, best score ahead, tied) query by query (`combinations.paired`)."""
    lines = []
    for kind in sorted({row["task"] for row in rows}):
        weighted, qdrant = best(rows, kind, WEIGHTED_SUM), best(rows, kind, BEST_SCORE)
        better = weighted if (weighted["MRR"], weighted["recall@1"]) >= (qdrant["MRR"], qdrant["recall@1"]) else qdrant
        ahead, behind, ties = wins[kind]
        lines.append(
            f"- **{kind}** ({weighted['queries']} queries): {_strategy(better)} ranks better. The weighted sum at "
            f"its best ({_weights(weighted)}): MRR {weighted['MRR']:.3f}, recall@1 {_pct(weighted['recall@1'])}, "
            f"recall@5 {_pct(weighted['recall@5'])}; Qdrant's best score: MRR {qdrant['MRR']:.3f}, recall@1 "
            f"{_pct(qdrant['recall@1'])}, recall@5 {_pct(qdrant['recall@5'])}. Query by query, the weighted sum "
            f"puts the first relevant photo higher on {ahead}, best score on {behind}, {ties} tie.")
        if weighted["positive"] == 0:
            top = (weighted["MRR"], weighted["recall@1"])
            rivals = [row for row in rows if row["task"] == kind and row["strategy"] == WEIGHTED_SUM
                      and row["positive"] > 0 and (row["MRR"], row["recall@1"]) >= top]
            lines.append("  Here the examples add nothing to the text: the best weighted sum is the text alone "
                         "(positive weight 0), " + ("which some weights on the examples only equal." if rivals
                                                    else "and every weight on the examples ranks lower."))
        default = _default_row(rows, kind)
        if default is not None:
            lines.append(f"  The service's default weights ({_weights(default)}) reach MRR {default['MRR']:.3f} "
                         f"(recall@1 {_pct(default['recall@1'])}).")
    return "\n".join(lines)


def _strategy(row: dict) -> str:
    return "the weighted sum" if row["strategy"] == WEIGHTED_SUM else "Qdrant's best score"


def _weights(row: dict) -> str:
    parts = [f"{name} {row[name]:g}" for name in ("text", "positive", "negative") if row.get(name) is not None]
    return ", ".join(parts)


def _default_row(rows: list[dict], kind: str) -> dict | None:
    default = Weights()
    return next((row for row in rows if row["task"] == kind and row["strategy"] == WEIGHTED_SUM
                 and row["positive"] == default.positive and row["negative"] == default.negative
                 and row["text"] in (None, default.text)), None)


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

"""Which way of combining a query's parts ranks better: the service's weighted sum or Qdrant's best score.

A "refine" task is what a shopper does after a first search: a text of the product, one to three
photos of it ("like these") and one or two photos of a similar but different product ("not like
that": the same shape in another colour, or the same colour in another shape). The other photos of
the product are relevant; the examples themselves are left out of the ranking. An "examples" task
is the same without the text.

Each strategy scores every photo of the tenant by exact cosine (numpy over the stored vectors, no
index), so the figures compare the strategies alone:

- **weighted sum** (`stockmind.service.combine.combine`, what the service runs): one query vector,
  w_t·text + w_p·mean(positive) − w_n·mean(negative), renormalised;
- **best score** (Qdrant's `best_score` recommendation strategy): each candidate's best similarity to
  any positive (the text counts as one) against its best similarity to any negative; see `best_scores`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from stockmind.evaluation.datasets import Dataset
from stockmind.evaluation.metrics import mean_reciprocal_rank, recall_at_k
from stockmind.evaluation.retrieval import Hit, JudgedRanking
from stockmind.media.keys import parse_media_key
from stockmind.media.types import MediaType
from stockmind.service.combine import Weights, combine
from stockmind.store import stored_vectors

WEIGHTED_SUM = "weighted sum"
BEST_SCORE = "best score"
REFINE = "refine"  # text + examples
EXAMPLES = "examples"  # examples only
RECALL_KS = (1, 5, 10)
SKU_RECALL_KS = (5,)


@dataclass(frozen=True)
class Photos:
    """One tenant's photos: their stored vectors (unit rows) and what each shows."""

    client_id: str
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    vectors: np.ndarray

    skus: tuple[str, ...] = field(init=False, repr=False, compare=False)
    key_order: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.vectors.shape[0] != len(self.keys) or len(self.keys) != len(self.labels):
            raise ValueError(f"expected one vector and one label per key, got {self.vectors.shape[0]} vectors, "
                             f"{len(self.labels)} labels and {len(self.keys)} keys")
        object.__setattr__(self, "skus", tuple(parse_media_key(key).sku for key in self.keys))
        object.__setattr__(self, "key_order", np.argsort(np.argsort(self.keys)))  # each key's place in key order

    def of(self, label: str) -> list[int]:
        return [i for i, found in enumerate(self.labels) if found == label]


@dataclass(frozen=True)
class Task:
    """A query made of a text (or none) and examples, given as rows of `Photos`."""

    kind: str  # REFINE or EXAMPLES
    client_id: str
    label: str  # the product asked for
    text: str | None
    positive: tuple[int, ...]
    negative: tuple[int, ...]


@dataclass(frozen=True)
class Strategy:
    name: str  # WEIGHTED_SUM or BEST_SCORE
    weights: Weights | None = None  # the weighted sum's

    def scores(self, candidates: np.ndarray, text: np.ndarray | None, positive: np.ndarray,
               negative: np.ndarray) -> np.ndarray:
        if self.name == BEST_SCORE:
            examples = positive if text is None else np.vstack([text, positive])
            return best_scores(candidates, examples, negative)
        query = combine(text=text, positive=list(positive), negative=list(negative), weights=self.weights)
        return candidates @ query

    @property
    def label(self) -> str:
        if self.weights is None:
            return self.name
        w = self.weights
        return f"{self.name} (text {w.text:g}, positive {w.positive:g}, negative {w.negative:g})"


@dataclass(frozen=True)
class Outcome(JudgedRanking):
    task: Task
    strategy: Strategy
    hits: tuple[Hit, ...]  # every photo but the examples, best first


def best_scores(candidates: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Qdrant's `best_score` strategy, as its segment code computes it: for each candidate, the best
    similarity to any positive and the best to any negative (−∞ without negatives); if the positive
    wins the score is sigmoid(best positive), else −sigmoid(best negative), with Qdrant's fast sigmoid
    x / (1 + |x|) scaled into (0, 1). Every candidate closer to a positive ranks above every one closer
    to a negative; among the latter, the farther from the negatives the better. (Qdrant's docs give
    −(best negative)² for the second branch, which ranks the same while similarities are positive.)"""
    if positive.ndim != 2 or len(positive) == 0:
        raise ValueError("expected at least one positive example, as rows")
    best_positive = (candidates @ positive.T).max(axis=1)
    best_negative = (candidates @ negative.T).max(axis=1) if len(negative) else np.full(len(candidates), -np.inf)
    positive_wins = best_positive > best_negative
    return np.where(positive_wins, 1.0, -1.0) * _scaled_fast_sigmoid(np.where(positive_wins, best_positive,
                                                                               best_negative))


def _scaled_fast_sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (x / (1.0 + np.abs(x)) + 1.0)


def similar(label: str, other: str) -> bool:
    """Two products alike in one attribute and not the other: "red circle" and "blue circle", or
    "red circle" and "red star" (labels of the same number of words, differing in exactly one)."""
    words, others = label.split(), other.split()
    return len(words) == len(others) > 1 and sum(a != b for a, b in zip(words, others)) == 1


def refine_tasks(photos: Photos, queries: dict[str, str], per_product: int, seed: int = 0,
                 with_text: bool = True) -> list[Task]:
    """`per_product` tasks for each product with at least two photos and a similar product on sale:
    1–3 of its photos as positives (at least one left to find), 1–2 of a similar product's as
    negatives. Deterministic given the arguments; the same draw with or without the text."""
    rng = random.Random(f"{seed}/{photos.client_id}")
    labels = sorted(set(photos.labels))
    tasks = []
    for label in labels:
        mine, alike = photos.of(label), [other for other in labels if similar(label, other)]
        if len(mine) < 2 or not alike:
            continue
        for _ in range(per_product):
            positive = rng.sample(mine, rng.randint(1, min(3, len(mine) - 1)))
            theirs = photos.of(rng.choice(alike))
            negative = rng.sample(theirs, min(rng.randint(1, 2), len(theirs)))
            tasks.append(Task(REFINE if with_text else EXAMPLES, photos.client_id, label,
                              queries[label] if with_text else None, tuple(positive), tuple(negative)))
    return tasks


def ranked(photos: Photos, task: Task, scores: np.ndarray) -> tuple[Hit, ...]:
    """Every photo but the task's examples, best first (ties in key order)."""
    examples = set(task.positive) | set(task.negative)
    order = [int(i) for i in np.lexsort((photos.key_order, -scores)) if i not in examples]
    return tuple(Hit(photos.keys[i], photos.skus[i], None, float(scores[i]), photos.labels[i],
                     photos.labels[i] == task.label) for i in order)


def run(photos: dict[str, Photos], tasks: Sequence[Task], strategies: Sequence[Strategy],
        text_vectors: dict[str, np.ndarray]) -> list[Outcome]:
    """Every task under every strategy; `text_vectors` holds the embedding of each task's text. A
    weighted sum with positive weight 0 (the text alone, or the text minus the negatives) is a
    baseline for tasks with a text and is not run on tasks without one: it would have nothing to find."""
    outcomes = []
    for task in tasks:
        mine = photos[task.client_id]
        text = None if task.text is None else text_vectors[task.text]
        positive, negative = mine.vectors[list(task.positive)], mine.vectors[list(task.negative)]
        for strategy in strategies:
            if text is None and strategy.weights is not None and strategy.weights.positive == 0:
                continue
            scores = strategy.scores(mine.vectors, text, positive, negative)
            outcomes.append(Outcome(task, strategy, ranked(mine, task, scores)))
    return outcomes


def table(outcomes: Sequence[Outcome]) -> list[dict]:
    """One row per (task kind, strategy): queries, recall@k and MRR over media, recall@k over SKUs."""
    groups: dict[tuple[str, Strategy], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.task.kind, outcome.strategy)].append(outcome)
    rows = []
    for (kind, strategy), mine in groups.items():
        media = [o.relevance for o in mine]
        products = [o.product_relevance for o in mine]
        w = strategy.weights
        rows.append({"task": kind, "strategy": strategy.name,
                     "text": None if w is None or kind == EXAMPLES else w.text,
                     "positive": None if w is None else w.positive, "negative": None if w is None else w.negative,
                     "queries": len(mine),
                     **{f"recall@{k}": recall_at_k(media, k) for k in RECALL_KS},
                     "MRR": mean_reciprocal_rank(media),
                     **{f"sku recall@{k}": recall_at_k(products, k) for k in SKU_RECALL_KS}})
    return rows


def best(rows: Sequence[dict], kind: str, strategy: str | None = None) -> dict:
    """The row of `kind` (and `strategy`) that ranks best: highest MRR, then recall@1, recall@5."""
    mine = [row for row in rows if row["task"] == kind and strategy in (None, row["strategy"])]
    if not mine:
        raise ValueError(f"no rows for {kind!r} tasks" + (f" and {strategy!r}" if strategy else ""))
    return max(mine, key=lambda row: (row["MRR"], row["recall@1"], row["recall@5"]))


def paired(outcomes: Sequence[Outcome], a: Strategy, b: Strategy, kind: str) -> tuple[int, int, int]:
    """On the same `kind` tasks, how many queries put the first relevant photo higher under `a`,
    how many under `b`, and how many tie: whether a gap in MRR is many queries or a few."""
    first = {}
    for outcome in outcomes:
        if outcome.task.kind == kind and outcome.strategy in (a, b):
            rank = next((r for r, hit in enumerate(outcome.relevance, start=1) if hit), len(outcome.hits) + 1)
            first[(id(outcome.task), outcome.strategy)] = rank
    tasks = {task_id for task_id, _ in first}
    a_wins = sum(first[(t, a)] < first[(t, b)] for t in tasks)
    b_wins = sum(first[(t, a)] > first[(t, b)] for t in tasks)
    return a_wins, b_wins, len(tasks) - a_wins - b_wins


def weight_grid(positive: Sequence[float], negative: Sequence[float], text: float = 1.0) -> list[Strategy]:
    """The weighted sum at every (positive, negative) weight pair, and Qdrant's best score."""
    return ([Strategy(WEIGHTED_SUM, Weights(text=text, positive=p, negative=n)) for p in positive for n in negative]
            + [Strategy(BEST_SCORE)])


def tenant_photos(conn, dataset: Dataset, client_id: str, model_id: str) -> Photos:
    """A tenant's labelled photos with their stored vectors (photos not stored are left out)."""
    keys, labels, vectors = [], [], []
    for media in dataset.of(client_id, MediaType.IMAGE):
        stored = stored_vectors(conn, client_id, media.key, model_id=model_id)
        if stored:
            keys.append(media.key)
            labels.append(media.labels[0])
            vectors.append(np.asarray(stored[0].to_numpy(), dtype=np.float32))
    matrix = np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)
    # Unit rows, so that a dot product is the cosine the store ranks by.
    return Photos(client_id, tuple(keys), tuple(labels), matrix / np.linalg.norm(matrix, axis=1, keepdims=True))

from dataclasses import dataclass

from stockmind.evaluation.metrics import recall_at_k
from stockmind.evaluation.products import products_of


@dataclass(frozen=True)
class Media:
    key: str
    sku: str
    score: float
    relevant: bool


def test_products_are_the_distinct_skus_of_the_ranking_scored_by_their_best_media():
    ranked = [Media("a1", "A", 0.9, False), Media("a2", "A", 0.8, False), Media("b1", "B", 0.7, True),
              Media("a3", "A", 0.6, False), Media("c1", "C", 0.5, False), Media("b2", "B", 0.4, True)]
    products = products_of(ranked)
    assert [(p.sku, p.score) for p in products] == [("A", 0.9), ("B", 0.7), ("C", 0.5)]
    assert [m.key for m in products[0].media] == ["a1", "a2", "a3"]
    assert [p.relevant for p in products] == [False, True, False]


def test_a_product_found_below_another_products_media_counts_at_its_product_rank():
    ranked = [Media(f"a{i}", "A", 1 - i / 10, False) for i in range(5)] + [Media("b", "B", 0.4, True)]
    media_level = [m.relevant for m in ranked]
    product_level = [p.relevant for p in products_of(ranked)]
    assert recall_at_k([media_level], 2) == 0.0
    assert recall_at_k([product_level], 2) == 1.0


def test_an_unordered_ranking_is_ordered_by_score_and_its_ties_keep_their_order():
    products = products_of([Media("b", "B", 0.5, False), Media("a", "A", 0.9, True), Media("c", "C", 0.5, False)])
    assert [p.sku for p in products] == ["A", "B", "C"]
    assert products_of([]) == []


def test_a_product_is_relevant_when_any_of_its_media_is():
    (product,) = products_of([Media("v@1", "V", 0.9, False), Media("v@3", "V", 0.2, True)])
    assert product.relevant
    assert product.score == 0.9

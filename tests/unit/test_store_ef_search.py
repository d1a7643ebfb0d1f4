"""The ef_search rule: a floor for small tenants, growth with the log of the rows, a ceiling."""

import math

import pytest

from stockmind.store.queries import EF_GROWTH_FROM_ROWS, EF_PER_E_FOLD, MAX_EF_SEARCH, MIN_EF_SEARCH, ef_search_for


@pytest.mark.parametrize("rows", [0, 50, 1999, EF_GROWTH_FROM_ROWS])
def test_small_tenants_get_the_floor(rows):
    assert ef_search_for(rows, 40) == MIN_EF_SEARCH


def test_each_e_fold_of_rows_adds_the_same_width():
    one_fold = ef_search_for(EF_GROWTH_FROM_ROWS * math.e, 40)

    assert one_fold == MIN_EF_SEARCH + EF_PER_E_FOLD
    assert ef_search_for(EF_GROWTH_FROM_ROWS * 3, 40) > ef_search_for(EF_GROWTH_FROM_ROWS * 2, 40)


@pytest.mark.parametrize("rows", [10_000_000, math.inf])
def test_huge_or_never_analysed_tables_get_the_ceiling(rows):
    assert ef_search_for(rows, 40) == MAX_EF_SEARCH


def test_a_fetch_wider_than_the_rule_widens_the_search_up_to_the_ceiling():
    assert ef_search_for(100, 700) == 700
    assert ef_search_for(100, 4000) == MAX_EF_SEARCH

"""The benchmarks' steady rate: the slope between two shares of a run, without its start-up and tail."""

import pytest

from stockmind.dev.store_watch import steady_rate


def test_the_rate_is_the_slope_between_the_first_samples_at_each_share():
    # 30 rows at once (a drain of buffered work), then 10 rows/s.
    samples = [(0.0, 0), (1.0, 30), (2.0, 40), (3.0, 50), (4.0, 60), (5.0, 70), (6.0, 80), (7.0, 90), (8.0, 100)]
    assert steady_rate(samples, 100, (0.6, 0.95)) == pytest.approx(10.0)
    assert steady_rate(samples, 100, (0.1, 0.9)) == pytest.approx((90 - 30) / 6.0)  # the drain inflates it


def test_a_window_without_time_between_its_ends_is_refused():
    with pytest.raises(RuntimeError, match="no time between"):
        steady_rate([(0.0, 0), (1.0, 100)], 100, (0.6, 0.95))

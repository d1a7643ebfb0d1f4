"""How a key's rate and burst become `limits`' moving window, per replica, and what a refusal says."""

import itertools
import math

import pytest

from stockmind.config import Settings
from stockmind.errors import ConfigError
from stockmind.service.rate_limits import KeyLimit, KeyRateLimiter, check_limit, limit_for
from stockmind.store import StoredKey

# A window far longer than any test: nothing leaves it while a test runs.
SLOW = 0.001


def stored(rate_per_s=None, burst=None, key_id="k1") -> StoredKey:
    return StoredKey(key_id, "acme", b"", rate_per_s, burst)


@pytest.mark.parametrize(("rate", "burst", "amount", "seconds"), [
    (10, 20, 20, 2),     # the burst is a multiple of the rate: exact
    (5, 5, 5, 1),
    (3, 10, 10, 4),      # 10 / 4 s = 2.5/s: rounded to whole seconds, below the rate, never above
    (10, 5, 5, 1),       # a burst below the rate: the burst per second wins
    (0.1, 3, 3, 30),     # 3 / 0.1 is 30.000000000000004 in floats, still a 30 s window
    (0.5, 1, 1, 2),
])
def test_a_key_gets_a_moving_window_of_its_burst_over_burst_per_rate_seconds(rate, burst, amount, seconds):
    window = KeyLimit(rate, burst).window()
    assert (window.amount, window.get_expiry()) == (amount, seconds)


def test_all_replicas_together_never_allow_more_than_the_burst_or_the_rate():
    for rate, burst, replicas in itertools.product([0.3, 1, 2.5, 7, 10, 33.3, 1000], [1, 2, 7, 20, 99, 5000],
                                                   [1, 2, 3, 8]):
        if burst >= replicas:  # below it each replica still keeps one request: see below
            window = KeyLimit(rate, burst).window(replicas)
            assert window.amount * replicas <= burst, (rate, burst, replicas)
            assert window.amount * replicas / window.get_expiry() <= rate + 1e-9, (rate, burst, replicas)


def test_each_replica_takes_its_share_of_the_burst_in_the_same_window():
    assert KeyLimit(10, 20).window(3).amount == 6  # ⌊20 / 3⌋; 2 of the 20 are lost to rounding
    assert KeyLimit(10, 20).window(3).get_expiry() == 2
    assert KeyLimit(10, 20).window(2).amount == 10


def test_a_replica_keeps_at_least_one_request_when_the_burst_is_below_the_replica_count():
    assert KeyLimit(1, 2).window(4).amount == 1


def test_a_keys_own_values_override_the_defaults_one_by_one():
    settings = Settings.from_env({"STOCKMIND_RATE_LIMIT_PER_S": "4", "STOCKMIND_RATE_LIMIT_BURST": "8"})
    assert limit_for(stored(), settings) == KeyLimit(4, 8)
    assert limit_for(stored(rate_per_s=1.5), settings) == KeyLimit(1.5, 8)
    assert limit_for(stored(burst=3), settings) == KeyLimit(4, 3)
    assert limit_for(stored(2, 6), settings) == KeyLimit(2, 6)


def test_the_defaults_allow_a_burst_and_a_steady_rate():
    settings = Settings()
    assert settings.rate_limit_burst >= settings.rate_limit_per_s >= 1 and settings.service_replicas == 1


@pytest.mark.parametrize(("name", "value"), [
    ("STOCKMIND_RATE_LIMIT_PER_S", "0"), ("STOCKMIND_RATE_LIMIT_PER_S", "nan"),
    ("STOCKMIND_RATE_LIMIT_PER_S", "inf"), ("STOCKMIND_RATE_LIMIT_BURST", "0"),
    ("STOCKMIND_RATE_LIMIT_BURST", "2.5"), ("STOCKMIND_SERVICE_REPLICAS", "0"),
])
def test_unusable_limit_settings_fail_at_start_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (math.nan, None), (math.inf, None),
                                             (None, 0), (None, 2.5), (None, True)])
def test_unusable_overrides_are_refused(rate, burst):
    with pytest.raises(ValueError):
        check_limit(rate, burst)


def test_a_key_gets_its_burst_and_then_a_refusal_with_when_to_retry():
    limiter, limit = KeyRateLimiter(), KeyLimit(SLOW, 3)
    verdicts = [limiter.hit("k1", limit) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0, 0]
    refused = verdicts[3].headers()
    assert refused["RateLimit-Limit"] == "3" and refused["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused["Retry-After"]) <= limit.window_s and refused["Retry-After"] == refused["RateLimit-Reset"]
    assert "Retry-After" not in verdicts[0].headers()


def test_keys_count_apart():
    limiter, limit = KeyRateLimiter(), KeyLimit(SLOW, 2)
    assert [limiter.hit("k1", limit).allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("k2", limit).allowed


def test_a_replica_refuses_after_its_share():
    limiter = KeyRateLimiter(replicas=2)
    verdicts = [limiter.hit("k1", KeyLimit(SLOW, 6)) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[0].limit == 3

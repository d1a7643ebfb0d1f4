"""Rate limits per API key against the running service: bursts, refusals, overrides, exempt endpoints.

The session's shared tokens run on the fixture's high defaults (conftest.service_env); every test
here mints keys of its own with small limits, so no other module's requests are ever refused.
"""

import argparse
import time

import httpx
import pytest

from stockmind.commands import keys as keys_command
from stockmind.service import api_keys
from stockmind.store import connect
from tests.integration.service.conftest import DEFAULT_BURST

pytestmark = pytest.mark.slow

# So slow a rate that nothing leaves the window while a test runs: 0.01/s with a burst of 5 is 500 s.
SLOW = 0.01
SEARCH = ("/v1/search", {"q": "a red circle", "k": 1})


def mint(service, client="acme", rate_per_s=None, burst=None) -> api_keys.MintedKey:
    with connect(service.settings.database_url) as conn:
        return api_keys.create_key(conn, client, "rate-limit tests", rate_per_s, burst)


def search(service, token: str) -> httpx.Response:
    path, params = SEARCH
    return httpx.get(f"{service.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"},
                     timeout=60)


def run_keys_cli(monkeypatch, service, *argv) -> int:
    monkeypatch.setenv("DATABASE_URL", service.settings.database_url)
    parser = argparse.ArgumentParser()
    keys_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["keys", *argv])
    return args.run(args)


def test_a_key_gets_its_burst_then_429s_that_say_when_to_retry(service):
    token = mint(service, rate_per_s=SLOW, burst=5).token
    responses = [search(service, token) for _ in range(5 + 5)]

    passed, refused = responses[:5], responses[5:]
    assert [r.status_code for r in passed] == [200] * 5
    assert [r.headers["RateLimit-Limit"] for r in passed] == ["5"] * 5
    assert [r.headers["RateLimit-Remaining"] for r in passed] == ["4", "3", "2", "1", "0"]
    assert all(int(r.headers["RateLimit-Reset"]) >= 1 for r in passed)
    for response in refused:
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited" and response.json()["error"]["message"]
        assert response.headers["RateLimit-Limit"] == "5" and response.headers["RateLimit-Remaining"] == "0"
        assert 1 <= int(response.headers["Retry-After"]) <= 500
        assert response.headers["RateLimit-Reset"] == response.headers["Retry-After"]


def test_another_key_of_the_same_tenant_is_unaffected(service):
    spent, other = mint(service, rate_per_s=SLOW, burst=2), mint(service, rate_per_s=SLOW, burst=2)
    assert [search(service, spent.token).status_code for _ in range(3)] == [200, 200, 429]

    assert search(service, other.token).status_code == 200
    shared = search(service, service.tokens["acme"])  # the session's acme token, on the defaults
    assert shared.status_code == 200 and shared.headers["RateLimit-Limit"] == str(DEFAULT_BURST)


def test_a_limit_set_with_the_cli_applies_from_the_next_request_and_default_restores_it(monkeypatch, service):
    minted = mint(service)
    assert search(service, minted.token).headers["RateLimit-Limit"] == str(DEFAULT_BURST)

    assert run_keys_cli(monkeypatch, service, "limit", minted.key.key_id, "--rate", str(SLOW), "--burst", "2") == 0
    assert [search(service, minted.token).status_code for _ in range(3)] == [200, 200, 429]

    assert run_keys_cli(monkeypatch, service, "limit", minted.key.key_id, "--default") == 0
    back = search(service, minted.token)
    assert back.status_code == 200 and back.headers["RateLimit-Limit"] == str(DEFAULT_BURST)


def test_a_limit_given_at_creation_applies(monkeypatch, capsys, service):
    assert run_keys_cli(monkeypatch, service, "create", "--client", "globex", "--rate", str(SLOW), "--burst", "1") == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert [search(service, token).status_code for _ in range(2)] == [200, 429]


def test_waiting_retry_after_is_enough(service):
    token = mint(service, rate_per_s=1, burst=2).token  # a 2 s window
    refused = next(r for r in (search(service, token) for _ in range(10)) if r.status_code == 429)
    time.sleep(int(refused.headers["Retry-After"]))
    assert search(service, token).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/", "/openapi.json"])
def test_health_the_page_and_the_schema_are_never_limited(service, path):
    token = mint(service, rate_per_s=SLOW, burst=1).token
    assert [search(service, token).status_code for _ in range(2)] == [200, 429]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=service.url, headers=headers, timeout=60) as api:
        responses = [api.get(path) for _ in range(1 + 5)]
    assert [r.status_code for r in responses] == [200] * 6
    assert not any("RateLimit-Limit" in r.headers for r in responses)


def test_requests_without_a_valid_key_are_401_and_not_counted(service):
    minted = mint(service, rate_per_s=SLOW, burst=1)
    wrong = minted.token[:-4] + ("AAAA" if not minted.token.endswith("AAAA") else "BBBB")
    assert [search(service, wrong).status_code for _ in range(3)] == [401] * 3
    assert search(service, minted.token).status_code == 200


def test_a_batch_costs_one_request_per_query_up_to_the_whole_burst(service):
    batch = {"queries": [{"text": "a red circle", "k": 1}] * 3}
    token = mint(service, rate_per_s=SLOW, burst=5).token
    headers = {"Authorization": f"Bearer {token}"}
    first = httpx.post(f"{service.url}/v1/search/batch", json=batch, headers=headers, timeout=60)
    second = httpx.post(f"{service.url}/v1/search/batch", json=batch, headers=headers, timeout=60)
    assert first.status_code == 200 and first.headers["RateLimit-Remaining"] == "2"
    assert second.status_code == 429  # 3 more would be 6 of 5
    big = {"queries": [{"text": "a red circle", "k": 1}] * 8}
    fresh = {"Authorization": f"Bearer {mint(service, rate_per_s=SLOW, burst=5).token}"}
    whole_burst = httpx.post(f"{service.url}/v1/search/batch", json=big, headers=fresh, timeout=60)
    assert whole_burst.status_code == 200 and whole_burst.headers["RateLimit-Remaining"] == "0"

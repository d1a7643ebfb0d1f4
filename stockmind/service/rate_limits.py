"""Rate limits per API key: each authenticated request counts against its key (not its tenant).

A key's contract is "keep up `rate` requests a second, send up to `burst` at once" — a token bucket,
which `limits` does not have. Its moving window of `burst` requests per W = burst/rate seconds gives
both: up to `burst` at once, and never more than `burst` in any W seconds, so `rate` in the long run.
Why the moving window: a fixed window lets 2 × burst through across a window boundary, and the
sliding-window counter only estimates; the moving window is exact, at the cost of one timestamp per
request still in the window (at most `burst` per key). Why not two limits (a burst and a rate):
`limits` cannot take two at once, and a request refused by the second would already have spent the
first. The difference from a bucket: a key that spent its whole burst waits for its oldest request to
leave the window (up to W seconds), not 1/rate seconds.

`limits` counts windows in whole seconds, so W is rounded up: the long-run rate is burst/⌈burst/rate⌉,
the configured rate exactly when the burst is a whole multiple of it, and below it (never above)
otherwise.

Replicas: the counts are in this process's memory (`limits` has no PostgreSQL storage, and PostgreSQL
is the only service all replicas share), so each of the N processes serving the API
(STOCKMIND_SERVICE_REPLICAS) enforces its share, ⌊burst/N⌋ (at least 1) per the same W seconds.
docs/search-api.md, "Rate limits", says what that means for a caller.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import FastAPI, Request
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockmind.config import Settings
from stockmind.service.errors import ApiError
from stockmind.store import StoredKey

_STATE = "rate_limit"  # request.state's verdict, for the headers of a response that passed


@dataclass(frozen=True)
class KeyLimit:
    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        check_limit(self.rate_per_s, self.burst)

    @property
    def window_s(self) -> int:
        # round(): 3 / 0.1 is 30.000000000000004 in floats, which must not become a 31 s window.
        return max(1, math.ceil(round(self.burst / self.rate_per_s, 6)))

    def window(self, replicas: int = 1) -> RateLimitItem:
        """This process's share of the limit, as `limits` counts it."""
        return RateLimitItemPerSecond(max(1, self.burst // replicas), self.window_s)


def check_limit(rate_per_s: float | None, burst: int | None) -> None:
    """A key's own rate and burst, either of which may be None (the default): ValueError if unusable."""
    if rate_per_s is not None and not 0 < rate_per_s < math.inf:
        raise ValueError(f"the rate must be a positive number of requests per second, not {rate_per_s}")
    if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int) or burst < 1):
        raise ValueError(f"the burst must be a whole number of requests, at least 1, not {burst}")


def limit_for(key: StoredKey, settings: Settings) -> KeyLimit:
    """The key's own rate and burst, each defaulting to the service's."""
    return KeyLimit(settings.rate_limit_per_s if key.rate_per_s is None else key.rate_per_s,
                    settings.rate_limit_burst if key.burst is None else key.burst)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int  # requests this process lets through per window
    remaining: int
    reset_s: int  # until the oldest request in the window leaves it, freeing one

    def headers(self) -> dict[str, str]:
        """The IETF draft's RateLimit-* headers (with Retry-After when refused), in whole seconds."""
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(self.reset_s)}
        return headers if self.allowed else {**headers, "Retry-After": str(self.reset_s)}


class KeyRateLimiter:
    """One process's counts, per key id."""

    def __init__(self, replicas: int = 1) -> None:
        self.replicas = replicas
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key_id: str, limit: KeyLimit, cost: int = 1) -> Verdict:
        window = limit.window(self.replicas)
        allowed = self._limiter.hit(window, key_id, cost=cost)
        stats = self._limiter.get_window_stats(window, key_id)
        # Rounded up, and at least 1: a caller that waits this long finds a free place.
        reset_s = max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(allowed, window.amount, max(0, stats.remaining), reset_s)


def count_request(request: Request, key: StoredKey, cost: int = 1) -> None:
    """Count this request against `key` as `cost` requests: a 429 when it is over its limit."""
    verdict = request.app.state.rate_limiter.hit(key.key_id, limit_for(key, request.app.state.settings), cost)
    if not verdict.allowed:
        raise ApiError(429, f"this API key is over its rate limit; retry in {verdict.reset_s} s",
                       headers=verdict.headers())
    request.state.api_key = key
    setattr(request.state, _STATE, verdict)


def count_queries(request: Request, queries: int) -> None:
    """A batch of `queries` searches costs what as many requests would (its first was counted with
    the request itself), but never more than the key's whole burst, so that a batch can always pass
    once the key is idle; a batch over what the key has left is a 429 as a whole."""
    key = request.state.api_key
    burst = limit_for(key, request.app.state.settings).window(request.app.state.rate_limiter.replicas).amount
    if min(queries, burst) > 1:
        count_request(request, key, min(queries, burst) - 1)


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limiter = KeyRateLimiter(settings.service_replicas)
    app.add_middleware(RateLimitHeaders)


class RateLimitHeaders:
    """The RateLimit-* headers on every response to a counted request, whatever its route returns
    (a dependency's `Response` headers are lost when a route returns a Response of its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            # request.state is scope["state"]: the verdict is there once authentication has counted.
            verdict = scope.get("state", {}).get(_STATE)
            if message["type"] == "http.response.start" and verdict is not None:
                headers = MutableHeaders(scope=message)
                for name, value in verdict.headers().items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Per-client rate limits: a token bucket for each client, in bounded memory.

Each client may make ``burst`` requests at once, then ``per_s`` a second on average; a request
beyond that gets 429 with ``Retry-After`` (whole seconds until a token is back) and a JSON
``detail``. A client is the operator when it presents the valid ``X-API-Key``, and otherwise its
IP address. Only a valid key names a client of its own: if any header value did, a client could
send a fresh made-up key with every request and never be limited.

Memory stays bounded. A bucket that has refilled to ``burst`` behaves exactly like a new one, so
it is dropped; and at most ``max_clients`` buckets are kept (and one more): past that, clients
without a bucket share a single overflow bucket, so a flood of new addresses can crowd only
itself and the newcomers that arrive during it.

Some paths are exempt: ``/health`` and ``/metrics``, because an orchestrator's health checks and
a Prometheus scrape often come from the same address as a busy fleet (the host, a compose
network's gateway), and a limited health check would make a busy but healthy service look dead;
and ``/dashboard``, one static page that its own data requests (limited) follow.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from settlement.config import DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_PER_S

EXEMPT_PATHS = frozenset({"/health", "/metrics", "/dashboard"})
MAX_CLIENTS = 100_000
OPERATOR_CLIENT = "operator"
OVERFLOW_CLIENT = "overflow"
RATE_LIMITED_RESPONSE = {
    "description": "Too many requests from this client (or, on payment routes, a full queue); "
    "Retry-After says how many seconds to wait"
}


@dataclass(frozen=True)
class RateLimit:
    """``burst`` requests at once, then ``per_s`` a second; ``per_s == 0`` means no limit."""

    per_s: float
    burst: int

    def __post_init__(self) -> None:
        assert self.per_s >= 0, self.per_s
        assert self.burst >= 1, self.burst

    @property
    def enabled(self) -> bool:
        return self.per_s > 0


DEFAULT_RATE_LIMIT = RateLimit(DEFAULT_RATE_LIMIT_PER_S, DEFAULT_RATE_LIMIT_BURST)


@dataclass
class _Bucket:
    tokens: float
    updated_at_s: float


class TokenBuckets:
    """One token bucket per client key; ``clock`` is injectable so tests control time."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert limit.enabled, "a disabled limit needs no buckets"
        assert max_clients >= 1, max_clients
        self.limit = limit
        self.max_clients = max_clients
        self._clock = clock
        # Least recently used first, so idle buckets are found at the front.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Spend one of ``client``'s tokens and return 0, or return the seconds until one is
        available (nothing is spent then)."""
        now = self._clock()
        self._evict_idle(now)
        bucket = self._bucket(client, now)
        bucket.tokens = min(
            self.limit.burst, bucket.tokens + (now - bucket.updated_at_s) * self.limit.per_s
        )
        bucket.updated_at_s = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.limit.per_s

    def _bucket(self, client: str, now: float) -> _Bucket:
        if client not in self._buckets and len(self._buckets) >= self.max_clients:
            client = OVERFLOW_CLIENT
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(float(self.limit.burst), now)
        self._buckets.move_to_end(client)
        return bucket

    def _evict_idle(self, now: float) -> None:
        """Drop buckets, least recently used first, that have refilled: they are as good as new."""
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            missing = self.limit.burst - oldest.tokens
            if now < oldest.updated_at_s + missing / self.limit.per_s:
                return
            self._buckets.popitem(last=False)


class RateLimitMiddleware:
    """Refuses a client's request with 429 once its bucket is empty, before the body is read."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, operator_api_key: str | None) -> None:
        self.app = app
        self.buckets = buckets
        self.operator_api_key = operator_api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        wait_s = self.buckets.take(client_key(scope, self.operator_api_key))
        if wait_s == 0:
            await self.app(scope, receive, send)
            return
        limit, retry_after_s = self.buckets.limit, math.ceil(wait_s)
        response = JSONResponse(
            status_code=429,
            content={
                "detail": f"rate limit: at most {limit.burst} requests at once and "
                f"{limit.per_s:g} a second per client; retry in {retry_after_s} s"
            },
            headers={"Retry-After": str(retry_after_s)},
        )
        await response(scope, receive, send)


def client_key(scope: Scope, operator_api_key: str | None) -> str:
    """Who is asking: the operator when the request carries the valid key, else its IP."""
    presented = Headers(scope=scope).get("x-api-key")
    if (
        operator_api_key is not None
        and presented is not None
        and hmac.compare_digest(presented.encode(), operator_api_key.encode())
    ):
        return OPERATOR_CLIENT
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"

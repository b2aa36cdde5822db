"""Per-client rate limits: the token buckets on a clock the test moves, then a real app (Anvil,
SQLite) refusing a client over its limit while others carry on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI

from settlement.api.app import create_app
from settlement.api.rate_limit import (
    OPERATOR_CLIENT,
    RateLimit,
    TokenBuckets,
    client_key,
)
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.store import SqlPaymentStore
from tests.cli_helpers import served
from tests.settlement.api_helpers import make_service

OPERATOR_KEY = "rate-limit-operator-key"


class Clock:
    """Monotonic seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now_s = 1_000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


def buckets(per_s: float, burst: int, max_clients: int = 100) -> tuple[TokenBuckets, Clock]:
    clock = Clock()
    return TokenBuckets(RateLimit(per_s, burst), max_clients=max_clients, clock=clock), clock


def test_a_burst_is_allowed_then_the_next_request_waits_for_a_token() -> None:
    limiter, clock = buckets(per_s=2, burst=3)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    clock.advance(0.25)
    assert limiter.take("a") == pytest.approx(0.25)  # a refused request spends nothing
    clock.advance(0.25)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(0.5)


def test_tokens_refill_at_the_rate_and_never_beyond_the_burst() -> None:
    limiter, clock = buckets(per_s=10, burst=5)
    for _ in range(5):
        assert limiter.take("a") == 0.0
    clock.advance(60)  # long enough for 600 tokens, but the bucket holds 5
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    assert limiter.take("a") > 0


def test_each_client_has_its_own_bucket() -> None:
    limiter, _ = buckets(per_s=1, burst=1)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0


def test_refilled_buckets_are_dropped_and_a_dropped_client_starts_full() -> None:
    limiter, clock = buckets(per_s=1, burst=2)
    for client in ("a", "b", "c"):
        limiter.take(client)
    assert len(limiter) == 3
    clock.advance(0.5)
    limiter.take("d")
    assert len(limiter) == 4  # a, b and c are still refilling
    clock.advance(0.6)  # a, b, c full again (1.1 s since each spent 1 token); d is not
    limiter.take("d")
    assert len(limiter) == 1
    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]


def test_past_max_clients_newcomers_share_one_overflow_bucket() -> None:
    limiter, _ = buckets(per_s=1, burst=2, max_clients=3)
    for client in ("a", "b", "c"):
        assert limiter.take(client) == 0.0
    assert limiter.take("d") == 0.0
    assert limiter.take("e") == 0.0  # the overflow bucket's second token
    assert limiter.take("f") > 0  # d, e and f share it
    assert len(limiter) == 4  # three clients and the overflow bucket
    assert limiter.take("a") == 0.0  # the clients with buckets keep them


def test_a_client_is_the_operator_only_with_the_valid_key_else_its_address() -> None:
    def scope(key: str | None, host: str = "10.0.0.7") -> dict[str, object]:
        headers = [(b"x-api-key", key.encode())] if key is not None else []
        return {"type": "http", "headers": headers, "client": (host, 5000)}

    assert client_key(scope(OPERATOR_KEY), OPERATOR_KEY) == OPERATOR_CLIENT
    # A made-up key must not earn a bucket of its own, or a new key per request escapes limits.
    assert client_key(scope("made-up"), OPERATOR_KEY) == "ip:10.0.0.7"
    assert client_key(scope(None), OPERATOR_KEY) == "ip:10.0.0.7"
    assert client_key(scope(OPERATOR_KEY), None) == "ip:10.0.0.7"
    assert client_key({"type": "http", "headers": []}, OPERATOR_KEY) == "ip:unknown"


def test_a_disabled_limit_is_one_with_no_rate() -> None:
    assert not RateLimit(0, 1).enabled
    assert RateLimit(0.5, 1).enabled


# ---------------------------------------------------------------- a real app


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqlPaymentStore]:
    store = await SqlPaymentStore.open(f"sqlite:///{tmp_path / 'service.db'}")
    yield store
    await store.close()


@pytest.fixture
def limited_app(
    sqlite_store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> FastAPI:
    """Three requests at once per client, then one every ten seconds."""
    service = make_service(sqlite_store, chain, coin, admin)
    return create_app(service, OPERATOR_KEY, rate_limit=RateLimit(per_s=0.1, burst=3))


def client_at(app: FastAPI, host: str, api_key: str | None = None) -> httpx.AsyncClient:
    headers = {"X-API-Key": api_key} if api_key else {}
    transport = httpx.ASGITransport(app=app, client=(host, 40_000))
    return httpx.AsyncClient(transport=transport, base_url="http://settlement", headers=headers)


@pytest.mark.anvil
async def test_a_client_over_its_limit_gets_429_and_others_carry_on(limited_app: FastAPI) -> None:
    async with (
        client_at(limited_app, "10.0.0.1") as first,
        client_at(limited_app, "10.0.0.2") as second,
    ):
        for _ in range(3):
            assert (await first.get("/v1/stats")).status_code == 200
        refused = await first.post("/v1/payments", json={"not": "a payment"})
        assert refused.status_code == 429  # refused before the body is even read
        assert refused.headers["Retry-After"] == "10"
        assert refused.json() == {
            "detail": "rate limit: at most 3 requests at once and 0.1 a second per client; "
            "retry in 10 s"
        }
        assert (await first.get("/v1/stats")).status_code == 429
        # Health checks and the dashboard page are never limited.
        assert (await first.get("/health")).status_code == 200
        assert (await first.get("/dashboard")).status_code == 200
        assert (await second.get("/v1/stats")).status_code == 200


@pytest.mark.anvil
async def test_the_operator_has_its_own_bucket_and_made_up_keys_share_the_address(
    limited_app: FastAPI,
) -> None:
    host = "10.0.0.3"
    async with (
        client_at(limited_app, host, "made-up-1") as guesser,
        client_at(limited_app, host, "made-up-2") as other_guesser,
        client_at(limited_app, host, OPERATOR_KEY) as operator,
    ):
        statuses = [(await guesser.get("/v1/stats")).status_code for _ in range(2)]
        statuses.append((await other_guesser.get("/v1/stats")).status_code)
        statuses.append((await other_guesser.get("/v1/stats")).status_code)
        assert statuses == [200, 200, 200, 429]
        # The operator, from the same address, still has its whole burst.
        for _ in range(3):
            assert (await operator.post("/v1/windows/flush")).status_code == 200
        assert (await operator.post("/v1/windows/flush")).status_code == 429


@pytest.mark.anvil
async def test_every_operation_documents_the_429(limited_app: FastAPI) -> None:
    async with client_at(limited_app, "10.0.0.4") as client:
        document = (await client.get("/openapi.json")).json()
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) >= 20
    for operation in operations:
        refusal = operation["responses"]["429"]
        assert "Retry-After" in refusal["description"], operation["operationId"]
        assert refusal["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorOut"
        }


@pytest.mark.anvil
async def test_a_rate_of_zero_turns_limits_off(
    sqlite_store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = make_service(sqlite_store, chain, coin, admin)
    app = create_app(service, OPERATOR_KEY, rate_limit=RateLimit(per_s=0, burst=1))
    async with client_at(app, "10.0.0.5") as client:
        statuses = {(await client.get("/v1/stats")).status_code for _ in range(20)}
    assert statuses == {200}


@pytest.mark.anvil
def test_serve_takes_its_limit_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SETTLEMENT_RATE_LIMIT_PER_S", "0.1")
    monkeypatch.setenv("SETTLEMENT_RATE_LIMIT_BURST", "2")
    with served(tmp_path, OPERATOR_KEY) as url:  # its health checks are exempt
        statuses = [httpx.get(f"{url}/v1/stats", timeout=10).status_code for _ in range(3)]
        refused = httpx.get(f"{url}/v1/terms", timeout=10)
    assert statuses == [200, 200, 429]
    assert refused.status_code == 429
    # A token every 10 s; the default limit would say 1 s. Up to 2 s may pass on a busy machine.
    assert 8 <= int(refused.headers["Retry-After"]) <= 10

"""The HTTP client's transport rules, over a scripted transport (no service needed)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from settlement import client as client_module
from settlement.client import ServiceRequestError, SettlementClient

BATCH_ANSWER = {"results": []}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "FIRST_BACKOFF_S", 0.0)


def scripted(answers: list[httpx.Response | Exception], seen: list[bytes]) -> httpx.MockTransport:
    """Answers requests in order, recording each request's body."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handle)


async def test_a_lost_or_refused_for_now_request_is_resent_unchanged() -> None:
    seen: list[bytes] = []
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("no answer"),
        httpx.Response(503, json={"detail": "starting"}),
        httpx.Response(429, json={"detail": "queue full"}, headers={"Retry-After": "0"}),
        httpx.Response(200, json=BATCH_ANSWER),
    ]
    payment = {"idempotency_key": "s1", "amount_base_units": 5}
    async with SettlementClient("http://svc", transport=scripted(answers, seen)) as client:
        result = await client.submit_payments([payment])
        assert result.results == []
        assert client.retries == 4
    assert len(seen) == 5
    # The same payment, idempotency key and all, every time.
    assert [json.loads(body) for body in seen] == [{"payments": [payment]}] * 5


async def test_a_verdict_is_not_resent_and_says_why() -> None:
    seen: list[bytes] = []
    answers: list[httpx.Response | Exception] = [
        httpx.Response(401, json={"detail": "a valid X-API-Key header is required"})
    ]
    async with SettlementClient("http://svc", transport=scripted(answers, seen)) as client:
        with pytest.raises(ServiceRequestError) as refused:
            await client.faucet([{"address": "0x" + "00" * 20, "token_base_units": 1}])
    assert str(refused.value) == "POST /v1/faucet: 401 a valid X-API-Key header is required"
    assert len(seen) == 1


async def test_validation_errors_and_non_json_bodies_still_give_a_reason() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "Field required"}]}),
        httpx.Response(500, text="Internal Server Error"),
    ]
    async with SettlementClient("http://svc", transport=scripted(answers, [])) as client:
        with pytest.raises(ServiceRequestError, match=r"422 .*Field required"):
            await client.terms()
        with pytest.raises(ServiceRequestError, match="500 Internal Server Error"):
            await client.terms()


async def test_gives_up_after_its_attempts_in_one_line() -> None:
    answers: list[httpx.Response | Exception] = [httpx.ConnectError("refused")] * 3
    transport = scripted(answers, [])
    async with SettlementClient("http://svc:1", attempts=3, transport=transport) as client:
        with pytest.raises(ServiceRequestError) as failed:
            await client.stats()
    message = str(failed.value)
    assert message.startswith("GET http://svc:1/v1/stats: no answer after 3 attempts")
    assert "ConnectError" in message
    assert "\n" not in message


async def test_no_more_requests_in_flight_than_its_concurrency() -> None:
    in_flight = peak = 0

    async def handle(_request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json=BATCH_ANSWER)

    transport = httpx.MockTransport(handle)
    async with SettlementClient("http://svc", concurrency=3, transport=transport) as client:
        await asyncio.gather(*(client.submit_payments([{"n": n}]) for n in range(20)))
    assert peak == 3

"""The cost model over HTTP: the policy's choice, the fee profiles, refusals as 400 and 404.

The routes need no chain, so they run on a bare app with the router mounted, and once through
``create_app`` to show the service's app serves them too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from settlement.api.app import create_app
from settlement.api.policy_routes import policy_router
from settlement.domain.fees import load_fee_book

QUERY = {
    "profile": "base",
    "amount_base_units": 2_000,
    "pair_payments_per_hour": "60",
    "latency_bound_s": "3600",
}


def bare_app() -> FastAPI:
    app = FastAPI()
    app.include_router(policy_router)
    return app


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as client:
        yield client


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(bare_app()) as client:
        yield client


async def test_the_policy_answers_with_the_choice_and_every_candidate(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/v1/policy", params=QUERY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] in {"channel", "net"}
    assert body["profile"] == "base"
    assert Decimal(body["latency_s"]) <= 3_600
    assert [item["mode"] for item in body["candidates"]] == [
        "direct",
        "authorization",
        "batch",
        "channel",
        "net",
    ]
    assert {item["rail"] for item in body["rails"]} == {"card", "ach", "fednow", "sepa-instant"}
    assert body["mode"] in body["explanation"]


async def test_a_one_block_bound_chooses_one_transaction_per_payment(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/v1/policy", params={**QUERY, "latency_bound_s": "2"})
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "direct"


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"profile": "solana"}, 404, "no fee profile 'solana'"),
        ({"profile": "card"}, 400, "is a rail profile, not a chain"),
        ({"amount_base_units": -5}, 400, "between 1 and"),
        ({"pair_payments_per_hour": "0"}, 400, "pair_payments_per_hour must be above 0"),
        ({"latency_bound_s": "1"}, 400, "no mode settles within 1 s"),
        ({"funding_lifetime_s": "-1"}, 400, "funding_lifetime_s must be above 0"),
    ],
)
async def test_bad_input_is_refused_with_the_reason(
    api: httpx.AsyncClient, change: dict[str, Any], status: int, reason: str
) -> None:
    response = await api.get("/v1/policy", params={**QUERY, **change})
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]


async def test_a_malformed_number_is_unprocessable(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/policy", params={**QUERY, "amount_base_units": "lots"})
    assert response.status_code == 422


async def test_the_fee_profiles_are_listed_with_sources_and_dates(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/fee-profiles")
    assert response.status_code == 200
    profiles = {item["name"]: item for item in response.json()}
    assert profiles["fednow"]["kind"] == "rail"
    assert profiles["fednow"]["as_of"] == "2022-01-27"
    assert profiles["base"]["sources"][0].startswith("https://docs.base.org/")
    assert "not what" in profiles["fednow"]["note"]


async def test_an_apps_own_fee_book_replaces_the_packaged_one() -> None:
    book = load_fee_book()
    cheap_base = replace(book.evm_profile("base"), eth_usd=Decimal(1))
    app = bare_app()
    app.state.fee_book = replace(book, profiles={**book.profiles, "base": cheap_base})
    async with client_for(app) as client:
        overridden = await client.get("/v1/policy", params=QUERY)
    async with client_for(bare_app()) as client:
        packaged = await client.get("/v1/policy", params=QUERY)
    # Every chain cost scales with ETH/USD, which fell from $2,500 to $1.
    assert Decimal(overridden.json()["usd_per_payment"]) * 2_500 == Decimal(
        packaged.json()["usd_per_payment"]
    )


async def test_the_service_app_serves_the_cost_model_routes() -> None:
    # The routes read no service, so an app built around none still answers them.
    app = create_app(service=None, operator_api_key=None)  # type: ignore[arg-type]
    async with client_for(app) as client:
        response = await client.get("/v1/fee-profiles")
    assert response.status_code == 200
    assert any(item["name"] == "base" for item in response.json())

"""A robot buys a bundle of inference over HTTP 402: the official x402 SDK on both sides (its
FastAPI middleware on the compute provider, its httpx client and ``exact`` signer on the robot),
this project's `settlement serve` as the facilitator, on a real Anvil."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from x402.http import decode_payment_required_header, decode_payment_response_header
from x402.http.clients.httpx import x402AsyncTransport

from robots.compute_provider import INFERENCE_ROUTE, BundleOffer, compute_provider_app
from robots.x402_fleet import x402_buyer
from settlement.client import SettlementClient
from tests.cli_helpers import served

pytestmark = pytest.mark.anvil

API_KEY = "x402-provider-test-key"
BUNDLE_PRICE = 4_000


async def test_a_robot_pays_for_a_bundle_once_through_the_facilitator(tmp_path: Path) -> None:
    robot, provider = Account.create(), Account.create().address
    with served(tmp_path, API_KEY, "--window-seconds", "0.2") as url:
        async with (
            SettlementClient(url, api_key=API_KEY) as service,
            provider_of(service, url, robot, provider) as (offer, provider_transport),
        ):
            async with httpx.AsyncClient(
                transport=provider_transport, base_url="http://provider"
            ) as unpaid:
                refused = await unpaid.post(INFERENCE_ROUTE)
            assert refused.status_code == 402, refused.text
            required = decode_payment_required_header(refused.headers["PAYMENT-REQUIRED"])
            (accepts,) = required.accepts
            assert (accepts.amount, accepts.pay_to) == (str(BUNDLE_PRICE), provider)

            async with paying_client(robot, offer, provider_transport) as http:
                answer = await http.post(INFERENCE_ROUTE)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"calls": 8, "provider": provider}
            receipt = decode_payment_response_header(answer.headers["PAYMENT-RESPONSE"])
            assert receipt.success is True
            assert receipt.payer == robot.address
            assert receipt.transaction.startswith("0x")

            balances = await balances_of(service, provider, robot.address)
            settled = await service.transaction(receipt.transaction)
    assert balances == [BUNDLE_PRICE, 2 * BUNDLE_PRICE], "paid once, the price exactly"
    assert (settled.mode, len(settled.payment_ids)) == ("authorization", 1)


async def test_a_request_buys_several_bundles_and_a_bad_count_pays_nothing(tmp_path: Path) -> None:
    robot, provider = Account.create(), Account.create().address
    with served(tmp_path, API_KEY, "--window-seconds", "0.2") as url:
        async with (
            SettlementClient(url, api_key=API_KEY) as service,
            provider_of(service, url, robot, provider) as (offer, provider_transport),
        ):
            async with httpx.AsyncClient(
                transport=provider_transport, base_url="http://provider"
            ) as unpaid:
                refused = await unpaid.post(INFERENCE_ROUTE, params={"bundles": 3})
            required = decode_payment_required_header(refused.headers["PAYMENT-REQUIRED"])
            assert [accepts.amount for accepts in required.accepts] == [str(3 * BUNDLE_PRICE)]

            async with paying_client(robot, offer, provider_transport) as http:
                # Priced as one bundle, paid and verified, then refused by the route: the
                # middleware does not settle a request its route refused.
                bad = await http.post(INFERENCE_ROUTE, params={"bundles": 0})
                three = await http.post(INFERENCE_ROUTE, params={"bundles": 3})
            assert bad.status_code == 422, bad.text
            assert "PAYMENT-RESPONSE" not in bad.headers
            assert three.status_code == 200, three.text
            assert three.json() == {"calls": 24, "provider": provider}
            await asyncio.sleep(1)  # a settlement of the refused request would be mined by now
            balances = await balances_of(service, provider, robot.address)
    assert balances == [3 * BUNDLE_PRICE, 0], "three bundles paid once; the bad count paid nothing"


@asynccontextmanager
async def provider_of(
    service: SettlementClient, url: str, robot: LocalAccount, provider: str
) -> AsyncIterator[tuple[BundleOffer, httpx.ASGITransport]]:
    """The provider's app, started, with the facilitator at ``url``; the robot funded for three
    bundles. Yields the offer and a transport to the app."""
    offer = await funded_offer(service, robot, provider, 3 * BUNDLE_PRICE)
    app = compute_provider_app(offer, f"{url}/x402")
    async with app.router.lifespan_context(app):
        yield offer, httpx.ASGITransport(app=app)


async def funded_offer(
    service: SettlementClient, robot: LocalAccount, provider: str, grant: int
) -> BundleOffer:
    """The provider's offer on the service's chain and token, the robot given ``grant``."""
    terms = await service.terms()
    await service.faucet([{"address": robot.address, "token_base_units": grant}])
    return BundleOffer(
        pay_to=provider,
        calls_per_bundle=8,
        price_base_units=BUNDLE_PRICE,
        chain_id=terms.chain_id,
        token=terms.token,
        token_name=terms.token_domain.name,
        token_version=terms.token_domain.version,
    )


def paying_client(
    robot: LocalAccount, offer: BundleOffer, provider: httpx.AsyncBaseTransport
) -> httpx.AsyncClient:
    """An httpx client that pays the provider's 402s with the SDK's ``exact`` scheme."""
    paying = x402AsyncTransport(x402_buyer(robot, offer.network), transport=provider)
    return httpx.AsyncClient(transport=paying, base_url="http://provider")


async def balances_of(service: SettlementClient, *accounts: str) -> list[int]:
    return [(await service.balance(account)).balance_base_units for account in accounts]

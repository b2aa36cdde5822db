"""A robot buys a bundle of inference over HTTP 402: the official x402 SDK on both sides (its
FastAPI middleware on the compute provider, its httpx client and ``exact`` signer on the robot),
this project's `settlement serve` as the facilitator, on a real Anvil."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from x402 import x402Client
from x402.http import decode_payment_required_header, decode_payment_response_header
from x402.http.clients.httpx import x402AsyncTransport
from x402.mechanisms.evm.exact import ExactEvmScheme

from robots.compute_provider import INFERENCE_ROUTE, BundleOffer, compute_provider_app
from settlement.client import SettlementClient
from tests.cli_helpers import served

pytestmark = pytest.mark.anvil

API_KEY = "x402-provider-test-key"
BUNDLE_PRICE = 4_000


async def test_a_robot_pays_for_a_bundle_once_through_the_facilitator(tmp_path: Path) -> None:
    robot, provider = Account.create(), Account.create().address
    with served(tmp_path, API_KEY, "--window-seconds", "0.2") as url:
        async with SettlementClient(url, api_key=API_KEY) as service, AsyncExitStack() as stack:
            terms = await service.terms()
            await service.faucet([{"address": robot.address, "token_base_units": 3 * BUNDLE_PRICE}])
            offer = BundleOffer(
                pay_to=provider,
                calls_per_bundle=8,
                price_base_units=BUNDLE_PRICE,
                chain_id=terms.chain_id,
                token=terms.token,
                token_name=terms.token_domain.name,
                token_version=terms.token_domain.version,
            )
            app = compute_provider_app(offer, f"{url}/x402")
            await stack.enter_async_context(app.router.lifespan_context(app))
            provider_transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=provider_transport, base_url="http://provider"
            ) as unpaid:
                refused = await unpaid.post(INFERENCE_ROUTE)
            assert refused.status_code == 402, refused.text
            required = decode_payment_required_header(refused.headers["PAYMENT-REQUIRED"])
            (accepts,) = required.accepts
            assert (accepts.amount, accepts.pay_to) == (str(BUNDLE_PRICE), provider)

            buyer = x402Client()
            buyer.register(offer.network, ExactEvmScheme(robot))
            buyer.set_spend_controls(False)  # this chain's token is not one x402 knows
            paying = x402AsyncTransport(buyer, transport=provider_transport)
            async with httpx.AsyncClient(transport=paying, base_url="http://provider") as http:
                answer = await http.post(INFERENCE_ROUTE)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"calls": 8, "provider": provider}
            receipt = decode_payment_response_header(answer.headers["PAYMENT-RESPONSE"])
            assert receipt.success is True
            assert receipt.payer == robot.address
            assert receipt.transaction.startswith("0x")

        async with httpx.AsyncClient(base_url=url) as api:
            balances = [
                (await api.get(f"/v1/balances/{account}")).json()["balance_base_units"]
                for account in (provider, robot.address)
            ]
            settled = (await api.get(f"/v1/transactions/{receipt.transaction}")).json()
    assert balances == [BUNDLE_PRICE, 2 * BUNDLE_PRICE], "paid once, the price exactly"
    assert (settled["mode"], len(settled["payment_ids"])) == ("authorization", 1)

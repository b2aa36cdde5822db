"""The service as an x402 facilitator, on a real Anvil, with payloads the official x402 SDK's
client signs: none of this project's signing code is in the handshake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from x402.mechanisms.evm import constants as reasons
from x402.schemas import PaymentPayload, PaymentRequired, PaymentRequirements, ResourceInfo

from robots.x402_fleet import x402_buyer
from settlement.api.app import create_app
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import SettlementMode
from settlement.service import SettlementService
from settlement.store import SqlPaymentStore
from tests.settlement.api_helpers import funded, make_service

pytestmark = pytest.mark.anvil

PRICE = 2_500
# x402's client signs a window of wall-clock time; the session's Anvil runs ahead of the wall
# clock once a test has moved its time on (hours, in test_service_net), so the payloads here are
# valid for a day.
SIGNED_VALIDITY_S = 86_400
OPERATOR_KEY = "x402-operator-key"


class Facilitated:
    """A service with its HTTP API, a payer the SDK signs for, and a resource's requirements."""

    def __init__(
        self, service: SettlementService, http: httpx.AsyncClient, coin: StablecoinContract
    ) -> None:
        self.service, self.http, self.coin = service, http, coin
        self.payee = Account.create().address

    def requirements(self, **changes: Any) -> PaymentRequirements:
        fields: dict[str, Any] = {
            "scheme": "exact",
            "network": f"eip155:{self.coin.client.chain_id}",
            "asset": self.coin.address,
            "amount": str(PRICE),
            "pay_to": self.payee,
            "max_timeout_seconds": SIGNED_VALIDITY_S,
            "extra": {"name": self.coin.domain.name, "version": self.coin.domain.version},
        }
        return PaymentRequirements(**(fields | changes))

    async def signed(
        self, payer: LocalAccount, requirements: PaymentRequirements
    ) -> PaymentPayload:
        client = x402_buyer(payer, requirements.network)
        required = PaymentRequired(
            accepts=[requirements], resource=ResourceInfo(url="http://compute.local/infer")
        )
        return await client.create_payment_payload(required)

    async def funded_payload(
        self, admin: LocalAccount
    ) -> tuple[LocalAccount, PaymentRequirements, PaymentPayload]:
        """A payer holding ten prices, the resource's requirements, and the payer's payload."""
        payer = await funded(self.coin, admin, 10 * PRICE)
        requirements = self.requirements()
        return payer, requirements, await self.signed(payer, requirements)

    async def settled(
        self, payload: PaymentPayload, requirements: PaymentRequirements
    ) -> dict[str, Any]:
        """Settle the payload, run the authorization round it waits for, and settle it again:
        the answer with its transaction."""
        await self.ask("settle", payload, requirements)
        await self.service.settle_round(SettlementMode.AUTHORIZATION)
        return await self.ask("settle", payload, requirements)

    async def ask(
        self, route: str, payload: PaymentPayload, requirements: PaymentRequirements
    ) -> dict[str, Any]:
        body = {
            "x402Version": 2,
            "paymentPayload": payload.model_dump(mode="json", by_alias=True, exclude_none=True),
            "paymentRequirements": requirements.model_dump(
                mode="json", by_alias=True, exclude_none=True
            ),
        }
        answer = await self.http.post(f"/x402/{route}", json=body)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


@pytest.fixture
async def facilitated(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> AsyncIterator[Facilitated]:
    service = make_service(store, chain, coin, admin)
    app = create_app(service, OPERATOR_KEY)
    app.state.x402.settle_timeout_s = 0.3  # no windows run here: the test settles the rounds
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as http:
        yield Facilitated(service, http, coin)


async def test_supported_names_exact_on_this_chain(facilitated: Facilitated) -> None:
    answer = (await facilitated.http.get("/x402/supported")).json()
    network = f"eip155:{facilitated.coin.client.chain_id}"
    assert answer["kinds"] == [{"x402Version": 2, "scheme": "exact", "network": network}]
    assert answer["signers"] == {"eip155:*": [facilitated.service.relayer.address]}


async def test_a_paid_payload_verifies_settles_once_and_is_then_spent(
    facilitated: Facilitated, coin: StablecoinContract, admin: LocalAccount
) -> None:
    payer, requirements, payload = await facilitated.funded_payload(admin)

    verified = await facilitated.ask("verify", payload, requirements)
    assert verified == {"isValid": True, "payer": payer.address}

    pending = await facilitated.ask("settle", payload, requirements)
    assert (pending["success"], pending["errorReason"]) == (False, reasons.ERR_SETTLEMENT_PENDING)
    report = await facilitated.service.settle_round(SettlementMode.AUTHORIZATION)
    assert (report.transactions, report.settled) == (1, 1)

    settled = await facilitated.ask("settle", payload, requirements)
    assert settled["success"] is True
    assert settled["payer"] == payer.address
    assert settled["transaction"].startswith("0x")
    assert len(settled["transaction"]) == 66
    assert settled["amount"] == str(PRICE)
    again = await facilitated.ask("settle", payload, requirements)
    assert again["transaction"] == settled["transaction"], "a resent settle pays once"
    assert (await facilitated.service.settle_round(SettlementMode.AUTHORIZATION)).transactions == 0
    assert await coin.balance_of(facilitated.payee) == PRICE
    assert await coin.balance_of(payer.address) == 9 * PRICE

    replayed = await facilitated.ask("verify", payload, requirements)
    assert replayed["isValid"] is False
    assert replayed["invalidReason"] == reasons.ERR_NONCE_ALREADY_USED


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("underpaid", reasons.ERR_AUTHORIZATION_VALUE_MISMATCH),
        ("wrong recipient", reasons.ERR_RECIPIENT_MISMATCH),
        ("wrong network", reasons.ERR_NETWORK_MISMATCH),
        ("forged", reasons.ERR_INVALID_SIGNATURE),
        ("expiring", reasons.ERR_VALID_BEFORE_EXPIRED),
        ("unfunded", reasons.ERR_INSUFFICIENT_BALANCE),
        ("wrong domain version", reasons.ERR_TOKEN_VERSION_MISMATCH),
    ],
)
async def test_a_bad_payload_is_refused_with_the_reason_and_nothing_moves(
    facilitated: Facilitated,
    coin: StablecoinContract,
    admin: LocalAccount,
    case: str,
    reason: str,
) -> None:
    payer = await funded(coin, admin, 10 * PRICE)
    asked = facilitated.requirements()
    signed_for = asked
    if case == "underpaid":
        signed_for = facilitated.requirements(amount=str(PRICE - 1))
    elif case == "wrong recipient":
        signed_for = facilitated.requirements(pay_to=Account.create().address)
    elif case == "wrong network":
        asked = facilitated.requirements(network="eip155:8453")
        signed_for = asked
    elif case == "expiring":
        signed_for = facilitated.requirements(max_timeout_seconds=3)
    elif case == "unfunded":
        payer = Account.create()
    elif case == "wrong domain version":
        asked = facilitated.requirements(extra={"name": coin.domain.name, "version": "9"})
        signed_for = asked
    payload = await facilitated.signed(payer, signed_for)
    if case == "forged":
        forged = dict(payload.payload)
        forged["signature"] = "0x" + "11" * 65
        payload = payload.model_copy(update={"payload": forged})
    # The resource server sends what the client accepted beside its own requirements.
    payload = payload.model_copy(update={"accepted": asked})

    verified = await facilitated.ask("verify", payload, asked)
    settled = await facilitated.ask("settle", payload, asked)

    assert (verified["isValid"], verified["invalidReason"]) == (False, reason)
    assert verified["invalidMessage"]
    assert (settled["success"], settled["errorReason"], settled["transaction"]) == (
        False,
        reason,
        "",
    )
    assert await facilitated.service.store.count_queued() == 0
    assert await coin.balance_of(facilitated.payee) == 0


async def test_a_body_that_is_not_an_x402_request_is_a_422_with_the_reason(
    facilitated: Facilitated,
) -> None:
    answer = await facilitated.http.post("/x402/verify", json={"x402Version": 2})
    assert answer.status_code == 422
    assert "not an x402 VerifyRequest" in answer.json()["detail"]
    assert "paymentPayload" in answer.json()["detail"]


async def test_two_settles_of_one_payload_at_once_pay_once(
    facilitated: Facilitated, coin: StablecoinContract, admin: LocalAccount
) -> None:
    """Two resource servers (or a retry racing the first try) settling one payload."""
    _payer, requirements, payload = await facilitated.funded_payload(admin)
    first, second = await asyncio.gather(
        facilitated.ask("settle", payload, requirements),
        facilitated.ask("settle", payload, requirements),
    )
    assert {first["errorReason"], second["errorReason"]} == {reasons.ERR_SETTLEMENT_PENDING}
    assert (await facilitated.service.settle_round(SettlementMode.AUTHORIZATION)).settled == 1
    answers = [await facilitated.ask("settle", payload, requirements) for _ in range(2)]
    assert answers[0]["success"] is True
    assert answers[0]["transaction"] == answers[1]["transaction"]
    assert await coin.balance_of(facilitated.payee) == PRICE


async def test_a_restarted_facilitator_settles_what_it_verified_before(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    facilitated: Facilitated,
) -> None:
    """Verify stores nothing and settle needs nothing verify left: a facilitator restarted
    between the two (a fresh service and app on the same store and chain) pays once."""
    _payer, requirements, payload = await facilitated.funded_payload(admin)
    assert (await facilitated.ask("verify", payload, requirements))["isValid"] is True

    restarted = create_app(make_service(store, chain, coin, admin), OPERATOR_KEY)
    restarted.state.x402.settle_timeout_s = 0.3
    transport = httpx.ASGITransport(app=restarted)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as http:
        again = Facilitated(restarted.state.service, http, coin)
        again.payee = facilitated.payee
        await again.ask("settle", payload, requirements)
        assert (await again.service.settle_round(SettlementMode.AUTHORIZATION)).settled == 1
        assert (await again.ask("settle", payload, requirements))["success"] is True
    assert await coin.balance_of(facilitated.payee) == PRICE


async def test_a_settled_payload_asked_again_after_its_window_answers_with_its_transaction(
    facilitated: Facilitated, coin: StablecoinContract, admin: LocalAccount
) -> None:
    _payer, requirements, payload = await facilitated.funded_payload(admin)
    first = await facilitated.settled(payload, requirements)
    await coin.client.w3.provider.make_request("evm_increaseTime", [3_600])  # type: ignore[arg-type]
    await coin.client.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    later = await facilitated.ask("settle", payload, requirements)

    assert later["success"] is True
    assert later["transaction"] == first["transaction"]


async def test_another_payload_under_a_settled_authorization_nonce_is_refused(
    facilitated: Facilitated, coin: StablecoinContract, admin: LocalAccount
) -> None:
    _payer, requirements, payload = await facilitated.funded_payload(admin)
    await facilitated.settled(payload, requirements)
    altered = dict(payload.payload)
    altered["authorization"] = dict(altered["authorization"], value=str(2 * PRICE))
    doubled = payload.model_copy(update={"payload": altered})

    answer = await facilitated.ask(
        "settle", doubled, facilitated.requirements(amount=str(2 * PRICE))
    )

    assert answer["success"] is False
    assert answer["transaction"] == ""
    assert await coin.balance_of(facilitated.payee) == PRICE

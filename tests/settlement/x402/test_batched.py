"""x402 ``exact`` payments gathered into one ``transferWithAuthorizations`` transaction
(``SETTLEMENT_AUTHORIZATIONS_BATCHED``), one the token refuses skipped with its reason."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from x402.mechanisms.evm import constants as reasons

from settlement.api.app import create_app
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import SettlementMode
from settlement.settlers.authorization import BatchedAuthorizationSettler
from settlement.store import SqlPaymentStore
from tests.settlement.api_helpers import funded, make_service
from tests.settlement.faults.test_faults import drain
from tests.settlement.x402.test_facilitator import OPERATOR_KEY, PRICE, Facilitated

pytestmark = pytest.mark.anvil

PAYERS = 5


@pytest.fixture
async def batched(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> AsyncIterator[Facilitated]:
    service = make_service(store, chain, coin, admin)
    service.settlers[SettlementMode.AUTHORIZATION] = BatchedAuthorizationSettler(
        coin.address, coin.domain
    )
    app = create_app(service, OPERATOR_KEY)
    app.state.x402.settle_timeout_s = 0.3
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as http:
        yield Facilitated(service, http, coin)


async def test_many_payloads_settle_in_one_transaction_and_a_refused_one_fails_alone(
    batched: Facilitated, coin: StablecoinContract, admin: LocalAccount
) -> None:
    requirements = batched.requirements()
    payers = [await funded(coin, admin, PRICE) for _ in range(PAYERS)]
    payloads = [await batched.signed(payer, requirements) for payer in payers]
    for payload in payloads:
        answer = await batched.ask("settle", payload, requirements)
        assert answer["errorReason"] == reasons.ERR_SETTLEMENT_PENDING
    # The last payer spends its balance elsewhere after acceptance: the token skips it.
    await drain(coin.client, coin, payers[-1])

    report = await batched.service.settle_round(SettlementMode.AUTHORIZATION)

    assert (report.transactions, report.settled, report.failed) == (1, PAYERS - 1, 1)
    answers = [await batched.ask("settle", payload, requirements) for payload in payloads]
    assert [answer["success"] for answer in answers] == [True] * (PAYERS - 1) + [False]
    assert len({answer["transaction"] for answer in answers[:-1]}) == 1, "one transaction"
    assert answers[-1]["errorReason"] == reasons.ERR_TRANSACTION_FAILED
    assert "InsufficientBalance" in answers[-1]["errorMessage"]
    assert await coin.balance_of(batched.payee) == (PAYERS - 1) * PRICE
    receipt = await coin.client.w3.eth.get_transaction_receipt(answers[0]["transaction"])
    per_payment = receipt["gasUsed"] / PAYERS
    assert per_payment < 60_000, f"{per_payment:,.0f} gas a payment batched, against ~75,800 alone"

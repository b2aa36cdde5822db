"""The ledger baseline over HTTP: operator deposits, signed payments, balances."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from eth_account import Account

from settlement.api.app import create_app
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import Purpose, SettlementMode
from settlement.wallet import PayerWallet
from tests.settlement.api_helpers import EscrowedService, as_json, terms_for

pytestmark = pytest.mark.anvil

OPERATOR_KEY = "ledger-operator-key"
OPERATOR = {"X-API-Key": OPERATOR_KEY}
PAYER = PayerWallet(Account.from_key(b"\x21" * 32).key)
PAYEE = PayerWallet(Account.from_key(b"\x22" * 32).key)


@pytest.fixture
async def api(escrowed: EscrowedService) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(escrowed.service, OPERATOR_KEY, escrowed.escrow, escrowed.ledger)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as client:
        yield client


def deposit_body(amount: int, reference: str = "opening-1") -> dict[str, object]:
    return {"address": PAYER.address, "amount_base_units": amount, "reference": reference}


async def test_deposit_pay_settle_and_read_balances_over_http(
    api: httpx.AsyncClient, escrowed: EscrowedService, coin: StablecoinContract
) -> None:
    created = await api.post("/v1/ledger/deposits", json=deposit_body(3_000), headers=OPERATOR)
    again = await api.post("/v1/ledger/deposits", json=deposit_body(3_000), headers=OPERATOR)
    terms = await terms_for(coin, escrowed)
    payment = PAYER.submission(
        SettlementMode.LEDGER, "http-1", PAYEE.address, 1_200, Purpose.COMPUTE, terms
    )

    paid = await api.post("/v1/payments", json=as_json(payment))
    await api.post("/v1/windows/flush", headers=OPERATOR)
    payer_view = await api.get(f"/v1/ledger/accounts/{PAYER.address}")
    payee_view = await api.get(f"/v1/ledger/accounts/{PAYEE.address.lower()}")

    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json()["balance_base_units"] == 3_000
    assert paid.status_code == 201, paid.text
    assert payer_view.json()["balance_base_units"] == 1_800
    assert payee_view.json() == {
        "address": PAYEE.address,
        "balance_base_units": 1_200,
        "debits_posted_base_units": 0,
        "credits_posted_base_units": 1_200,
    }


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (deposit_body(10), {}, 401, "X-API-Key"),
        (deposit_body(10), {"X-API-Key": "wrong"}, 401, "X-API-Key"),
        (deposit_body(0), OPERATOR, 422, "greater than or equal to 1"),
        (deposit_body(-5), OPERATOR, 422, "greater than or equal to 1"),
        (deposit_body(10**16), OPERATOR, 422, "less than or equal to"),
        ({**deposit_body(10), "address": "0x12"}, OPERATOR, 422, "pattern"),
        (
            {**deposit_body(10), "address": "0x" + "aB" * 20},
            OPERATOR,
            400,
            "wrong EIP-55 checksum",
        ),
        ({**deposit_body(10), "reference": "has space"}, OPERATOR, 422, "pattern"),
    ],
)
async def test_bad_deposits_are_refused_with_the_reason(
    api: httpx.AsyncClient,
    body: dict[str, object],
    headers: dict[str, str],
    status: int,
    reason: str,
) -> None:
    response = await api.post("/v1/ledger/deposits", json=body, headers=headers)

    assert response.status_code == status
    assert reason in response.text
    assert (await api.get(f"/v1/ledger/accounts/{PAYER.address}")).status_code == 404


async def test_a_reference_reused_for_another_amount_is_a_conflict(api: httpx.AsyncClient) -> None:
    await api.post("/v1/ledger/deposits", json=deposit_body(100), headers=OPERATOR)

    reused = await api.post("/v1/ledger/deposits", json=deposit_body(999), headers=OPERATOR)

    assert reused.status_code == 409
    assert "exists_with_different_amount" in reused.json()["detail"]
    balance = (await api.get(f"/v1/ledger/accounts/{PAYER.address}")).json()
    assert balance["balance_base_units"] == 100


async def test_the_ledger_routes_answer_404_where_no_ledger_is_served(
    escrowed: EscrowedService,
) -> None:
    app = create_app(escrowed.service, OPERATOR_KEY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as client:
        response = await client.get(f"/v1/ledger/accounts/{PAYER.address}")

    assert response.status_code == 404
    assert "not served here" in response.json()["detail"]

"""The HTTP API over a real service (Anvil, SQLite), through httpx's in-process ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.api.app import create_app
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.store import SqlPaymentStore
from tests.settlement.api_helpers import as_json, authorized_payment, make_service

pytestmark = pytest.mark.anvil

OPERATOR_KEY = "test-operator-key"


@pytest.fixture
async def api(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_service(store, chain, coin, admin), OPERATOR_KEY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as client:
        yield client


async def test_submit_retry_settle_and_read_back(
    api: httpx.AsyncClient, coin: StablecoinContract, payer: LocalAccount
) -> None:
    payee = Account.create().address
    body = as_json(await authorized_payment(coin, payer, payee, "api-1", 1_234))
    created = await api.post("/v1/payments", json=body)
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["state"] == "queued"
    retried = await api.post("/v1/payments", json=body)
    assert retried.status_code == 200
    assert retried.json() == payment

    flushed = await api.post("/v1/windows/flush", headers={"X-API-Key": OPERATOR_KEY})
    assert flushed.status_code == 200, flushed.text
    rounds = {item["mode"]: item for item in flushed.json()["rounds"]}
    assert rounds["authorization"]["settled"] == 1

    fetched = await api.get(f"/v1/payments/{payment['payment_id']}")
    assert fetched.json()["state"] == "confirmed"
    cost = (await api.get(f"/v1/payments/{payment['payment_id']}/cost")).json()
    receipt = await coin.client.w3.eth.get_transaction_receipt(cost["tx_hash"])
    assert (cost["gas"], cost["payments_in_transaction"]) == (receipt["gasUsed"], 1)
    assert cost["fee_wei"] == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert 0 <= cost["accepted_to_submitted_s"] <= cost["accepted_to_included_s"]
    assert cost["accepted_to_included_s"] <= cost["accepted_to_confirmed_s"]
    missing = await api.get("/v1/payments/0x" + "00" * 32 + "/cost")
    assert missing.status_code == 404
    listed = await api.get(f"/v1/payers/{payer.address}/payments")
    assert [item["payment_id"] for item in listed.json()] == [payment["payment_id"]]
    assert await coin.balance_of(payee) == 1_234
    stats = (await api.get("/v1/stats")).json()
    assert stats["modes"] == [{"mode": "authorization", "counts": {"confirmed": 1}}]
    metrics = (await api.get("/metrics")).text
    assert 'settlement_payments_accepted_total{mode="authorization"} 1.0' in metrics
    assert 'settlement_payments_settled_total{mode="authorization"} 1.0' in metrics


async def test_conflicts_and_invalid_payments_get_reasons(
    api: httpx.AsyncClient, coin: StablecoinContract, payer: LocalAccount
) -> None:
    payee = Account.create().address
    body = as_json(await authorized_payment(coin, payer, payee, "api-2", 10))
    assert (await api.post("/v1/payments", json=body)).status_code == 201

    other_amount = as_json(await authorized_payment(coin, payer, payee, "api-2", 11))
    conflict = await api.post("/v1/payments", json=other_amount)
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == "idempotency key already used for a different payment"

    replayed_nonce = dict(body, idempotency_key="api-3")
    spent = await api.post("/v1/payments", json=replayed_nonce)
    assert spent.status_code == 409
    assert "already spent by payment" in spent.json()["detail"]

    mixed_case = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
    wrong_checksum = dict(body, idempotency_key="api-4", payee="0x" + mixed_case[2:].swapcase())
    bad = await api.post("/v1/payments", json=wrong_checksum)
    assert bad.status_code == 400
    assert "EIP-55 checksum" in bad.json()["detail"]


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda body: dict(body, amount_base_units=0), 422),
        (lambda body: dict(body, amount_base_units=-5), 422),
        (lambda body: dict(body, amount_base_units=10**30), 422),
        (lambda body: dict(body, payer="0x1234"), 422),
        (lambda body: dict(body, unexpected="field"), 422),
        (lambda body: dict(body, instrument=dict(body["instrument"], mode="teleport")), 422),
        (lambda body: dict(body, instrument=dict(body["instrument"], signature="0x00")), 422),
    ],
)
async def test_malformed_bodies_are_422_and_change_nothing(
    api: httpx.AsyncClient, coin: StablecoinContract, payer: LocalAccount, mutate, status: int
) -> None:
    body = as_json(await authorized_payment(coin, payer, Account.create().address, "m-1", 10))
    response = await api.post("/v1/payments", json=mutate(body))
    assert response.status_code == status, response.text
    assert (await api.get("/v1/stats")).json()["queued"] == 0


async def test_malformed_json_and_oversized_batches_are_refused(api: httpx.AsyncClient) -> None:
    broken = await api.post(
        "/v1/payments", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    too_many = await api.post("/v1/payments/batch", json={"payments": [{}] * 1_001})
    assert too_many.status_code == 422


async def test_batch_requests_report_each_payment(
    api: httpx.AsyncClient, coin: StablecoinContract, payer: LocalAccount
) -> None:
    payee = Account.create().address
    good = as_json(await authorized_payment(coin, payer, payee, "b-1", 10))
    forged = as_json(await authorized_payment(coin, payer, payee, "b-2", 10))
    forged["instrument"]["signature"] = "0x" + "00" * 65  # type: ignore[index]
    response = await api.post("/v1/payments/batch", json={"payments": [good, forged, good]})
    assert response.status_code == 200
    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == [201, 400, 200]


async def test_operator_routes_need_the_key(api: httpx.AsyncClient) -> None:
    assert (await api.post("/v1/windows/flush")).status_code == 401
    wrong = await api.post("/v1/windows/flush", headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401
    assert "guess" not in wrong.text


async def test_a_full_queue_answers_429_with_retry_after(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    app = create_app(make_service(store, chain, coin, admin, max_queued=1), OPERATOR_KEY)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://settlement"
    ) as client:
        payee = Account.create().address
        first = as_json(await authorized_payment(coin, payer, payee, "q-1", 10))
        second = as_json(await authorized_payment(coin, payer, payee, "q-2", 10))
        assert (await client.post("/v1/payments", json=first)).status_code == 201
        full = await client.post("/v1/payments", json=second)
        assert full.status_code == 429
        assert full.headers["Retry-After"] == "2"


async def test_health_reports_chain_and_database(api: httpx.AsyncClient) -> None:
    health = await api.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["chain_id"] == 31337
    assert body["database"] == "ok"


async def test_openapi_document_has_examples(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    assert "/v1/payments" in document["paths"]
    assert document["components"]["schemas"]["PaymentIn"]["examples"]


async def test_balances_show_chain_and_queued_amounts(
    api: httpx.AsyncClient, coin: StablecoinContract, payer: LocalAccount
) -> None:
    payee = Account.create().address
    body = as_json(await authorized_payment(coin, payer, payee, "bal-1", 2_500))
    assert (await api.post("/v1/payments", json=body)).status_code == 201
    balance = (await api.get(f"/v1/balances/{payer.address.lower()}")).json()
    assert balance["address"] == payer.address
    assert balance["token"] == coin.address
    assert balance["balance_base_units"] == await coin.balance_of(payer.address)
    assert balance["queued_outgoing_base_units"] == 2_500
    wrong = await api.get("/v1/balances/0x1234")
    assert wrong.status_code == 422

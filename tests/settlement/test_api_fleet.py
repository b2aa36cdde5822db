"""The routes a fleet driving the service over HTTP uses: signing terms, the dev-chain faucet,
bulk lookup, and direct payments submitted through the API. Real service, Anvil, both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.api.app import create_app
from settlement.chain.stablecoin import StablecoinContract
from tests.settlement.api_helpers import EscrowedService, as_json, direct_payment, fleet_app

pytestmark = pytest.mark.anvil

OPERATOR_KEY = "fleet-operator-key"
OPERATOR = {"X-API-Key": OPERATOR_KEY}


@pytest.fixture
async def api(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> AsyncIterator[httpx.AsyncClient]:
    app = fleet_app(escrowed, coin, admin, OPERATOR_KEY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as client:
        yield client


async def test_terms_name_the_chain_token_domains_and_modes(
    api: httpx.AsyncClient, escrowed: EscrowedService, coin: StablecoinContract
) -> None:
    terms = (await api.get("/v1/terms")).json()
    assert terms["chain_id"] == 31337
    assert terms["token"] == coin.address
    assert terms["token_domain"]["verifying_contract"] == coin.address
    assert terms["token_domain"]["name"] == coin.domain.name
    assert terms["channels_domain"]["verifying_contract"] == escrowed.channels.address
    assert terms["net_domain"]["verifying_contract"] == escrowed.net.address
    assert terms["ledger_domain"]["name"] == "Robot Ledger"
    assert terms["modes"] == ["direct", "authorization", "batch", "channel", "net", "ledger"]
    assert terms["faucet"] is True
    latest = await coin.client.latest_block_timestamp()
    assert abs(terms["chain_time"] - latest) <= 2
    assert terms["max_fee_per_gas_wei"] >= terms["max_priority_fee_per_gas_wei"] > 0


async def test_faucet_tops_up_to_a_balance_so_a_resent_grant_funds_once(
    api: httpx.AsyncClient, coin: StablecoinContract
) -> None:
    robot = Account.create().address
    grant = {"grants": [{"address": robot, "token_base_units": 5_000, "ether_wei": 10**18}]}
    refused = await api.post("/v1/faucet", json=grant)
    assert refused.status_code == 401

    first = await api.post("/v1/faucet", json=grant, headers=OPERATOR)
    assert first.status_code == 200, first.text
    assert first.json()["minted_base_units"] == 5_000
    assert first.json()["ether_topped_up"] == 1
    again = (await api.post("/v1/faucet", json=grant, headers=OPERATOR)).json()
    assert (again["minted_base_units"], again["ether_topped_up"]) == (0, 0)
    assert await coin.balance_of(robot) == 5_000
    assert await coin.client.balance_wei(robot) == 10**18


@pytest.mark.parametrize(
    ("grant", "status"),
    [
        ({"address": "0x1234", "token_base_units": 1}, 422),
        ({"address": "0x" + "ab" * 20, "token_base_units": -1}, 422),
        ({"address": "0x" + "ab" * 20, "token_base_units": 10**16}, 422),
        ({"address": "0x" + "aB" * 20, "token_base_units": 1}, 400),  # bad checksum
    ],
)
async def test_faucet_refuses_bad_grants(
    api: httpx.AsyncClient, grant: dict[str, object], status: int
) -> None:
    response = await api.post("/v1/faucet", json={"grants": [grant]}, headers=OPERATOR)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


async def test_no_faucet_without_one_configured(
    escrowed: EscrowedService,
) -> None:
    app = create_app(escrowed.service, OPERATOR_KEY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as api:
        grant = {"grants": [{"address": Account.create().address, "token_base_units": 1}]}
        response = await api.post("/v1/faucet", json=grant, headers=OPERATOR)
        assert response.status_code == 404
        assert "dev chain" in response.json()["detail"]
        assert (await api.get("/v1/terms")).json()["faucet"] is False


async def test_a_direct_payment_through_the_api_settles_and_looks_up_with_its_gas(
    api: httpx.AsyncClient, coin: StablecoinContract, payer: LocalAccount
) -> None:
    await api.post(
        "/v1/faucet",
        json={"grants": [{"address": payer.address, "token_base_units": 1, "ether_wei": 10**18}]},
        headers=OPERATOR,
    )
    payee = Account.create().address
    body = as_json(direct_payment(coin, payer, payee, "fleet-direct-1", 777, 0))
    created = await api.post("/v1/payments", json=body)
    assert created.status_code == 201, created.text
    payment_id = created.json()["payment_id"]
    await api.post("/v1/windows/flush", headers=OPERATOR)

    unknown = "0x" + "00" * 32
    lookup = await api.post("/v1/payments/lookup", json={"payment_ids": [payment_id, unknown]})
    assert lookup.status_code == 200, lookup.text
    (found,) = lookup.json()["payments"]
    assert lookup.json()["unknown"] == [unknown]
    assert found["payment"]["state"] == "confirmed"
    receipt = await coin.client.w3.eth.get_transaction_receipt(found["tx_hash"])
    assert found["transaction_gas_used"] == receipt["gasUsed"]
    assert found["payments_in_transaction"] == 1
    assert await coin.balance_of(payee) == 777


@pytest.mark.parametrize(
    "instrument",
    [
        {"mode": "direct", "raw_transaction": "0x"},
        {"mode": "direct", "raw_transaction": "0x" + "ab" * 1_025},
        {"mode": "direct", "raw_transaction": "not hex"},
        {"mode": "direct"},
    ],
)
async def test_malformed_direct_instruments_are_refused(
    api: httpx.AsyncClient, payer: LocalAccount, instrument: dict[str, object]
) -> None:
    body = {
        "idempotency_key": "bad-direct",
        "payer": payer.address,
        "payee": Account.create().address,
        "amount_base_units": 1,
        "instrument": instrument,
    }
    response = await api.post("/v1/payments", json=body)
    assert response.status_code == 422, response.text


async def test_lookup_bounds_its_ids(api: httpx.AsyncClient) -> None:
    too_many = {"payment_ids": ["0x" + f"{n:064x}" for n in range(1_001)]}
    assert (await api.post("/v1/payments/lookup", json=too_many)).status_code == 422
    assert (await api.post("/v1/payments/lookup", json={"payment_ids": []})).status_code == 422
    malformed = {"payment_ids": ["0x1234"]}
    assert (await api.post("/v1/payments/lookup", json=malformed)).status_code == 422


async def test_the_dashboard_shows_a_settlement_and_links_its_transaction(
    api: httpx.AsyncClient, coin: StablecoinContract, payer: LocalAccount
) -> None:
    await api.post(
        "/v1/faucet",
        json={"grants": [{"address": payer.address, "token_base_units": 1, "ether_wei": 10**18}]},
        headers=OPERATOR,
    )
    body = as_json(direct_payment(coin, payer, Account.create().address, "dash-1", 555, 0))
    payment_id = (await api.post("/v1/payments", json=body)).json()["payment_id"]
    await api.post("/v1/windows/flush", headers=OPERATOR)

    board = (await api.get("/v1/dashboard")).json()
    (direct,) = [mode for mode in board["modes"] if mode["mode"] == "direct"]
    assert direct["counts"]["confirmed"] >= 1
    assert sum(direct["settled_per_s"]) >= 1
    assert len(direct["settled_per_s"]) == board["window_s"]
    assert direct["latency_ms_p50"] > 0
    latest = board["recent_transactions"][0]
    receipt = await coin.client.w3.eth.get_transaction_receipt(latest["tx_hash"])
    assert latest["gas_used"] == receipt["gasUsed"]
    assert direct["gas_per_payment"] > 0

    details = (await api.get(latest["details_url"])).json()
    assert details["payment_ids"] == [payment_id]
    assert details["fee_wei"] == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert (await api.get("/v1/transactions/0x" + "00" * 32)).status_code == 404
    assert (await api.get("/v1/transactions/0x12")).status_code == 422
    page = await api.get("/dashboard")
    assert page.status_code == 200
    assert 'id="throughput"' in page.text

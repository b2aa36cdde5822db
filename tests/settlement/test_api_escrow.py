"""Channel and net modes over HTTP: funding routes, vouchers and net payments, refusals as 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.api.app import create_app
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import Purpose, SettlementMode
from settlement.store import SqlPaymentStore
from settlement.wallet import ChainTerms, PayerWallet
from tests.settlement.api_helpers import (
    EscrowedService,
    as_json,
    funded_wallet,
    make_service,
    terms_for,
)

pytestmark = pytest.mark.anvil

OPERATOR_KEY = "escrow-operator-key"
FLUSH = {"X-API-Key": OPERATOR_KEY}


@pytest.fixture
async def api(escrowed: EscrowedService) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(escrowed.service, OPERATOR_KEY, escrowed.escrow)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as client:
        yield client


async def open_over_http(
    api: httpx.AsyncClient, wallet: PayerWallet, payee: str, deposit: int, terms: ChainTerms
) -> httpx.Response:
    salt, signed = wallet.channel_funding(payee, deposit, terms)
    body = {"payee": payee, "salt": "0x" + salt.hex(), "funding": signed.as_json()}
    return await api.post("/v1/channels", json=body)


async def test_open_pay_claim_and_read_a_channel_over_http(
    api: httpx.AsyncClient, escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    payee = Account.create().address
    opened = await open_over_http(api, wallet, payee, 50_000, terms)
    assert opened.status_code == 201, opened.text
    channel = opened.json()
    assert (channel["payer"], channel["payee"]) == (wallet.address, payee)
    assert (channel["deposit_base_units"], channel["accepted_base_units"]) == (50_000, 0)

    for n in range(3):
        submission = wallet.submission(
            SettlementMode.CHANNEL, f"h-{n}", payee, 1_000, Purpose.ENERGY, terms
        )
        created = await api.post("/v1/payments", json=as_json(submission))
        assert created.status_code == 201, created.text
    wallet.channels[payee].promised_base_units = 1_000  # signs a voucher for 1,500, not 3,500
    behind = wallet.submission(SettlementMode.CHANNEL, "h-x", payee, 500, Purpose.ENERGY, terms)
    refused = await api.post("/v1/payments", json=as_json(behind))
    assert refused.status_code == 400
    assert "voucher out of order" in refused.json()["detail"]

    flushed = await api.post("/v1/windows/flush?mode=channel", headers=FLUSH)
    assert flushed.json()["rounds"][0]["settled"] == 3
    state = (await api.get(f"/v1/channels/{channel['channel_id']}")).json()
    assert (state["claimed_base_units"], state["accepted_base_units"]) == (3_000, 3_000)
    assert await coin.balance_of(payee) == 3_000


async def test_funding_with_a_bad_signature_or_a_reused_channel_is_a_400(
    api: httpx.AsyncClient, escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    payee = Account.create().address
    salt, signed = wallet.channel_funding(payee, 10_000, terms)
    body = {"payee": payee, "salt": "0x" + salt.hex(), "funding": signed.as_json()}
    other_salt = dict(body, salt="0x" + "00" * 32)
    forged = await api.post("/v1/channels", json=other_salt)
    assert forged.status_code == 400
    assert forged.json()["detail"].startswith("signed by 0x")
    assert (await api.post("/v1/channels", json=body)).status_code == 201
    again = await api.post("/v1/channels", json=body)
    assert again.status_code == 400
    assert again.json()["detail"].startswith("the contract refused: reverted with")
    unknown = await api.get("/v1/channels/0x" + "cd" * 32)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no open channel 0x" + "cd" * 32


async def test_deposit_pay_and_settle_a_net_window_over_http(
    api: httpx.AsyncClient, escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin, 5_000)
    signed = wallet.net_deposit(5_000, terms)
    deposited = await api.post(
        "/v1/net/deposits", json={"nonce": "0x" + signed.nonce.hex(), "funding": signed.as_json()}
    )
    assert deposited.status_code == 201, deposited.text
    assert deposited.json()["deposit_base_units"] == 5_000
    payee = Account.create().address

    paid = wallet.submission(SettlementMode.NET, "net-1", payee, 4_000, Purpose.GOODS, terms)
    assert (await api.post("/v1/payments", json=as_json(paid))).status_code == 201
    over = wallet.submission(SettlementMode.NET, "net-2", payee, 2_000, Purpose.GOODS, terms)
    refused = await api.post("/v1/payments", json=as_json(over))
    assert refused.status_code == 400
    assert "insufficient net-settlement deposit" in refused.json()["detail"]
    account = (await api.get(f"/v1/net/accounts/{wallet.address}")).json()
    assert (account["deposit_base_units"], account["committed_base_units"]) == (5_000, 4_000)

    payment_id = "0x" + paid.intent.payment_id.hex()
    early = await api.get(f"/v1/payments/{payment_id}/inclusion")
    assert early.status_code == 404
    assert early.json()["detail"] == f"payment {payment_id} is queued, in no settled window"

    flushed = await api.post("/v1/windows/flush?mode=net", headers=FLUSH)
    assert flushed.json()["rounds"][0]["settled"] == 1
    payee_account = (await api.get(f"/v1/net/accounts/{payee}")).json()
    assert payee_account["deposit_base_units"] == 4_000
    inclusion = (await api.get(f"/v1/payments/{payment_id}/inclusion")).json()
    assert inclusion["verified_on_chain"] is True
    assert (inclusion["leaf_index"], inclusion["proof"]) == (0, [])
    assert inclusion["window_id"] == await escrowed.net.next_window_id() - 1


async def test_escrow_routes_answer_404_where_the_modes_are_not_served(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> None:
    app = create_app(make_service(store, chain, coin, admin), OPERATOR_KEY)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://settlement"
    ) as client:
        response = await client.get("/v1/channels/0x" + "ab" * 32)
    assert response.status_code == 404
    assert response.json()["detail"] == "channel and net modes are not served here"

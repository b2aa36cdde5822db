"""Bad input against every route: each request gets a 4xx with a reason and changes nothing.

One table of cases (``bad_requests``) runs against a service with every mode, on SQLite and on
PostgreSQL. For every case: the status is the expected 4xx, the body gives a reason containing
the expected words, and nothing changed: payments by mode and state (through the API and in the
store), token, escrow and ledger balances of every account involved, the channel's accepted
total and the payer's nonce, compared before the request and after a settlement flush (so a
payment accepted by mistake would settle and show). Two more phases run the token's own refusals:
while it is paused, and for blocklisted accounts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from settlement.chain.payment_channels import channel_id_of, top_up_nonce_of
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.eip712 import Eip712Domain
from settlement.domain.messages import AuthorizationKind, TransferAuthorization, random_nonce
from settlement.ledger import Ledger
from settlement.store import SqlPaymentStore
from settlement.wallet import PayerWallet
from tests.settlement.api_helpers import EscrowedService, fleet_app, funded, terms_for
from tests.settlement.bad_input_world import (
    CANCELLED_BATCH_NONCE,
    OPERATOR,
    OPERATOR_KEY,
    Case,
    Forge,
    World,
    cancel_authorization,
    cancel_batch_nonce,
    flush,
    send,
    snapshot,
    stranger,
    wrong_domain,
)

pytestmark = pytest.mark.anvil

PAYER_TOKENS = 1_000_000
CHANNEL_DEPOSIT = 10_000
NET_DEPOSIT = 5_000
LEDGER_DEPOSIT = 2_000
ETHER_WEI = 10**18
UINT256_OVER = 2**256
INT64_OVER = 2**63


@pytest.fixture
async def world(
    escrowed: EscrowedService,
    coin: StablecoinContract,
    admin: LocalAccount,
    store: SqlPaymentStore,
    service_ledger: Ledger,
) -> AsyncIterator[World]:
    app = fleet_app(escrowed, coin, admin, OPERATOR_KEY)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://settlement"
    ) as api:
        built = await _build_world(api, escrowed, coin, admin, store, service_ledger)
        yield built


async def _build_world(
    api: httpx.AsyncClient,
    escrowed: EscrowedService,
    coin: StablecoinContract,
    admin: LocalAccount,
    store: SqlPaymentStore,
    ledger: Ledger,
) -> World:
    payer = await funded(coin, admin, PAYER_TOKENS)
    blocked_payer = await funded(coin, admin, PAYER_TOKENS)
    no_ether = await funded(coin, admin, PAYER_TOKENS)
    grants = [
        {"address": account.address, "token_base_units": 0, "ether_wei": ETHER_WEI}
        for account in (payer, blocked_payer)
    ]
    granted = await api.post("/v1/faucet", json={"grants": grants}, headers=OPERATOR)
    assert granted.status_code == 200, granted.text
    world = World(
        api=api,
        escrowed=escrowed,
        coin=coin,
        admin=admin,
        store=store,
        ledger=ledger,
        terms=await terms_for(coin, escrowed),
        payer=payer,
        payee=stranger().address,
        channel_id=b"",
        channel_accepted=0,
        net_deposit=NET_DEPOSIT,
        ledger_deposit=LEDGER_DEPOSIT,
        cancelled_authorization_nonce=random_nonce(),
        spent_transaction_nonce=0,
        no_ether=no_ether,
        blocked_payer=blocked_payer,
        blocked_payee=stranger().address,
        settled_key="settled-authorization",
    )
    await _fund_escrow_and_ledger(world)
    await _settle_a_payment_of_each_escrowed_kind(world)
    await cancel_authorization(world, world.cancelled_authorization_nonce)
    # The payer's own transaction: its nonce 0 is mined, and bitmap nonce 5 cancelled.
    await cancel_batch_nonce(coin, payer, CANCELLED_BATCH_NONCE)
    await coin.blocklist(admin, blocked_payer.address)
    await coin.blocklist(admin, world.blocked_payee)
    return world


async def _fund_escrow_and_ledger(world: World) -> None:
    wallet = PayerWallet(world.payer.key)
    salt, funding = wallet.channel_funding(world.payee, CHANNEL_DEPOSIT, world.terms)
    opened = await world.api.post(
        "/v1/channels",
        json={"payee": world.payee, "salt": "0x" + salt.hex(), "funding": funding.as_json()},
    )
    assert opened.status_code == 201, opened.text
    world.channel_id = wallet.channels[world.payee].channel_id
    signed = wallet.net_deposit(NET_DEPOSIT, world.terms)
    deposited = await world.api.post(
        "/v1/net/deposits", json={"nonce": "0x" + signed.nonce.hex(), "funding": signed.as_json()}
    )
    assert deposited.status_code == 201, deposited.text
    ledger_deposit = {
        "address": world.payer.address,
        "amount_base_units": LEDGER_DEPOSIT,
        "reference": "bad-input-funding",
    }
    credited = await world.api.post("/v1/ledger/deposits", json=ledger_deposit, headers=OPERATOR)
    assert credited.status_code == 201, credited.text


async def _settle_a_payment_of_each_escrowed_kind(world: World) -> None:
    """An authorization payment and a voucher, accepted and settled before the table runs, so
    conflicting reuses of their keys and out-of-order vouchers have something to conflict with."""
    forge = Forge(world)
    for body in (
        forge.authorization(world.settled_key, 100),
        forge.voucher("settled-voucher", 1_000, 1_000),
    ):
        accepted = await world.api.post("/v1/payments", json=body)
        assert accepted.status_code == 201, accepted.text
    world.channel_accepted = 1_000
    rounds = await flush(world)
    assert rounds["authorization"]["settled"] == 1
    assert rounds["channel"]["settled"] == 1


def pay(name: str, status: int, reason: str, **fields: Any) -> Case:
    """A case for ``POST /v1/payments``, the route most bad input arrives at."""
    return Case(name, "POST", "/v1/payments", status, reason, **fields)


def bad_requests(world: World) -> list[Case]:
    """Every route's bad input, the status it must get and words its reason must contain."""
    return [
        *_malformed_bodies(),
        *_wrong_types_and_overflows(world),
        *_oversized(world),
        *_bad_addresses(world),
        *_bad_signatures_and_domains(world),
        *_bad_windows(world),
        *_replays_and_conflicts(world),
        *_insufficient_funds(world),
        *_channels(world),
        *_other_routes(world),
        *_x402_requests(),
    ]


def _x402_requests() -> list[Case]:
    """The facilitator's routes refuse a body that is not an x402 request; a bad payment in a
    well-formed one is an answer (``tests/settlement/x402``), not a 4xx."""
    return [
        Case(
            "x402 verify, broken JSON",
            "POST",
            "/x402/verify",
            422,
            "not an x402 VerifyRequest",
            content=b"{no",
            headers=JSON,
        ),
        Case(
            "x402 verify without a payload",
            "POST",
            "/x402/verify",
            422,
            "paymentPayload",
            body={"x402Version": 2, "paymentRequirements": {}},
        ),
        Case(
            "x402 settle with a payload that is a number",
            "POST",
            "/x402/settle",
            422,
            "not an x402 SettleRequest",
            body={"x402Version": 2, "paymentPayload": 7, "paymentRequirements": 8},
        ),
    ]


POST_ROUTES = [
    "/v1/payments",
    "/v1/payments/batch",
    "/v1/payments/lookup",
    "/v1/channels",
    "/v1/channels/0x" + "ab" * 32 + "/top-ups",
    "/v1/net/deposits",
    "/v1/ledger/deposits",
    "/v1/faucet",
]
JSON = {"Content-Type": "application/json"}


def _malformed_bodies() -> list[Case]:
    cases = []
    for path in POST_ROUTES:
        headers = {**JSON, **OPERATOR}
        cases += [
            Case(
                f"broken JSON {path}",
                "POST",
                path,
                422,
                "JSON decode error",
                content=b"{no",
                headers=headers,
            ),
            Case(
                f"empty body {path}",
                "POST",
                path,
                422,
                "Field required",
                content=b"",
                headers=headers,
            ),
            Case(
                f"array body {path}",
                "POST",
                path,
                422,
                "valid dictionary",
                content=b"[1, 2]",
                headers=headers,
            ),
        ]
    nested = b"[" * 30_000 + b"]" * 30_000
    cases.append(
        pay("JSON nested 30,000 deep", 422, "valid dictionary", content=nested, headers=JSON)
    )
    return cases


def _wrong_types_and_overflows(world: World) -> list[Case]:
    forge = Forge(world)
    good = forge.authorization("types-1", 10)

    def payment(**changes: object) -> dict[str, object]:
        return {**good, **changes}

    def instrument(**changes: object) -> dict[str, object]:
        return payment(instrument={**good["instrument"], **changes})

    batch = forge.batch("types-2", 10, 900)
    amount = "body.amount_base_units"
    return [
        pay("amount as a string", 422, amount, body=payment(amount_base_units="10")),
        pay("amount as a float", 422, amount, body=payment(amount_base_units=10.0)),
        pay("amount as a boolean", 422, amount, body=payment(amount_base_units=True)),
        Case(
            "amount null", "POST", "/v1/payments", 422, amount, body=payment(amount_base_units=None)
        ),
        Case("amount zero", "POST", "/v1/payments", 422, amount, body=payment(amount_base_units=0)),
        pay("amount negative", 422, amount, body=payment(amount_base_units=-1)),
        pay("amount over int64", 422, amount, body=payment(amount_base_units=INT64_OVER)),
        pay("amount over uint256", 422, amount, body=payment(amount_base_units=UINT256_OVER)),
        pay(
            "amount of 5,000 digits",
            400,
            "error parsing the body",
            content=b'{"amount_base_units": ' + b"9" * 5_000 + b"}",
            headers=JSON,
        ),
        pay("purpose unknown", 422, "body.purpose", body=payment(purpose="bribes")),
        pay("key with spaces", 422, "body.idempotency_key", body=payment(idempotency_key="a key")),
        pay("key too long", 422, "body.idempotency_key", body=payment(idempotency_key="k" * 129)),
        Case("unknown field", "POST", "/v1/payments", 422, "Extra inputs", body=payment(tip=1)),
        pay("unknown mode", 422, "body.instrument", body=instrument(mode="teleport")),
        pay(
            "instrument missing",
            422,
            "body.instrument",
            body={k: v for k, v in good.items() if k != "instrument"},
        ),
        pay(
            "valid_before as a string",
            422,
            "valid_before",
            body=instrument(valid_before=str(good["instrument"]["valid_before"])),
        ),
        pay("valid_before over uint64", 422, "valid_before", body=instrument(valid_before=2**64)),
        pay("nonce not 32 bytes", 422, "nonce", body=instrument(nonce="0x1234")),
        pay("signature short", 422, "signature", body=instrument(signature="0x" + "11" * 64)),
        pay(
            "batch nonce over uint256",
            422,
            "nonce",
            body={**batch, "instrument": {**batch["instrument"], "nonce": UINT256_OVER}},
        ),
        pay(
            "batch nonce too wide to pack",
            400,
            "instrument.nonce must be below 2**88 to be packed in a batch",
            body={**batch, "instrument": {**batch["instrument"], "nonce": 2**88}},
        ),
        pay(
            "batch nonce negative",
            422,
            "nonce",
            body={**batch, "instrument": {**batch["instrument"], "nonce": -1}},
        ),
        pay(
            "voucher total over uint96",
            422,
            "cumulative_amount",
            body=forge.voucher("types-3", 1, 2**96),
        ),
        pay(
            "voucher total over int64",
            400,
            "exceeds the channel deposit",
            body=forge.voucher("types-4", 1, INT64_OVER),
        ),
        pay(
            "direct transaction not hex",
            422,
            "raw_transaction",
            body=payment(instrument={"mode": "direct", "raw_transaction": "0xzz"}),
        ),
        pay(
            "direct transaction not RLP",
            400,
            "not valid RLP",
            body=payment(instrument={"mode": "direct", "raw_transaction": "0x02ff"}),
        ),
        Case(
            "ledger deposit over int64",
            "POST",
            "/v1/ledger/deposits",
            422,
            "amount_base_units",
            headers=OPERATOR,
            body={
                "address": world.payer.address,
                "amount_base_units": INT64_OVER,
                "reference": "r-1",
            },
        ),
        Case(
            "ledger deposit as a float",
            "POST",
            "/v1/ledger/deposits",
            422,
            "amount_base_units",
            headers=OPERATOR,
            body={"address": world.payer.address, "amount_base_units": 5.0, "reference": "r-1"},
        ),
        Case(
            "faucet grant negative",
            "POST",
            "/v1/faucet",
            422,
            "token_base_units",
            headers=OPERATOR,
            body={"grants": [{"address": world.payee, "token_base_units": -1}]},
        ),
        Case(
            "faucet grant over its cap",
            "POST",
            "/v1/faucet",
            422,
            "token_base_units",
            headers=OPERATOR,
            body={"grants": [{"address": world.payee, "token_base_units": 10**16}]},
        ),
        Case(
            "faucet ether as a string",
            "POST",
            "/v1/faucet",
            422,
            "ether_wei",
            headers=OPERATOR,
            body={"grants": [{"address": world.payee, "token_base_units": 0, "ether_wei": "1"}]},
        ),
        Case(
            "channel deposit over int64",
            "POST",
            "/v1/channels",
            422,
            "amount_base_units",
            body=_channel_open(world, amount=INT64_OVER),
        ),
    ]


def _oversized(world: World) -> list[Case]:
    forge = Forge(world)
    payment = forge.authorization("big-1", 10)
    padding = {"purpose": "energy" + " " * 70_000}
    return [
        pay(
            "payment body over 64 KiB",
            413,
            "65,536 bytes",
            content=b'{"pad": "' + b"x" * 70_000 + b'"}',
            headers=JSON,
        ),
        pay("padded payment over 64 KiB", 413, "65,536 bytes", body={**payment, **padding}),
        Case(
            "channel body over 64 KiB",
            "POST",
            "/v1/channels",
            413,
            "65,536 bytes",
            content=b" " * 70_000,
            headers=JSON,
        ),
        Case(
            "batch body over 4 MiB",
            "POST",
            "/v1/payments/batch",
            413,
            "4,194,304 bytes",
            body={"payments": [payment] * 9_000},
        ),
        Case(
            "batch of 1,001 payments",
            "POST",
            "/v1/payments/batch",
            422,
            "at most 1000",
            body={"payments": [payment] * 1_001},
        ),
        Case(
            "batch of none", "POST", "/v1/payments/batch", 422, "at least 1", body={"payments": []}
        ),
        Case(
            "lookup of 1,001 ids",
            "POST",
            "/v1/payments/lookup",
            422,
            "at most 1000",
            body={"payment_ids": ["0x" + f"{n:064x}" for n in range(1_001)]},
        ),
        Case(
            "faucet of 1,001 grants",
            "POST",
            "/v1/faucet",
            422,
            "at most 1000",
            headers=OPERATOR,
            body={"grants": [{"address": world.payee, "token_base_units": 0}] * 1_001},
        ),
        Case(
            "body on a GET over 64 KiB",
            "GET",
            "/v1/stats",
            413,
            "65,536 bytes",
            content=b"x" * 70_000,
        ),
    ]


def _bad_addresses(world: World) -> list[Case]:
    forge = Forge(world)
    payment = forge.authorization("addr-1", 10)
    swapped = "0x" + world.payee[2:].swapcase()
    return [
        pay("payer not an address", 422, "body.payer", body={**payment, "payer": "0x1234"}),
        pay("payee without 0x", 422, "body.payee", body={**payment, "payee": world.payee[2:]}),
        pay("payee wrong checksum", 400, "EIP-55 checksum", body={**payment, "payee": swapped}),
        pay(
            "payer pays itself",
            400,
            "payer and payee must differ",
            body=forge.authorization("addr-2", 10, payee=world.payer.address),
        ),
        Case(
            "channel payee wrong checksum",
            "POST",
            "/v1/channels",
            400,
            "EIP-55 checksum",
            body={**_channel_open(world), "payee": swapped},
        ),
        Case(
            "ledger deposit wrong checksum",
            "POST",
            "/v1/ledger/deposits",
            400,
            "EIP-55",
            headers=OPERATOR,
            body={"address": swapped, "amount_base_units": 1, "reference": "r-2"},
        ),
        Case(
            "faucet wrong checksum",
            "POST",
            "/v1/faucet",
            400,
            "EIP-55",
            headers=OPERATOR,
            body={"grants": [{"address": swapped, "token_base_units": 1}]},
        ),
        Case("balances wrong checksum", "GET", f"/v1/balances/{swapped}", 400, "EIP-55"),
        Case("balances short address", "GET", "/v1/balances/0x1234", 422, "path.address"),
        Case(
            "payer's payments wrong checksum",
            "GET",
            f"/v1/payers/{swapped}/payments",
            400,
            "EIP-55",
        ),
        Case("net account wrong checksum", "GET", f"/v1/net/accounts/{swapped}", 400, "EIP-55"),
        Case(
            "ledger account wrong checksum", "GET", f"/v1/ledger/accounts/{swapped}", 400, "EIP-55"
        ),
        Case(
            "ledger account not hex",
            "GET",
            "/v1/ledger/accounts/0x" + "zz" * 20,
            422,
            "path.address",
        ),
    ]


def _bad_signatures_and_domains(world: World) -> list[Case]:
    forge, terms, other = Forge(world), world.terms, stranger()
    token_domain, nonce = terms.token_domain, forge.next_nonce()
    return [
        pay(
            "authorization signed by another",
            400,
            "signed by",
            body=forge.authorization("sig-1", 10, signer=other),
        ),
        pay(
            "authorization for chain 1",
            400,
            "signed by",
            body=forge.authorization("sig-2", 10, domain=wrong_domain(token_domain, chain_id=1)),
        ),
        pay(
            "authorization for another contract",
            400,
            "signed by",
            body=forge.authorization(
                "sig-3",
                10,
                domain=wrong_domain(token_domain, verifying_contract=world.escrowed.net.address),
            ),
        ),
        pay(
            "authorization under another name",
            400,
            "signed by",
            body=forge.authorization("sig-4", 10, domain=wrong_domain(token_domain, name="USDC")),
        ),
        pay(
            "authorization under version 2",
            400,
            "signed by",
            body=forge.authorization("sig-5", 10, domain=wrong_domain(token_domain, version="2")),
        ),
        pay(
            "authorization signature zeroed",
            400,
            "signature",
            body={
                **(a := forge.authorization("sig-6", 10)),
                "instrument": {**a["instrument"], "signature": "0x" + "00" * 65},
            },
        ),
        pay(
            "batch payment signed by another",
            400,
            "signed by",
            body=forge.batch("sig-7", 10, 901, signer=other),
        ),
        pay(
            "batch payment for chain 1",
            400,
            "signed by",
            body=forge.batch("sig-8", 10, 902, domain=wrong_domain(token_domain, chain_id=1)),
        ),
        pay(
            "voucher signed by another",
            400,
            "signed by",
            body=forge.voucher("sig-9", 10, world.channel_accepted + 10, signer=other),
        ),
        pay(
            "voucher under the token's domain",
            400,
            "signed by",
            body=forge.voucher("sig-10", 10, world.channel_accepted + 10, domain=token_domain),
        ),
        pay(
            "net payment under the ledger's domain",
            400,
            "signed by",
            body=forge.off_chain("net", "sig-11", 10, domain=terms.ledger_domain),
        ),
        pay(
            "ledger payment under the net domain",
            400,
            "signed by",
            body=forge.off_chain("ledger", "sig-12", 10, domain=terms.net_domain),
        ),
        pay(
            "net payment signed by another",
            400,
            "signed by",
            body=forge.off_chain("net", "sig-13", 10, signer=other),
        ),
        pay(
            "direct transaction for chain 1",
            400,
            "for chain 1",
            body=forge.direct("sig-14", 10, nonce, chain_id=1),
        ),
        pay(
            "direct transaction to another contract",
            400,
            "must call the stablecoin",
            body=forge.direct("sig-15", 10, nonce, to=world.escrowed.net.address),
        ),
        pay(
            "direct transaction by another",
            400,
            "is signed by",
            body={**forge.direct("sig-16", 10, 0, payer=other), "payer": world.payer.address},
        ),
        Case(
            "channel funding signed by another",
            "POST",
            "/v1/channels",
            400,
            "signed by",
            body=_channel_open(world, signer=other),
        ),
        Case(
            "net deposit for chain 1",
            "POST",
            "/v1/net/deposits",
            400,
            "signed by",
            body=_net_deposit(world, domain=wrong_domain(token_domain, chain_id=1)),
        ),
    ]


def _bad_windows(world: World) -> list[Case]:
    forge, now = Forge(world), world.terms.chain_time
    return [
        pay(
            "authorization expired",
            400,
            "too soon to settle",
            body=forge.authorization("win-1", 10, valid_after=now - 100, valid_before=now - 50),
        ),
        pay(
            "authorization about to expire",
            400,
            "too soon to settle",
            body=forge.authorization("win-2", 10, valid_before=now + 5),
        ),
        pay(
            "authorization not valid yet",
            400,
            "not valid yet",
            body=forge.authorization("win-3", 10, valid_after=now + 600),
        ),
        pay(
            "batch payment expired",
            400,
            "too soon to settle",
            body=forge.batch("win-4", 10, 903, valid_before=now - 1),
        ),
        pay(
            "net payment expired",
            400,
            "too soon to settle",
            body=forge.off_chain("net", "win-5", 10, valid_before=now - 1),
        ),
        pay(
            "ledger payment expired",
            400,
            "too soon to settle",
            body=forge.off_chain("ledger", "win-6", 10, valid_before=now),
        ),
        Case(
            "channel funding expired",
            "POST",
            "/v1/channels",
            400,
            "the contract refused",
            body=_channel_open(world, valid_after=now - 100, valid_before=now - 50),
        ),
        Case(
            "net deposit not valid yet",
            "POST",
            "/v1/net/deposits",
            400,
            "the contract refused",
            body=_net_deposit(world, valid_after=now + 600),
        ),
    ]


def _replays_and_conflicts(world: World) -> list[Case]:
    forge = Forge(world)
    settled_again = forge.authorization(world.settled_key, 101)
    return [
        pay(
            "authorization nonce cancelled on chain",
            400,
            "already used or cancelled on chain",
            body=forge.authorization("replay-1", 10, nonce=world.cancelled_authorization_nonce),
        ),
        pay(
            "batch nonce cancelled on chain",
            400,
            "already used or cancelled on chain",
            body=forge.batch("replay-2", 10, 5),
        ),
        pay(
            "direct nonce already mined",
            400,
            "already used on chain (its next nonce is 1)",
            body=forge.direct("replay-3", 10, world.spent_transaction_nonce),
        ),
        pay(
            "key reused for another amount",
            409,
            "idempotency key already used for a different payment",
            body=settled_again,
        ),
        Case(
            "key reused, in a batch",
            "POST",
            "/v1/payments/batch",
            409,
            "idempotency key already used",
            body={"payments": [settled_again]},
            result=True,
        ),
        pay(
            "voucher key reused for another total",
            409,
            "idempotency key already used",
            body=forge.voucher("settled-voucher", 500, 1_500),
        ),
        Case(
            "ledger deposit reference reused",
            "POST",
            "/v1/ledger/deposits",
            409,
            "exists_with_different_amount",
            headers=OPERATOR,
            body={
                "address": world.payer.address,
                "amount_base_units": 1,
                "reference": "bad-input-funding",
            },
        ),
    ]


def _insufficient_funds(world: World) -> list[Case]:
    forge, too_much = Forge(world), PAYER_TOKENS + 1
    return [
        pay(
            "authorization beyond the balance",
            400,
            "insufficient balance",
            body=forge.authorization("funds-1", too_much),
        ),
        pay(
            "batch payment beyond the balance",
            400,
            "insufficient balance",
            body=forge.batch("funds-2", too_much, 904),
        ),
        pay(
            "direct payment beyond the balance",
            400,
            "insufficient balance",
            body=forge.direct("funds-3", too_much, forge.next_nonce()),
        ),
        pay(
            "direct payer without ether for gas",
            400,
            "its transaction's gas may cost",
            body=forge.direct("funds-4", 10, 0, payer=world.no_ether),
        ),
        pay(
            "net payment beyond the deposit",
            400,
            "insufficient net-settlement deposit",
            body=forge.off_chain("net", "funds-5", world.net_deposit + 1),
        ),
        pay(
            "ledger payment beyond the wallet",
            400,
            "insufficient ledger balance",
            body=forge.off_chain("ledger", "funds-6", world.ledger_deposit + 1),
        ),
        Case(
            "batch of one unfunded payment",
            "POST",
            "/v1/payments/batch",
            400,
            "insufficient balance",
            result=True,
            body={"payments": [forge.authorization("funds-7", too_much)]},
        ),
        Case(
            "channel deposit beyond the balance",
            "POST",
            "/v1/channels",
            400,
            "the contract refused",
            body=_channel_open(world, amount=too_much),
        ),
    ]


def _channels(world: World) -> list[Case]:
    forge, accepted = Forge(world), world.channel_accepted
    unknown = bytes.fromhex("cd" * 32)
    return [
        pay(
            "voucher on an unknown channel",
            400,
            "unknown channel",
            body=forge.voucher("ch-1", 10, 10, channel_id=unknown),
        ),
        pay(
            "voucher skipping ahead",
            400,
            "voucher out of order",
            body=forge.voucher("ch-2", 10, accepted + 20),
        ),
        pay(
            "voucher going back",
            400,
            "voucher out of order",
            body=forge.voucher("ch-3", 10, accepted - 10),
        ),
        pay(
            "voucher repeating the last total",
            400,
            "a voucher's cumulative amount includes the payment",
            body=forge.voucher("ch-4", accepted + 1, accepted),
        ),
        pay(
            "voucher beyond the deposit",
            400,
            "exceeds the channel deposit",
            body=forge.voucher("ch-5", CHANNEL_DEPOSIT, accepted + CHANNEL_DEPOSIT),
        ),
        Case(
            "top-up of an unknown channel",
            "POST",
            f"/v1/channels/0x{unknown.hex()}/top-ups",
            400,
            "the contract refused",
            body=_top_up(world, unknown),
        ),
        Case(
            "channel that is not there",
            "GET",
            f"/v1/channels/0x{unknown.hex()}",
            404,
            "no open channel",
        ),
        Case("channel id malformed", "GET", "/v1/channels/0x12", 422, "path.channel_id"),
        Case(
            "channel funding signed for another salt",
            "POST",
            "/v1/channels",
            400,
            "signed by",
            body=_channel_open(world, signed_for_another_salt=True),
        ),
    ]


def _other_routes(world: World) -> list[Case]:
    unknown = "0x" + "00" * 32
    policy = "/v1/policy?profile=base&pair_payments_per_hour=60&latency_bound_s=3600"
    return [
        Case("payment not there", "GET", f"/v1/payments/{unknown}", 404, "no payment"),
        Case("payment id malformed", "GET", "/v1/payments/0x12", 422, "path.payment_id"),
        Case(
            "cost of no payment", "GET", f"/v1/payments/{unknown}/cost", 404, "no confirmed payment"
        ),
        Case(
            "inclusion of no payment",
            "GET",
            f"/v1/payments/{unknown}/inclusion",
            404,
            "no net payment",
        ),
        Case(
            "transaction not there",
            "GET",
            f"/v1/transactions/{unknown}",
            404,
            "no settlement transaction",
        ),
        Case("transaction hash malformed", "GET", "/v1/transactions/0x12", 422, "path.tx_hash"),
        Case(
            "ledger wallet not there",
            "GET",
            f"/v1/ledger/accounts/{world.payee}",
            404,
            "has no ledger account",
        ),
        Case(
            "page of 0",
            "GET",
            f"/v1/payers/{world.payer.address}/payments?limit=0",
            422,
            "query.limit",
        ),
        Case(
            "page of 10**30",
            "GET",
            f"/v1/payers/{world.payer.address}/payments?limit=" + "1" + "0" * 30,
            422,
            "query.limit",
        ),
        Case(
            "accepted before -1",
            "GET",
            f"/v1/payers/{world.payer.address}/payments?accepted_before=-1",
            422,
            "query.accepted_before",
        ),
        Case("flush without a key", "POST", "/v1/windows/flush", 401, "X-API-Key"),
        Case(
            "flush with a wrong key",
            "POST",
            "/v1/windows/flush",
            401,
            "X-API-Key",
            headers={"X-API-Key": "guess"},
        ),
        Case(
            "flush of an unknown mode",
            "POST",
            "/v1/windows/flush?mode=barter",
            422,
            "query.mode",
            headers=OPERATOR,
        ),
        Case("reconciliation without a key", "GET", "/v1/book/reconciliation", 401, "X-API-Key"),
        Case(
            "ledger deposit without a key",
            "POST",
            "/v1/ledger/deposits",
            401,
            "X-API-Key",
            body={"address": world.payee, "amount_base_units": 1, "reference": "r-3"},
        ),
        Case(
            "faucet without a key",
            "POST",
            "/v1/faucet",
            401,
            "X-API-Key",
            body={"grants": [{"address": world.payee, "token_base_units": 1}]},
        ),
        Case(
            "policy of an unknown profile",
            "GET",
            policy.replace("base", "moonchain") + "&amount_base_units=1000",
            404,
            "moonchain",
        ),
        Case("policy amount negative", "GET", policy + "&amount_base_units=-1", 400, "amount"),
        Case(
            "policy amount over int64",
            "GET",
            policy + f"&amount_base_units={INT64_OVER}",
            400,
            "amount",
        ),
        Case(
            "policy amount of 5,000 digits",
            "GET",
            policy + "&amount_base_units=" + "9" * 5_000,
            422,
            "query.amount_base_units",
        ),
        Case(
            "policy rate not a number",
            "GET",
            policy.replace("=60", "=NaN") + "&amount_base_units=1000",
            422,
            "query.pair_payments_per_hour: Input should be a finite number",
        ),
        Case(
            "policy latency infinite",
            "GET",
            policy.replace("=3600", "=Infinity") + "&amount_base_units=1000",
            422,
            "query.latency_bound_s: Input should be a finite number",
        ),
        Case(
            "policy latency a word",
            "GET",
            policy.replace("=3600", "=soon") + "&amount_base_units=1000",
            422,
            "query.latency_bound_s",
        ),
        Case("policy without an amount", "GET", policy, 422, "query.amount_base_units"),
    ]


def _channel_open(
    world: World,
    *,
    amount: int = 1_000,
    signer: LocalAccount | None = None,
    valid_after: int | None = None,
    valid_before: int | None = None,
    signed_for_another_salt: bool = False,
) -> dict[str, object]:
    """A channel opening from the payer to a new payee, its funding signed (or wrongly) for the
    channel contract."""
    payee, salt = stranger().address, random_nonce()
    signed_salt = random_nonce() if signed_for_another_salt else salt
    funding = _funding(
        world,
        _escrow(world.terms.channels_domain),
        amount,
        channel_id_of(world.payer.address, payee, signed_salt),
        signer=signer,
        valid_after=valid_after,
        valid_before=valid_before,
    )
    return {"payee": payee, "salt": "0x" + salt.hex(), "funding": funding}


def _top_up(world: World, channel_id: bytes) -> dict[str, object]:
    salt = random_nonce()
    nonce = top_up_nonce_of(channel_id, salt)
    funding = _funding(world, _escrow(world.terms.channels_domain), 100, nonce)
    return {"top_up_salt": "0x" + salt.hex(), "funding": funding}


def _net_deposit(
    world: World, *, domain: Eip712Domain | None = None, valid_after: int | None = None
) -> dict[str, object]:
    nonce = random_nonce()
    funding = _funding(
        world, _escrow(world.terms.net_domain), 100, nonce, domain=domain, valid_after=valid_after
    )
    return {"nonce": "0x" + nonce.hex(), "funding": funding}


def _escrow(domain: Eip712Domain | None) -> str:
    assert domain is not None
    return domain.verifying_contract


def _funding(
    world: World,
    escrow: str,
    amount: int,
    nonce: bytes,
    *,
    signer: LocalAccount | None = None,
    domain: Eip712Domain | None = None,
    valid_after: int | None = None,
    valid_before: int | None = None,
) -> dict[str, object]:
    """The payer's ``ReceiveWithAuthorization`` into ``escrow``; the amount is signed as given
    only while it fits uint256 (the body carries it as given either way)."""
    now = world.terms.chain_time
    valid_after = now - 10 if valid_after is None else valid_after
    valid_before = valid_after + 3_600 if valid_before is None else valid_before
    message = TransferAuthorization(
        world.payer.address,
        escrow,
        min(amount, UINT256_OVER - 1),
        valid_after,
        valid_before,
        nonce,
        AuthorizationKind.RECEIVE,
    )
    signed = message.sign((signer or world.payer).key, domain or world.terms.token_domain)
    return {
        "payer": world.payer.address,
        "amount_base_units": amount,
        "valid_after": valid_after,
        "valid_before": valid_before,
        "signature": "0x" + signed.signature.hex(),
    }


async def _run(world: World, cases: list[Case]) -> None:
    """Send each case, then flush; collect every way a case went wrong, and fail with all."""
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    failures = []
    for case in cases:
        before = await snapshot(world)
        status, reason = await send(world, case)
        rounds = await flush(world)
        after = await snapshot(world)
        if (status, case.reason in reason) != (case.status, True):
            failures.append(
                f"{case.name}: got {status} {reason!r}, wanted {case.status} with {case.reason!r}"
            )
        if not reason.strip():
            failures.append(f"{case.name}: no reason given")
        moved = {m: r for m, r in rounds.items() if r["settled"] or r["failed"] or r["requeued"]}
        if moved or after != before:
            changed = {key for key in before if before[key] != after.get(key)}
            failures.append(f"{case.name}: changed {sorted(changed)}, rounds {moved}")
    assert not failures, "\n".join(failures)


async def test_bad_requests_get_a_4xx_with_a_reason_and_change_nothing(world: World) -> None:
    cases = bad_requests(world)
    assert len(cases) >= 100
    await _run(world, cases)


async def test_a_paused_token_refuses_token_payments_and_funding(world: World) -> None:
    forge = Forge(world)
    cases = [
        pay(
            "authorization while paused",
            400,
            "token is paused",
            body=forge.authorization("paused-1", 10),
        ),
        pay(
            "batch payment while paused",
            400,
            "token is paused",
            body=forge.batch("paused-2", 10, 905),
        ),
        pay(
            "direct payment while paused",
            400,
            "token is paused",
            body=forge.direct("paused-3", 10, forge.next_nonce()),
        ),
        Case(
            "channel opening while paused",
            "POST",
            "/v1/channels",
            400,
            "the contract refused",
            body=_channel_open(world),
        ),
        Case(
            "net deposit while paused",
            "POST",
            "/v1/net/deposits",
            400,
            "the contract refused",
            body=_net_deposit(world),
        ),
    ]
    await world.coin.pause(world.admin)
    try:
        await _run(world, cases)
    finally:
        await world.coin.unpause(world.admin)
    # Unpaused, the same kind of payment is accepted: the refusal was the pause.
    accepted = await world.api.post("/v1/payments", json=forge.authorization("unpaused-1", 10))
    assert accepted.status_code == 201, accepted.text


async def test_blocklisted_payers_and_payees_are_refused(world: World) -> None:
    forge, blocked = Forge(world), world.blocked_payer
    cases = [
        pay(
            "authorization from a blocklisted payer",
            400,
            f"payer {blocked.address} is blocklisted",
            body=forge.authorization("blocked-1", 10, payer=blocked),
        ),
        pay(
            "authorization to a blocklisted payee",
            400,
            f"payee {world.blocked_payee} is blocklisted",
            body=forge.authorization("blocked-2", 10, payee=world.blocked_payee),
        ),
        pay(
            "batch payment from a blocklisted payer",
            400,
            "is blocklisted",
            body=forge.batch("blocked-3", 10, 0, payer=blocked),
        ),
        pay(
            "batch payment to a blocklisted payee",
            400,
            "is blocklisted",
            body=forge.batch("blocked-4", 10, 906, payee=world.blocked_payee),
        ),
        pay(
            "direct payment from a blocklisted payer",
            400,
            "is blocklisted",
            body=forge.direct("blocked-5", 10, 0, payer=blocked),
        ),
        pay(
            "direct payment to a blocklisted payee",
            400,
            "is blocklisted",
            body=forge.direct("blocked-6", 10, forge.next_nonce(), payee=world.blocked_payee),
        ),
    ]
    await _run(world, cases)

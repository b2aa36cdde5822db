"""The world the bad-input table runs in, and how a case is sent and judged.

A service with every mode (Anvil, channel and net contracts, a ledger), a funded payer with a
channel, a net deposit, a ledger wallet and settled payments behind it, and accounts in every
state a payment can be refused for (no ether, blocklisted, a nonce spent on chain). ``Forge``
signs payments for it with any field, signer or domain wrong on purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.eip712 import Eip712Domain
from settlement.domain.messages import (
    BatchPayment,
    CancelAuthorization,
    NetPayment,
    TransferAuthorization,
    Voucher,
    random_nonce,
)
from settlement.domain.payments import payment_id
from settlement.ledger import Ledger
from settlement.settlers.ledger import wallet_balance
from settlement.store import SqlPaymentStore
from settlement.wallet import ChainTerms
from tests.settlement.api_helpers import EscrowedService, as_json, direct_payment

OPERATOR_KEY = "bad-input-operator-key"
OPERATOR = {"X-API-Key": OPERATOR_KEY}
VALID_FOR_S = 3_600
# A batch nonce the payer cancels on chain before the table runs.
CANCELLED_BATCH_NONCE = 5


@dataclass(frozen=True)
class Case:
    """One bad request and how the service must answer it.

    ``body`` is sent as JSON, ``content`` as raw bytes; ``result`` judges a batch request's first
    result instead of the response (a batch answers 200 and a status per payment).
    """

    name: str
    method: str
    path: str
    status: int
    reason: str
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    result: bool = False


@dataclass
class World:
    api: httpx.AsyncClient
    escrowed: EscrowedService
    coin: StablecoinContract
    admin: LocalAccount
    store: SqlPaymentStore
    ledger: Ledger
    terms: ChainTerms
    payer: LocalAccount  # tokens, ether, a channel, a net deposit, a ledger wallet
    payee: str
    channel_id: bytes
    channel_accepted: int  # the voucher total accepted on the channel so far
    net_deposit: int
    ledger_deposit: int
    cancelled_authorization_nonce: bytes
    spent_transaction_nonce: int  # the payer's transaction nonce already mined
    no_ether: LocalAccount  # tokens only
    blocked_payer: LocalAccount  # tokens and ether, blocklisted
    blocked_payee: str
    settled_key: str  # an authorization payment settled during setup

    def watched(self) -> list[str]:
        """Every address whose balances a wrongly accepted payment could move."""
        return [
            self.payer.address,
            self.payee,
            self.no_ether.address,
            self.blocked_payer.address,
            self.blocked_payee,
            self.escrowed.channels.address,
            self.escrowed.net.address,
        ]


class Forge:
    """Signs payment bodies for the world, each field overridable to make it wrong."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.now = world.terms.chain_time

    def authorization(
        self,
        key: str,
        amount: int,
        *,
        payer: LocalAccount | None = None,
        payee: str | None = None,
        signer: LocalAccount | None = None,
        domain: Eip712Domain | None = None,
        valid_after: int | None = None,
        valid_before: int | None = None,
        nonce: bytes | None = None,
    ) -> dict[str, Any]:
        payer = payer or self.world.payer
        message = TransferAuthorization(
            payer.address,
            payee or self.world.payee,
            amount,
            self.now - 10 if valid_after is None else valid_after,
            self.now + VALID_FOR_S if valid_before is None else valid_before,
            nonce or random_nonce(),
        )
        signed = message.sign((signer or payer).key, domain or self.world.terms.token_domain)
        instrument = {
            "mode": "authorization",
            "valid_after": message.valid_after,
            "valid_before": message.valid_before,
            "nonce": "0x" + message.nonce.hex(),
            "signature": "0x" + signed.signature.hex(),
        }
        return self._body(key, payer.address, message.payee, amount, instrument)

    def batch(
        self,
        key: str,
        amount: int,
        nonce: int,
        *,
        payer: LocalAccount | None = None,
        payee: str | None = None,
        signer: LocalAccount | None = None,
        domain: Eip712Domain | None = None,
        valid_before: int | None = None,
    ) -> dict[str, Any]:
        payer = payer or self.world.payer
        valid_before = self.now + VALID_FOR_S if valid_before is None else valid_before
        message = BatchPayment(
            payer.address, payee or self.world.payee, amount, nonce, valid_before
        )
        signed = message.sign((signer or payer).key, domain or self.world.terms.token_domain)
        instrument = {
            "mode": "batch",
            "nonce": nonce,
            "valid_before": valid_before,
            "signature": "0x" + signed.signature.hex(),
        }
        return self._body(key, payer.address, message.payee, amount, instrument)

    def voucher(
        self,
        key: str,
        amount: int,
        cumulative: int,
        *,
        channel_id: bytes | None = None,
        signer: LocalAccount | None = None,
        domain: Eip712Domain | None = None,
    ) -> dict[str, Any]:
        payer = self.world.payer
        channel = channel_id or self.world.channel_id
        channels_domain = self.world.terms.channels_domain
        assert channels_domain is not None
        message = Voucher(payer.address, channel, cumulative)
        signed = message.sign((signer or payer).key, domain or channels_domain)
        instrument = {
            "mode": "channel",
            "channel_id": "0x" + channel.hex(),
            "cumulative_amount": cumulative,
            "signature": "0x" + signed.signature.hex(),
        }
        return self._body(key, payer.address, self.world.payee, amount, instrument)

    def off_chain(
        self,
        mode: str,
        key: str,
        amount: int,
        *,
        signer: LocalAccount | None = None,
        domain: Eip712Domain | None = None,
        valid_before: int | None = None,
    ) -> dict[str, Any]:
        """A net payment, or (``mode`` "ledger") a ledger one: the same fields, two domains."""
        payer = self.world.payer
        default_domain = (
            self.world.terms.net_domain if mode == "net" else self.world.terms.ledger_domain
        )
        assert default_domain is not None
        valid_before = self.now + VALID_FOR_S if valid_before is None else valid_before
        message = NetPayment(
            payment_id(payer.address, key), payer.address, self.world.payee, amount, valid_before
        )
        signed = message.sign((signer or payer).key, domain or default_domain)
        instrument = {
            "mode": mode,
            "valid_before": valid_before,
            "signature": "0x" + signed.signature.hex(),
        }
        return self._body(key, payer.address, self.world.payee, amount, instrument)

    def direct(
        self,
        key: str,
        amount: int,
        nonce: int,
        *,
        payer: LocalAccount | None = None,
        payee: str | None = None,
        chain_id: int | None = None,
        to: str | None = None,
    ) -> dict[str, Any]:
        submission = direct_payment(
            self.world.coin,
            payer or self.world.payer,
            payee or self.world.payee,
            key,
            amount,
            nonce,
            chain_id=chain_id,
            to=to,
        )
        return as_json(submission)

    def next_nonce(self) -> int:
        return self.world.spent_transaction_nonce + 1

    def _body(
        self, key: str, payer: str, payee: str, amount: int, instrument: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "idempotency_key": key,
            "payer": payer,
            "payee": payee,
            "amount_base_units": amount,
            "purpose": "energy",
            "instrument": instrument,
        }


def wrong_domain(domain: Eip712Domain | None, **changes: Any) -> Eip712Domain:
    assert domain is not None
    return replace(domain, **changes)


def stranger() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


async def cancel_authorization(world: World, nonce: bytes) -> None:
    """The payer cancels an EIP-3009 nonce on chain, outside the service."""
    signed = CancelAuthorization(world.payer.address, nonce).sign(
        world.payer.key, world.terms.token_domain
    )
    await world.coin.cancel_authorization(world.admin, signed)


async def cancel_batch_nonce(coin: StablecoinContract, payer: LocalAccount, nonce: int) -> None:
    """The payer cancels a bitmap nonce itself, with a transaction of its own."""
    data = coin.encode("cancelBatchNonces", nonce >> 8, 1 << (nonce & 0xFF))
    await coin.client.send_transaction(payer, to=coin.address, data=data)


def reason_of(response: httpx.Response) -> str:
    """The reason a refusal gives: the service's ``detail`` string, or FastAPI's list of
    validation errors flattened to ``loc: msg`` lines."""
    detail = response.json().get("detail")
    if isinstance(detail, str):
        return detail
    assert isinstance(detail, list), response.text
    assert detail, response.text
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in detail
    )


async def send(world: World, case: Case) -> tuple[int, str]:
    """Send a case; the status and reason it got (a batch's first result's, if it says so)."""
    headers = dict(case.headers)
    content = case.content
    if case.body is not None:
        content = json.dumps(case.body).encode()
        headers.setdefault("Content-Type", "application/json")
    response = await world.api.request(case.method, case.path, content=content, headers=headers)
    if case.result:
        assert response.status_code == 200, response.text
        (result,) = response.json()["results"]
        return result["status"], result["rejection"] or ""
    assert "application/json" in response.headers["content-type"], response.text
    return response.status_code, reason_of(response)


async def snapshot(world: World) -> dict[str, Any]:
    """Everything a wrongly accepted request could change: payments by mode and state, token and
    escrow balances, the channel's accepted total, ledger wallets and the payer's nonce."""
    stats = (await world.api.get("/v1/stats")).json()
    stats.pop("process_cpu_s")
    watched = world.watched()
    channel = (await world.api.get(f"/v1/channels/0x{world.channel_id.hex()}")).json()
    ledger_wallets = {}
    for address in watched:
        account = wallet_balance(world.ledger, address)
        ledger_wallets[address] = None if account is None else account.balance
    return {
        "stats": stats,
        "stored": await world.store.count_by_state(),
        "tokens": await world.coin.balances(watched),
        "net": await world.escrowed.net.balances(watched),
        "channel": channel,
        "ledger": ledger_wallets,
        "payer_nonce": await world.coin.client.w3.eth.get_transaction_count(world.payer.address),
    }


async def flush(world: World) -> dict[str, dict[str, int]]:
    """Settle whatever is queued now; each mode's round, by mode."""
    flushed = await world.api.post("/v1/windows/flush", headers=OPERATOR)
    assert flushed.status_code == 200, flushed.text
    return {item["mode"]: item for item in flushed.json()["rounds"]}

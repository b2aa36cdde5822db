"""The first demo: deploy the stablecoin and pay a few micro-payments each way, measuring gas.

Two ways of paying are compared, each over the same payers, payees and amounts:

* ``direct``: the payer sends its own ERC-20 ``transfer`` and pays its own gas;
* ``eip3009``: the payer signs an EIP-3009 ``transferWithAuthorization`` off-chain and a
  relayer submits it, so the payer needs no ETH at all.

Payees receive one base unit before measuring, so every measured payment is a steady-state
transfer between existing holders; a first payment to a new holder costs 17,100 gas more (a
storage slot written from zero), which would otherwise land on whichever way ran first.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.artifacts import load_artifact
from settlement.chain.client import Receipt
from settlement.chain.session import ChainSession
from settlement.chain.stablecoin import STABLECOIN_ARTIFACT, StablecoinContract
from settlement.config import Settings
from settlement.domain.messages import TransferAuthorization, random_nonce
from settlement.domain.money import dollars_to_base_units

MAX_PAYMENTS_PER_WAY = 1_000
PAYMENT_BASE_UNITS = dollars_to_base_units("0.001")
PAYER_FUNDING_BASE_UNITS = dollars_to_base_units("10")
PAYER_COUNT = 3
PAYEE_COUNT = 3
# Gas the ETH funding of a payer must cover for each direct transfer, with room for fee rises.
GAS_BUDGET_PER_DIRECT_PAYMENT = 120_000
AUTHORIZATION_LIFETIME_S = 3_600

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class PaymentMeasurement:
    """One settled payment: what it cost and how long it took from send to receipt."""

    gas_used: int
    fee_wei: int
    latency_ms: float


@dataclass
class WayResult:
    """Every measured payment of one way of paying."""

    way: str
    description: str
    payments: list[PaymentMeasurement] = field(default_factory=list)

    @property
    def gas_per_payment_mean(self) -> float:
        return statistics.fmean(payment.gas_used for payment in self.payments)

    @property
    def gas_per_payment_min(self) -> int:
        return min(payment.gas_used for payment in self.payments)

    @property
    def gas_per_payment_max(self) -> int:
        return max(payment.gas_used for payment in self.payments)

    @property
    def fee_wei_per_payment_mean(self) -> float:
        return statistics.fmean(payment.fee_wei for payment in self.payments)

    @property
    def latency_ms_p50(self) -> float:
        return statistics.median(payment.latency_ms for payment in self.payments)


@dataclass(frozen=True)
class DemoResult:
    chain_id: int
    rpc_url: str
    embedded_chain: bool
    token_address: str
    payment_base_units: int
    ways: list[WayResult]


@dataclass(frozen=True)
class _Fleet:
    payers: list[LocalAccount]
    payees: list[LocalAccount]

    def pair(self, index: int) -> tuple[LocalAccount, LocalAccount]:
        return self.payers[index % len(self.payers)], self.payees[index % len(self.payees)]


async def run_demo(
    session: ChainSession,
    settings: Settings,
    payments_per_way: int,
    progress: ProgressCallback = lambda _message: None,
) -> DemoResult:
    """Deploy, fund, and settle ``payments_per_way`` payments in each way; return the figures."""
    if not 1 <= payments_per_way <= MAX_PAYMENTS_PER_WAY:
        raise ValueError(f"payments per way must be between 1 and {MAX_PAYMENTS_PER_WAY}")
    progress("deploying the stablecoin")
    coin, _ = await StablecoinContract.deploy(
        session.client, load_artifact(settings.contracts_dir, STABLECOIN_ARTIFACT), session.operator
    )
    fleet = _Fleet(
        payers=[Account.create() for _ in range(PAYER_COUNT)],
        payees=[Account.create() for _ in range(PAYEE_COUNT)],
    )
    progress("funding payers with tokens and gas")
    await _fund(session, coin, fleet, payments_per_way)
    # Authorizations are valid in chain time, which need not be this machine's clock.
    valid_before = await session.client.latest_block_timestamp() + AUTHORIZATION_LIFETIME_S
    ways = [
        await _measure(
            "direct",
            "payer sends its own ERC-20 transfer",
            payments_per_way,
            progress,
            lambda index: _pay_direct(coin, fleet, index),
        ),
        await _measure(
            "eip3009",
            "payer signs an EIP-3009 authorization, a relayer submits it",
            payments_per_way,
            progress,
            lambda index: _pay_by_authorization(coin, fleet, session.operator, valid_before, index),
        ),
    ]
    return DemoResult(
        chain_id=session.client.chain_id,
        rpc_url=session.rpc_url,
        embedded_chain=session.embedded,
        token_address=coin.address,
        payment_base_units=PAYMENT_BASE_UNITS,
        ways=ways,
    )


async def _fund(
    session: ChainSession, coin: StablecoinContract, fleet: _Fleet, payments_per_way: int
) -> None:
    operator = session.operator
    mint_total = PAYER_FUNDING_BASE_UNITS * len(fleet.payers) + len(fleet.payees)
    await coin.configure_minter(operator, operator.address, mint_total)
    for payer in fleet.payers:
        await coin.mint(operator, payer.address, PAYER_FUNDING_BASE_UNITS)
    for payee in fleet.payees:
        await coin.mint(operator, payee.address, 1)
    fees = await session.client.fees()
    direct_payments_per_payer = -(-payments_per_way // len(fleet.payers))
    gas_funding_wei = (
        direct_payments_per_payer * GAS_BUDGET_PER_DIRECT_PAYMENT * fees.max_fee_per_gas_wei
    )
    for payer in fleet.payers:
        await session.client.send_transaction(
            operator, to=payer.address, value_wei=gas_funding_wei, gas=21_000
        )


async def _measure(
    way: str,
    description: str,
    payments: int,
    progress: ProgressCallback,
    pay: Callable[[int], Awaitable[Receipt]],
) -> WayResult:
    result = WayResult(way, description)
    for index in range(payments):
        started = time.perf_counter()
        receipt = await pay(index)
        latency_ms = (time.perf_counter() - started) * 1000
        result.payments.append(PaymentMeasurement(receipt.gas_used, receipt.fee_wei, latency_ms))
        progress(f"{way}: {index + 1}/{payments} payments settled")
    return result


async def _pay_direct(coin: StablecoinContract, fleet: _Fleet, index: int) -> Receipt:
    payer, payee = fleet.pair(index)
    return await coin.transfer(payer, payee.address, PAYMENT_BASE_UNITS)


async def _pay_by_authorization(
    coin: StablecoinContract, fleet: _Fleet, relayer: LocalAccount, valid_before: int, index: int
) -> Receipt:
    payer, payee = fleet.pair(index)
    authorization = TransferAuthorization(
        payer=payer.address,
        payee=payee.address,
        value_base_units=PAYMENT_BASE_UNITS,
        valid_after=0,
        valid_before=valid_before,
        nonce=random_nonce(),
    )
    signed = authorization.sign(payer.key, coin.domain)
    signed.verify(coin.domain)  # what a settlement service checks before it spends gas
    return await coin.transfer_with_authorization(relayer, signed)

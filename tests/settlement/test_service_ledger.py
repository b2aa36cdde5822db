"""Ledger mode through the service: the baseline settles the same signed payments, off chain.

Each test runs with the store and the ledger on SQLite, then both on PostgreSQL.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import PaymentState, Purpose, SettlementMode
from settlement.ledger import Transfer
from settlement.ledger.mapping import (
    BASELINE_LEDGER,
    TransferCode,
    issuer_account_id,
    wallet_account_id,
)
from settlement.settlers.ledger import deposit, wallet_balance
from settlement.wallet import PayerWallet
from tests.settlement.api_helpers import EscrowedService, terms_for

pytestmark = pytest.mark.anvil

LEDGER = SettlementMode.LEDGER


def robot(seed: int) -> PayerWallet:
    return PayerWallet(Account.from_key(bytes([seed]) * 32).key)


def balance_of(escrowed: EscrowedService, address: str) -> int:
    account = wallet_balance(escrowed.ledger, address)
    assert account is not None
    return account.balance


async def test_signed_payments_settle_on_the_ledger_once(
    escrowed: EscrowedService, coin: StablecoinContract
) -> None:
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    payer, payee = robot(7), robot(8)
    assert deposit(escrowed.ledger, payer.address, 5_000, b"opening") == "ok"
    submissions = [
        payer.submission(LEDGER, f"k{i}", payee.address, 1_000, Purpose.ENERGY, terms)
        for i in range(3)
    ]

    accepted = await service.submit(submissions)
    retried = await service.submit(submissions[:1])
    report = await service.settle_round(LEDGER)

    assert [outcome.rejection for outcome in accepted] == [None] * 3
    assert retried[0].payment_id == accepted[0].payment_id
    assert (report.settled, report.failed, report.transactions) == (3, 0, 0)
    assert balance_of(escrowed, payer.address) == 2_000
    assert balance_of(escrowed, payee.address) == 3_000
    records = await service.store.records([outcome.payment_id for outcome in accepted])
    assert {record.state for record in records.values()} == {PaymentState.CONFIRMED}
    assert (await service.settle_round(LEDGER)).settled == 0


async def test_a_payment_the_wallet_cannot_cover_is_refused_at_acceptance(
    escrowed: EscrowedService, coin: StablecoinContract
) -> None:
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    payer, payee = robot(9), robot(10)
    deposit(escrowed.ledger, payer.address, 1_500, b"opening")
    payments = [
        payer.submission(LEDGER, key, payee.address, 1_000, Purpose.PARTS, terms)
        for key in ("first", "second")
    ]

    first, second = await service.submit(payments)
    report = await service.settle_round(LEDGER)

    assert first.created
    assert second.record is None
    assert second.rejection is not None
    assert second.rejection.startswith("insufficient ledger balance")
    assert await service.store.get(second.payment_id) is None
    assert (report.settled, report.failed) == (1, 0)
    assert balance_of(escrowed, payer.address) == 500


async def test_a_wallet_drained_after_acceptance_fails_its_payment_with_the_reason(
    escrowed: EscrowedService, coin: StablecoinContract
) -> None:
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    payer, payee = robot(13), robot(14)
    deposit(escrowed.ledger, payer.address, 1_500, b"opening")
    (accepted,) = await service.submit(
        [payer.submission(LEDGER, "drained", payee.address, 1_000, Purpose.PARTS, terms)]
    )
    assert accepted.created
    # The money leaves the wallet by another way after the payment was accepted.
    withdrawal = Transfer(
        id=0xD5A1,
        debit_account_id=wallet_account_id(payer.address, BASELINE_LEDGER),
        credit_account_id=issuer_account_id(BASELINE_LEDGER),
        amount=1_000,
        ledger=BASELINE_LEDGER,
        code=TransferCode.DEPOSIT,
    )
    assert escrowed.ledger.create_transfers([withdrawal]) == ["ok"]

    report = await service.settle_round(LEDGER)

    assert (report.settled, report.failed) == (0, 1)
    record = await service.store.get(accepted.payment_id)
    assert record is not None
    assert record.state == PaymentState.FAILED
    assert record.failure_reason == "insufficient ledger balance"
    assert balance_of(escrowed, payer.address) == 500


async def test_a_round_handed_over_again_after_a_crash_moves_money_once(
    escrowed: EscrowedService, coin: StablecoinContract
) -> None:
    """The ledger committed but the store never heard: the next round must not pay twice."""
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    payer, payee = robot(11), robot(12)
    deposit(escrowed.ledger, payer.address, 1_000, b"opening")
    (accepted,) = await service.submit(
        [payer.submission(LEDGER, "once", payee.address, 700, Purpose.GOODS, terms)]
    )
    settler = service.settlers[LEDGER]
    records = await service.store.records([accepted.payment_id])
    await settler.settle(list(records.values()))  # type: ignore[attr-defined]

    report = await service.settle_round(LEDGER)

    assert (report.settled, report.failed) == (1, 0)
    assert balance_of(escrowed, payer.address) == 300
    assert balance_of(escrowed, payee.address) == 700


async def test_a_signature_for_another_mode_is_refused(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    payer, payee = robot(13), robot(14)
    net_signed = payer.submission(SettlementMode.NET, "k", payee.address, 10, Purpose.OTHER, terms)
    replayed = type(net_signed)(net_signed.intent, LEDGER, net_signed.instrument)

    (outcome,) = await service.submit([replayed])

    assert outcome.rejection is not None
    assert outcome.rejection.endswith(f"expected {payer.address}")
    assert await service.store.get(outcome.payment_id) is None

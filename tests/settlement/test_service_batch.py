"""Batch mode through the service on Anvil: one transaction, bitmap nonces, skips with reasons."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.costs import payment_cost
from settlement.domain.payments import PaymentState, SettlementMode
from settlement.service import RoundReport
from settlement.settlers.acceptance import TokenGate
from settlement.settlers.batch import BATCH_GAS_PER_EMPTY_SLOT, BatchSettler
from settlement.store import PaymentRecord, SqlPaymentStore
from settlement.windows import WindowPolicy, run_windows
from tests.settlement.api_helpers import batch_payment, funded, make_service
from tests.settlement.crashes import CrashAfterSendRelayer, SimulatedCrashAfterSendError
from tests.settlement.records import queued_record

pytestmark = pytest.mark.anvil


async def test_many_payments_settle_in_one_transaction(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = make_service(store, chain, coin, admin)
    payers = [await funded(coin, admin, 1_000_000) for _ in range(3)]
    payees = [Account.create().address for _ in range(2)]
    submissions = [
        await batch_payment(coin, payers[n % 3], payees[n % 2], f"b-{n}", 100 + n, n // 3)
        for n in range(12)
    ]
    assert all(outcome.created for outcome in await service.submit(submissions))
    report = await service.settle_round(SettlementMode.BATCH)
    assert (report.transactions, report.settled, report.failed) == (1, 12, 0)
    expected = [sum(100 + n for n in range(12) if n % 2 == side) for side in (0, 1)]
    assert [await coin.balance_of(payee) for payee in payees] == expected
    (mined,) = report.mined
    assert mined.gas_used / 12 < 75_000, "a batch must beat one authorization per payment"
    shares = []
    for submission in submissions:
        facts = await store.settlement_facts("0x" + submission.intent.payment_id.hex())
        assert facts is not None
        shares.append(payment_cost(facts).gas)
    assert sum(shares) == mined.gas_used


async def test_skipped_payments_fail_with_the_contract_reason_and_the_rest_settle(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = make_service(store, chain, coin, admin)
    rich, poor = await funded(coin, admin, 1_000_000), await funded(coin, admin, 50)
    payee = Account.create().address
    outcomes = await service.submit(
        [
            await batch_payment(coin, rich, payee, "ok-1", 500, 0),
            await batch_payment(coin, poor, payee, "poor-1", 51, 0),
            await batch_payment(coin, rich, payee, "ok-2", 700, 1),
        ]
    )
    report = await service.settle_round(SettlementMode.BATCH)
    assert (report.settled, report.failed) == (2, 1)
    poor_record = await store.get(outcomes[1].payment_id)
    assert poor_record is not None
    assert poor_record.state is PaymentState.FAILED
    assert poor_record.failure_reason == "InsufficientBalance"
    assert await coin.balance_of(payee) == 1_200
    assert await coin.balance_of(poor.address) == 50


async def test_a_reused_bitmap_nonce_is_refused_at_acceptance(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = make_service(store, chain, coin, admin)
    payer = await funded(coin, admin, 1_000)
    payee = Account.create().address
    first, second = await service.submit(
        [
            await batch_payment(coin, payer, payee, "n-1", 10, 7),
            await batch_payment(coin, payer, payee, "n-2", 20, 7),
        ]
    )
    assert first.created
    assert second.conflict
    assert f"batch:{payer.address}:7 is already spent" in (second.rejection or "")


async def test_a_restart_in_the_middle_of_a_window_settles_each_payment_once(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> None:
    payer = await funded(coin, admin, 1_000_000)
    payee = Account.create().address
    crashing = make_service(store, chain, coin, admin, CrashAfterSendRelayer)
    await crashing.submit(
        [await batch_payment(coin, payer, payee, f"r-{n}", 10 + n, n) for n in range(5)]
    )
    with pytest.raises(SimulatedCrashAfterSendError):
        await crashing.settle_round(SettlementMode.BATCH)
    # Payments accepted after the crash wait in the queue; the restart must not mix them up.
    restarted = make_service(store, chain, coin, admin)
    await restarted.submit([await batch_payment(coin, payer, payee, "r-late", 100, 5)])
    (recovered,) = await restarted.reconcile()
    assert (recovered.transactions, recovered.settled) == (1, 5)
    late = await restarted.settle_round(SettlementMode.BATCH)
    assert (late.transactions, late.settled) == (1, 1)
    assert await coin.balance_of(payee) == sum(10 + n for n in range(5)) + 100
    counts = await store.count_by_state()
    assert counts == {(SettlementMode.BATCH, PaymentState.CONFIRMED): 6}


async def test_windows_close_by_time_and_settle_without_an_operator(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = make_service(store, chain, coin, admin)
    payer = await funded(coin, admin, 1_000)
    payee = Account.create().address
    await service.submit([await batch_payment(coin, payer, payee, "w-1", 42, 0)])
    stop = asyncio.Event()
    rounds: list[RoundReport] = []

    def settled(report: RoundReport) -> None:
        rounds.append(report)
        stop.set()

    policy = WindowPolicy(max_payments=1_000, max_wait_s=0.2)
    await asyncio.wait_for(
        run_windows(service, {SettlementMode.BATCH: policy}, stop, settled), timeout=30
    )
    assert [report.settled for report in rounds] == [1]
    assert await coin.balance_of(payee) == 42


async def test_prepare_reads_which_slots_hold_values_for_the_gas_bound(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = make_service(store, chain, coin, admin)
    payer = await funded(coin, admin, 1_000_000)
    paid, unpaid = Account.create().address, Account.create().address
    await service.submit([await batch_payment(coin, payer, paid, "first", 100, 1)])
    assert (await service.settle_round(SettlementMode.BATCH)).settled == 1
    settler = BatchSettler(coin.address, coin.domain, gate=TokenGate(coin, store))
    # Nonce 2 is in the word nonce 1 was spent from; 256 starts the payer's next, empty word.
    queued = [
        queued_batch_record(payer.address, paid, 2),
        queued_batch_record(payer.address, unpaid, 256),
    ]

    prepared = await settler.prepare(queued)

    assert prepared.ready == queued
    in_use = settler.slots_in_use
    assert in_use.accounts == {payer.address.lower(), paid.lower()}
    assert in_use.nonce_words == {(payer.address.lower(), 0)}
    (planned,) = settler.plan(queued)
    ungated = BatchSettler(coin.address, coin.domain)
    (worst,) = ungated.plan(queued)
    # Two accounts and one nonce word priced as resets, not as fills of empty slots.
    assert worst.gas - planned.gas == 3 * BATCH_GAS_PER_EMPTY_SLOT


def queued_batch_record(payer: str, payee: str, nonce: int) -> PaymentRecord:
    instrument = {"nonce": nonce, "valid_before": 2**32, "signature": "0x" + "11" * 64 + "1b"}
    return queued_record(nonce, payer, payee, 10, SettlementMode.BATCH, instrument)

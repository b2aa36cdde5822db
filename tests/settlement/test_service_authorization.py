"""The service end to end in authorization mode, on a real Anvil and a SQLite store."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import PaymentIntent, PaymentState, Purpose, SettlementMode
from settlement.settlers.base import PaymentSubmission
from settlement.store import SqlPaymentStore
from tests.settlement.api_helpers import authorized_payment, make_service
from tests.settlement.crashes import (
    CrashAfterSendRelayer,
    CrashBeforeSendRelayer,
    SimulatedCrashAfterSendError,
    SimulatedCrashBeforeSendError,
    mined,
)

pytestmark = pytest.mark.anvil

FUNDING = 10_000_000


async def test_accepts_settles_and_records_each_payment_once(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    service = make_service(store, chain, coin, admin)
    payee = Account.create().address
    submissions = [
        await authorized_payment(coin, payer, payee, f"pay-{index}", 1_000 + index)
        for index in range(3)
    ]
    accepted = await service.submit(submissions)
    assert [outcome.created for outcome in accepted] == [True, True, True]
    retried = await service.submit(submissions[:1])
    assert retried[0].created is False
    assert retried[0].record == accepted[0].record

    report = await service.settle_round(SettlementMode.AUTHORIZATION)
    assert (report.transactions, report.settled, report.failed) == (3, 3, 0)
    assert await coin.balance_of(payee) == 1_000 + 1_001 + 1_002
    for outcome in accepted:
        record = await store.get(outcome.payment_id)
        assert record is not None
        assert record.state is PaymentState.CONFIRMED
    assert (await service.settle_round(SettlementMode.AUTHORIZATION)).transactions == 0


async def test_bad_signatures_and_windows_are_refused_and_change_nothing(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    service = make_service(store, chain, coin, admin)
    payee = Account.create().address
    genuine = await authorized_payment(coin, payer, payee, "genuine", 500)
    forged_instrument = dict(genuine.instrument)
    forged_instrument["signature"] = "0x" + bytes(65).hex()
    tampered = PaymentSubmission(
        PaymentIntent("tampered", payer.address, payee, 501, Purpose.ENERGY),
        SettlementMode.AUTHORIZATION,
        genuine.instrument,
    )
    expired_instrument = dict(
        genuine.instrument, valid_before=genuine.instrument["valid_after"] + 1
    )
    outcomes = await service.submit(
        [
            PaymentSubmission(
                PaymentIntent("forged", payer.address, payee, 500),
                SettlementMode.AUTHORIZATION,
                forged_instrument,
            ),
            tampered,
            PaymentSubmission(
                PaymentIntent("expired", payer.address, payee, 500),
                SettlementMode.AUTHORIZATION,
                expired_instrument,
            ),
        ]
    )
    reasons = [outcome.rejection or "" for outcome in outcomes]
    assert "signature" in reasons[0]
    assert "signed by" in reasons[1]
    assert "too soon to settle" in reasons[2]
    assert all(outcome.record is None for outcome in outcomes)
    assert await store.count_queued() == 0


async def test_a_window_opened_since_the_last_chain_time_read_is_accepted(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    """The service estimates chain time between reads; a chain clock that jumped ahead of the
    estimate (fast mining, a time warp) must not refuse a window the chain already sees open."""
    service = make_service(store, chain, coin, admin)
    payee = Account.create().address
    first = await service.submit([await authorized_payment(coin, payer, payee, "first", 1)])
    assert first[0].created
    await chain.w3.provider.make_request("evm_increaseTime", [600])  # type: ignore[arg-type]
    await chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    opened_just_now = await authorized_payment(coin, payer, payee, "second", 2, opened_s_ago=1)
    second = await service.submit([opened_just_now])
    assert second[0].rejection is None
    assert second[0].created


async def test_a_crash_between_recording_and_sending_settles_once_after_restart(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    payee = Account.create().address
    crashing = make_service(store, chain, coin, admin, CrashBeforeSendRelayer)
    await crashing.submit([await authorized_payment(coin, payer, payee, "crash-1", 700)])
    with pytest.raises(SimulatedCrashBeforeSendError):
        await crashing.settle_round(SettlementMode.AUTHORIZATION)
    assert await coin.balance_of(payee) == 0
    (pending,) = await store.pending_submissions()

    restarted = make_service(store, chain, coin, admin)
    (report,) = await restarted.reconcile()
    assert (report.settled, report.failed) == (1, 0)
    assert await coin.balance_of(payee) == 700
    assert await store.pending_submissions() == []
    record = await store.get(pending.payment_ids[0])
    assert record is not None
    assert record.state is PaymentState.CONFIRMED
    # A second restart finds nothing left to do and pays nothing twice.
    assert await make_service(store, chain, coin, admin).reconcile() == []
    assert await coin.balance_of(payee) == 700


async def test_a_crash_after_sending_completes_from_the_receipt_on_restart(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    payee = Account.create().address
    crashing = make_service(store, chain, coin, admin, CrashAfterSendRelayer)
    await crashing.submit([await authorized_payment(coin, payer, payee, "sent-1", 900)])
    with pytest.raises(SimulatedCrashAfterSendError) as crash:
        await crashing.settle_round(SettlementMode.AUTHORIZATION)
    await mined(chain, crash.value)
    assert await coin.balance_of(payee) == 900  # on chain already, but not yet in the book

    (report,) = await make_service(store, chain, coin, admin).reconcile()
    assert (report.transactions, report.settled) == (1, 1)
    assert await coin.balance_of(payee) == 900
    counts = await store.count_by_state()
    assert counts == {(SettlementMode.AUTHORIZATION, PaymentState.CONFIRMED): 1}


class SimulatedDatabaseOutageError(Exception):
    """Stands for the database failing while a round is being recorded."""


async def test_a_round_that_fails_before_recording_leaves_no_nonce_gap(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = make_service(store, chain, coin, admin)
    payee = Account.create().address
    await service.submit([await authorized_payment(coin, payer, payee, "outage-1", 321)])
    record_submissions = store.record_submissions

    async def fail_once(**kwargs: object) -> list[int]:
        monkeypatch.setattr(store, "record_submissions", record_submissions)
        raise SimulatedDatabaseOutageError

    monkeypatch.setattr(store, "record_submissions", fail_once)
    with pytest.raises(SimulatedDatabaseOutageError):
        await service.settle_round(SettlementMode.AUTHORIZATION)
    # The payment is free again at once, and the relayer's next nonce is the chain's.
    report = await service.settle_round(SettlementMode.AUTHORIZATION)
    assert (report.transactions, report.settled) == (1, 1)
    assert await coin.balance_of(payee) == 321

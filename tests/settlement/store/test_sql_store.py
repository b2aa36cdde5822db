"""The payment store on SQLite and PostgreSQL: idempotency, replay refusal, states, crash safety."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account import Account

from settlement.domain.payments import PaymentIntent, PaymentState, Purpose, SettlementMode
from settlement.errors import ConfigurationError
from settlement.store import (
    Completion,
    NewPayment,
    NewSubmission,
    PaymentOutcome,
    SqlPaymentStore,
    SubmissionState,
    TransactionAttempt,
)
from settlement.store.migrations import MIGRATIONS

PAYER = Account.from_key(b"\x01" * 32).address
PAYEE = Account.from_key(b"\x02" * 32).address


def new_payment(
    key: str, amount: int = 1_000, replay_key: str | None = None, fingerprint: str = "0xaa"
) -> NewPayment:
    intent = PaymentIntent(key, PAYER, PAYEE, amount, Purpose.ENERGY)
    return NewPayment(
        intent=intent,
        mode=SettlementMode.BATCH,
        replay_key=replay_key or f"batch:{PAYER}:{key}",
        instrument={"nonce": key},
        fingerprint=fingerprint,
        accepted_at=time.time(),
        verify_cpu_ns=1_000,
    )


def attempt(tx_hash: str) -> TransactionAttempt:
    return TransactionAttempt(tx_hash, b"\x02raw", 2_000_000_000, 1_000_000_000, time.time())


async def queue_and_submit(store: SqlPaymentStore, keys: list[str]) -> int:
    await store.accept([new_payment(key) for key in keys])
    leased = await store.lease_queued(SettlementMode.BATCH, 100, "worker", 60)
    (submission_id,) = await store.record_submissions(
        mode=SettlementMode.BATCH,
        owner="worker",
        entries=[
            NewSubmission(
                PAYER, 7, attempt("0x" + "ab" * 32), [record.payment_id for record in leased]
            )
        ],
    )
    return submission_id


async def test_accept_stores_queued_payments(store: SqlPaymentStore) -> None:
    outcomes = await store.accept([new_payment("p1"), new_payment("p2", amount=5)])
    assert [outcome.created for outcome in outcomes] == [True, True]
    record = await store.get(outcomes[1].payment_id)
    assert record is not None
    assert record.state is PaymentState.QUEUED
    assert record.amount_base_units == 5
    assert record.purpose is Purpose.ENERGY
    assert record.instrument == {"nonce": "p2"}


async def test_a_retry_returns_the_first_result(store: SqlPaymentStore) -> None:
    (first,) = await store.accept([new_payment("p1")])
    (again,) = await store.accept([new_payment("p1")])
    assert again.created is False
    assert again.record == first.record
    assert len(await store.list_for_payer(PAYER)) == 1


async def test_a_retry_inside_one_request_is_stored_once(store: SqlPaymentStore) -> None:
    outcomes = await store.accept([new_payment("p1"), new_payment("p1")])
    assert [outcome.created for outcome in outcomes] == [True, False]
    assert outcomes[0].record == outcomes[1].record


async def test_reusing_a_key_for_other_contents_is_refused(store: SqlPaymentStore) -> None:
    await store.accept([new_payment("p1", fingerprint="0xaa")])
    (conflict,) = await store.accept([new_payment("p1", fingerprint="0xbb")])
    assert conflict.record is None
    assert conflict.rejection == "idempotency key already used for a different payment"


async def test_a_spent_nonce_is_refused_for_a_new_payment(store: SqlPaymentStore) -> None:
    (first,) = await store.accept([new_payment("p1", replay_key="batch:nonce-9")])
    (replayed,) = await store.accept([new_payment("p2", replay_key="batch:nonce-9")])
    assert replayed.record is None
    assert replayed.rejection == f"batch:nonce-9 is already spent by payment {first.payment_id}"
    assert await store.get(replayed.payment_id) is None


async def test_leases_hand_each_payment_to_one_owner(store: SqlPaymentStore) -> None:
    await store.accept([new_payment(f"p{index}") for index in range(5)])
    first = await store.lease_queued(SettlementMode.BATCH, 3, "a", 60)
    second = await store.lease_queued(SettlementMode.BATCH, 10, "b", 60)
    assert len(first) == 3
    assert len(second) == 2
    assert not {r.payment_id for r in first} & {r.payment_id for r in second}
    assert await store.lease_queued(SettlementMode.DIRECT, 10, "c", 60) == []


async def test_an_expired_lease_frees_the_payments(store: SqlPaymentStore) -> None:
    await store.accept([new_payment("p1")])
    assert len(await store.lease_queued(SettlementMode.BATCH, 10, "crashed", -1)) == 1
    assert len(await store.lease_queued(SettlementMode.BATCH, 10, "next", 60)) == 1


async def test_submission_is_recorded_before_sending_and_survives_a_restart(
    store: SqlPaymentStore, database_url: str
) -> None:
    submission_id = await queue_and_submit(store, ["p1", "p2"])
    await store.close()
    reopened = await SqlPaymentStore.open(database_url)
    try:
        (pending,) = await reopened.pending_submissions()
        assert pending.submission_id == submission_id
        assert pending.attempts[0].tx_hash == "0x" + "ab" * 32
        assert pending.attempts[0].raw_transaction == b"\x02raw"
        assert sorted(pending.payment_ids) == sorted(
            [new_payment("p1").payment_id, new_payment("p2").payment_id]
        )
        for payment_id in pending.payment_ids:
            record = await reopened.get(payment_id)
            assert record is not None
            assert record.state is PaymentState.SUBMITTED
    finally:
        await reopened.close()


async def test_completion_settles_some_and_fails_others_with_reasons(
    store: SqlPaymentStore,
) -> None:
    submission_id = await queue_and_submit(store, ["p1", "p2"])
    settled_id, failed_id = new_payment("p1").payment_id, new_payment("p2").payment_id
    await store.complete_submissions(
        [
            Completion(
                submission_id,
                mined_tx_hash="0x" + "ab" * 32,
                block_number=12,
                gas_used=90_000,
                effective_gas_price_wei=1_000_000_000,
                outcomes=[
                    PaymentOutcome(settled_id, settled=True),
                    PaymentOutcome(failed_id, settled=False, failure_reason="InsufficientBalance"),
                ],
            )
        ]
    )
    settled, failed = await store.get(settled_id), await store.get(failed_id)
    assert settled is not None
    assert failed is not None
    assert settled.state is PaymentState.CONFIRMED
    assert failed.state is PaymentState.FAILED
    assert failed.failure_reason == "InsufficientBalance"
    assert await store.pending_submissions() == []
    submission = await store.submission(submission_id)
    assert submission is not None
    assert submission.state is SubmissionState.CONFIRMED
    assert (submission.gas_used, submission.settled_count) == (90_000, 1)


async def test_an_abandoned_submission_requeues_its_payments(store: SqlPaymentStore) -> None:
    submission_id = await queue_and_submit(store, ["p1"])
    await store.add_attempt(submission_id, attempt("0x" + "cd" * 32))
    await store.abandon_submission(submission_id, SubmissionState.DROPPED)
    record = await store.get(new_payment("p1").payment_id)
    assert record is not None
    assert record.state is PaymentState.QUEUED
    assert record.submission_id is None
    assert len(await store.lease_queued(SettlementMode.BATCH, 10, "retry", 60)) == 1


async def test_counts_by_state(store: SqlPaymentStore) -> None:
    await queue_and_submit(store, ["p1"])
    await store.accept([new_payment("p2")])
    counts = await store.count_by_state()
    assert counts == {
        (SettlementMode.BATCH, PaymentState.SUBMITTED): 1,
        (SettlementMode.BATCH, PaymentState.QUEUED): 1,
    }


async def test_failing_queued_payments_records_the_reason(store: SqlPaymentStore) -> None:
    (outcome,) = await store.accept([new_payment("p1")])
    await store.fail_queued([outcome.payment_id], "authorization expired")
    record = await store.get(outcome.payment_id)
    assert record is not None
    assert (record.state, record.failure_reason) == (PaymentState.FAILED, "authorization expired")


async def test_failure_reasons_are_counted_most_common_first_within_the_limit(
    store: SqlPaymentStore,
) -> None:
    outcomes = await store.accept([new_payment(f"p{index}") for index in range(6)])
    ids = [outcome.payment_id for outcome in outcomes]
    await store.fail_queued(ids[:3], "authorization expired")
    await store.fail_queued(ids[3:5], "spent elsewhere")
    await store.fail_queued(ids[5:], "rarely seen")

    reasons = await store.failure_reasons(SettlementMode.BATCH, limit=2)

    assert list(reasons.items()) == [("authorization expired", 3), ("spent elsewhere", 2)]
    assert await store.failure_reasons(SettlementMode.NET, limit=2) == {}


async def test_the_confirmed_total_counts_only_confirmed_payments_of_the_mode(
    store: SqlPaymentStore,
) -> None:
    submission_id = await queue_and_submit(store, ["p1", "p2"])
    await store.accept([new_payment("p3", amount=5_000)])
    await store.complete_submissions(
        [
            Completion(
                submission_id,
                mined_tx_hash="0x" + "ab" * 32,
                block_number=12,
                gas_used=90_000,
                effective_gas_price_wei=1_000_000_000,
                outcomes=[
                    PaymentOutcome(new_payment("p1").payment_id, settled=True),
                    PaymentOutcome(new_payment("p2").payment_id, False, "InsufficientBalance"),
                ],
            )
        ]
    )

    assert await store.confirmed_total_base_units(SettlementMode.BATCH) == 1_000
    assert await store.confirmed_total_base_units(SettlementMode.NET) == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [("mysql://localhost/db", "unsupported database 'mysql'"), ("not a url", "not a database URL")],
)
async def test_bad_database_urls_are_configuration_errors(url: str, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        await SqlPaymentStore.open(url)


async def test_migrations_are_applied_once(database_url: str) -> None:
    first = await SqlPaymentStore.open(database_url)
    await first.close()
    second = await SqlPaymentStore.open(database_url)
    await second.close()
    assert set(first.applied_migrations) <= {migration.version for migration in MIGRATIONS}
    assert second.applied_migrations == []


async def test_a_new_database_gets_every_migration_in_order(tmp_path: Path) -> None:
    store = await SqlPaymentStore.open(f"sqlite:///{tmp_path / 'new.db'}")
    await store.close()
    assert store.applied_migrations == [migration.version for migration in MIGRATIONS]


async def test_a_store_belongs_to_one_chain_and_token(store: SqlPaymentStore) -> None:
    token, genesis = "0x5FbDB2315678afecb367f032d93F642f64180aa3", "0x" + "ab" * 32
    await store.bind_to_chain(31337, genesis, token)
    await store.bind_to_chain(31337, genesis, token.lower())  # the same binding again is fine
    with pytest.raises(ConfigurationError, match="belongs to chain 31337"):
        await store.bind_to_chain(8453, genesis, token)
    with pytest.raises(ConfigurationError, match="use another database"):
        await store.bind_to_chain(31337, genesis, "0x" + "11" * 20)
    with pytest.raises(ConfigurationError, match="genesis 0xabababab"):
        await store.bind_to_chain(31337, "0x" + "cd" * 32, token)  # a fresh Anvil, same address

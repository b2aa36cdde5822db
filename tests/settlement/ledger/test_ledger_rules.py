"""The ledger's rules, each checked on SQLite, PostgreSQL and in memory alike."""

from __future__ import annotations

import pytest

from settlement.ledger import (
    MAX_AMOUNT,
    MAX_BATCH_EVENTS,
    Account,
    AccountFlags,
    BatchTooLargeError,
    Ledger,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from settlement.ledger.model import MAX_ID
from tests.settlement.ledger.conftest import FakeClock
from tests.settlement.ledger.helpers import CODE, LEDGER, balances, open_accounts, transfer

PENDING = TransferFlags.PENDING
POST = TransferFlags.POST_PENDING_TRANSFER
VOID = TransferFlags.VOID_PENDING_TRANSFER
LINKED = TransferFlags.LINKED


def post(debit: int = 1, credit: int = 2, amount: int = 0, **fields: int) -> Transfer:
    """Transfer 12, posting a pending transfer (``pending_id``, zero unless given)."""
    return transfer(12, debit, credit, amount, flags=POST, **fields)


def void(debit: int = 1, credit: int = 2, amount: int = 0, **fields: int) -> Transfer:
    return transfer(12, debit, credit, amount, flags=VOID, **fields)


def test_a_transfer_moves_posted_balances_and_a_retry_applies_once(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)

    assert ledger.create_transfers([transfer(10, 1, 2, 1_500)]) == ["ok"]
    assert ledger.create_transfers([transfer(10, 1, 2, 1_500)]) == ["exists"]

    assert balances(ledger, 1) == (0, 1_500, 0, 0)
    assert balances(ledger, 2) == (0, 0, 0, 1_500)
    (stored,) = ledger.lookup_transfers([10])
    assert (stored.amount, stored.debit_account_id, stored.credit_account_id) == (1_500, 1, 2)
    assert stored.timestamp > 0


def test_events_in_one_batch_see_the_ones_before_them(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)

    results = ledger.create_transfers(
        [transfer(10, 1, 2, 5), transfer(10, 1, 2, 5), transfer(11, 2, 1, 3)]
    )

    assert results == ["ok", "exists", "ok"]
    assert balances(ledger, 1) == (0, 5, 0, 3)


@pytest.mark.parametrize(
    ("retry", "code"),
    [
        (transfer(10, 1, 2, 6), "exists_with_different_amount"),
        (transfer(10, 1, 3, 5), "exists_with_different_credit_account_id"),
        (transfer(10, 3, 2, 5), "exists_with_different_debit_account_id"),
        (transfer(10, 1, 2, 5, code=CODE + 1), "exists_with_different_code"),
        (transfer(10, 1, 2, 5, user_data=9), "exists_with_different_user_data"),
        (transfer(10, 1, 2, 5, flags=PENDING), "exists_with_different_flags"),
    ],
)
def test_reusing_an_id_with_different_contents_is_refused(
    ledger: Ledger, retry: Transfer, code: str
) -> None:
    open_accounts(ledger, 1, 2, 3)
    assert ledger.create_transfers([transfer(10, 1, 2, 5)]) == ["ok"]

    assert ledger.create_transfers([retry]) == [code]

    assert balances(ledger, 1) == (0, 5, 0, 0)
    assert balances(ledger, 3) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (transfer(0, 1, 2, 5), "id_must_not_be_zero"),
        (transfer(MAX_ID, 1, 2, 5), "id_must_not_be_int_max"),
        (transfer(20, 0, 2, 5), "debit_account_id_must_not_be_zero"),
        (transfer(20, 1, 0, 5), "credit_account_id_must_not_be_zero"),
        (transfer(20, 1, 1, 5), "accounts_must_be_different"),
        (transfer(20, 1, 2, 0), "amount_must_not_be_zero"),
        (transfer(20, 1, 2, -5), "amount_must_not_be_negative"),
        (transfer(20, 1, 2, MAX_AMOUNT + 1), "amount_overflows"),
        (transfer(20, 1, 2, 5, ledger=0), "ledger_must_not_be_zero"),
        (transfer(20, 1, 2, 5, code=0), "code_must_not_be_zero"),
        (transfer(20, 99, 2, 5), "debit_account_not_found"),
        (transfer(20, 1, 99, 5), "credit_account_not_found"),
        (transfer(20, 1, 3, 5), "accounts_must_have_the_same_ledger"),
        (transfer(20, 1, 2, 5, ledger=2), "transfer_must_have_the_same_ledger_as_accounts"),
        (transfer(20, 1, 2, 5, pending_id=7), "pending_id_must_be_zero"),
        (transfer(20, 1, 2, 5, timeout=60), "timeout_reserved_for_pending_transfer"),
        (transfer(20, 1, 2, 5, flags=PENDING | POST), "flags_are_mutually_exclusive"),
        (transfer(20, 1, 2, 5, flags=1 << 9), "reserved_flag"),
        (transfer(20, 1, 2, 5, timestamp=1), "timestamp_must_be_zero"),
    ],
)
def test_bad_transfers_get_their_own_code_and_change_nothing(
    ledger: Ledger, bad: Transfer, code: str
) -> None:
    open_accounts(ledger, 1, 2)
    open_accounts(ledger, 3, on_ledger=2)

    assert ledger.create_transfers([bad, transfer(21, 1, 2, 4)]) == [code, "ok"]

    assert ledger.lookup_transfers([bad.id]) == []
    assert balances(ledger, 1) == (0, 4, 0, 0)
    assert balances(ledger, 3) == (0, 0, 0, 0)


def test_fields_the_encoding_cannot_hold_are_a_caller_error() -> None:
    with pytest.raises(ValueError, match="id must be an integer"):
        transfer(-1, 1, 2, 5)
    with pytest.raises(ValueError, match="ledger must be an integer"):
        transfer(1, 1, 2, 5, ledger=2**32)


def test_a_wallet_account_cannot_spend_more_than_it_holds(ledger: Ledger) -> None:
    open_accounts(ledger, 1)
    open_accounts(ledger, 2, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    open_accounts(ledger, 3, flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
    assert ledger.create_transfers([transfer(10, 1, 2, 100)]) == ["ok"]

    results = ledger.create_transfers(
        [transfer(11, 2, 1, 101), transfer(12, 2, 1, 60, flags=PENDING), transfer(13, 2, 1, 41)]
    )

    # The pending 60 counts against the 100 held: 41 more would overdraw it.
    assert results == ["exceeds_credits", "ok", "exceeds_credits"]
    assert ledger.create_transfers([transfer(14, 1, 3, 1)]) == ["exceeds_debits"]
    assert balances(ledger, 2) == (60, 0, 0, 100)


def test_running_sums_refuse_to_overflow(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)
    assert ledger.create_transfers([transfer(10, 1, 2, MAX_AMOUNT)]) == ["ok"]

    results = ledger.create_transfers(
        [
            transfer(11, 1, 2, 1),
            transfer(12, 2, 1, MAX_AMOUNT),
            transfer(13, 1, 2, 1, flags=PENDING),
        ]
    )

    assert results == ["overflows_debits_posted", "ok", "overflows_debits"]
    assert balances(ledger, 1) == (0, MAX_AMOUNT, 0, MAX_AMOUNT)


def test_a_pending_transfer_reserves_then_posts_in_part(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)
    assert ledger.create_transfers([transfer(10, 1, 2, 500, flags=PENDING)]) == ["ok"]
    assert balances(ledger, 1) == (500, 0, 0, 0)

    post = Transfer(
        id=11,
        debit_account_id=0,
        credit_account_id=0,
        amount=300,
        ledger=0,
        code=0,
        flags=POST,
        pending_id=10,
    )
    assert ledger.create_transfers([post]) == ["ok"]
    assert ledger.create_transfers([post]) == ["exists"]

    assert balances(ledger, 1) == (0, 300, 0, 0)
    assert balances(ledger, 2) == (0, 0, 0, 300)
    assert ledger.pending_statuses([10, 11]) == {
        10: PendingStatus.POSTED,
        11: PendingStatus.NONE,
    }
    (stored_post,) = ledger.lookup_transfers([11])
    assert (stored_post.debit_account_id, stored_post.amount, stored_post.ledger) == (1, 300, 1)


def test_a_post_of_zero_posts_the_full_pending_amount(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)
    pending = transfer(10, 1, 2, 500, flags=PENDING)

    results = ledger.create_transfers([pending, transfer(11, 1, 2, 0, flags=POST, pending_id=10)])

    assert results == ["ok", "ok"]
    assert balances(ledger, 2) == (0, 0, 0, 500)


def test_a_voided_pending_transfer_leaves_no_trace_on_balances(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)
    ledger.create_transfers([transfer(10, 1, 2, 500, flags=PENDING)])

    assert ledger.create_transfers([transfer(11, 1, 2, 0, flags=VOID, pending_id=10)]) == ["ok"]

    assert balances(ledger, 1) == (0, 0, 0, 0)
    assert balances(ledger, 2) == (0, 0, 0, 0)
    assert ledger.pending_statuses([10]) == {10: PendingStatus.VOIDED}


@pytest.mark.parametrize(
    ("resolution", "code"),
    [
        (post(pending_id=10), "pending_transfer_already_voided"),
        (void(pending_id=10), "pending_transfer_already_voided"),
        (post(pending_id=77), "pending_transfer_not_found"),
        (post(pending_id=5), "pending_transfer_not_pending"),
        (post(), "pending_id_must_not_be_zero"),
        (post(pending_id=12), "pending_id_must_be_different"),
        (post(pending_id=20, timeout=5), "timeout_reserved_for_pending_transfer"),
        (post(amount=501, pending_id=20), "exceeds_pending_transfer_amount"),
        (void(amount=499, pending_id=20), "pending_transfer_has_different_amount"),
        (post(debit=2, credit=1, pending_id=20), "pending_transfer_has_different_debit_account_id"),
        (post(credit=3, pending_id=20), "pending_transfer_has_different_credit_account_id"),
        (post(pending_id=20, code=CODE + 1), "pending_transfer_has_different_code"),
        (post(pending_id=20, ledger=2), "pending_transfer_has_different_ledger"),
    ],
)
def test_posting_or_voiding_checks_the_pending_transfer(
    ledger: Ledger, resolution: Transfer, code: str
) -> None:
    open_accounts(ledger, 1, 2, 3)
    setup = [
        transfer(5, 1, 2, 1),
        transfer(10, 1, 2, 500, flags=PENDING),
        transfer(11, 0, 0, 0, flags=VOID, pending_id=10, ledger=0, code=0),
        transfer(20, 1, 2, 500, flags=PENDING),
    ]
    assert ledger.create_transfers(setup) == ["ok"] * 4
    before = [balances(ledger, i) for i in (1, 2)]

    assert ledger.create_transfers([resolution]) == [code]

    assert [balances(ledger, i) for i in (1, 2)] == before
    assert ledger.pending_statuses([20]) == {20: PendingStatus.PENDING}


def test_a_posted_transfer_cannot_be_voided(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)
    ledger.create_transfers(
        [transfer(10, 1, 2, 500, flags=PENDING), transfer(11, 1, 2, 0, flags=POST, pending_id=10)]
    )

    assert ledger.create_transfers([transfer(12, 1, 2, 0, flags=VOID, pending_id=10)]) == [
        "pending_transfer_already_posted"
    ]
    assert balances(ledger, 2) == (0, 0, 0, 500)


def test_a_pending_transfer_expires_after_its_timeout(ledger: Ledger, clock: FakeClock) -> None:
    open_accounts(ledger, 1, 2)
    ledger.create_transfers(
        [transfer(10, 1, 2, 500, flags=PENDING, timeout=60), transfer(11, 1, 2, 7, flags=PENDING)]
    )

    clock.advance(59)
    assert ledger.expire_pending() == 0
    clock.advance(2)  # timestamps run a few nanoseconds ahead of the clock
    assert ledger.expire_pending() == 1

    assert balances(ledger, 1) == (7, 0, 0, 0)
    assert ledger.pending_statuses([10, 11]) == {
        10: PendingStatus.EXPIRED,
        11: PendingStatus.PENDING,
    }
    post = transfer(12, 1, 2, 0, flags=POST, pending_id=10)
    assert ledger.create_transfers([post]) == ["pending_transfer_expired"]


def test_a_due_pending_transfer_expires_before_a_batch_can_post_it(
    ledger: Ledger, clock: FakeClock
) -> None:
    open_accounts(ledger, 1, 2)
    ledger.create_transfers([transfer(10, 1, 2, 500, flags=PENDING, timeout=1)])
    clock.advance(2)

    post = transfer(12, 1, 2, 0, flags=POST, pending_id=10)
    assert ledger.create_transfers([post]) == ["pending_transfer_expired"]
    assert balances(ledger, 1) == (0, 0, 0, 0)


def test_linked_transfers_apply_all_or_nothing(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2, 3)
    open_accounts(ledger, 4, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    ledger.create_transfers([transfer(9, 1, 2, 100, flags=PENDING)])

    results = ledger.create_transfers(
        [
            transfer(10, 1, 2, 5, flags=LINKED),
            transfer(11, 0, 0, 0, flags=LINKED | POST, pending_id=9, ledger=0, code=0),
            transfer(12, 4, 3, 1, flags=LINKED),  # 4 holds nothing: the chain fails here
            transfer(13, 3, 1, 2),
            transfer(14, 1, 3, 8),
        ]
    )

    assert results == [
        "linked_event_failed",
        "linked_event_failed",
        "exceeds_credits",
        "linked_event_failed",
        "ok",
    ]
    assert ledger.lookup_transfers([10, 11, 12, 13]) == []
    assert ledger.pending_statuses([9]) == {9: PendingStatus.PENDING}
    assert balances(ledger, 1) == (100, 8, 0, 0)
    assert balances(ledger, 3) == (0, 0, 0, 8)


def test_a_linked_chain_left_open_fails(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)

    results = ledger.create_transfers(
        [
            transfer(10, 1, 2, 5),
            transfer(11, 1, 2, 5, flags=LINKED),
            transfer(12, 1, 2, 5, flags=LINKED),
        ]
    )

    assert results == ["ok", "linked_event_failed", "linked_event_chain_open"]
    assert balances(ledger, 1) == (0, 5, 0, 0)


def test_a_successful_chain_applies_every_event(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2, 3)

    results = ledger.create_transfers([transfer(10, 1, 2, 5, flags=LINKED), transfer(11, 2, 3, 5)])

    assert results == ["ok", "ok"]
    assert balances(ledger, 2) == (0, 5, 0, 5)


def test_a_batch_over_the_limit_is_refused_whole(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)
    too_many = [transfer(i + 1, 1, 2, 1) for i in range(MAX_BATCH_EVENTS + 1)]

    with pytest.raises(BatchTooLargeError, match="8191 events"):
        ledger.create_transfers(too_many)

    assert balances(ledger, 1) == (0, 0, 0, 0)


def test_accounts_are_created_once_with_their_own_codes(ledger: Ledger) -> None:
    def account(account_id: int, **fields: int) -> Account:
        values = {"ledger": LEDGER, "code": CODE} | fields
        return Account(id=account_id, **values)

    results = ledger.create_accounts(
        [
            account(1),
            account(1),
            account(1, code=CODE + 1),
            account(1, ledger=2),
            account(1, user_data=3),
            account(1, flags=AccountFlags.HISTORY),
            account(0),
            account(2, ledger=0),
            account(2, code=0),
            account(2, debits_posted=5),
            account(
                2,
                flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
                | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
            ),
            account(2, flags=AccountFlags.LINKED),
            account(3, flags=AccountFlags.LINKED),
            account(4),
        ]
    )

    assert results == [
        "ok",
        "exists",
        "exists_with_different_code",
        "exists_with_different_ledger",
        "exists_with_different_user_data",
        "exists_with_different_flags",
        "id_must_not_be_zero",
        "ledger_must_not_be_zero",
        "code_must_not_be_zero",
        "debits_posted_must_be_zero",
        "flags_are_mutually_exclusive",
        "ok",  # a linked chain of three new accounts
        "ok",
        "ok",
    ]
    assert [a.id for a in ledger.lookup_accounts([1, 2, 3, 4])] == [1, 2, 3, 4]


def test_balance_history_and_transfers_of_an_account(ledger: Ledger, clock: FakeClock) -> None:
    open_accounts(ledger, 1, flags=AccountFlags.HISTORY)
    open_accounts(ledger, 2)
    ledger.create_transfers(
        [transfer(10, 1, 2, 5), transfer(11, 2, 1, 3, flags=PENDING, timeout=1)]
    )
    clock.advance(2)
    ledger.expire_pending()

    history = ledger.account_balances(1)

    assert [(h.transfer_id, h.debits_posted, h.credits_pending) for h in history] == [
        (10, 5, 0),
        (11, 5, 3),
        (11, 5, 0),
    ]
    assert [h.timestamp for h in history] == sorted(h.timestamp for h in history)
    assert [t.id for t in ledger.account_transfers(1)] == [10, 11]
    assert ledger.account_transfers(2) == []
    with pytest.raises(ValueError, match="limit"):
        ledger.account_balances(1, limit=0)


def test_totals_show_every_ledger_balanced(ledger: Ledger) -> None:
    open_accounts(ledger, 1, 2)
    open_accounts(ledger, 3, 4, on_ledger=2)
    ledger.create_transfers([transfer(10, 1, 2, 5), transfer(11, 3, 4, 9, ledger=2, flags=PENDING)])

    totals = ledger.totals()

    assert [(t.ledger, t.accounts, t.debits_posted, t.debits_pending) for t in totals] == [
        (1, 2, 5, 0),
        (2, 2, 0, 9),
    ]
    assert all(t.balanced for t in totals)

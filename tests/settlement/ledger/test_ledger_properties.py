"""The ledger's invariants under random batches, on every engine.

Hypothesis draws batches from small id spaces, so retries, conflicting reuses, posts of voided
transfers, overdrafts and broken linked chains all come up. After every batch:

- every ledger's debits equal its credits, pending and posted;
- no account with a balance constraint has overdrawn it;
- each account's balances are exactly what its stored transfers say, counting a pending
  transfer only while it is pending: so a voided or expired one leaves no trace, and a transfer
  counts once because ids are unique;
- no transfer id is ever accepted (``ok``) twice;
- the engine answers exactly as the in-memory engine does on the same batches.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from settlement.ledger import (
    MAX_AMOUNT,
    Account,
    AccountFlags,
    Ledger,
    MemoryLedger,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from tests.settlement.ledger.conftest import FakeClock, OpenLedger

ACCOUNTS = [
    Account(id=1, ledger=1, code=1),  # the issuer: may go negative
    Account(id=2, ledger=1, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
    Account(id=3, ledger=1, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
    Account(id=4, ledger=1, code=1, flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS),
    Account(id=5, ledger=1, code=1, flags=AccountFlags.HISTORY),
    Account(id=6, ledger=2, code=1),
    Account(id=7, ledger=2, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
]
PHASES = [
    TransferFlags.NONE,
    TransferFlags.PENDING,
    TransferFlags.POST_PENDING_TRANSFER,
    TransferFlags.VOID_PENDING_TRANSFER,
]

ID_SPACE = 20
transfer_ids = st.integers(min_value=1, max_value=ID_SPACE)
account_ids = st.integers(min_value=1, max_value=8)  # 8 does not exist
odd_amounts = st.sampled_from([-1, 0, MAX_AMOUNT, MAX_AMOUNT + 1])
ACCOUNTS_BY_LEDGER = {1: [1, 2, 3, 4, 5], 2: [6, 7]}
# Funding first, so that the constrained accounts have something to spend.
FUNDING = [
    Transfer(id=101, debit_account_id=1, credit_account_id=2, amount=1_000, ledger=1, code=1),
    Transfer(id=102, debit_account_id=1, credit_account_id=3, amount=1_000, ledger=1, code=1),
    Transfer(id=103, debit_account_id=1, credit_account_id=5, amount=1_000, ledger=1, code=1),
    Transfer(id=104, debit_account_id=6, credit_account_id=7, amount=1_000, ledger=2, code=1),
]
STORED_IDS = [*range(1, ID_SPACE + 1), *(t.id for t in FUNDING)]
KINDS = ["pay", "pay", "reserve", "post", "void", "retry", "odd"]


def payment(draw: st.DrawFn, flags: int) -> Transfer:
    """A transfer that can apply: two accounts of one ledger and a small amount."""
    ledger = draw(st.sampled_from([1, 1, 2]))
    debit, credit = draw(st.permutations(ACCOUNTS_BY_LEDGER[ledger]))[:2]
    pending = flags & TransferFlags.PENDING
    return Transfer(
        id=draw(transfer_ids),
        debit_account_id=debit,
        credit_account_id=credit,
        amount=draw(st.integers(min_value=1, max_value=400)),
        ledger=ledger,
        code=1,
        flags=flags,
        timeout=draw(st.integers(min_value=0, max_value=3)) if pending else 0,
    )


def resolution(draw: st.DrawFn, flags: int, pending_ids: list[int]) -> Transfer:
    """A post or void of a pending transfer made earlier, mostly leaving its fields zero."""
    return Transfer(
        id=draw(transfer_ids),
        debit_account_id=0,
        credit_account_id=0,
        amount=draw(st.sampled_from([0, 0, 1, 50, 399])),
        ledger=0,
        code=0,
        flags=flags,
        pending_id=draw(st.sampled_from(pending_ids)) if pending_ids else draw(transfer_ids),
    )


def odd(draw: st.DrawFn) -> Transfer:
    """Any fields at all: most such transfers are refused, each with its own code."""
    flags = draw(st.sampled_from(PHASES))
    return Transfer(
        id=draw(transfer_ids),
        debit_account_id=draw(account_ids),
        credit_account_id=draw(account_ids),
        amount=draw(st.one_of(odd_amounts, st.integers(min_value=1, max_value=400))),
        ledger=draw(st.integers(min_value=0, max_value=2)),
        code=draw(st.integers(min_value=0, max_value=1)),
        flags=flags,
        pending_id=draw(st.integers(min_value=0, max_value=ID_SPACE)),
        timeout=draw(st.integers(min_value=0, max_value=1)),
    )


def event_of(draw: st.DrawFn, kind: str, made: list[Transfer]) -> Transfer:
    pending_ids = [t.id for t in made if t.flags & TransferFlags.PENDING]
    if kind == "retry" and made:
        return draw(st.sampled_from(made))
    if kind == "reserve":
        return payment(draw, TransferFlags.PENDING)
    if kind == "post":
        return resolution(draw, TransferFlags.POST_PENDING_TRANSFER, pending_ids)
    if kind == "void":
        return resolution(draw, TransferFlags.VOID_PENDING_TRANSFER, pending_ids)
    if kind == "odd":
        return odd(draw)
    return payment(draw, TransferFlags.NONE)


@st.composite
def batches(draw: st.DrawFn, made: list[Transfer]) -> list[Transfer]:
    """One batch; a quarter of its events are linked to the next."""
    events = []
    for kind in draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=12)):
        event = event_of(draw, kind, made)
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            event = replace(event, flags=event.flags | TransferFlags.LINKED)
        events.append(event)
        made.append(event)
    return events


@dataclass(frozen=True)
class Step:
    """One batch, then the clock moving on."""

    transfers: list[Transfer]
    advance_s: int


@st.composite
def scripts(draw: st.DrawFn) -> list[Step]:
    made: list[Transfer] = []
    return [
        Step(draw(batches(made)), draw(st.integers(min_value=0, max_value=2)))
        for _ in range(draw(st.integers(min_value=1, max_value=8)))
    ]


def check_invariants(ledger: Ledger, accepted: Counter[int]) -> None:
    accounts = {a.id: a for a in ledger.lookup_accounts([a.id for a in ACCOUNTS])}
    for totals in ledger.totals():
        assert totals.balanced, totals
    for account in accounts.values():
        debits = account.debits_pending + account.debits_posted
        credits = account.credits_pending + account.credits_posted
        if account.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
            assert debits <= account.credits_posted, account
        if account.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS:
            assert credits <= account.debits_posted, account
    assert balances_from_transfers(ledger) == {
        a.id: (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        for a in accounts.values()
    }
    assert all(count == 1 for count in accepted.values()), accepted


def balances_from_transfers(ledger: Ledger) -> dict[int, tuple[int, int, int, int]]:
    """Each account's balances recomputed from the stored transfers alone."""
    stored = ledger.lookup_transfers(STORED_IDS)
    statuses = ledger.pending_statuses([t.id for t in stored])
    sums = {a.id: [0, 0, 0, 0] for a in ACCOUNTS}
    for t in stored:
        if t.flags & TransferFlags.PENDING:
            if statuses[t.id] != PendingStatus.PENDING:
                continue  # posted (the post counts), voided or expired: nothing reserved
            debit_index, credit_index = 0, 2
        elif t.flags & TransferFlags.VOID_PENDING_TRANSFER:
            continue
        else:
            debit_index, credit_index = 1, 3
        sums[t.debit_account_id][debit_index] += t.amount
        sums[t.credit_account_id][credit_index] += t.amount
    return {account_id: (a, b, c, d) for account_id, (a, b, c, d) in sums.items()}


def replay(ledger: Ledger, clock: FakeClock, script: list[Step]) -> list[list[str]]:
    """Run ``script`` on ``ledger`` checking the invariants after every batch."""
    assert ledger.create_accounts(ACCOUNTS) == ["ok"] * len(ACCOUNTS)
    assert ledger.create_transfers(FUNDING) == ["ok"] * len(FUNDING)
    accepted: Counter[int] = Counter()
    answers = []
    for step in script:
        results = ledger.create_transfers(step.transfers)
        accepted.update(
            t.id for t, result in zip(step.transfers, results, strict=True) if result == "ok"
        )
        answers.append([str(result) for result in results])
        for transfer, result in zip(step.transfers, results, strict=True):
            event(f"{result} {TransferFlags(transfer.flags & ~TransferFlags.LINKED).name}")
        check_invariants(ledger, accepted)
        clock.advance(step.advance_s)
    return answers


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=scripts())
def test_random_batches_keep_the_ledger_sound(open_fresh: OpenLedger, script: list[Step]) -> None:
    clock = FakeClock()
    reference_clock = FakeClock()
    with open_fresh(clock) as ledger:
        answers = replay(ledger, clock, script)
        reference = replay(MemoryLedger(reference_clock), reference_clock, script)
        assert answers == reference

"""The ledger's rules, applied to a batch of events in memory: no I/O here.

A storage engine loads what a batch can touch into a ``LedgerState`` (the accounts and the
transfers its events name, and the pending transfers due to expire), calls ``apply_transfers`` or
``apply_accounts``, and writes the returned ``Changes`` in one database transaction. The rules
therefore live in one place and behave identically on every engine.

Events apply in order, each seeing the ones before it. Linked events (the ``LINKED`` flag joins an
event to the next) apply all or nothing: an undo log, kept only while a chain is open, restores
everything the chain touched when one of its events fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from settlement.ledger.model import (
    ACCOUNT_FLAGS_KNOWN,
    MAX_AMOUNT,
    MAX_BATCH_EVENTS,
    MAX_ID,
    NANOSECONDS_PER_SECOND,
    TRANSFER_FLAGS_KNOWN,
    Account,
    AccountBalance,
    AccountFlags,
    BatchTooLargeError,
    CreateAccountResult,
    CreateTransferResult,
    PendingStatus,
    Transfer,
    TransferFlags,
)

R = CreateTransferResult
A = CreateAccountResult
_LINKED = int(TransferFlags.LINKED)
_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING_TRANSFER)
_VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_PHASES = _PENDING | _POST | _VOID
_DEBITS_LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CREDITS_LIMITED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_HISTORY = int(AccountFlags.HISTORY)


class AccountState:
    """An account's mutable balances while a batch applies."""

    __slots__ = (
        "code",
        "credits_pending",
        "credits_posted",
        "debits_pending",
        "debits_posted",
        "flags",
        "id",
        "ledger",
        "timestamp",
        "user_data",
    )

    def __init__(self, account: Account) -> None:
        self.id = account.id
        self.ledger = account.ledger
        self.code = account.code
        self.flags = int(account.flags)
        self.user_data = account.user_data
        self.debits_pending = account.debits_pending
        self.debits_posted = account.debits_posted
        self.credits_pending = account.credits_pending
        self.credits_posted = account.credits_posted
        self.timestamp = account.timestamp

    def balances(self) -> tuple[int, int, int, int]:
        return (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted)

    def restore(self, balances: tuple[int, int, int, int]) -> None:
        (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted) = (
            balances
        )

    def frozen(self) -> Account:
        return Account(
            id=self.id,
            ledger=self.ledger,
            code=self.code,
            flags=self.flags,
            user_data=self.user_data,
            debits_pending=self.debits_pending,
            debits_posted=self.debits_posted,
            credits_pending=self.credits_pending,
            credits_posted=self.credits_posted,
            timestamp=self.timestamp,
        )


class TransferState:
    """A stored (or just created) transfer and, for a pending one, where it stands."""

    __slots__ = ("expires_at", "status", "stored", "timestamp", "transfer")

    def __init__(
        self,
        transfer: Transfer,
        timestamp: int,
        status: PendingStatus,
        expires_at: int | None,
        *,
        stored: bool,
    ) -> None:
        # ``transfer`` is the event as given (its own timestamp zero); the ledger's is beside it.
        self.transfer = transfer
        self.timestamp = timestamp
        self.status = status
        self.expires_at = expires_at
        # Whether the row exists in storage already (a status change is then an update).
        self.stored = stored


@dataclass
class LedgerState:
    """What one batch may read and change: loaded by the engine, mutated by the rules."""

    accounts: dict[int, AccountState] = field(default_factory=dict)
    transfers: dict[int, TransferState] = field(default_factory=dict)


@dataclass
class Changes:
    """What a batch did, for the engine to write in one transaction."""

    # An account batch only creates accounts and a transfer batch only changes them, so an
    # account is never in both lists.
    created_accounts: list[AccountState] = field(default_factory=list)
    created_transfers: list[TransferState] = field(default_factory=list)
    changed_accounts: dict[int, AccountState] = field(default_factory=dict)
    # Stored pending transfers that were posted, voided or expired.
    resolved_pending: dict[int, TransferState] = field(default_factory=dict)
    history: list[AccountBalance] = field(default_factory=list)


def require_batch_size(events: Sequence[object]) -> None:
    if len(events) > MAX_BATCH_EVENTS:
        raise BatchTooLargeError(len(events))


def pending_ids_referenced(transfers: Sequence[Transfer]) -> set[int]:
    """The pending transfers a batch's posts and voids name: the engine loads them first."""
    return {t.pending_id for t in transfers if t.flags & (_POST | _VOID) and t.pending_id}


def accounts_referenced(transfers: Sequence[Transfer], state: LedgerState) -> set[int]:
    """Every account the batch may touch, including those of loaded pending transfers."""
    ids = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
    for loaded in state.transfers.values():
        ids.add(loaded.transfer.debit_account_id)
        ids.add(loaded.transfer.credit_account_id)
    ids.discard(0)
    return ids


class _ChainedBatch:
    """Runs events in order; a linked chain applies all or nothing (see the module docstring)."""

    ok: str
    linked_event_failed: str
    linked_event_chain_open: str

    def __init__(self, state: LedgerState, first_timestamp: int) -> None:
        self.state = state
        self.first_timestamp = first_timestamp
        self.changes = Changes()
        self._undo: _UndoLog | None = None

    def run(self, events: Sequence[Account] | Sequence[Transfer]) -> list[str]:
        results = [self.ok] * len(events)
        index = 0
        while index < len(events):
            if not events[index].flags & _LINKED:  # flags are plain ints (see the model)
                results[index] = self.create(events[index], self.first_timestamp + index)
                index += 1
                continue
            index = self._run_chain(events, index, results)
        return results

    def _run_chain(
        self, events: Sequence[Account | Transfer], start: int, results: list[str]
    ) -> int:
        """Apply the chain starting at ``start``; return the index after its last event."""
        self._undo = _UndoLog(self.changes, self.state)
        index, failed = start, False
        while index < len(events):
            event = events[index]
            linked = bool(event.flags & _LINKED)
            if linked and index == len(events) - 1:
                results[index] = self.linked_event_chain_open
            else:
                results[index] = self.create(event, self.first_timestamp + index)
            failed = failed or results[index] != self.ok
            index += 1
            if failed or not linked:
                break
        while failed and index < len(events) and events[index - 1].flags & _LINKED:
            index += 1  # the rest of a failed chain is not applied
        if failed:
            self._undo.roll_back()
            for position in range(start, index):
                if results[position] == self.ok:
                    results[position] = self.linked_event_failed
        self._undo = None
        return index

    def create(self, event: Account | Transfer, timestamp: int) -> str:
        raise NotImplementedError

    def touch(self, account: AccountState) -> None:
        """Note an account about to change: for writing, and for undo inside a chain."""
        if self._undo is not None:
            self._undo.save_account(account)
        self.changes.changed_accounts[account.id] = account


class _UndoLog:
    """What a linked chain changed, so a failing event can put everything back."""

    def __init__(self, changes: Changes, state: LedgerState) -> None:
        self.changes = changes
        self.state = state
        self.balances: dict[int, tuple[int, int, int, int]] = {}
        self.statuses: list[tuple[TransferState, PendingStatus, bool]] = []
        self.created_accounts = len(changes.created_accounts)
        self.created_transfers = len(changes.created_transfers)
        self.history = len(changes.history)

    def save_account(self, account: AccountState) -> None:
        if account.id not in self.balances:
            self.balances[account.id] = account.balances()

    def save_status(self, pending: TransferState) -> None:
        was_listed = pending.transfer.id in self.changes.resolved_pending
        self.statuses.append((pending, pending.status, was_listed))

    def roll_back(self) -> None:
        for account_id, balances in self.balances.items():
            self.state.accounts[account_id].restore(balances)
        for pending, status, was_listed in reversed(self.statuses):
            pending.status = status
            if not was_listed:
                self.changes.resolved_pending.pop(pending.transfer.id, None)
        for created in self.changes.created_transfers[self.created_transfers :]:
            del self.state.transfers[created.transfer.id]
        for account in self.changes.created_accounts[self.created_accounts :]:
            del self.state.accounts[account.id]
        del self.changes.created_transfers[self.created_transfers :]
        del self.changes.created_accounts[self.created_accounts :]
        del self.changes.history[self.history :]


class _AccountBatch(_ChainedBatch):
    ok = CreateAccountResult.OK
    linked_event_failed = CreateAccountResult.LINKED_EVENT_FAILED
    linked_event_chain_open = CreateAccountResult.LINKED_EVENT_CHAIN_OPEN

    def create(self, event: Account | Transfer, timestamp: int) -> str:
        assert isinstance(event, Account)
        refusal = _account_refusal(event)
        if refusal is not None:
            return refusal
        existing = self.state.accounts.get(event.id)
        if existing is not None:
            return _account_exists(event, existing)
        account = AccountState(event)
        account.timestamp = timestamp
        self.state.accounts[event.id] = account
        self.changes.created_accounts.append(account)
        return self.ok


def _account_refusal(account: Account) -> CreateAccountResult | None:
    flags = int(account.flags)
    checks = (
        (account.timestamp != 0, A.TIMESTAMP_MUST_BE_ZERO),
        (flags & ~ACCOUNT_FLAGS_KNOWN, A.RESERVED_FLAG),
        (account.id == 0, A.ID_MUST_NOT_BE_ZERO),
        (account.id == MAX_ID, A.ID_MUST_NOT_BE_INT_MAX),
        (flags & _DEBITS_LIMITED and flags & _CREDITS_LIMITED, A.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
        (account.debits_pending != 0, A.DEBITS_PENDING_MUST_BE_ZERO),
        (account.debits_posted != 0, A.DEBITS_POSTED_MUST_BE_ZERO),
        (account.credits_pending != 0, A.CREDITS_PENDING_MUST_BE_ZERO),
        (account.credits_posted != 0, A.CREDITS_POSTED_MUST_BE_ZERO),
        (account.ledger == 0, A.LEDGER_MUST_NOT_BE_ZERO),
        (account.code == 0, A.CODE_MUST_NOT_BE_ZERO),
    )
    return next((result for failed, result in checks if failed), None)


def _account_exists(account: Account, existing: AccountState) -> CreateAccountResult:
    if int(account.flags) != existing.flags:
        return A.EXISTS_WITH_DIFFERENT_FLAGS
    if account.user_data != existing.user_data:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA
    if account.ledger != existing.ledger:
        return A.EXISTS_WITH_DIFFERENT_LEDGER
    if account.code != existing.code:
        return A.EXISTS_WITH_DIFFERENT_CODE
    return A.EXISTS


def apply_accounts(
    state: LedgerState, accounts: Sequence[Account], first_timestamp: int
) -> tuple[list[CreateAccountResult], Changes]:
    """Create ``accounts`` in order against ``state``: one result per event, and the changes."""
    require_batch_size(accounts)
    batch = _AccountBatch(state, first_timestamp)
    results = batch.run(accounts)
    return cast(list[CreateAccountResult], results), batch.changes


class _TransferBatch(_ChainedBatch):
    ok = R.OK
    linked_event_failed = R.LINKED_EVENT_FAILED
    linked_event_chain_open = R.LINKED_EVENT_CHAIN_OPEN

    def create(self, event: Account | Transfer, timestamp: int) -> str:
        assert isinstance(event, Transfer)
        flags = int(event.flags)
        refusal = _transfer_header_refusal(event, flags)
        if refusal is not None:
            return refusal
        if flags & (_POST | _VOID):
            return self._resolve_pending(event, flags, timestamp)
        return self._create_transfer(event, flags, timestamp)

    def _create_transfer(self, t: Transfer, flags: int, timestamp: int) -> R:  # noqa: PLR0911 (one return per result code)
        refusal = _new_transfer_refusal(t, flags)
        if refusal is not None:
            return refusal
        existing = self.state.transfers.get(t.id)
        if existing is not None:
            return _transfer_exists(t, existing.transfer, resolving=False)
        debit = self.state.accounts.get(t.debit_account_id)
        if debit is None:
            return R.DEBIT_ACCOUNT_NOT_FOUND
        credit = self.state.accounts.get(t.credit_account_id)
        if credit is None:
            return R.CREDIT_ACCOUNT_NOT_FOUND
        if debit.ledger != credit.ledger:
            return R.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER
        if t.ledger != debit.ledger:
            return R.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS
        pending = bool(flags & _PENDING)
        refusal = _balance_refusal(debit, credit, t.amount, pending=pending)
        if refusal is not None:
            return refusal
        expires_at = timestamp + t.timeout * NANOSECONDS_PER_SECOND if t.timeout else None
        if expires_at is not None and expires_at > MAX_AMOUNT:
            return R.OVERFLOWS_TIMEOUT
        self.touch(debit)
        self.touch(credit)
        if pending:
            debit.debits_pending += t.amount
            credit.credits_pending += t.amount
        else:
            debit.debits_posted += t.amount
            credit.credits_posted += t.amount
        status = PendingStatus.PENDING if pending else PendingStatus.NONE
        self._record(t, timestamp, status, expires_at, debit, credit)
        return R.OK

    def _resolve_pending(self, t: Transfer, flags: int, timestamp: int) -> R:  # noqa: PLR0911 (one return per result code)
        refusal = _resolution_refusal(t)
        if refusal is not None:
            return refusal
        existing = self.state.transfers.get(t.id)
        if existing is not None:
            return _transfer_exists(t, existing.transfer, resolving=True)
        pending = self.state.transfers.get(t.pending_id)
        if pending is None:
            return R.PENDING_TRANSFER_NOT_FOUND
        posting = bool(flags & _POST)
        refusal = _pending_mismatch(t, pending, posting=posting)
        if refusal is not None:
            return refusal
        p = pending.transfer
        amount = (t.amount or p.amount) if posting else p.amount
        debit = self.state.accounts[p.debit_account_id]
        credit = self.state.accounts[p.credit_account_id]
        if posting and debit.debits_posted + amount > MAX_AMOUNT:
            return R.OVERFLOWS_DEBITS_POSTED
        if posting and credit.credits_posted + amount > MAX_AMOUNT:
            return R.OVERFLOWS_CREDITS_POSTED
        self.touch(debit)
        self.touch(credit)
        _release(debit, credit, p.amount)
        if posting:
            debit.debits_posted += amount
            credit.credits_posted += amount
        self._set_status(pending, PendingStatus.POSTED if posting else PendingStatus.VOIDED)
        resolved = Transfer(
            id=t.id,
            debit_account_id=p.debit_account_id,
            credit_account_id=p.credit_account_id,
            amount=amount,
            ledger=p.ledger,
            code=p.code,
            flags=flags,
            pending_id=p.id,
            user_data=t.user_data or p.user_data,
        )
        self._record(resolved, timestamp, PendingStatus.NONE, None, debit, credit)
        return R.OK

    def expire(self, pending: TransferState, timestamp: int) -> None:
        """Release a pending transfer whose timeout has passed, as if voided."""
        assert pending.status == PendingStatus.PENDING
        p = pending.transfer
        debit = self.state.accounts[p.debit_account_id]
        credit = self.state.accounts[p.credit_account_id]
        self.touch(debit)
        self.touch(credit)
        _release(debit, credit, p.amount)
        self._set_status(pending, PendingStatus.EXPIRED)
        self._note_history(debit, p.id, timestamp)
        self._note_history(credit, p.id, timestamp)

    def _set_status(self, pending: TransferState, status: PendingStatus) -> None:
        if self._undo is not None:
            self._undo.save_status(pending)
        pending.status = status
        if pending.stored:
            self.changes.resolved_pending[pending.transfer.id] = pending

    def _record(
        self,
        t: Transfer,
        timestamp: int,
        status: PendingStatus,
        expires_at: int | None,
        debit: AccountState,
        credit: AccountState,
    ) -> None:
        created = TransferState(t, timestamp, status, expires_at, stored=False)
        self.state.transfers[t.id] = created
        self.changes.created_transfers.append(created)
        self._note_history(debit, t.id, timestamp)
        self._note_history(credit, t.id, timestamp)

    def _note_history(self, account: AccountState, transfer_id: int, timestamp: int) -> None:
        if account.flags & _HISTORY:
            self.changes.history.append(
                AccountBalance(account.id, transfer_id, timestamp, *account.balances())
            )


def _release(debit: AccountState, credit: AccountState, amount: int) -> None:
    debit.debits_pending -= amount
    credit.credits_pending -= amount
    assert debit.debits_pending >= 0
    assert credit.credits_pending >= 0


def _first_failed(checks: Sequence[tuple[object, R]]) -> R | None:
    return next((result for failed, result in checks if failed), None)


# The checks every transfer passes run as plain if-chains: they are the hot path of a batch.
def _transfer_header_refusal(t: Transfer, flags: int) -> R | None:
    phases = flags & _PHASES
    if t.timestamp != 0:
        return R.TIMESTAMP_MUST_BE_ZERO
    if flags & ~TRANSFER_FLAGS_KNOWN:
        return R.RESERVED_FLAG
    if t.id == 0:
        return R.ID_MUST_NOT_BE_ZERO
    if t.id == MAX_ID:
        return R.ID_MUST_NOT_BE_INT_MAX
    if phases & (phases - 1):
        return R.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    return None


def _amount_refusal(amount: int) -> R | None:
    if amount < 0:
        return R.AMOUNT_MUST_NOT_BE_NEGATIVE
    if amount > MAX_AMOUNT:
        return R.AMOUNT_OVERFLOWS
    return None


def _new_transfer_refusal(t: Transfer, flags: int) -> R | None:  # noqa: PLR0911 (one return per result code)
    if t.debit_account_id == 0:
        return R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if t.credit_account_id == 0:
        return R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if t.debit_account_id == t.credit_account_id:
        return R.ACCOUNTS_MUST_BE_DIFFERENT
    if t.pending_id != 0:
        return R.PENDING_ID_MUST_BE_ZERO
    if t.timeout != 0 and not flags & _PENDING:
        return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if t.ledger == 0:
        return R.LEDGER_MUST_NOT_BE_ZERO
    if t.code == 0:
        return R.CODE_MUST_NOT_BE_ZERO
    if t.amount == 0:
        return R.AMOUNT_MUST_NOT_BE_ZERO
    return _amount_refusal(t.amount)


def _resolution_refusal(t: Transfer) -> R | None:
    return _first_failed(
        (
            (t.pending_id == 0, R.PENDING_ID_MUST_NOT_BE_ZERO),
            (t.pending_id == t.id, R.PENDING_ID_MUST_BE_DIFFERENT),
            (t.timeout != 0, R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER),
        )
    ) or _amount_refusal(t.amount)


def _pending_mismatch(t: Transfer, pending: TransferState, *, posting: bool) -> R | None:
    """Why ``t`` may not post or void ``pending``; zero fields of ``t`` mean "the pending's"."""
    p = pending.transfer
    return _first_failed(
        (
            (not p.flags & _PENDING, R.PENDING_TRANSFER_NOT_PENDING),
            (
                t.debit_account_id not in (0, p.debit_account_id),
                R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID,
            ),
            (
                t.credit_account_id not in (0, p.credit_account_id),
                R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID,
            ),
            (t.ledger not in (0, p.ledger), R.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER),
            (t.code not in (0, p.code), R.PENDING_TRANSFER_HAS_DIFFERENT_CODE),
            (posting and t.amount > p.amount, R.EXCEEDS_PENDING_TRANSFER_AMOUNT),
            (
                not posting and t.amount not in (0, p.amount),
                R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT,
            ),
            (pending.status == PendingStatus.POSTED, R.PENDING_TRANSFER_ALREADY_POSTED),
            (pending.status == PendingStatus.VOIDED, R.PENDING_TRANSFER_ALREADY_VOIDED),
            (pending.status == PendingStatus.EXPIRED, R.PENDING_TRANSFER_EXPIRED),
        )
    )


def _balance_refusal(  # noqa: PLR0911 (one return per result code)
    debit: AccountState, credit: AccountState, amount: int, *, pending: bool
) -> R | None:
    """Overflow of any running sum, then the accounts' balance constraints."""
    if pending:
        if debit.debits_pending + amount > MAX_AMOUNT:
            return R.OVERFLOWS_DEBITS_PENDING
        if credit.credits_pending + amount > MAX_AMOUNT:
            return R.OVERFLOWS_CREDITS_PENDING
    else:
        if debit.debits_posted + amount > MAX_AMOUNT:
            return R.OVERFLOWS_DEBITS_POSTED
        if credit.credits_posted + amount > MAX_AMOUNT:
            return R.OVERFLOWS_CREDITS_POSTED
    debits = debit.debits_pending + debit.debits_posted + amount
    credits = credit.credits_pending + credit.credits_posted + amount
    if debits > MAX_AMOUNT:
        return R.OVERFLOWS_DEBITS
    if credits > MAX_AMOUNT:
        return R.OVERFLOWS_CREDITS
    if debit.flags & _DEBITS_LIMITED and debits > debit.credits_posted:
        return R.EXCEEDS_CREDITS
    if credit.flags & _CREDITS_LIMITED and credits > credit.debits_posted:
        return R.EXCEEDS_DEBITS
    return None


def _transfer_exists(t: Transfer, e: Transfer, *, resolving: bool) -> R:
    """Compare a transfer with the stored one of the same id: a retry, or a conflicting reuse.

    A post or void may leave accounts, ledger, code, amount and user data zero ("as the pending
    transfer"), so for those a zero matches whatever was stored.
    """

    def differs(given: int, stored: int) -> bool:
        return given != stored and not (resolving and given == 0)

    checks: Sequence[tuple[object, R]] = (
        (int(t.flags) != int(e.flags), R.EXISTS_WITH_DIFFERENT_FLAGS),
        (t.pending_id != e.pending_id, R.EXISTS_WITH_DIFFERENT_PENDING_ID),
        (t.timeout != e.timeout, R.EXISTS_WITH_DIFFERENT_TIMEOUT),
        (differs(t.debit_account_id, e.debit_account_id), R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID),
        (
            differs(t.credit_account_id, e.credit_account_id),
            R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID,
        ),
        (differs(t.amount, e.amount), R.EXISTS_WITH_DIFFERENT_AMOUNT),
        (differs(t.user_data, e.user_data), R.EXISTS_WITH_DIFFERENT_USER_DATA),
        (differs(t.ledger, e.ledger), R.EXISTS_WITH_DIFFERENT_LEDGER),
        (differs(t.code, e.code), R.EXISTS_WITH_DIFFERENT_CODE),
    )
    return _first_failed(checks) or R.EXISTS


def apply_transfers(
    state: LedgerState,
    transfers: Sequence[Transfer],
    first_timestamp: int,
    due_pending: Sequence[int] = (),
) -> tuple[list[CreateTransferResult], Changes]:
    """Expire ``due_pending``, then apply ``transfers`` in order: one result per event.

    Expiries take the timestamps just before ``first_timestamp``'s events; the engine passes
    every pending transfer whose ``expires_at`` is at or before ``first_timestamp``.
    """
    require_batch_size(transfers)
    batch = _TransferBatch(state, first_timestamp + len(due_pending))
    for offset, pending_id in enumerate(sorted(due_pending)):
        pending = state.transfers[pending_id]
        if pending.status == PendingStatus.PENDING:
            batch.expire(pending, first_timestamp + offset)
    results = batch.run(transfers)
    return cast(list[R], results), batch.changes

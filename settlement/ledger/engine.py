"""The ledger interface, and the batch flow every SQL engine shares.

``Ledger`` is what callers use: create accounts and transfers in batches, look them up, read an
account's balance history, and sum each ledger. ``SqlLedger`` implements it on top of a handful
of storage primitives (load rows, write changes, one transaction), which the SQLite and
PostgreSQL engines provide. The rules themselves are in ``core``.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Self, TypeVar

from settlement.ledger.core import (
    AccountState,
    Changes,
    LedgerState,
    TransferState,
    accounts_referenced,
    apply_accounts,
    apply_transfers,
    pending_ids_referenced,
    require_batch_size,
)
from settlement.ledger.model import (
    MAX_BATCH_EVENTS,
    Account,
    AccountBalance,
    CreateAccountResult,
    CreateTransferResult,
    LedgerTotals,
    PendingStatus,
    Transfer,
)

Clock = Callable[[], int]
T = TypeVar("T")
# How many times a batch is retried after a conflict with a concurrent writer (PostgreSQL).
MAX_CONFLICT_RETRIES = 20
# Lookups return at most this many rows, and history reads at most this many entries.
MAX_LOOKUP = MAX_BATCH_EVENTS


class _RetryCheckedError(Exception):
    """A first attempt met a stored transfer id: run the batch again, looking ids up."""


class Ledger(ABC):
    """A double-entry ledger: TigerBeetle's operations, one result code per event."""

    @abstractmethod
    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        """Create accounts in order; one result per event (``BatchTooLargeError`` past 8,190)."""

    @abstractmethod
    def create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        """Apply transfers in order; one result per event, the batch in one durable commit."""

    @abstractmethod
    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        """The accounts that exist among ``ids``, in the order asked."""

    @abstractmethod
    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        """The transfers that exist among ``ids``, in the order asked, timestamps filled."""

    @abstractmethod
    def pending_statuses(self, ids: Sequence[int]) -> dict[int, PendingStatus]:
        """Where each existing transfer among ``ids`` stands (``NONE`` unless two-phase)."""

    @abstractmethod
    def account_balances(self, account_id: int, limit: int = MAX_LOOKUP) -> list[AccountBalance]:
        """The balances after each change, oldest first (accounts with the ``HISTORY`` flag)."""

    @abstractmethod
    def account_transfers(self, account_id: int, limit: int = MAX_LOOKUP) -> list[Transfer]:
        """The transfers that changed an account with the ``HISTORY`` flag, oldest first.

        Other accounts list nothing: indexing every transfer by both its accounts would cost
        SQLite about a third of its batched insert rate, so, as for balance history, an account
        opts in with its flag.
        """

    @abstractmethod
    def totals(self) -> list[LedgerTotals]:
        """The sums of every ledger's balances, for checking that debits equal credits."""

    @abstractmethod
    def expire_pending(self) -> int:
        """Expire pending transfers whose timeout has passed; how many expired.

        Every ``create_transfers`` does this first for the transfers due, so a caller needs it
        only to release reservations when no transfers arrive.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def require_lookup_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LOOKUP:
        raise ValueError(f"limit must be between 1 and {MAX_LOOKUP}, got {limit}")


class Timestamps:
    """Ledger timestamps in nanoseconds: unique and increasing within this process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def reserve(self, events: int, after: int = 0) -> int:
        """The first of ``events`` consecutive timestamps, later than any given before and
        than ``after`` (the latest another process stored)."""
        first = max(self._clock(), self._last + 1, after + 1)
        self._last = first + events
        return first


def encode_id(value: int) -> bytes:
    """A 128-bit id as 16 big-endian bytes, so byte order is numeric order in both databases."""
    return value.to_bytes(16, "big")


def decode_id(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


ACCOUNT_COLUMNS = (
    "id, ledger, code, flags, user_data, debits_pending, debits_posted, "
    "credits_pending, credits_posted, timestamp"
)
TRANSFER_COLUMNS = (
    "id, debit_account_id, credit_account_id, amount, pending_id, ledger, code, flags, "
    "timeout, user_data, timestamp, status, expires_at"
)
_PREFIXED_TRANSFER_COLUMNS = ", ".join(f"t.{name.strip()}" for name in TRANSFER_COLUMNS.split(","))
BALANCE_COLUMNS = (
    "account_id, timestamp, transfer_id, debits_pending, debits_posted, "
    "credits_pending, credits_posted"
)


def account_from_row(row: Sequence[Any]) -> Account:
    return Account(
        id=decode_id(row[0]),
        ledger=row[1],
        code=row[2],
        flags=row[3],
        user_data=decode_id(row[4]),
        debits_pending=row[5],
        debits_posted=row[6],
        credits_pending=row[7],
        credits_posted=row[8],
        timestamp=row[9],
    )


def account_row(account: AccountState) -> tuple[Any, ...]:
    return (
        encode_id(account.id),
        account.ledger,
        account.code,
        account.flags,
        encode_id(account.user_data),
        account.debits_pending,
        account.debits_posted,
        account.credits_pending,
        account.credits_posted,
        account.timestamp,
    )


def balances_row(account: AccountState) -> tuple[Any, ...]:
    """An account's balances then its id, the order the engines' updates bind them in."""
    return (*account.balances(), encode_id(account.id))


def transfer_state_from_row(row: Sequence[Any]) -> TransferState:
    transfer = Transfer(
        id=decode_id(row[0]),
        debit_account_id=decode_id(row[1]),
        credit_account_id=decode_id(row[2]),
        amount=row[3],
        pending_id=decode_id(row[4]),
        ledger=row[5],
        code=row[6],
        flags=row[7],
        timeout=row[8],
        user_data=decode_id(row[9]),
    )
    return TransferState(transfer, row[10], PendingStatus(row[11]), row[12], stored=True)


def with_timestamp(state: TransferState) -> Transfer:
    t = state.transfer
    return Transfer(
        id=t.id,
        debit_account_id=t.debit_account_id,
        credit_account_id=t.credit_account_id,
        amount=t.amount,
        ledger=t.ledger,
        code=t.code,
        flags=t.flags,
        pending_id=t.pending_id,
        timeout=t.timeout,
        user_data=t.user_data,
        timestamp=state.timestamp,
    )


_ZERO_ID = bytes(16)


def transfer_row(state: TransferState) -> tuple[Any, ...]:
    t = state.transfer
    # Most transfers have neither pending id nor user data: skip encoding their zeros.
    return (
        encode_id(t.id),
        encode_id(t.debit_account_id),
        encode_id(t.credit_account_id),
        t.amount,
        encode_id(t.pending_id) if t.pending_id else _ZERO_ID,
        t.ledger,
        t.code,
        t.flags,
        t.timeout,
        encode_id(t.user_data) if t.user_data else _ZERO_ID,
        state.timestamp,
        int(state.status),
        state.expires_at,
    )


def balance_row(entry: AccountBalance) -> tuple[Any, ...]:
    return (
        encode_id(entry.account_id),
        entry.timestamp,
        encode_id(entry.transfer_id),
        entry.debits_pending,
        entry.debits_posted,
        entry.credits_pending,
        entry.credits_posted,
    )


def balance_from_row(row: Sequence[Any]) -> AccountBalance:
    return AccountBalance(
        account_id=decode_id(row[0]),
        timestamp=row[1],
        transfer_id=decode_id(row[2]),
        debits_pending=row[3],
        debits_posted=row[4],
        credits_pending=row[5],
        credits_posted=row[6],
    )


def ordered(found: dict[int, Any], ids: Sequence[int]) -> list[Any]:
    return [found[i] for i in dict.fromkeys(ids) if i in found]


class SqlLedger(Ledger):
    """The batch flow on a SQL database; subclasses supply the statements.

    A batch is one transaction: load the rows it may touch (locking them where the database
    has row locks), apply the rules in memory, write what changed, commit. A conflict with a
    concurrent writer (a transfer id inserted meanwhile, a deadlock) rolls the batch back and
    runs it again, at most ``MAX_CONFLICT_RETRIES`` times; the second run sees the other
    writer's rows and answers ``exists`` where it must.
    """

    def __init__(self, clock: Clock = time.time_ns) -> None:
        self._timestamps = Timestamps(clock)
        # One connection, used by one thread at a time.
        self._lock = threading.Lock()

    # Storage primitives --------------------------------------------------------------------

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A write transaction; yields the cursor the primitives below take."""

    @abstractmethod
    def _load_accounts(self, cursor: Any, ids: set[int], *, lock: bool) -> dict[int, AccountState]:
        """The existing accounts among ``ids``."""

    @abstractmethod
    def _load_transfers(
        self, cursor: Any, ids: set[int], *, lock: bool
    ) -> dict[int, TransferState]:
        """The existing transfers among ``ids``."""

    @abstractmethod
    def _load_due_pending(self, cursor: Any, now: int) -> dict[int, TransferState]:
        """Pending transfers expiring at or before ``now``, at most one batch of them."""

    @abstractmethod
    def _write(self, cursor: Any, changes: Changes) -> None:
        """Insert and update everything ``changes`` lists."""

    def _latest_timestamp(self, cursor: Any) -> int:
        """The latest transfer timestamp stored, where timestamps must be unique across
        processes (SQLite keys transfers by them); zero where they need not be."""
        return 0

    @abstractmethod
    def _is_conflict(self, error: Exception) -> bool:
        """Whether ``error`` is a concurrent writer's conflict worth retrying the batch for."""

    @abstractmethod
    def _read(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a read-only query outside any write transaction."""

    @abstractmethod
    def _placeholder_list(self, values: Sequence[Any]) -> tuple[str, Sequence[Any]]:
        """An ``IN``-able SQL fragment for ``values`` and the parameters it binds."""

    # The operations ----------------------------------------------------------------------

    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        require_batch_size(accounts)
        if not accounts:
            return []

        def batch(cursor: Any, _checked: bool) -> list[CreateAccountResult]:
            state = LedgerState(
                accounts=self._load_accounts(cursor, {a.id for a in accounts}, lock=True)
            )
            results, changes = apply_accounts(
                state, accounts, self._timestamps.reserve(len(accounts))
            )
            self._write(cursor, changes)
            return results

        return self._in_transaction(batch)

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        require_batch_size(transfers)
        if not transfers:
            return []

        reserved: list[int] = []

        def batch(cursor: Any, checked: bool) -> list[CreateTransferResult]:
            first = self._batch_timestamp(cursor, len(transfers), reserved)
            state = LedgerState()
            state.transfers.update(self._load_due_pending(cursor, first))
            due = list(state.transfers)
            state.transfers.update(
                self._load_transfers(cursor, pending_ids_referenced(transfers), lock=True)
            )
            state.accounts = self._load_accounts(
                cursor, accounts_referenced(transfers, state), lock=True
            )
            if checked:
                unloaded = {t.id for t in transfers} - state.transfers.keys()
                state.transfers.update(self._load_transfers(cursor, unloaded, lock=False))
            results, changes = apply_transfers(state, transfers, first, due)
            if not checked:
                self._require_new_ids_of_failures(cursor, transfers, results, state)
            self._write(cursor, changes)
            return results

        return self._in_transaction(batch)

    def expire_pending(self) -> int:
        def batch(cursor: Any, _checked: bool) -> int:
            first = self._timestamps.reserve(MAX_BATCH_EVENTS, self._latest_timestamp(cursor))
            state = LedgerState(transfers=self._load_due_pending(cursor, first))
            state.accounts = self._load_accounts(cursor, accounts_referenced([], state), lock=True)
            _results, changes = apply_transfers(state, [], first, list(state.transfers))
            self._write(cursor, changes)
            return len(changes.resolved_pending)

        return self._in_transaction(batch)

    def _batch_timestamp(self, cursor: Any, events: int, reserved: list[int]) -> int:
        """The batch's first timestamp: the one reserved by an earlier attempt of the same
        batch, so a retry gives the same timestamps (and so the same expiries) as a first
        attempt would have, unless another process has stored a later one meanwhile."""
        latest = self._latest_timestamp(cursor)
        if not reserved or reserved[0] <= latest:
            reserved[:] = [self._timestamps.reserve(events + MAX_BATCH_EVENTS, latest)]
        return reserved[0]

    def _require_new_ids_of_failures(
        self,
        cursor: Any,
        transfers: Sequence[Transfer],
        results: Sequence[CreateTransferResult],
        state: LedgerState,
    ) -> None:
        """After a first attempt that did not look up the batch's ids: an event that failed
        may have failed only because its id exists (a retry must answer ``exists``, not, say,
        ``exceeds_credits``), so look those few ids up and start over if any is stored."""
        failed = {
            t.id
            for t, result in zip(transfers, results, strict=True)
            if result != CreateTransferResult.OK
        } - state.transfers.keys()
        if failed and self._load_transfers(cursor, failed, lock=False):
            raise _RetryCheckedError

    def _in_transaction(self, batch: Callable[[Any, bool], T]) -> T:
        """Run ``batch`` in a transaction, again after a conflict, at most so many times.

        The first attempt does not look up whether the batch's new transfer ids exist: the
        unique index on ids finds a reused one when the batch inserts it (and
        ``_require_new_ids_of_failures`` when it does not). The lookup costs about a sixth of
        a batch, and almost every batch is new; a batch holding a retry runs twice.
        """
        with self._lock:
            for attempt in range(MAX_CONFLICT_RETRIES + 1):
                try:
                    with self._transaction() as cursor:
                        return batch(cursor, attempt > 0)
                except Exception as error:
                    retry = isinstance(error, _RetryCheckedError) or self._is_conflict(error)
                    if not retry or attempt == MAX_CONFLICT_RETRIES:
                        raise
        raise AssertionError("unreachable: the loop returns or raises")

    # Reads ---------------------------------------------------------------------------------

    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        found = {a.id: a for a in map(account_from_row, self._select_by_ids("accounts", ids))}
        return ordered(found, ids)

    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        rows = self._select_by_ids("transfers", ids)
        found = {state.transfer.id: with_timestamp(state) for state in _states(rows)}
        return ordered(found, ids)

    def pending_statuses(self, ids: Sequence[int]) -> dict[int, PendingStatus]:
        rows = self._select_by_ids("transfers", ids)
        return {state.transfer.id: state.status for state in _states(rows)}

    def account_balances(self, account_id: int, limit: int = MAX_LOOKUP) -> list[AccountBalance]:
        require_lookup_limit(limit)
        rows = self._read_ordered(
            f"SELECT {BALANCE_COLUMNS} FROM ledger_balances WHERE account_id = {{p}} "
            "ORDER BY timestamp LIMIT {p}",
            [encode_id(account_id), limit],
        )
        return [balance_from_row(row) for row in rows]

    def account_transfers(self, account_id: int, limit: int = MAX_LOOKUP) -> list[Transfer]:
        require_lookup_limit(limit)
        rows = self._read_ordered(
            f"SELECT {_PREFIXED_TRANSFER_COLUMNS} FROM ledger_transfers AS t "
            "WHERE t.id IN (SELECT transfer_id FROM ledger_balances WHERE account_id = {p}) "
            "ORDER BY t.timestamp LIMIT {p}",
            [encode_id(account_id), limit],
        )
        return [with_timestamp(state) for state in _states(rows)]

    def totals(self) -> list[LedgerTotals]:
        rows = self._read(
            "SELECT ledger, COUNT(*), SUM(debits_pending), SUM(debits_posted), "
            "SUM(credits_pending), SUM(credits_posted) FROM ledger_accounts "
            "GROUP BY ledger ORDER BY ledger",
            [],
        )
        return [LedgerTotals(*(int(value) for value in row)) for row in rows]

    def _select_by_ids(self, table: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        if len(ids) > MAX_LOOKUP:
            raise ValueError(f"at most {MAX_LOOKUP} ids per lookup, got {len(ids)}")
        if not ids:
            return []
        columns = ACCOUNT_COLUMNS if table == "accounts" else TRANSFER_COLUMNS
        fragment, parameters = self._placeholder_list([encode_id(i) for i in ids])
        return self._read(f"SELECT {columns} FROM ledger_{table} WHERE id {fragment}", parameters)

    @abstractmethod
    def _read_ordered(self, template: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run ``template`` with each ``{p}`` replaced by the engine's placeholder."""


def _states(rows: Sequence[Sequence[Any]]) -> Iterator[TransferState]:
    return (transfer_state_from_row(row) for row in rows)

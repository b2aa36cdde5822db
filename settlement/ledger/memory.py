"""The ledger in memory: the same rules with nothing to load or write.

For fast unit tests of the rules and for simulations too large to store; it forgets everything
when the process ends.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Sequence

from settlement.ledger.core import LedgerState, apply_accounts, apply_transfers, require_batch_size
from settlement.ledger.engine import (
    MAX_LOOKUP,
    Clock,
    Ledger,
    Timestamps,
    ordered,
    require_lookup_limit,
    with_timestamp,
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


class MemoryLedger(Ledger):
    def __init__(self, clock: Clock = time.time_ns) -> None:
        self._state = LedgerState()
        self._timestamps = Timestamps(clock)
        self._lock = threading.Lock()
        # (expires_at, id) of pending transfers; entries resolved meanwhile are skipped.
        self._expiries: list[tuple[int, int]] = []
        self._history: dict[int, list[AccountBalance]] = {}

    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        with self._lock:
            results, _changes = apply_accounts(
                self._state, accounts, self._timestamps.reserve(len(accounts))
            )
            return results

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        require_batch_size(transfers)
        with self._lock:
            return self._apply(transfers)

    def expire_pending(self) -> int:
        with self._lock:
            before = self._pending_count()
            self._apply([])
            return before - self._pending_count()

    def _apply(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        first = self._timestamps.reserve(len(transfers) + MAX_BATCH_EVENTS)
        results, changes = apply_transfers(self._state, transfers, first, self._pop_due(first))
        for created in changes.created_transfers:
            created.stored = True
            if created.expires_at is not None:
                heapq.heappush(self._expiries, (created.expires_at, created.transfer.id))
        for entry in changes.history:
            self._history.setdefault(entry.account_id, []).append(entry)
        return results

    def _pop_due(self, now: int) -> list[int]:
        due: list[int] = []
        while self._expiries and self._expiries[0][0] <= now and len(due) < MAX_BATCH_EVENTS:
            _expires_at, transfer_id = heapq.heappop(self._expiries)
            if self._state.transfers[transfer_id].status == PendingStatus.PENDING:
                due.append(transfer_id)
        return due

    def _pending_count(self) -> int:
        return sum(
            self._state.transfers[transfer_id].status == PendingStatus.PENDING
            for _expires_at, transfer_id in self._expiries
        )

    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        with self._lock:
            found = {i: self._state.accounts[i].frozen() for i in ids if i in self._state.accounts}
        return ordered(found, ids)

    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        with self._lock:
            transfers = self._state.transfers
            found = {i: with_timestamp(transfers[i]) for i in ids if i in transfers}
        return ordered(found, ids)

    def pending_statuses(self, ids: Sequence[int]) -> dict[int, PendingStatus]:
        with self._lock:
            transfers = self._state.transfers
            return {i: transfers[i].status for i in ids if i in transfers}

    def account_balances(self, account_id: int, limit: int = MAX_LOOKUP) -> list[AccountBalance]:
        require_lookup_limit(limit)
        with self._lock:
            return list(self._history.get(account_id, [])[:limit])

    def account_transfers(self, account_id: int, limit: int = MAX_LOOKUP) -> list[Transfer]:
        require_lookup_limit(limit)
        with self._lock:
            history = self._history.get(account_id, [])
            ids = list(dict.fromkeys(entry.transfer_id for entry in history))
            states = sorted((self._state.transfers[i] for i in ids), key=lambda s: s.timestamp)
            return [with_timestamp(state) for state in states[:limit]]

    def totals(self) -> list[LedgerTotals]:
        sums: dict[int, list[int]] = {}
        with self._lock:
            for account in self._state.accounts.values():
                row = sums.setdefault(account.ledger, [0, 0, 0, 0, 0])
                row[0] += 1
                for index, value in enumerate(account.balances(), start=1):
                    row[index] += value
        return [LedgerTotals(ledger, *row) for ledger, row in sorted(sums.items())]

    def close(self) -> None:
        """Nothing to release."""

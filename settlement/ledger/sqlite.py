"""The ledger on SQLite: the embedded default.

WAL mode with ``synchronous=FULL``: a batch is durable once ``create_transfers`` returns.
``BEGIN IMMEDIATE`` takes SQLite's single write lock before the batch reads anything, so the
balances it checks cannot change under it: one writer at a time, as in TigerBeetle.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from settlement.ledger.core import AccountState, Changes, TransferState
from settlement.ledger.engine import (
    ACCOUNT_COLUMNS,
    TRANSFER_COLUMNS,
    Clock,
    SqlLedger,
    account_from_row,
    account_row,
    balance_row,
    balances_row,
    encode_id,
    transfer_row,
    transfer_state_from_row,
)
from settlement.ledger.model import MAX_BATCH_EVENTS
from settlement.ledger.schema import PENDING_STATUS, ledger_ddl

BUSY_TIMEOUT_MS = 10_000
# A batch touches index pages all over the id index; a 64 MiB page cache keeps them in memory
# (SQLite's default of 2 MiB makes batched inserts about 40% slower).
CACHE_KIB = 65_536
# SQLite binds at most 32,766 parameters per statement; stay well inside it.
MAX_PARAMETERS = 10_000


class SqliteLedger(SqlLedger):
    def __init__(self, path: str | Path, clock: Clock = time.time_ns) -> None:
        super().__init__(clock)
        # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE ... COMMIT below.
        self._connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode=WAL",
            f"cache_size=-{CACHE_KIB}",
            "synchronous=FULL",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
        ):
            self._connection.execute(f"PRAGMA {pragma}")
        for statement in ledger_ddl("sqlite"):
            self._connection.execute(statement)

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        cursor = self._connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def _latest_timestamp(self, cursor: sqlite3.Cursor) -> int:
        # The rowid's maximum: SQLite reads it from the last page of the table.
        latest = cursor.execute("SELECT MAX(timestamp) FROM ledger_transfers").fetchone()[0]
        return int(latest or 0)

    def _is_conflict(self, error: Exception) -> bool:
        # The write lock is taken up front, so no batch conflicts with another: a unique
        # violation means a first attempt inserted an id that exists (see _in_transaction).
        return isinstance(error, sqlite3.IntegrityError)

    def _placeholder_list(self, values: Sequence[Any]) -> tuple[str, Sequence[Any]]:
        return f"IN ({','.join('?' * len(values))})", values

    def _select_in(
        self, cursor: sqlite3.Cursor, columns: str, table: str, ids: set[int]
    ) -> list[tuple[Any, ...]]:
        keys = [encode_id(i) for i in ids]
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), MAX_PARAMETERS):
            chunk = keys[start : start + MAX_PARAMETERS]
            fragment, parameters = self._placeholder_list(chunk)
            rows += cursor.execute(
                f"SELECT {columns} FROM {table} WHERE id {fragment}",
                parameters,
            ).fetchall()
        return rows

    def _load_accounts(
        self, cursor: sqlite3.Cursor, ids: set[int], *, lock: bool
    ) -> dict[int, AccountState]:
        rows = self._select_in(cursor, ACCOUNT_COLUMNS, "ledger_accounts", ids)
        states = (AccountState(account_from_row(row)) for row in rows)
        return {state.id: state for state in states}

    def _load_transfers(
        self, cursor: sqlite3.Cursor, ids: set[int], *, lock: bool
    ) -> dict[int, TransferState]:
        rows = self._select_in(cursor, TRANSFER_COLUMNS, "ledger_transfers", ids)
        states = (transfer_state_from_row(row) for row in rows)
        return {state.transfer.id: state for state in states}

    def _load_due_pending(self, cursor: sqlite3.Cursor, now: int) -> dict[int, TransferState]:
        rows = cursor.execute(
            f"SELECT {TRANSFER_COLUMNS} FROM ledger_transfers "
            f"WHERE status = {PENDING_STATUS} AND expires_at <= ? ORDER BY expires_at LIMIT ?",
            (now, MAX_BATCH_EVENTS),
        ).fetchall()
        states = (transfer_state_from_row(row) for row in rows)
        return {state.transfer.id: state for state in states}

    def _write(self, cursor: sqlite3.Cursor, changes: Changes) -> None:
        cursor.executemany(
            f"INSERT INTO ledger_accounts ({ACCOUNT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [account_row(account) for account in changes.created_accounts],
        )
        cursor.executemany(
            "UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, "
            "credits_pending = ?, credits_posted = ? WHERE id = ?",
            [balances_row(account) for account in changes.changed_accounts.values()],
        )
        cursor.executemany(
            f"INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [transfer_row(state) for state in changes.created_transfers],
        )
        cursor.executemany(
            "UPDATE ledger_transfers SET status = ? WHERE id = ?",
            [
                (int(state.status), encode_id(state.transfer.id))
                for state in changes.resolved_pending.values()
            ],
        )
        cursor.executemany(
            "INSERT INTO ledger_balances VALUES (?,?,?,?,?,?,?)",
            [balance_row(entry) for entry in changes.history],
        )

    def _read(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def _read_ordered(self, template: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._read(template.replace("{p}", "?"), parameters)

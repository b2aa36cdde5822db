"""The ledger on PostgreSQL: several service replicas can share it.

Isolation is READ COMMITTED with row locks, which is enough here and cheaper than SERIALIZABLE:
a batch locks (``FOR UPDATE``, in id order) the pending transfers it resolves and then every
account it may touch before it reads their balances, so two batches that share an account run
one after the other while batches on disjoint accounts run side by side. A transfer id inserted
by a concurrent batch fails this batch's insert with a unique violation; the batch then rolls
back and runs again, and sees that transfer as ``exists``. Deadlocks are retried the same way.
New transfers go in with ``COPY``, balances change with one ``UPDATE ... FROM unnest(...)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors

from settlement.ledger.core import AccountState, Changes, TransferState
from settlement.ledger.engine import (
    ACCOUNT_COLUMNS,
    BALANCE_COLUMNS,
    TRANSFER_COLUMNS,
    Clock,
    SqlLedger,
    account_from_row,
    account_row,
    balance_row,
    encode_id,
    transfer_row,
    transfer_state_from_row,
)
from settlement.ledger.model import MAX_BATCH_EVENTS
from settlement.ledger.schema import PENDING_STATUS, ledger_ddl

_CONFLICTS = (errors.UniqueViolation, errors.DeadlockDetected, errors.SerializationFailure)


class PostgresLedger(SqlLedger):
    def __init__(self, conninfo: str, clock: Clock = time.time_ns) -> None:
        super().__init__(clock)
        self._connection = psycopg.connect(conninfo, autocommit=True)
        with self._connection.transaction():
            # Two replicas starting together must not race to create the same tables.
            self._connection.execute("SELECT pg_advisory_xact_lock(hashtext('ledger_schema'))")
            for statement in ledger_ddl("postgresql"):
                self._connection.execute(statement)

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._connection.transaction(), self._connection.cursor() as cursor:
            yield cursor

    def _is_conflict(self, error: Exception) -> bool:
        return isinstance(error, _CONFLICTS)

    def _placeholder_list(self, values: Sequence[Any]) -> tuple[str, Sequence[Any]]:
        return "= ANY(%s)", [list(values)]

    def _select_locked(
        self, cursor: psycopg.Cursor[Any], columns: str, table: str, ids: set[int], *, lock: bool
    ) -> list[tuple[Any, ...]]:
        if not ids:
            return []
        # Locking in id order keeps two batches from each holding a row the other waits for.
        suffix = " ORDER BY id FOR UPDATE" if lock else ""
        cursor.execute(
            f"SELECT {columns} FROM {table} WHERE id = ANY(%s){suffix}",
            [[encode_id(i) for i in ids]],
        )
        return cursor.fetchall()

    def _load_accounts(
        self, cursor: psycopg.Cursor[Any], ids: set[int], *, lock: bool
    ) -> dict[int, AccountState]:
        rows = self._select_locked(cursor, ACCOUNT_COLUMNS, "ledger_accounts", ids, lock=lock)
        states = (AccountState(account_from_row(row)) for row in rows)
        return {state.id: state for state in states}

    def _load_transfers(
        self, cursor: psycopg.Cursor[Any], ids: set[int], *, lock: bool
    ) -> dict[int, TransferState]:
        rows = self._select_locked(cursor, TRANSFER_COLUMNS, "ledger_transfers", ids, lock=lock)
        states = (transfer_state_from_row(row) for row in rows)
        return {state.transfer.id: state for state in states}

    def _load_due_pending(self, cursor: psycopg.Cursor[Any], now: int) -> dict[int, TransferState]:
        # SKIP LOCKED: a pending transfer another batch is resolving right now is not due here.
        # The status is written into the statement, not bound: once PostgreSQL caches a
        # generic plan for a prepared statement, a bound status can no longer use the partial
        # index on pending transfers, and every batch would scan the whole table.
        cursor.execute(
            f"SELECT {TRANSFER_COLUMNS} FROM ledger_transfers "
            f"WHERE status = {PENDING_STATUS} AND expires_at <= %s "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            [now, MAX_BATCH_EVENTS],
        )
        states = (transfer_state_from_row(row) for row in cursor.fetchall())
        return {state.transfer.id: state for state in states}

    def _write(self, cursor: psycopg.Cursor[Any], changes: Changes) -> None:
        _copy(
            cursor, "ledger_accounts", ACCOUNT_COLUMNS, map(account_row, changes.created_accounts)
        )
        changed = list(changes.changed_accounts.values())
        if changed:
            cursor.execute(
                "UPDATE ledger_accounts AS a SET debits_pending = u.dp, debits_posted = u.dpo, "
                "credits_pending = u.cp, credits_posted = u.cpo "
                "FROM unnest(%s::bytea[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS u(id, dp, dpo, cp, cpo) WHERE a.id = u.id",
                [
                    [encode_id(a.id) for a in changed],
                    [a.debits_pending for a in changed],
                    [a.debits_posted for a in changed],
                    [a.credits_pending for a in changed],
                    [a.credits_posted for a in changed],
                ],
            )
        _copy(
            cursor,
            "ledger_transfers",
            TRANSFER_COLUMNS,
            map(transfer_row, changes.created_transfers),
        )
        resolved = list(changes.resolved_pending.values())
        if resolved:
            cursor.execute(
                "UPDATE ledger_transfers AS t SET status = u.status "
                "FROM unnest(%s::bytea[], %s::bigint[]) AS u(id, status) WHERE t.id = u.id",
                [
                    [encode_id(state.transfer.id) for state in resolved],
                    [int(state.status) for state in resolved],
                ],
            )
        _copy(cursor, "ledger_balances", BALANCE_COLUMNS, map(balance_row, changes.history))

    def _read(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock, self._connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return cursor.fetchall()

    def _read_ordered(self, template: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._read(template.replace("{p}", "%s"), parameters)


def _copy(
    cursor: psycopg.Cursor[Any], table: str, columns: str, rows: Iterable[tuple[Any, ...]]
) -> None:
    rows = list(rows)
    if not rows:
        return  # an empty COPY still costs a round trip
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)

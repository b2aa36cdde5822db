"""Durable payment state: SQLite by default, PostgreSQL by URL, the same code for both."""

from settlement.store.records import (
    AcceptOutcome,
    ChannelRecord,
    ChannelStep,
    Completion,
    MinedBlock,
    MinedSubmission,
    NewPayment,
    NewSubmission,
    PaymentOutcome,
    PaymentRecord,
    SettlementTransaction,
    SubmissionRecord,
    SubmissionState,
    TransactionAttempt,
)
from settlement.store.sql_store import SqlPaymentStore, normalize_database_url

__all__ = [
    "AcceptOutcome",
    "ChannelRecord",
    "ChannelStep",
    "Completion",
    "MinedBlock",
    "MinedSubmission",
    "NewPayment",
    "NewSubmission",
    "PaymentOutcome",
    "PaymentRecord",
    "SettlementTransaction",
    "SqlPaymentStore",
    "SubmissionRecord",
    "SubmissionState",
    "TransactionAttempt",
    "normalize_database_url",
]

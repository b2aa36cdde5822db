"""What the store keeps: payments, and the submissions (transactions) that settle them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from settlement.domain.payments import PaymentIntent, PaymentState, Purpose, SettlementMode


@dataclass(frozen=True)
class ChannelStep:
    """A voucher payment's move of its channel from ``cumulative - amount`` to ``cumulative``."""

    channel_id: str
    cumulative_base_units: int


@dataclass(frozen=True)
class ChannelRecord:
    """What the store knows of a channel: its parties, last-seen deposit, and vouchers accepted."""

    channel_id: str
    payer: str
    payee: str
    deposit_base_units: int
    accepted_cumulative_base_units: int


@dataclass(frozen=True)
class NewPayment:
    """A verified payment about to be accepted.

    ``replay_key`` names the on-chain resource the payment spends (an EIP-3009 nonce, a bitmap
    nonce, a payer's transaction nonce, a voucher's cumulative amount): two payments with one replay
    key could never both settle, so the second is refused at acceptance. ``fingerprint`` hashes the
    full contents, so a retry with the same idempotency key is told apart from a conflicting reuse.
    """

    intent: PaymentIntent
    mode: SettlementMode
    replay_key: str
    instrument: dict[str, Any]
    fingerprint: str
    accepted_at: float
    verify_cpu_ns: int
    # Set for a channel voucher: acceptance must advance the channel by exactly this payment.
    channel_step: ChannelStep | None = None

    @cached_property
    def payment_id(self) -> str:
        return "0x" + self.intent.payment_id.hex()


@dataclass(frozen=True)
class PaymentRecord:
    payment_id: str
    idempotency_key: str
    payer: str
    payee: str
    amount_base_units: int
    purpose: Purpose
    mode: SettlementMode
    state: PaymentState
    failure_reason: str | None
    instrument: dict[str, Any]
    fingerprint: str
    submission_id: int | None
    accepted_at: float
    submitted_at: float | None
    confirmed_at: float | None
    verify_cpu_ns: int


@dataclass(frozen=True)
class AcceptOutcome:
    """One payment's fate at acceptance.

    Accepted: ``record`` is the stored payment and ``created`` is True. A retry with the same
    idempotency key and contents: the first ``record``, ``created`` False. Refused (the key reused
    for other contents, or a nonce another payment already spends): ``rejection`` says why and
    nothing was stored.
    """

    payment_id: str
    record: PaymentRecord | None
    created: bool = False
    rejection: str | None = None
    # A conflict is a refusal because of another payment (a reused key or a spent nonce), as
    # opposed to a payment that is invalid in itself.
    conflict: bool = False


class SubmissionState(StrEnum):
    PENDING = "pending"  # signed and recorded; sent, or about to be
    CONFIRMED = "confirmed"  # mined with the confirmation depth; payments settled or failed
    REVERTED = "reverted"  # mined with status 0; its payments went back to the queue
    DROPPED = "dropped"  # never mined and its nonce was spent elsewhere; payments requeued


@dataclass(frozen=True)
class MinedBlock:
    """Where a confirmed submission was mined, to check later that the block is still there."""

    submission_id: int
    block_number: int
    block_hash: str | None


@dataclass(frozen=True)
class TransactionAttempt:
    """One signed transaction for a submission; replacements share the sender's nonce."""

    tx_hash: str
    raw_transaction: bytes
    max_fee_per_gas_wei: int
    max_priority_fee_per_gas_wei: int
    created_at: float


@dataclass(frozen=True)
class SubmissionRecord:
    """A transaction that settles a set of payments, with every attempt at sending it."""

    submission_id: int
    mode: SettlementMode
    sender: str
    nonce: int
    state: SubmissionState
    payment_ids: list[str]
    attempts: list[TransactionAttempt] = field(default_factory=list)
    escrow_operation: str | None = None
    mined_tx_hash: str | None = None
    block_number: int | None = None
    gas_used: int | None = None
    effective_gas_price_wei: int | None = None
    settled_count: int | None = None


@dataclass(frozen=True)
class MinedSubmission:
    """A mined settlement transaction, and how many payments it confirmed (its gas is shared)."""

    tx_hash: str
    gas_used: int
    payments_confirmed: int


@dataclass(frozen=True)
class SettlementTransaction:
    """A mined settlement transaction, for the dashboard's list and its details route."""

    submission_id: int
    mode: SettlementMode
    state: SubmissionState
    tx_hash: str
    block_number: int | None
    gas_used: int | None
    effective_gas_price_wei: int | None
    payments_settled: int | None
    mined_at: float | None
    payment_ids: list[str]


@dataclass(frozen=True)
class PaymentOutcome:
    """What a mined submission did to one payment: settled, or failed with the reason."""

    payment_id: str
    settled: bool
    failure_reason: str | None = None


@dataclass(frozen=True)
class NewSubmission:
    """A signed transaction about to be sent, and the payments it settles (none for an escrow
    operation, which ``escrow_operation`` names)."""

    sender: str
    nonce: int
    attempt: TransactionAttempt
    payment_ids: list[str]
    escrow_operation: str | None = None


@dataclass(frozen=True)
class Completion:
    """A mined submission at its confirmation depth, with each payment's outcome."""

    submission_id: int
    mined_tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price_wei: int
    outcomes: list[PaymentOutcome]
    mined_at: float | None = None
    block_hash: str | None = None

"""The ``Settler`` interface every settlement mode implements.

``PlannedTransaction`` is re-exported here for settlers.

A settler does two things. ``verify`` checks a submitted payment off-chain (fields, validity
window, signature) and turns it into a ``NewPayment`` for the store, or raises
``PaymentRejectedError`` with the reason; it touches no chain and no database. Then it settles
what was leased from the queue, in one of two ways:

- a ``ChainSettler`` (direct, authorization, batch, channel, net): ``plan`` turns the payments
  into the transactions that settle them, and ``outcomes`` reads a mined transaction to say
  which payments it settled and why any failed. The service relays the transactions.
- an ``OffChainSettler`` (the ledger baseline): ``settle`` settles the payments itself and says
  how each one ended.

The service does the I/O around them, so one recorded workload replays through every mode alike.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from settlement.chain.relayer import MinedTransaction, PlannedTransaction
from settlement.domain.eip712 import keccak256
from settlement.domain.payments import PaymentIntent, SettlementMode
from settlement.errors import PaymentRejectedError
from settlement.store import ChannelStep, NewPayment, PaymentOutcome, PaymentRecord

__all__ = [
    "ChainSettler",
    "OffChainSettler",
    "PaymentSubmission",
    "PlannedTransaction",
    "Preparation",
    "Settler",
    "Verified",
    "fingerprint",
]


@dataclass(frozen=True)
class PaymentSubmission:
    """A payment as a payer submits it: the intent and the mode's signed instrument."""

    intent: PaymentIntent
    mode: SettlementMode
    instrument: Mapping[str, Any]


def fingerprint(submission: PaymentSubmission) -> str:
    """A hash of everything submitted, to tell a retry from a conflicting reuse of a key."""
    intent = submission.intent
    canonical = json.dumps(
        {
            "payer": intent.payer,
            "payee": intent.payee,
            "amount": intent.amount_base_units,
            "purpose": intent.purpose.value,
            "mode": submission.mode.value,
            "instrument": dict(submission.instrument),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return "0x" + keccak256(canonical.encode()).hex()


def instrument_field(instrument: Mapping[str, Any], name: str, kind: type) -> Any:
    """A required instrument field of the given type, or a rejection naming it."""
    value = instrument.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PaymentRejectedError(f"instrument.{name} must be a {kind.__name__}")
    return value


def hex_bytes(instrument: Mapping[str, Any], name: str, length: int | None = None) -> bytes:
    """A 0x-hex instrument field as bytes, optionally of an exact length."""
    text: str = instrument_field(instrument, name, str)
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise PaymentRejectedError(f"instrument.{name} is not hex") from None
    if length is not None and len(raw) != length:
        raise PaymentRejectedError(f"instrument.{name} must be {length} bytes, got {len(raw)}")
    return raw


# A signed payment must stay valid long enough to be settled after it is accepted.
MIN_REMAINING_VALIDITY_S = 30


def require_time_to_settle(what: str, valid_before: int, chain_time: int) -> None:
    """Refuse a payment that would expire before a settlement window could close on it."""
    if valid_before < chain_time + MIN_REMAINING_VALIDITY_S:
        raise PaymentRejectedError(
            f"{what} expires at {valid_before}, too soon to settle "
            f"(chain time {chain_time}, at least {MIN_REMAINING_VALIDITY_S} s needed)"
        )


@dataclass(frozen=True)
class Verified:
    """What a mode's checks establish of a payment.

    ``replay_key`` names the on-chain resource it spends (see ``NewPayment``); a voucher also
    carries the step it moves its channel by.
    """

    replay_key: str
    channel_step: ChannelStep | None = None


@dataclass(frozen=True)
class Preparation:
    """A round's leased payments sorted by what ``prepare`` found on chain.

    ``ready`` are planned now and ``refused`` fail with their reason; any other leased payment
    (one that did not fit this round) goes back to the queue for the next.
    """

    ready: list[PaymentRecord]
    refused: list[PaymentOutcome] = field(default_factory=list)


def all_settled(planned: Sequence[PaymentRecord]) -> list[PaymentOutcome]:
    """The outcomes of a transaction that settles every payment it carries once it succeeds."""
    return [PaymentOutcome(record.payment_id, settled=True) for record in planned]


def skipped_in_call(
    mined: MinedTransaction, emitter: str, topic: bytes, reasons: Sequence[str]
) -> dict[int, str]:
    """Key -> reason, from a batch call's skip events: ``topic`` logged by ``emitter`` with the
    key as the first indexed field (the call index of the token's batches, the channel id of a
    channel claim) and the reason code as the second data word."""
    skipped: dict[int, str] = {}
    for log in mined.logs:
        if log.address.lower() != emitter.lower() or log.topics[:1] != [topic]:
            continue
        key = int.from_bytes(log.topics[1], "big")
        code = int.from_bytes(log.data[32:64], "big")
        skipped[key] = reasons[code] if code < len(reasons) else "Unknown"
    return skipped


def settled_but_skipped(
    planned: Sequence[PaymentRecord],
    skipped: Mapping[int, str],
    keyed_by: Callable[[PaymentRecord], int] | None = None,
) -> list[PaymentOutcome]:
    """The outcomes of a batch call: each payment settled unless the call skipped it.

    ``skipped`` is keyed by each payment's index in the call, or by ``keyed_by(payment)`` where
    a skip names something else (a channel, whose one claim settles several payments).
    """
    return [
        PaymentOutcome(record.payment_id, settled=False, failure_reason=skipped[key])
        if (key := index if keyed_by is None else keyed_by(record)) in skipped
        else PaymentOutcome(record.payment_id, settled=True)
        for index, record in enumerate(planned)
    ]


class Settler(ABC):
    """Verifies one mode's payments; its subclasses settle them (see the module docstring)."""

    mode: ClassVar[SettlementMode]
    # How many queued payments one settlement round may take.
    max_payments_per_round: ClassVar[int]

    def verify(self, submission: PaymentSubmission, chain_time: int) -> NewPayment:
        """Check a submission off-chain; ``PaymentRejectedError`` says why it is refused.

        The record it returns for the store carries the CPU time the checks took.
        """
        started = time.thread_time_ns()
        verified = self.check(submission, chain_time)
        return NewPayment(
            intent=submission.intent,
            mode=self.mode,
            replay_key=verified.replay_key,
            instrument=dict(submission.instrument),
            fingerprint=fingerprint(submission),
            accepted_at=time.time(),
            verify_cpu_ns=time.thread_time_ns() - started,
            channel_step=verified.channel_step,
        )

    @abstractmethod
    def check(self, submission: PaymentSubmission, chain_time: int) -> Verified:
        """The mode's own checks (fields, validity, signature), touching no chain or database."""

    def round_lease(self) -> int:
        """How many queued payments the next round leases; ``max_payments_per_round`` unless
        the mode learns from its rounds that fewer fit."""
        return self.max_payments_per_round

    async def admit(self, verified: Sequence[NewPayment]) -> dict[str, str]:
        """Checks against chain state before acceptance: payment id -> reason, for those refused.

        ``verify`` is pure; a mode whose acceptance depends on the chain (a channel's deposit, a
        net-settlement balance) reads it here. By default every verified payment is admitted.
        """
        return {}

    async def settle_early(self, chain_time: int) -> bool:
        """Whether the queued payments must be settled now, before their window would close.

        By default never; a channel must be claimed before a withdrawal its payer requested
        becomes possible (``ChannelSettler``).
        """
        return False

    async def prepare(self, payments: Sequence[PaymentRecord]) -> Preparation:
        """Chain reads a round needs before planning; by default every leased payment is ready."""
        return Preparation(list(payments))


class ChainSettler(Settler):
    """Settles payments with transactions the service relays to the chain."""

    # Whether a reverted transaction's payments go back to the queue. Only where a revert says
    # nothing about the payments themselves (a paused token stops a whole batch); a transaction
    # carrying one payment reverts because of that payment, and resending it would revert again.
    requeue_on_revert: ClassVar[bool] = False

    @abstractmethod
    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        """The transactions that settle ``payments`` (prepared, all of this mode)."""

    @abstractmethod
    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        """What a successfully mined transaction did to each of its payments (in planned order)."""


class OffChainSettler(Settler):
    """Settles payments itself, without a chain transaction."""

    @abstractmethod
    async def settle(self, payments: Sequence[PaymentRecord]) -> list[PaymentOutcome]:
        """Settle ``payments`` (prepared, all of this mode): one outcome each, in order.

        Settling a payment already settled must answer ``settled`` again without moving money
        twice: after a crash the service may hand it over a second time.
        """

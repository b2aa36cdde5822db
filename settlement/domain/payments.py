"""Payments: who pays whom how much, under which idempotency key, and where each one stands.

A payment moves through explicit states::

    RECEIVED -> VERIFIED -> QUEUED -> SUBMITTED -> CONFIRMED
        |           |          |          |  ^
        +-----------+----------+----------+--|--> FAILED (with a reason)
                               ^          |  |
                               +----------+  +-- a transaction replaced or dropped: back to QUEUED

RECEIVED and VERIFIED are the stages of acceptance, in memory: a payment is stored once verified,
as QUEUED, so a refused one leaves no trace. The store makes every later move with a conditional
update (``... WHERE state = <the state it must come from>``), so no move can skip a state or undo a
final one. A payment is CONFIRMED only once its transaction has the configured confirmation
depth; a payment whose transaction vanished (dropped, or reorganised away) returns to QUEUED and
is settled again, once, because the on-chain nonce or voucher it carries can be spent only once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from settlement.domain.addresses import is_checksummed
from settlement.domain.eip712 import keccak256, word_address, word_uint
from settlement.errors import PaymentRejectedError

# One payment of the robot economy is small; the ceiling keeps every amount far inside uint96,
# which the channel contract packs beside an address in one storage slot.
MAX_PAYMENT_BASE_UNITS = 10**15  # one billion dollars
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class SettlementMode(StrEnum):
    """The ways a payment can be settled; each has one ``Settler``."""

    DIRECT = "direct"
    AUTHORIZATION = "authorization"
    BATCH = "batch"
    CHANNEL = "channel"
    NET = "net"
    # The traditional baseline: the same payments posted to a double-entry ledger, no chain.
    LEDGER = "ledger"


class Purpose(StrEnum):
    """What a payment buys, for reports on where the economy's money goes."""

    ENERGY = "energy"
    PARTS = "parts"
    COMPUTE = "compute"
    GOODS = "goods"
    OTHER = "other"


class PaymentState(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True)
class PaymentIntent:
    """What a payer wants settled: the same intent replays through every settlement mode."""

    idempotency_key: str
    payer: str
    payee: str
    amount_base_units: int
    purpose: Purpose = Purpose.OTHER

    def __post_init__(self) -> None:
        if not IDEMPOTENCY_KEY_PATTERN.match(self.idempotency_key):
            raise PaymentRejectedError(
                "idempotency key must be 1-128 characters of letters, digits and . _ : -"
            )
        for role in ("payer", "payee"):
            if not is_checksummed(getattr(self, role)):
                raise PaymentRejectedError(f"{role} is not a checksummed address")
        if self.payer == self.payee:
            raise PaymentRejectedError("payer and payee must differ")
        if not 1 <= self.amount_base_units <= MAX_PAYMENT_BASE_UNITS:
            raise PaymentRejectedError(
                f"amount must be between 1 and {MAX_PAYMENT_BASE_UNITS} base units"
            )

    @cached_property
    def payment_id(self) -> bytes:
        """32 bytes naming this payment everywhere (chain, store, Merkle leaves).

        Idempotency keys are scoped to the payer, like an API key's requests: two robots may both
        use key "1" without colliding.
        """
        return payment_id(self.payer, self.idempotency_key)


def payment_id(payer: str, idempotency_key: str) -> bytes:
    """keccak256(abi.encode(payer, idempotencyKey)), the string ABI-encoded by hand for speed."""
    key = idempotency_key.encode()
    padded = key + bytes(-len(key) % 32)
    return keccak256(word_address(payer) + word_uint(64) + word_uint(len(key)) + padded)

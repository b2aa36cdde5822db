"""What one payment cost to settle: its share of gas, the fee, its latencies and CPU time.

A settlement transaction's ``gasUsed`` (the 21,000 base included) is shared by the payments it
settled, in whole gas units: the remainder of the division goes one unit each to the first
payments in payment-id order, so the shares always add up to the receipt's figure exactly.
Payments a transaction carried but did not settle (skipped in a batch, say) get no share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SettlementFacts:
    """What the store knows of a settled payment and the transaction that settled it."""

    payment_id: str
    mode: str
    accepted_at: float
    submitted_at: float
    mined_at: float | None
    confirmed_at: float
    verify_cpu_ns: int
    tx_hash: str
    gas_used: int
    effective_gas_price_wei: int
    settled_payment_ids: Sequence[str]


@dataclass(frozen=True)
class PaymentCost:
    payment_id: str
    mode: str
    tx_hash: str
    gas: int
    fee_wei: int
    payments_in_transaction: int
    accepted_to_submitted_s: float
    accepted_to_included_s: float | None
    accepted_to_confirmed_s: float
    verify_cpu_ns: int


def gas_share(gas_used: int, settled_payment_ids: Sequence[str], payment_id: str) -> int:
    """``payment_id``'s whole-unit share of ``gas_used``, the shares summing to it exactly."""
    ordered = sorted(settled_payment_ids)
    if payment_id not in ordered:
        return 0
    base, remainder = divmod(gas_used, len(ordered))
    return base + (1 if ordered.index(payment_id) < remainder else 0)


def payment_cost(facts: SettlementFacts) -> PaymentCost:
    gas = gas_share(facts.gas_used, facts.settled_payment_ids, facts.payment_id)
    return PaymentCost(
        payment_id=facts.payment_id,
        mode=facts.mode,
        tx_hash=facts.tx_hash,
        gas=gas,
        fee_wei=gas * facts.effective_gas_price_wei,
        payments_in_transaction=len(facts.settled_payment_ids),
        accepted_to_submitted_s=facts.submitted_at - facts.accepted_at,
        accepted_to_included_s=(
            facts.mined_at - facts.accepted_at if facts.mined_at is not None else None
        ),
        accepted_to_confirmed_s=facts.confirmed_at - facts.accepted_at,
        verify_cpu_ns=facts.verify_cpu_ns,
    )

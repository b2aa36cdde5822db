"""Payment records as the store hands them to settlers, for tests that plan without a store."""

from __future__ import annotations

from typing import Any

from settlement.domain.payments import PaymentState, Purpose, SettlementMode
from settlement.store import PaymentRecord


def queued_record(
    index: int,
    payer: str,
    payee: str,
    amount: int,
    mode: SettlementMode,
    instrument: dict[str, Any] | None = None,
    purpose: Purpose = Purpose.PARTS,
) -> PaymentRecord:
    """A queued payment, its id and idempotency key made from ``index``."""
    return PaymentRecord(
        payment_id="0x" + index.to_bytes(32, "big").hex(),
        idempotency_key=f"k{index}",
        payer=payer,
        payee=payee,
        amount_base_units=amount,
        purpose=purpose,
        mode=mode,
        state=PaymentState.QUEUED,
        failure_reason=None,
        instrument=instrument or {},
        fingerprint="0x",
        submission_id=None,
        accepted_at=0.0,
        submitted_at=None,
        confirmed_at=None,
        verify_cpu_ns=0,
    )

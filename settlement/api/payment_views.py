"""Payments as the API shows them."""

from __future__ import annotations

from settlement.api.models import PaymentOut
from settlement.store import PaymentRecord


def payment_out(record: PaymentRecord) -> PaymentOut:
    return PaymentOut(
        payment_id=record.payment_id,
        idempotency_key=record.idempotency_key,
        payer=record.payer,
        payee=record.payee,
        amount_base_units=record.amount_base_units,
        purpose=record.purpose,
        mode=record.mode,
        state=record.state,
        failure_reason=record.failure_reason,
        submission_id=record.submission_id,
        accepted_at=record.accepted_at,
        submitted_at=record.submitted_at,
        confirmed_at=record.confirmed_at,
    )

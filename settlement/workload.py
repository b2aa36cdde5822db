"""A recorded stream of payments that replays, like for like, through every settlement mode.

A workload names its participants by index and lists payments between them; keys are derived from
the workload's seed, so the same file always means the same signed payments. The reference
workload follows how machines trade: each payer buys mostly from a few regular suppliers (its
energy farm, its parts maker) and now and then from anyone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from settlement.domain.eip712 import keccak256
from settlement.domain.payments import Purpose

WORKLOAD_FORMAT_VERSION = 1
MAX_WORKLOAD_PAYMENTS = 10_000_000
REGULAR_SUPPLIERS_PER_PAYER = 2
SHARE_TO_REGULAR_SUPPLIERS = 0.9


def workload_idempotency_key(index: int) -> str:
    """The idempotency key of the workload's payment ``index``; the settlement and ledger benches
    both use it, so the ledger's transfer ids name the same payments as the service's."""
    return f"w{index}"


@dataclass(frozen=True)
class WorkloadPayment:
    payer: int
    payee: int
    amount_base_units: int
    purpose: Purpose


@dataclass(frozen=True)
class Workload:
    seed: int
    payer_count: int
    payee_count: int
    payments: list[WorkloadPayment]

    def payer_key(self, index: int) -> bytes:
        """Payer ``index``'s private key, derived from the seed (local test keys, never funded
        anywhere but a local chain)."""
        return keccak256(f"robot-settlement workload {self.seed} payer {index}".encode())

    def payee_key(self, index: int) -> bytes:
        return keccak256(f"robot-settlement workload {self.seed} payee {index}".encode())

    def save(self, path: Path) -> None:
        document = {
            "format_version": WORKLOAD_FORMAT_VERSION,
            "seed": self.seed,
            "payer_count": self.payer_count,
            "payee_count": self.payee_count,
            "payments": [
                [p.payer, p.payee, p.amount_base_units, p.purpose.value] for p in self.payments
            ],
        }
        path.write_text(json.dumps(document, separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> Workload:
        try:
            document = json.loads(path.read_text())
            if document["format_version"] != WORKLOAD_FORMAT_VERSION:
                raise ValueError(f"format_version {document['format_version']} is not supported")
            payments = [
                WorkloadPayment(int(payer), int(payee), int(amount), Purpose(purpose))
                for payer, payee, amount, purpose in document["payments"]
            ]
            workload = cls(
                int(document["seed"]),
                int(document["payer_count"]),
                int(document["payee_count"]),
                payments,
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not a workload file: {error}") from None
        workload.check()
        return workload

    def check(self) -> None:
        if not 0 < len(self.payments) <= MAX_WORKLOAD_PAYMENTS:
            raise ValueError(f"a workload holds 1 to {MAX_WORKLOAD_PAYMENTS} payments")
        for payment in self.payments:
            if not (
                0 <= payment.payer < self.payer_count and 0 <= payment.payee < self.payee_count
            ):
                raise ValueError(f"payment {asdict(payment)} names an unknown participant")
            if payment.amount_base_units <= 0:
                raise ValueError(f"payment {asdict(payment)} has a non-positive amount")


def reference_workload(
    seed: int = 42,
    payments: int = 10_000,
    payer_count: int = 100,
    payee_count: int = 100,
    min_amount_base_units: int = 1,
    max_amount_base_units: int = 10_000,
) -> Workload:
    """Payments of 1 to 10,000 base units ($0.000001 to $0.01), 90% to regular suppliers."""
    rng = np.random.default_rng(seed)
    regular = rng.integers(0, payee_count, size=(payer_count, REGULAR_SUPPLIERS_PER_PAYER))
    payers = rng.integers(0, payer_count, size=payments)
    to_regular = rng.random(payments) < SHARE_TO_REGULAR_SUPPLIERS
    regular_choice = regular[payers, rng.integers(0, REGULAR_SUPPLIERS_PER_PAYER, size=payments)]
    anyone = rng.integers(0, payee_count, size=payments)
    payees = np.where(to_regular, regular_choice, anyone)
    amounts = rng.integers(min_amount_base_units, max_amount_base_units + 1, size=payments)
    purposes = list(Purpose)
    kinds = rng.integers(0, len(purposes), size=payments)
    workload = Workload(
        seed,
        payer_count,
        payee_count,
        [
            WorkloadPayment(int(payer), int(payee), int(amount), purposes[int(kind)])
            for payer, payee, amount, kind in zip(payers, payees, amounts, kinds, strict=True)
        ],
    )
    workload.check()
    return workload

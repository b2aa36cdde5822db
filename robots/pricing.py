"""What settling a fleet's payments cost, in dollars, under one fee profile.

Gas per payment comes from the run's own receipts (all-in: channel openings and net deposits
included); the bytes an L2 charges for come from each mode's cost shape at the run's counts;
the ledger's only cost is the energy of its CPU time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from robots.settle import BoolArray, StreamSettlement, payments_among
from robots.stream import PaymentStream
from robots.x402_fleet import X402Settlement, compute_payments
from settlement.domain.fees import (
    FeeBook,
    ModeInputs,
    PaymentPrice,
    WorkloadCounts,
    load_mode_catalog,
    mode_inputs_from_results,
    price_ledger,
    price_mode,
)
from settlement.domain.money import BASE_UNITS_PER_DOLLAR
from settlement.domain.payments import SettlementMode


@dataclass(frozen=True)
class SettlementCost:
    """One mode's settlement of a run, priced: per payment and as a share of the value paid."""

    settlement: StreamSettlement
    price: PaymentPrice
    # The gas and bytes per payment the price came from (none for the ledger), kept so a report
    # can price the same settlement again under other gas prices, data fees or ETH prices.
    inputs: ModeInputs | None = None

    @property
    def share_of_value_settled(self) -> Decimal:
        """Settlement cost over the value it settled: the share of the economy's money that
        paying for settlement consumes."""
        value_usd = Decimal(self.settlement.value_settled_base_units) / Decimal(
            BASE_UNITS_PER_DOLLAR
        )
        if value_usd == 0:
            return Decimal(0)
        return self.price.usd_per_payment * self.settlement.settled / value_usd


def stream_counts(stream: PaymentStream, selected: BoolArray) -> WorkloadCounts:
    """How many payments, pairs, payers and accounts the selected payments have (participants
    are one account whether they pay or are paid)."""
    payers, payees = stream.payers[selected], stream.payees[selected]
    pairs = np.unique(np.stack([payers, payees]), axis=1)
    accounts = np.union1d(payers, payees)
    return WorkloadCounts(len(payers), pairs.shape[1], len(np.unique(payers)), len(accounts))


def price_on_profiles(
    settlements: Sequence[StreamSettlement],
    stream: PaymentStream,
    participants: Collection[int] | None,
    book: FeeBook,
    profiles: Sequence[str],
) -> dict[str, list[SettlementCost]]:
    """Each settled mode's cost of its mean payment on each of ``profiles``' chains (the
    ledger: energy), for the payments among ``participants`` (the sample that was settled)."""
    catalog = load_mode_catalog()
    counts = stream_counts(stream, payments_among(stream, participants))
    priced: dict[str, list[SettlementCost]] = {}
    for profile in profiles:
        chain_profile = book.evm_profile(profile)
        priced[profile] = []
        for settlement in settlements:
            if settlement.settled == 0:
                continue
            mean_amount = mean_payment_base_units(settlement)
            if settlement.mode is SettlementMode.LEDGER:
                price = price_ledger(settlement.service_cpu_ns_per_payment, mean_amount, book.power)
                priced[profile].append(SettlementCost(settlement, price))
                continue
            (inputs,) = mode_inputs_from_results([_result_entry(settlement)], catalog, counts)
            price = price_mode(chain_profile, inputs, mean_amount, book.power)
            priced[profile].append(SettlementCost(settlement, price, inputs))
    return priced


def price_x402_on_profiles(
    x402: X402Settlement,
    stream: PaymentStream,
    participants: Collection[int] | None,
    book: FeeBook,
    profiles: Sequence[str],
) -> dict[str, PaymentPrice]:
    """The x402 payments' cost of their mean payment on each of ``profiles``' chains: measured
    gas, and the bytes of authorization mode's shape (``exact`` settles one authorization per
    payment, alone or gathered), for the compute payments among ``participants``."""
    if x402.paid == 0:
        return {}
    catalog = load_mode_catalog()
    counts = stream_counts(stream, compute_payments(stream, participants))
    entry = _results_entry(
        SettlementMode.AUTHORIZATION, x402.paid, x402.transactions, x402.gas_total, 0,
        x402.service_cpu_ns_per_payment,
    )  # fmt: skip
    (inputs,) = mode_inputs_from_results([entry], catalog, counts)
    mean_amount = max(round(x402.value_paid_base_units / x402.paid), 1)
    return {
        profile: price_mode(book.evm_profile(profile), inputs, mean_amount, book.power)
        for profile in profiles
    }


def mean_payment_base_units(settlement: StreamSettlement) -> int:
    return max(round(settlement.value_settled_base_units / max(settlement.settled, 1)), 1)


def _result_entry(settlement: StreamSettlement) -> dict[str, object]:
    """The settlement in the shape of a benchmark's results.json entry."""
    return _results_entry(
        settlement.mode, settlement.settled, settlement.transactions, settlement.gas_total,
        settlement.setup_gas, settlement.service_cpu_ns_per_payment,
    )  # fmt: skip


def _results_entry(
    mode: SettlementMode,
    settled: int,
    transactions: int,
    gas_total: int,
    setup_gas: int,
    cpu_ns_per_payment: int,
) -> dict[str, object]:
    """Measured totals in the shape of a benchmark's results.json entry."""
    per_payment = max(settled, 1)
    return {
        "mode": mode.value,
        "settled": settled,
        "transactions": transactions,
        "gas_per_payment": gas_total / per_payment,
        "all_in_gas_per_payment": (gas_total + setup_gas) / per_payment,
        "cpu_ns_per_payment": cpu_ns_per_payment,
    }


def cost_share_by_step(
    costs: Sequence[SettlementCost],
    stream: PaymentStream,
    participants: Collection[int] | None,
    steps: int,
) -> dict[str, list[float | None]]:
    """Per mode, each step's settlement cost as a share of the value its payments carried.

    A step's cost is its settled payments (among ``participants``) times the mode's mean cost
    per payment: within a mode, payments in one transaction share its gas equally, so a step's
    payments cost what the mode's mean payment costs. Steps without payments have no share.
    """
    selected = payments_among(stream, participants)
    step_of = stream.steps[selected]
    counts = np.bincount(step_of, minlength=steps)
    values_usd = (
        np.bincount(step_of, weights=stream.amounts_base_units[selected], minlength=steps)
        / BASE_UNITS_PER_DOLLAR
    )
    shares: dict[str, list[float | None]] = {}
    for cost in costs:
        usd_per_payment = float(cost.price.usd_per_payment)
        shares[cost.settlement.mode.value] = [
            float(count * usd_per_payment / value) if value > 0 else None
            for count, value in zip(counts, values_usd, strict=True)
        ]
    return shares

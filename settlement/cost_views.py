"""Terminal views of the cost model: the tables ``settlement costs`` and ``settlement policy``
print, and the reading of a benchmark's results file they price."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from rich.table import Table

from settlement.domain.fees import (
    LEDGER,
    FeeBook,
    ModeInputs,
    NotPossible,
    PaymentPrice,
    RailProfile,
    WorkloadCounts,
    format_duration,
    format_share,
    format_usd,
    price_ledger,
    price_mode,
    price_rail,
    round_significant,
)
from settlement.domain.money import format_dollars
from settlement.domain.policy import PolicyChoice
from settlement.workload import Workload


def read_results(path: Path) -> tuple[list[dict[str, object]], WorkloadCounts | None]:
    """A results.json (decimals kept exact) and the counts of the workload.json beside it."""
    try:
        entries = json.loads(path.read_text(), parse_float=str)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not entries or not isinstance(entries, list):
        raise ValueError(f"{path} must hold a non-empty list of per-mode results")
    if not all(isinstance(item, dict) for item in entries):
        raise ValueError(f"{path} must hold a list of per-mode results")
    workload_file = path.with_name("workload.json")
    if not workload_file.is_file():
        return entries, None
    workload = Workload.load(workload_file)
    return entries, WorkloadCounts.of_pairs((p.payer, p.payee) for p in workload.payments)


LEDGER_RESULTS_FILE = "ledger_results.json"
# The ledger engine alone (the ledger bench), beside "ledger": the service settling in ledger
# mode, verification and store included (the chain bench).
LEDGER_ENGINE_LABEL = "ledger engine"
# The ledger bench's engines, preferred in this order for the ledger row's CPU time. SQLite does
# all its work in the bench's process, so its CPU time is the whole cost; PostgreSQL's counts
# only when the bench could read its server's CPU time as well.
LEDGER_ENGINES_BY_PREFERENCE = ("sqlite", "postgresql")


def measured_ledger_cpu_ns(results_file: Path) -> int | None:
    """CPU ns per transfer of the ledger bench's batched run beside ``results_file``, if any."""
    path = results_file.with_name(LEDGER_RESULTS_FILE)
    if not path.is_file():
        return None
    try:
        records = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path} must hold a list of per-engine results")
    for engine in LEDGER_ENGINES_BY_PREFERENCE:
        batched = (r for r in records if (r.get("engine"), r.get("shape")) == (engine, "batched"))
        cpu_ns = next((r.get("cpu_ns_per_transfer") for r in batched), None)
        if cpu_ns is None:
            continue
        if not isinstance(cpu_ns, int) or isinstance(cpu_ns, bool) or not 0 <= cpu_ns <= 10**12:
            raise ValueError(f"{path}: {engine}'s cpu_ns_per_transfer must be whole ns, 0 to 10^12")
        return cpu_ns
    return None


def costs_table(
    book: FeeBook, inputs: Sequence[ModeInputs], amount_base_units: int, origin: str
) -> Table:
    table = Table(title=f"One payment of {format_dollars(amount_base_units)}, gas from {origin}")
    with_energy = any(mode_inputs.cpu_ns_per_payment is not None for mode_inputs in inputs)
    columns = ["mode", "profile", "gas/pay", "L1 B/pay", "USD/pay", "share", "1% from"]
    for column in columns + (["Wh/pay"] if with_energy else []):
        table.add_column(column, justify="left" if column in ("mode", "profile") else "right")
    for mode_inputs in inputs:
        if mode_inputs.mode in (LEDGER, LEDGER_ENGINE_LABEL):
            assert mode_inputs.cpu_ns_per_payment is not None, "a ledger row needs its CPU time"
            price = price_ledger(mode_inputs.cpu_ns_per_payment, amount_base_units, book.power)
            cells = price_cells(price, with_energy)
            table.add_row(mode_inputs.mode, "power", "0", "0", *cells, end_section=True)
            continue
        profiles = book.evm_profiles
        for index, profile in enumerate(profiles):
            price = price_mode(profile, mode_inputs, amount_base_units, book.power)
            table.add_row(
                mode_inputs.mode if index == 0 else "",
                profile.name,
                f"{mode_inputs.gas_per_payment:,.0f}",
                f"{mode_inputs.l1_bytes_per_payment:,.1f}",
                *price_cells(price, with_energy),
                end_section=index == len(profiles) - 1,
            )
    return table


def rails_table(book: FeeBook, amount_base_units: int) -> Table:
    table = Table(
        title=f"The same payment on traditional rails, {format_dollars(amount_base_units)}"
    )
    columns = ("rail", "fee schedule", "minimum", "USD/pay", "share", "1% from", "settles in")
    for column in columns:
        # The rail's name is the row's key: wrap the other columns in a narrow terminal.
        table.add_column(
            column, justify="left" if column in columns[:2] else "right", no_wrap=column == "rail"
        )
    for rail in book.rails:
        quote = price_rail(rail, amount_base_units)
        break_even = rail.break_even_usd()
        if isinstance(quote, NotPossible):
            cost_cells = ["not possible", "-"]
        else:
            cost_cells = price_cells(quote, with_energy=False)[:2]
        table.add_row(
            rail.name,
            schedule(rail),
            format_usd(rail.minimum_usd),
            *cost_cells,
            "never" if break_even is None else format_usd(break_even),
            f"{format_duration(rail.settlement_latency_s)}, {rail.availability.value}",
        )
    return table


def schedule(rail: RailProfile) -> str:
    """A rail's fee schedule as people write it: 2.9% + $0.3, 0.8% capped at $5."""
    symbol = {"USD": "$", "EUR": "€"}.get(rail.currency, f"{rail.currency} ")
    parts = []
    if rail.percent_bps:
        parts.append(f"{round_significant(rail.percent_bps / 100)}%")
    if rail.fixed_fee_base_units or not parts:
        parts.append(f"{symbol}{format_dollars(rail.fixed_fee_base_units)[1:]}")
    schedule = " + ".join(parts)
    if rail.cap_base_units is not None:
        schedule += f" capped at {symbol}{format_dollars(rail.cap_base_units)[1:]}"
    return schedule


def candidates_table(choice: PolicyChoice) -> Table:
    table = Table(title=f"Candidates on {choice.profile}")
    columns = ["mode", "latency s", "pay/tx", "gas/pay", "L1 B/pay", "USD/pay", "share"]
    for column in [*columns, "verdict"]:
        table.add_column(column, justify="left" if column in ("mode", "verdict") else "right")
    for candidate in choice.candidates:
        if candidate.price is None or candidate.inputs is None or candidate.latency_s is None:
            table.add_row(candidate.mode.value, *["-"] * 6, candidate.verdict)
            continue
        table.add_row(
            candidate.mode.value,
            round_significant(candidate.latency_s),
            round_significant(candidate.payments_per_transaction or Decimal(1)),
            f"{candidate.inputs.gas_per_payment:,.0f}",
            f"{candidate.inputs.l1_bytes_per_payment:,.1f}",
            format_usd(candidate.price.usd_per_payment),
            format_share(candidate.price.share_of_value),
            candidate.verdict,
        )
    return table


def price_cells(price: PaymentPrice, with_energy: bool) -> list[str]:
    """USD, share of value, break-even and (when asked) energy of one payment, for a row."""
    break_even = price.break_even_usd()
    cells = [
        format_usd(price.usd_per_payment),
        format_share(price.share_of_value),
        "never" if break_even is None else format_usd(break_even),
    ]
    if with_energy:
        energy = price.energy_wh_per_payment
        cells.append("-" if energy is None else round_significant(energy, 3))
    return cells

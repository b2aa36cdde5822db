"""A fleet run's report: everything its files say, gathered into one versioned document.

The report reads only the run folder (``summary.json``, ``steps.json``, ``settlement.json`` and
the payment amounts in ``stream.npz``), the packaged fee book and the auto policy, so it can be
rebuilt from a run at any time. ``docs/report-schema.md`` describes every field; a change that
moves or removes one raises ``REPORT_VERSION``.
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from settlement import __version__
from settlement.domain.answer import AmountTally, ChainWay, Need, answer
from settlement.domain.fees import (
    BREAK_EVEN_SHARE,
    LEDGER,
    EvmProfile,
    FeeBook,
    ModeInputs,
    NotPossible,
    PaymentPrice,
    load_fee_book,
    load_mode_catalog,
    price_rail,
)
from settlement.domain.money import BASE_UNITS_PER_DOLLAR
from settlement.domain.policy import Candidate, PolicyChoice, choose_mode
from settlement.domain.sensitivity import Economy, sweeps
from settlement.domain.sensitivity import as_dict as sensitivity_dict
from settlement.domain.whole_run import RunPayments, WholeRunCost, whole_run_costs
from settlement.errors import PolicyInputError

REPORT_SCHEMA = "robot-settlement/fleet-report"
REPORT_VERSION = 2
SUMMARY_FILE = "summary.json"
STEPS_FILE = "steps.json"
SETTLEMENT_FILE = "settlement.json"
STREAM_FILE = "stream.npz"
# Payment sizes the break-even curves are drawn at: $0.0001 to $100, four points a decade.
CURVE_AMOUNTS_USD = [10 ** (exponent / 4) for exponent in range(-16, 9)]
SIZE_HISTOGRAM_DECADES = range(-6, 3)  # $0.000001 .. $1,000
# The auto policy's question for the run: settle each pair's payments within an hour.
POLICY_LATENCY_BOUND_S = Decimal(3_600)
PACKAGES = ("web3", "eth-account", "fastapi", "pydantic", "sqlalchemy", "numpy")


class ReportError(ValueError):
    """The folder is not a fleet run, or one of its files is unreadable."""


@dataclass(frozen=True)
class RunFiles:
    summary: dict[str, Any]
    scenario: dict[str, Any]
    steps: list[dict[str, Any]]
    settlement: dict[str, Any] | None
    amounts_base_units: np.ndarray | None
    # Distinct payer and payee pairs in the stream, when it was read.
    pairs: int | None
    # Every payment's step, payer, payee and amount, when the stream was read.
    payments: RunPayments | None = None


def read_run_files(folder: Path) -> RunFiles:
    document = _read_json(folder / SUMMARY_FILE)
    if not isinstance(document, dict) or "summary" not in document:
        raise ReportError(f"{folder} holds no fleet run ({SUMMARY_FILE} has no summary)")
    steps = _read_json(folder / STEPS_FILE)
    settlement = (
        _read_json(folder / SETTLEMENT_FILE) if (folder / SETTLEMENT_FILE).exists() else None
    )
    amounts, pairs, payments = None, None, None
    if (folder / STREAM_FILE).exists():
        try:
            with np.load(folder / STREAM_FILE) as stream:
                amounts = np.asarray(stream["amounts_base_units"], dtype=np.int64)
                payers = np.asarray(stream["payers"], dtype=np.int64)
                payees = np.asarray(stream["payees"], dtype=np.int64)
                steps_of_payments = np.asarray(stream["steps"], dtype=np.int64)
                participants = int(stream["participant_count"])
            payments = RunPayments(steps_of_payments, payers, payees, amounts, participants)
        except (OSError, KeyError, ValueError) as error:
            raise ReportError(f"{folder / STREAM_FILE} is unreadable: {error}") from None
        width = int(max(payees.max(initial=0), payers.max(initial=0))) + 1
        pairs = len(np.unique(payers * width + payees))
    return RunFiles(
        document["summary"], document.get("scenario", {}), steps, settlement, amounts, pairs,
        payments,
    )  # fmt: skip


def build_report(folder: Path, book: FeeBook | None = None) -> dict[str, Any]:
    """The report of the run in ``folder``, as plain JSON values."""
    files = read_run_files(folder)
    book = book or load_fee_book()
    summary = files.summary
    modes = (files.settlement or {}).get("modes", [])
    profile = (files.settlement or {}).get("profile") or "base"
    mean_payment = max(round(summary.get("mean_payment_base_units", 0)), 1)
    whole = whole_run_of(files, book)
    return {
        "schema": REPORT_SCHEMA,
        "version": REPORT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": {
            "folder": folder.name,
            "scenario": files.scenario,
            "seed": summary.get("seed"),
            "steps": summary.get("steps"),
            "simulated_hours": summary.get("simulated_hours"),
        },
        "environment": environment(),
        "economy": economy(summary, files.steps),
        "payment_sizes": payment_sizes(files.amounts_base_units),
        "settlement": {
            "profile": profile,
            "sampled_participants": (files.settlement or {}).get("sampled_participants"),
            "modes": [mode_section(entry, profile) for entry in modes],
        },
        "x402": x402_section((files.settlement or {}).get("x402")),
        "rails": rails_section(book, mean_payment),
        "break_even": break_even_section(book, modes, profile),
        "energy": energy_section(summary, modes, profile),
        "policy": policy_section(book, summary, files.pairs, mean_payment),
        "answer": answer_section(book, files, profile, mean_payment, whole),
        "steps": steps_section(files.steps),
        "whole_run": whole_run_section(whole),
    }


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {
        "robot-settlement": __version__,
        "python": platform.python_version(),
    }
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "versions": versions,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "memory_gib": _memory_gib(),
        },
    }


def economy(summary: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    goods_made = summary.get("goods_made", 0)
    spent_kwh = summary.get("spent_kwh", 0.0)
    return {
        "robots": summary.get("robots"),
        "participants": summary.get("participants"),
        "payments": summary.get("payments"),
        "value_usd": summary.get("value_base_units", 0) / BASE_UNITS_PER_DOLLAR,
        "mean_payment_usd": summary.get("mean_payment_base_units", 0) / BASE_UNITS_PER_DOLLAR,
        "payments_by_purpose": summary.get("payments_by_purpose", {}),
        "harvested_kwh": summary.get("harvested_kwh"),
        "spent_kwh": spent_kwh,
        "goods_made": goods_made,
        "goods_sold": summary.get("goods_sold"),
        "energy_per_good_wh": spent_kwh * 1000 / goods_made if goods_made else None,
        "robot_wealth_gini_end": summary.get("robot_wealth_gini_end"),
        "robot_steps_per_s": summary.get("robot_steps_per_s"),
        "steps_recorded": len(steps),
    }


def payment_sizes(amounts: np.ndarray | None) -> dict[str, Any] | None:
    """How many payments fall in each decade of size, and the quartiles."""
    if amounts is None or len(amounts) == 0:
        return None
    usd = amounts / BASE_UNITS_PER_DOLLAR
    edges = [10.0**decade for decade in SIZE_HISTOGRAM_DECADES]
    counts, _ = np.histogram(usd, bins=[0.0, *edges[1:], float("inf")])
    quartiles = np.percentile(usd, [25, 50, 75])
    return {
        "decades_usd": edges,
        "payments": [int(count) for count in counts],
        "quartiles_usd": [float(q) for q in quartiles],
        "largest_usd": float(usd.max()),
    }


def mode_section(entry: dict[str, Any], profile: str) -> dict[str, Any]:
    settled = entry["settled"]
    per_payment = max(settled, 1)
    timeline = entry.get("timeline") or {}
    prices = entry.get("prices") or {}
    chosen = prices.get(profile, {})
    return {
        "mode": entry["mode"],
        "settled_by": entry.get("settled_by", "embedded"),
        "sampled": entry.get("sampled", False),
        "payments_in_stream": entry["payments_in_stream"],
        "payments_attempted": entry["payments_settled_attempted"],
        "settled": settled,
        "failed": entry["failed"],
        "failure_reasons": entry.get("failure_reasons", {}),
        "transactions": entry["transactions"],
        "gas_per_payment": entry["gas_total"] / per_payment,
        "all_in_gas_per_payment": (entry["gas_total"] + entry["setup_gas"]) / per_payment,
        "accepted_per_s": entry["accepted_per_s"],
        "settled_per_s": entry["settled_per_s"],
        "end_to_end_per_s": entry["end_to_end_per_s"],
        "latency_ms": {
            "p50": entry["latency_ms_p50"],
            "p95": entry["latency_ms_p95"],
            "p99": entry["latency_ms_p99"],
        },
        "latency_cdf_ms": timeline.get("latency_ms_percentiles", []),
        "throughput": {
            "start_at": timeline.get("start_at"),
            "bin_s": timeline.get("bin_s"),
            "accepted": timeline.get("accepted", []),
            "settled": timeline.get("settled", []),
        },
        "cpu_us_per_payment": entry["service_cpu_ns_per_payment"] / 1000,
        "value_settled_usd": entry["value_settled_base_units"] / BASE_UNITS_PER_DOLLAR,
        "mean_payment_usd": entry.get("mean_payment_base_units", 0) / BASE_UNITS_PER_DOLLAR,
        "usd_per_payment": {name: float(p["usd_per_payment"]) for name, p in prices.items()},
        "share_of_value": {name: float(p["share_of_value_settled"]) for name, p in prices.items()},
        "share_of_value_on_profile": (float(chosen["share_of_value_settled"]) if chosen else None),
        "energy_wh_per_payment": (
            float(chosen["energy_wh_per_payment"])
            if chosen.get("energy_wh_per_payment") is not None
            else None
        ),
    }


def x402_section(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """The compute payments paid over HTTP 402, when the run paid them so."""
    if not entry:
        return None
    prices = entry.get("prices") or {}
    return {
        "settled_by": entry["settled_by"],
        "sampled": entry["sampled"],
        "compute_payments_in_stream": entry["compute_payments_in_stream"],
        "payments_attempted": entry["attempted"],
        "paid": entry["paid"],
        "refused": entry["refused"],
        "refusal_reasons": entry["refusal_reasons"],
        "transactions": entry["transactions"],
        "gas_per_payment": entry["gas_per_payment"],
        "paid_per_s": entry["paid_per_s"],
        "latency_ms": {
            "p50": entry["latency_ms_p50"],
            "p95": entry["latency_ms_p95"],
            "p99": entry["latency_ms_p99"],
        },
        "cpu_us_per_payment": entry["service_cpu_ns_per_payment"] / 1000,
        "value_paid_usd": entry["value_paid_base_units"] / BASE_UNITS_PER_DOLLAR,
        "value_received_usd": entry["value_received_base_units"] / BASE_UNITS_PER_DOLLAR,
        "usd_per_payment": {name: float(p["usd_per_payment"]) for name, p in prices.items()},
        "share_of_value": {name: float(p["share_of_value_paid"]) for name, p in prices.items()},
    }


def rails_section(book: FeeBook, amount_base_units: int) -> list[dict[str, Any]]:
    """Each traditional rail's price for the run's mean payment (none, with the reason, below
    the rail's minimum charge), its fee schedule, minimum, latency and hours."""
    rails = []
    for rail in book.rails:
        quote = price_rail(rail, amount_base_units)
        price = quote if isinstance(quote, PaymentPrice) else None
        break_even = rail.break_even_usd()
        rails.append(
            {
                "rail": rail.name,
                "usd_per_payment": None if price is None else float(price.usd_per_payment),
                "share_of_value": None if price is None else float(price.share_of_value),
                "not_possible": quote.reason if isinstance(quote, NotPossible) else None,
                "fixed_usd": float(rail.fixed_usd),
                "rate": float(rail.rate),
                "cap_usd": None if rail.cap_usd is None else float(rail.cap_usd),
                "minimum_charge_usd": float(rail.minimum_usd),
                "break_even_usd": None if break_even is None else float(break_even),
                "settlement_latency_s": float(rail.settlement_latency_s),
                "availability": rail.availability.value,
            }
        )
    return rails


def break_even_section(book: FeeBook, modes: list[dict[str, Any]], profile: str) -> dict[str, Any]:
    """Cost as a share of value against payment size: each rail's schedule, and each mode's
    measured cost per payment on ``profile`` (a flat cost, so its share falls as 1/size)."""
    curves: dict[str, list[float | None]] = {}
    for rail in book.rails:
        fixed, rate = float(rail.fixed_usd), float(rail.rate)
        cap = None if rail.cap_usd is None else float(rail.cap_usd)
        # Below its minimum charge a rail takes no payment, so its curve starts there.
        minimum = float(rail.minimum_usd)
        curves[rail.name] = [
            (fixed + rate * v if cap is None else min(fixed + rate * v, cap)) / v
            if v >= minimum
            else None
            for v in CURVE_AMOUNTS_USD
        ]
    for entry in modes:
        price = (entry.get("prices") or {}).get(profile)
        if price is not None:
            usd = float(price["usd_per_payment"])
            curves[f"{entry['mode']} on {profile}"] = [usd / v for v in CURVE_AMOUNTS_USD]
    return {
        "amounts_usd": CURVE_AMOUNTS_USD,
        "share_line": float(BREAK_EVEN_SHARE),
        "curves": curves,
    }


def energy_section(
    summary: dict[str, Any], modes: list[dict[str, Any]], profile: str
) -> dict[str, Any]:
    goods = summary.get("goods_made", 0)
    per_good_wh = summary.get("spent_kwh", 0.0) * 1000 / goods if goods else None
    per_payment = {}
    for entry in modes:
        price = (entry.get("prices") or {}).get(profile) or {}
        energy = price.get("energy_wh_per_payment")
        per_payment[entry["mode"]] = None if energy is None else float(energy)
    return {"per_good_wh": per_good_wh, "service_cpu_wh_per_payment": per_payment}


def policy_section(
    book: FeeBook, summary: dict[str, Any], pairs: int | None, mean_payment: int
) -> dict[str, Any]:
    """What the auto policy picks, per chain profile, for the run's mean payment at its mean
    pair rate, to settle within an hour."""
    pair_rate = pair_payments_per_hour(summary, pairs)
    choices: list[dict[str, Any]] = []
    for chain in book.evm_profiles:
        try:
            choice = choose_mode(chain, mean_payment, pair_rate, POLICY_LATENCY_BOUND_S)
        except PolicyInputError as error:
            choices.append({"profile": chain.name, "mode": None, "explanation": str(error)})
            continue
        choices.append(
            {
                "profile": chain.name,
                "mode": choice.mode.value,
                "usd_per_payment": float(choice.usd_per_payment),
                "latency_s": float(choice.latency_s),
                "explanation": choice.explanation,
            }
        )
    return {
        "amount_usd": mean_payment / BASE_UNITS_PER_DOLLAR,
        "pair_payments_per_hour": float(pair_rate),
        "latency_bound_s": float(POLICY_LATENCY_BOUND_S),
        "note": "pair rate: the run's payments per payer and payee pair per simulated hour",
        "choices": choices,
    }


def pair_payments_per_hour(summary: dict[str, Any], pairs: int | None) -> Decimal:
    """The run's payments per payer and payee pair per simulated hour (at least a millionth,
    the policy's smallest rate)."""
    hours = summary.get("simulated_hours") or 1.0
    payments = summary.get("payments", 0)
    pairs = pairs or max(summary.get("participants", 1), 1)
    pair_rate = Decimal(str(round(payments / pairs / hours, 6))) if payments else Decimal(1)
    return max(pair_rate, Decimal("0.000001"))


def answer_section(
    book: FeeBook, files: RunFiles, profile: str, mean_payment: int, whole: WholeRun | None
) -> dict[str, Any] | None:
    """The report's answer: which ways settle this run's payments at most at 1% of their value
    within the policy's latency bound, and the same answer swept over the chain's prices.
    A run settled on a sample, or not settled, is answered from ``whole``, every payment
    counted, rather than from a sample's costs or the per-pair cost model. None when the run
    made no payments."""
    tally = _tally(files, mean_payment)
    if tally.payments == 0:
        return None
    chain = book.evm_profile(profile)
    auto = _auto_choice(book, chain, files, mean_payment)
    settled = (files.settlement or {}).get("modes", [])
    # The ledger is the baseline beside the ways to settle: it books payments, moves no money.
    modes = [entry for entry in settled if entry["mode"] != LEDGER]
    ways = [measured_way(entry, profile) for entry in modes]
    chain_costs = "measured" if modes else "modelled"
    settled_whole = bool(modes) and (files.settlement or {}).get("sampled_participants") is None
    # A local chain is priced by its receipts, so the count has no price on it.
    if not settled_whole and whole is not None and profile in whole.costs[0].usd_by_profile:
        by_mode = {entry["mode"]: entry for entry in modes}
        ways = [
            whole_run_way(cost, whole, profile, by_mode.get(cost.work.mode.value))
            for cost in whole.costs
        ]
        chain_costs = "whole run"
    if not ways and auto is not None:
        ways = [modelled_way(candidate, profile) for candidate in auto.candidates]
    energy_per_good = economy(files.summary, files.steps)["energy_per_good_wh"]
    result = answer(
        ways,
        book.rails,
        tally,
        Need(POLICY_LATENCY_BOUND_S),
        chain_costs=chain_costs,
        energy_per_good_wh=None if energy_per_good is None else Decimal(str(energy_per_good)),
        auto=auto,
    )
    inputs = {f"{way.mode} on {profile}": way.inputs for way in ways if way.inputs is not None}
    swept = sweeps(chain, inputs, Economy(tally.payments, tally.value_base_units, book.power))
    return {"profile": profile, **result.as_dict(), "sensitivity": sensitivity_dict(swept, profile)}


def measured_way(entry: dict[str, Any], profile: str) -> ChainWay:
    """A settled mode as this run measured it: its cost on ``profile`` from the run's receipts
    and its p99 latency (on the local chain that settled it)."""
    price = (entry.get("prices") or {}).get(profile)
    if price is None:
        return ChainWay(entry["mode"], profile, None, None, None, rejection="settled no payment")
    p99_ms = entry["latency_ms_p99"]
    inputs = None
    if "l1_bytes_per_payment" in price:
        inputs = ModeInputs(
            entry["mode"],
            Decimal(price["gas_per_payment"]),
            Decimal(price["l1_bytes_per_payment"]),
            entry["service_cpu_ns_per_payment"],
        )
    return ChainWay(
        mode=entry["mode"],
        profile=profile,
        usd_per_payment=Decimal(price["usd_per_payment"]),
        latency_s=None if math.isnan(p99_ms) else Decimal(str(p99_ms)) / 1000,
        energy_wh_per_payment=_measured_energy(entry, profile),
        inputs=inputs,
    )


def _measured_energy(entry: dict[str, Any] | None, profile: str) -> Decimal | None:
    """The service's CPU energy per payment a settled mode measured, priced on ``profile``."""
    price = ((entry or {}).get("prices") or {}).get(profile) or {}
    energy = price.get("energy_wh_per_payment")
    return None if energy is None else Decimal(energy)


def modelled_way(candidate: Candidate, profile: str) -> ChainWay:
    """A mode as the cost model plans it, for a run that was not settled."""
    price = candidate.price
    return ChainWay(
        mode=candidate.mode.value,
        profile=profile,
        usd_per_payment=None if price is None else price.usd_per_payment,
        latency_s=candidate.latency_s,
        energy_wh_per_payment=None,
        inputs=candidate.inputs,
        rejection=candidate.rejection,
    )


def _auto_choice(
    book: FeeBook, chain: EvmProfile, files: RunFiles, mean_payment: int
) -> PolicyChoice | None:
    try:
        return choose_mode(
            chain,
            mean_payment,
            pair_payments_per_hour(files.summary, files.pairs),
            POLICY_LATENCY_BOUND_S,
            rails=book.rails,
        )
    except PolicyInputError:
        return None


def _tally(files: RunFiles, mean_payment: int) -> AmountTally:
    """The run's payment amounts, or every payment at the mean when the stream is gone."""
    if files.amounts_base_units is not None:
        return AmountTally(files.amounts_base_units)
    return AmountTally.uniform(files.summary.get("payments", 0), mean_payment)


@dataclass(frozen=True)
class WholeRun:
    """Every payment of the run counted into each chain mode's work and priced (see
    ``settlement.domain.whole_run``), settled once per interval."""

    payments: int
    value_base_units: int
    interval_steps: int
    interval_s: float
    costs: list[WholeRunCost]


def whole_run_of(files: RunFiles, book: FeeBook) -> WholeRun | None:
    """The run's every payment settled in each chain mode, once per interval of the policy's
    latency bound; None without the stream."""
    payments = files.payments
    if payments is None or len(payments) == 0:
        return None
    step_s = float(files.scenario.get("step_minutes", 1.0)) * 60
    interval_steps = max(1, int(float(POLICY_LATENCY_BOUND_S) // step_s))
    # A local chain is priced by its receipts, and counting settles nothing, so it has none.
    chains = [chain for chain in book.evm_profiles if not chain.gas_price_from_receipts]
    costs = whole_run_costs(payments, load_mode_catalog(), chains, interval_steps)
    value = int(payments.amounts_base_units.sum())
    return WholeRun(len(payments), value, interval_steps, interval_steps * step_s, costs)


def whole_run_section(whole: WholeRun | None) -> dict[str, Any] | None:
    """Every payment of the run settled in each chain mode, priced from the modes' cost shapes
    (not measured: no sample)."""
    if whole is None:
        return None
    value = whole.value_base_units
    return {
        "payments": whole.payments,
        "value_usd": value / BASE_UNITS_PER_DOLLAR,
        "interval_steps": whole.interval_steps,
        "interval_s": whole.interval_s,
        "modes": [
            {
                "mode": cost.work.mode.value,
                "transactions": cost.work.transactions,
                "accounts": cost.work.accounts,
                "payers": cost.work.payers,
                "claims": cost.work.claims,
                "fundings": cost.work.fundings,
                "gas": cost.gas,
                "gas_per_payment": cost.gas / whole.payments,
                "l1_bytes": cost.l1_bytes,
                "usd": {name: float(usd) for name, usd in cost.usd_by_profile.items()},
                "share_of_value": {
                    name: float(cost.share_of_value(name, value)) for name in cost.usd_by_profile
                },
            }
            for cost in whole.costs
        ],
    }


def whole_run_way(
    cost: WholeRunCost, whole: WholeRun, profile: str, measured: dict[str, Any] | None
) -> ChainWay:
    """A mode as the whole run's count prices it: its cost spread over every payment, settled
    by each interval's end; its service CPU energy from the sample, when the sample measured
    the mode."""
    mode = cost.work.mode.value
    payments = Decimal(whole.payments)
    return ChainWay(
        mode=mode,
        profile=profile,
        usd_per_payment=cost.usd_by_profile[profile] / payments,
        latency_s=Decimal(str(whole.interval_s)),
        energy_wh_per_payment=_measured_energy(measured, profile),
        inputs=ModeInputs(mode, Decimal(cost.gas) / payments, Decimal(cost.l1_bytes) / payments),
    )


def steps_section(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-step reporters as columns, for charts."""
    columns = [
        "harvested_wh",
        "stored_wh",
        "spent_wh",
        "goods_made",
        "goods_sold",
        "payments",
        "value_base_units",
        "robot_wealth_gini",
    ]
    section: dict[str, Any] = {name: [step.get(name) for step in steps] for name in columns}
    shares: dict[str, list[float | None]] = {}
    for index, step in enumerate(steps):
        for mode, share in (step.get("settlement_cost_share") or {}).items():
            shares.setdefault(mode, [None] * len(steps))[index] = share
    section["settlement_cost_share"] = shares
    return section


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path.parent} holds no fleet run ({path.name} is missing)") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ReportError(f"{path} is unreadable: {error}") from None


def _memory_gib() -> float | None:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * page_size / 2**30, 1)

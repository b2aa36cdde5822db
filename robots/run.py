"""One fleet run: simulate a scenario, keep its reporters and payment stream, write them out.

The CLI and the benchmark drive this; it knows nothing of terminals or settlement.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from robots.model import FleetModel, StepReport
from robots.pricing import SettlementCost, cost_share_by_step, mean_payment_base_units
from robots.scenario import Scenario
from robots.settle import StreamSettlement
from robots.x402_fleet import X402Settlement
from settlement.domain.fees import PaymentPrice

if TYPE_CHECKING:
    from robots.sweep import SweepRun
from robots.stream import PURPOSES, PaymentStream

STREAM_FILE = "stream.npz"
STEPS_FILE = "steps.json"
SUMMARY_FILE = "summary.json"
SETTLEMENT_FILE = "settlement.json"
SWEEP_FILE = "sweep.json"

# The compute payments paid over x402, and their price on each fee profile.
PricedX402 = tuple[X402Settlement, dict[str, PaymentPrice]]


@dataclass(frozen=True)
class RunSummary:
    """A run's totals, for the summary table and ``summary.json``."""

    scenario: str
    seed: int
    robots: int
    participants: int
    steps: int
    simulated_hours: float
    wall_s: float
    robot_steps_per_s: float
    harvested_kwh: float
    spent_kwh: float
    unaccounted_wh: float
    goods_made: int
    goods_sold: int
    payments: int
    value_base_units: int
    mean_payment_base_units: float
    payments_by_purpose: dict[str, int]
    robot_wealth_gini_end: float


def simulate(
    scenario: Scenario, seed: int, on_step: Callable[[int, StepReport], None] | None = None
) -> tuple[FleetModel, RunSummary]:
    """Run every step of ``scenario``; ``on_step`` hears of each one (for a progress bar)."""
    model = FleetModel(scenario, seed)
    started = time.perf_counter()
    for index in range(scenario.steps):
        report = model.step()
        if on_step is not None:
            on_step(index, report)
    wall_s = time.perf_counter() - started
    return model, summarize(model, wall_s)


def summarize(model: FleetModel, wall_s: float) -> RunSummary:
    scenario, reports, stream = model.scenario, model.reports, model.stream()
    counts = np.bincount(stream.purposes, minlength=len(PURPOSES))
    value = stream.total_base_units()
    return RunSummary(
        scenario=scenario.name,
        seed=model.seed,
        robots=scenario.robots,
        participants=scenario.participants,
        steps=len(reports),
        simulated_hours=len(reports) * scenario.step_hours,
        wall_s=wall_s,
        robot_steps_per_s=scenario.robots * len(reports) / wall_s if wall_s > 0 else 0.0,
        harvested_kwh=sum(r.harvested_wh for r in reports) / 1000,
        spent_kwh=sum(r.spent_wh for r in reports) / 1000,
        unaccounted_wh=model.unaccounted_energy_wh(),
        goods_made=sum(r.goods_made for r in reports),
        goods_sold=sum(r.goods_sold for r in reports),
        payments=len(stream),
        value_base_units=value,
        mean_payment_base_units=value / len(stream) if len(stream) else 0.0,
        payments_by_purpose={p.value: int(n) for p, n in zip(PURPOSES, counts, strict=True)},
        robot_wealth_gini_end=reports[-1].robot_wealth_gini if reports else 0.0,
    )


def write_run(folder: Path, model: FleetModel, summary: RunSummary) -> PaymentStream:
    """The run's stream, per-step reporters, summary and scenario into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stream = model.stream()
    stream.save(folder / STREAM_FILE)
    (folder / STEPS_FILE).write_text(json.dumps([asdict(r) for r in model.reports]))
    document = {"summary": asdict(summary), "scenario": asdict(model.scenario)}
    (folder / SUMMARY_FILE).write_text(json.dumps(document, indent=2))
    return stream


def sample_robots(scenario: Scenario, count: int, seed: int) -> set[int]:
    """A declared random sample of ``count`` robots, with every farm, provider and consumer.

    Settlement then covers the payments among the sample, so a fleet too large to settle whole
    is settled on a share of it that the report states. Participants are numbered farms first,
    then robots (see ``FleetModel``).
    """
    first_robot, first_provider = scenario.farms, scenario.farms + scenario.robots
    rng = np.random.default_rng(seed)
    chosen = rng.choice(scenario.robots, size=min(count, scenario.robots), replace=False)
    others = [*range(first_robot), *range(first_provider, scenario.participants)]
    return {int(i) for i in chosen + first_robot} | set(others)


def read_run(folder: Path) -> tuple[Scenario, int, PaymentStream]:
    """A run written by ``write_run``: its scenario, seed and payment stream."""
    try:
        document = json.loads((folder / SUMMARY_FILE).read_text())
        scenario = Scenario(**document["scenario"])
        seed = int(document["summary"]["seed"])
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{folder} holds no fleet run ({SUMMARY_FILE}): {error}") from None
    return scenario, seed, PaymentStream.load(folder / STREAM_FILE)


def write_settlements(
    folder: Path,
    settlements: Sequence[StreamSettlement],
    priced: dict[str, list[SettlementCost]],
    profile: str,
    sample: set[int] | None,
    stream: PaymentStream,
    x402: PricedX402 | None = None,
) -> None:
    """Each mode's settlement of the run into ``settlement.json``, priced on every profile in
    ``priced`` (``profile`` first: the one asked for), with the compute payments paid over
    ``x402`` when they were; and each step's settlement cost as a share of its value, per mode,
    on ``profile``, into the step reporters."""
    costs = priced[profile]
    add_cost_shares(folder, cost_share_by_step(costs, stream, sample, _steps_in(folder)))
    by_mode: dict[str, dict[str, dict[str, object]]] = {}
    for name, profile_costs in priced.items():
        for cost in profile_costs:
            entry = by_mode.setdefault(cost.settlement.mode.value, {})
            entry[name] = price_entry(cost)
    document = {
        "profile": profile,
        "sampled_participants": None if sample is None else len(sample),
        "modes": [
            asdict(settlement)
            | {
                "mean_payment_base_units": mean_payment_base_units(settlement),
                "prices": by_mode.get(settlement.mode.value, {}),
            }
            | _headline_price(by_mode.get(settlement.mode.value, {}).get(profile, {}))
            for settlement in settlements
        ],
        "x402": None if x402 is None else x402_entry(*x402),
    }
    (folder / SETTLEMENT_FILE).write_text(json.dumps(document, indent=2, default=str))


def price_entry(cost: SettlementCost) -> dict[str, object]:
    entry = _price_fields(cost.price) | {"share_of_value_settled": str(cost.share_of_value_settled)}
    if cost.inputs is not None:
        entry["gas_per_payment"] = str(cost.inputs.gas_per_payment)
        entry["l1_bytes_per_payment"] = str(cost.inputs.l1_bytes_per_payment)
    return entry


def x402_entry(x402: X402Settlement, prices: dict[str, PaymentPrice]) -> dict[str, object]:
    """The x402 payments beside the modes: what ``X402Settlement`` holds, priced per profile
    (the share is of the value the paid requests carried)."""
    return asdict(x402) | {
        "gas_per_payment": x402.gas_per_payment,
        "prices": {
            name: _price_fields(price) | {"share_of_value_paid": str(price.share_of_value)}
            for name, price in prices.items()
        },
    }


def _price_fields(price: PaymentPrice) -> dict[str, object]:
    return {
        "profile": price.profile,
        "usd_per_payment": str(price.usd_per_payment),
        "energy_wh_per_payment": None
        if price.energy_wh_per_payment is None
        else str(price.energy_wh_per_payment),
    }


def _headline_price(entry: dict[str, object]) -> dict[str, object]:
    """The asked-for profile's price beside the settlement, as the file has always had it."""
    return {key: entry.get(key) for key in ("profile", "usd_per_payment", "share_of_value_settled")}


def _steps_in(folder: Path) -> int:
    return len(json.loads((folder / STEPS_FILE).read_text()))


def add_cost_shares(folder: Path, shares: dict[str, list[float | None]]) -> None:
    """Give every step of ``steps.json`` its ``settlement_cost_share`` (mode -> share, replacing
    the shares of an earlier settlement of those modes), written whole or not at all."""
    path = folder / STEPS_FILE
    steps = json.loads(path.read_text())
    for index, step in enumerate(steps):
        known = step.get("settlement_cost_share") or {}
        step["settlement_cost_share"] = known | {mode: s[index] for mode, s in shares.items()}
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(steps))
    partial.replace(path)


def write_sweep(folder: Path, runs: Sequence[SweepRun]) -> None:
    """One row per run of a sweep: the grid's values, the seed, the run's summary."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"values": run.values, "seed": run.seed} | asdict(run.summary) for run in runs]
    (folder / SWEEP_FILE).write_text(json.dumps(rows, indent=2))

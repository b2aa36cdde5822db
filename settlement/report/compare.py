"""What changed between two runs' reports, figure by figure."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Figure = Callable[[dict[str, Any]], float | None]

ECONOMY_FIGURES: dict[str, Figure] = {
    "payments": lambda r: r["economy"]["payments"],
    "value paid (USD)": lambda r: r["economy"]["value_usd"],
    "mean payment (USD)": lambda r: r["economy"]["mean_payment_usd"],
    "goods made": lambda r: r["economy"]["goods_made"],
    "robots' wealth Gini": lambda r: r["economy"]["robot_wealth_gini_end"],
    "simulation robot-steps/s": lambda r: r["economy"]["robot_steps_per_s"],
}
MODE_FIGURES: dict[str, Callable[[dict[str, Any], str], float | None]] = {
    "settled": lambda m, _p: m["settled"],
    "failed": lambda m, _p: m["failed"],
    "all-in gas/payment": lambda m, _p: m["all_in_gas_per_payment"],
    "USD/payment": lambda m, p: m["usd_per_payment"].get(p),
    "cost / value": lambda m, p: m["share_of_value"].get(p),
    "settled/s": lambda m, _p: m["settled_per_s"],
    "p50 latency ms": lambda m, _p: m["latency_ms"]["p50"],
    "p99 latency ms": lambda m, _p: m["latency_ms"]["p99"],
    "CPU µs/payment": lambda m, _p: m["cpu_us_per_payment"],
}


def compare_reports(before: dict[str, Any], after: dict[str, Any]) -> list[list[str]]:
    """Rows of (figure, before, after, change); modes priced on ``before``'s profile."""
    rows = [_row(name, figure(before), figure(after)) for name, figure in ECONOMY_FIGURES.items()]
    profile = before["settlement"]["profile"]
    before_modes = {m["mode"]: m for m in before["settlement"]["modes"]}
    after_modes = {m["mode"]: m for m in after["settlement"]["modes"]}
    for mode in [*before_modes, *(m for m in after_modes if m not in before_modes)]:
        for name, figure in MODE_FIGURES.items():
            old = figure(before_modes[mode], profile) if mode in before_modes else None
            new = figure(after_modes[mode], profile) if mode in after_modes else None
            rows.append(_row(f"{mode}: {name}", old, new))
    return rows


def _row(name: str, before: float | None, after: float | None) -> list[str]:
    return [name, _value(before), _value(after), _change(before, after)]


def _value(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or math.isnan(before) or math.isnan(after):
        return ""
    if before == after:
        return "same"
    if before == 0:
        return "new"
    return f"{(after - before) / abs(before):+.1%}"

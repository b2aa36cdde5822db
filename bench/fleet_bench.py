"""How fast the fleet economy itself runs, without settlement; prints figures and targets.

    python bench/fleet_bench.py                 # city (10,000 robots) and billionth, a day each
    python bench/fleet_bench.py --scenarios city --steps 120

Targets from issue 5, on this machine: at least 1,000,000 robot-steps/s, and the billionth
scenario's 24 simulated hours at one-minute steps in under 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from robots.run import RunSummary, simulate
from robots.scenario import load_scenario

TARGET_ROBOT_STEPS_PER_S = 1_000_000
TARGET_BILLIONTH_WALL_S = 600.0
console = Console(width=150)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", default="city,billionth", help="comma-separated presets")
    parser.add_argument("--steps", type=int, help="override each scenario's steps")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="write fleet_results.json into this folder")
    return parser.parse_args(argv)


def verdicts(summary: RunSummary) -> str:
    checks = [
        f"≥ {TARGET_ROBOT_STEPS_PER_S:,} robot-steps/s: "
        + ("met" if summary.robot_steps_per_s >= TARGET_ROBOT_STEPS_PER_S else "MISSED")
    ]
    if summary.scenario == "billionth" and summary.simulated_hours >= 24:
        met = summary.wall_s < TARGET_BILLIONTH_WALL_S
        checks.append(f"24 h in < {TARGET_BILLIONTH_WALL_S:.0f} s: {'met' if met else 'MISSED'}")
    return "; ".join(checks)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    table = Table(title="The fleet economy without settlement")
    for column in ("scenario", "robots", "steps", "wall s", "robot-steps/s", "payments", "target"):
        table.add_column(column, justify="left" if column in ("scenario", "target") else "right")
    summaries = []
    for name in arguments.scenarios.split(","):
        overrides = {} if arguments.steps is None else {"steps": str(arguments.steps)}
        scenario = load_scenario(name, overrides)
        console.print(f"[bold]{name}[/bold]: {scenario.robots:,} robots, {scenario.steps:,} steps")
        _model, summary = simulate(scenario, arguments.seed)
        summaries.append(summary)
        table.add_row(
            name,
            f"{summary.robots:,}",
            f"{summary.steps:,}",
            f"{summary.wall_s:.1f}",
            f"{summary.robot_steps_per_s:,.0f}",
            f"{summary.payments:,}",
            verdicts(summary),
        )
    console.print(table)
    if arguments.out:
        arguments.out.mkdir(parents=True, exist_ok=True)
        document = [asdict(summary) for summary in summaries]
        (arguments.out / "fleet_results.json").write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

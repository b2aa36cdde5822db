"""The ``robots`` command: a thin shell over the fleet simulation."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from robots import __version__
from robots.run import simulate as simulate_run
from robots.run import write_run
from robots.scenario import MAX_STEPS, load_scenario, preset_names
from robots.solar_budget import (
    DEFAULT_ROBOT_POWER_W,
    EARTH_MEAN_RADIUS_M,
    ONE_BILLIONTH,
    SOLAR_CONSTANT_W_PER_M2,
    SolarBudget,
)
from robots.views import summary_table
from settlement.cli_runner import run_cli

console = Console()
progress_console = Console(stderr=True)

positive = click.FloatRange(min=0, min_open=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="robots")
def app() -> None:
    """Simulate a fleet of solar-powered robots that pay each other in a stablecoin."""


@app.command("solar-budget")
@click.option(
    "--fraction",
    type=click.FloatRange(0, 1, min_open=True),
    default=ONE_BILLIONTH,
    show_default=True,
    help="Share of the sunlight reaching Earth given to robots.",
)
@click.option(
    "--robot-power-w",
    type=positive,
    default=DEFAULT_ROBOT_POWER_W,
    show_default=True,
    help="Continuous power one robot draws, in watts.",
)
@click.option(
    "--solar-constant-w-per-m2",
    type=positive,
    default=SOLAR_CONSTANT_W_PER_M2,
    show_default=True,
    help="Solar irradiance at the top of the atmosphere.",
)
@click.option(
    "--earth-radius-m",
    type=positive,
    default=EARTH_MEAN_RADIUS_M,
    show_default=True,
    help="Earth's mean radius in metres.",
)
def solar_budget(
    fraction: float, robot_power_w: float, solar_constant_w_per_m2: float, earth_radius_m: float
) -> None:
    """Show how many robots a fraction of the sun's energy runs, step by step."""
    budget = SolarBudget(solar_constant_w_per_m2, earth_radius_m, fraction, robot_power_w)
    table = Table(title="Robots run by a share of the sunlight reaching Earth")
    table.add_column("step")
    table.add_column("arithmetic")
    table.add_column("result", justify="right")
    table.add_row(
        "Earth's cross-section",
        f"pi x ({earth_radius_m:.4g} m)^2",
        f"{budget.cross_section_m2:.4g} m^2",
    )
    table.add_row(
        "sunlight intercepted",
        f"{solar_constant_w_per_m2:g} W/m^2 x cross-section",
        f"{budget.intercepted_power_w:.4g} W",
    )
    table.add_row(
        "robots' share", f"{fraction:g} x intercepted", f"{budget.available_power_w / 1e6:,.1f} MW"
    )
    table.add_row(
        "robots", f"share / {robot_power_w:g} W per robot", f"{budget.robot_count:,} robots"
    )
    console.print(table)


@app.command()
@click.option(
    "--scenario",
    default="demo",
    show_default=True,
    help=f"A preset ({', '.join(preset_names())}) or a scenario TOML file.",
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=42, show_default=True)
@click.option("--steps", type=click.IntRange(1, MAX_STEPS), help="Override the scenario's steps.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override any scenario value, e.g. --set robots=50 (repeatable).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for stream.npz, steps.json and summary.json (default: runs/fleet-<time>).",
)
def simulate(
    scenario: str, seed: int, steps: int | None, overrides: tuple[str, ...], out: Path | None
) -> None:
    """Run a fleet scenario: energy, goods and every payment, step by step."""
    values = dict(_name_value(text) for text in overrides)
    if steps is not None:
        values["steps"] = str(steps)
    chosen = load_scenario(scenario, values)
    folder = out or Path("runs") / f"fleet-{int(time.time())}"
    with Progress(*Progress.get_default_columns(), console=progress_console) as progress:
        task = progress.add_task(f"{chosen.name}: {chosen.robots:,} robots", total=chosen.steps)
        model, summary = simulate_run(chosen, seed, lambda _i, _r: progress.advance(task))
    write_run(folder, model, summary)
    console.print(summary_table(summary))
    console.print(f"stream, reporters and summary in {folder}")


def _name_value(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--set")
    return name.strip(), value.strip()


def main() -> None:
    sys.exit(run_cli(app, "robots"))

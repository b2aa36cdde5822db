"""The ``robots`` command: a thin shell over the fleet simulation."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from robots import __version__
from robots.solar_budget import (
    DEFAULT_ROBOT_POWER_W,
    EARTH_MEAN_RADIUS_M,
    ONE_BILLIONTH,
    SOLAR_CONSTANT_W_PER_M2,
    SolarBudget,
)
from settlement.cli_runner import run_cli

console = Console()

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


def main() -> None:
    sys.exit(run_cli(app, "robots"))

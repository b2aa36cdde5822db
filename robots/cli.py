"""The ``robots`` command: a thin shell over the fleet simulation."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from robots import __version__
from robots.pricing import price_on_profiles, price_x402_on_profiles
from robots.run import (
    SETTLEMENT_FILE,
    SWEEP_FILE,
    read_run,
    sample_robots,
    write_run,
    write_settlements,
    write_sweep,
)
from robots.run import simulate as simulate_run
from robots.scenario import MAX_AGENTS, MAX_STEPS, Scenario, load_scenario, preset_names
from robots.settle import (
    RemoteService,
    StreamSettlement,
    check_service,
    settle_stream,
    settle_stream_over_http,
)
from robots.solar_budget import (
    DEFAULT_ROBOT_POWER_W,
    EARTH_MEAN_RADIUS_M,
    ONE_BILLIONTH,
    SOLAR_CONSTANT_W_PER_M2,
    SolarBudget,
)
from robots.stream import PaymentStream
from robots.sweep import parse_grid
from robots.sweep import plan as plan_sweep
from robots.sweep import sweep as run_sweep
from robots.views import settlement_table, summary_table, sweep_table, x402_summary
from robots.x402_fleet import X402Settlement, pay_compute_over_x402
from settlement.cli_runner import run_cli
from settlement.client import DEFAULT_CONCURRENCY
from settlement.config import Settings
from settlement.domain.fees import load_fee_book
from settlement.domain.payments import SettlementMode
from settlement.report import answer_sentences, write_report

console = Console()
progress_console = Console(stderr=True)
# A stream larger than this is settled on a sample of robots unless --sample-robots says.
SETTLE_WHOLE_LIMIT = 20_000

positive = click.FloatRange(min=0, min_open=True)

mode_option = click.option(
    "--mode",
    "modes",
    type=click.Choice(["none", "all", *(mode.value for mode in SettlementMode)]),
    default="none",
    show_default=True,
    help="Settle the run's payments through the service in this mode, or in every mode and the "
    "ledger ('all'), each on its own embedded Anvil.",
)
sample_option = click.option(
    "--sample-robots",
    type=click.IntRange(1, MAX_AGENTS),
    help="Settle only the payments among this many randomly chosen robots (and every farm, "
    "provider and consumer). Default: every robot while the stream has at most "
    f"{SETTLE_WHOLE_LIMIT:,} payments, else a sample sized to about that many.",
)
profile_option = click.option(
    "--profile",
    default="base",
    show_default=True,
    help="Fee profile the settlement costs are priced under (see `settlement costs`).",
)

settlement_url_option = click.option(
    "--settlement-url",
    metavar="URL",
    envvar="ROBOTS_SETTLEMENT_URL",
    help="Send the payments to a running settlement service, e.g. http://127.0.0.1:8000 from "
    "docker compose, instead of starting one per mode. Its faucet funds the robots, which needs "
    "the operator key (--api-key).",
)
api_key_option = click.option(
    "--api-key",
    envvar="SETTLEMENT_API_KEY",
    show_envvar=True,
    help="The service's operator key, for its faucet and ledger deposits (with --settlement-url).",
)
concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Requests in flight at once (with --settlement-url); a payer's payments stay in order.",
)


x402_option = click.option(
    "--compute-over-x402",
    "compute_over_x402",
    is_flag=True,
    help="Also pay the run's compute payments over HTTP 402: each robot buys its bundles from "
    "its provider (an x402 resource server: the official SDK's middleware) with the SDK's "
    "client, the service at --settlement-url verifying and settling as the facilitator.",
)


def remote_options(command: Callable[..., None]) -> Callable[..., None]:
    return settlement_url_option(api_key_option(concurrency_option(x402_option(command))))


def _checked_remote(
    settlement_url: str | None,
    api_key: str | None,
    concurrency: int,
    modes: str,
    compute_over_x402: bool,
) -> RemoteService | None:
    """The running service to settle through, once it is known to settle what was asked."""
    remote = _remote_service(settlement_url, api_key, concurrency)
    if compute_over_x402 and remote is None:
        raise click.BadParameter(
            "paying over x402 needs a running service as the facilitator: --settlement-url",
            param_hint="--compute-over-x402",
        )
    if remote is None:
        return None
    asked = [SettlementMode(mode) for mode in _modes(modes)]
    if compute_over_x402:
        asked.append(SettlementMode.AUTHORIZATION)
    if not asked:
        raise click.BadParameter("--settlement-url needs a mode, or 'all'", param_hint="--mode")
    asyncio.run(check_service(remote, asked))
    return remote


def _remote_service(
    settlement_url: str | None, api_key: str | None, concurrency: int
) -> RemoteService | None:
    if settlement_url is None:
        return None
    if not settlement_url.startswith(("http://", "https://")) or not _parses(settlement_url):
        raise click.BadParameter(
            f"{settlement_url!r} is not an http:// or https:// URL", param_hint="--settlement-url"
        )
    return RemoteService(settlement_url, api_key or None, concurrency)


def _parses(url: str) -> bool:
    """Whether ``url`` has a host and a valid port (``http://[::1`` starts well but has neither)."""
    try:
        return bool(httpx.URL(url).host)
    except httpx.InvalidURL:
        return False


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
@mode_option
@sample_option
@profile_option
@remote_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for stream.npz, steps.json, summary.json and settlement.json "
    "(default: runs/fleet-<time>).",
)
def simulate(
    *,
    scenario: str,
    seed: int,
    steps: int | None,
    overrides: tuple[str, ...],
    modes: str,
    sample_robots: int | None,
    profile: str,
    settlement_url: str | None,
    api_key: str | None,
    concurrency: int,
    compute_over_x402: bool,
    out: Path | None,
) -> None:
    """Run a fleet scenario: energy, goods and every payment, step by step; then settle them."""
    remote = _checked_remote(settlement_url, api_key, concurrency, modes, compute_over_x402)
    values = dict(_name_value(text) for text in overrides)
    if steps is not None:
        values["steps"] = str(steps)
    chosen = load_scenario(scenario, values)
    book = load_fee_book()
    book.evm_profile(profile)  # an unknown profile fails now, not after the run
    folder = out or Path("runs") / f"fleet-{int(time.time())}"
    _require_writable(folder)
    with Progress(*Progress.get_default_columns(), console=progress_console) as progress:
        task = progress.add_task(f"{chosen.name}: {chosen.robots:,} robots", total=chosen.steps)
        model, summary = simulate_run(chosen, seed, lambda _i, _r: progress.advance(task))
    stream = write_run(folder, model, summary)
    console.print(summary_table(summary))
    if modes != "none" or compute_over_x402:
        asked = SettlementAsk(modes, sample_robots, profile, remote, compute_over_x402)
        _settle_run(folder, chosen, seed, stream, asked)
    console.print(f"stream, reporters and summary in {folder}")
    _write_report(folder)


@app.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@mode_option
@sample_option
@profile_option
@remote_options
def settle(
    run_dir: Path,
    modes: str,
    sample_robots: int | None,
    profile: str,
    settlement_url: str | None,
    api_key: str | None,
    concurrency: int,
    compute_over_x402: bool,
) -> None:
    """Replay a run's recorded payment stream through the service in a mode (or all), priced;
    and, with --compute-over-x402, pay its compute payments over HTTP 402."""
    if modes == "none" and not compute_over_x402:
        raise click.BadParameter(
            "name a mode, or 'all' (or --compute-over-x402)", param_hint="--mode"
        )
    load_fee_book().evm_profile(profile)
    remote = _checked_remote(settlement_url, api_key, concurrency, modes, compute_over_x402)
    scenario, seed, stream = read_run(run_dir)
    asked = SettlementAsk(modes, sample_robots, profile, remote, compute_over_x402)
    _settle_run(run_dir, scenario, seed, stream, asked)
    console.print(f"settlement of {run_dir} in {run_dir / SETTLEMENT_FILE}")
    _write_report(run_dir)


@dataclass(frozen=True)
class SettlementAsk:
    """How a run is to be settled: the command line's choices."""

    modes: str
    sample_robots: int | None
    profile: str
    remote: RemoteService | None
    compute_over_x402: bool


def _settle_run(
    folder: Path, scenario: Scenario, seed: int, stream: PaymentStream, asked: SettlementAsk
) -> None:
    sample = _settlement_sample(scenario, stream, asked.sample_robots, seed)
    remote, profile = asked.remote, asked.profile
    if remote is not None:
        console.print(f"settling through the service at {remote.url}")
    settled = [
        _settle(stream, SettlementMode(mode), sample, remote) for mode in _modes(asked.modes)
    ]
    book = load_fee_book()
    profiles = [profile, *(chain.name for chain in book.evm_profiles if chain.name != profile)]
    priced = price_on_profiles(settled, stream, sample, book, profiles)
    x402 = None
    if asked.compute_over_x402 and remote is not None:
        paid = _pay_over_x402(stream, scenario, sample, remote)
        x402 = (paid, price_x402_on_profiles(paid, stream, sample, book, profiles))
    write_settlements(folder, settled, priced, profile, sample, stream, x402)
    if settled:
        console.print(settlement_table(priced[profile], len(stream), profile, console.width))
    for settlement in settled:
        if settlement.requests_resent:
            console.print(
                f"{settlement.mode.value}: {settlement.requests_resent:,} requests resent after "
                f"a failure; {settlement.already_accepted:,} payments were answered as already "
                "accepted, none settled twice"
            )
    if x402 is not None:
        console.print(x402_summary(*x402, profile))


def _write_report(folder: Path) -> None:
    written = write_report(folder)
    console.print("[bold]Answer:[/bold] " + " ".join(answer_sentences(written.report)))
    console.print(f"report: {written.html_path} (opens offline) and {written.markdown_path.name}")


def _modes(choice: str) -> list[str]:
    if choice == "none":
        return []
    return [mode.value for mode in SettlementMode] if choice == "all" else [choice]


def _settlement_sample(
    scenario: Scenario, stream: PaymentStream, asked: int | None, seed: int
) -> set[int] | None:
    """Everyone, or a declared random sample of robots (said on the terminal)."""
    robots = scenario.robots
    if asked is None and len(stream) <= SETTLE_WHOLE_LIMIT:
        return None
    count = asked or max(1, robots * SETTLE_WHOLE_LIMIT // len(stream))
    if count >= robots:
        return None
    console.print(
        f"settling a declared random sample: {count:,} of {robots:,} robots "
        f"({count / robots:.2%}), with every farm, compute provider and consumer"
    )
    return sample_robots(scenario, count, seed)


def _settle(
    stream: PaymentStream,
    mode: SettlementMode,
    sample: set[int] | None,
    remote: RemoteService | None,
) -> StreamSettlement:
    with Progress(*Progress.get_default_columns(), console=progress_console) as progress:
        task = progress.add_task(f"{mode.value}: starting", total=None)

        def show(phase: str, done: int, total: int) -> None:
            progress.update(task, description=f"{mode.value}: {phase}", completed=done, total=total)

        if remote is not None:
            return asyncio.run(
                settle_stream_over_http(stream, mode, remote, participants=sample, on_progress=show)
            )
        return asyncio.run(
            settle_stream(stream, mode, Settings(), participants=sample, on_progress=show)
        )


def _pay_over_x402(
    stream: PaymentStream, scenario: Scenario, sample: set[int] | None, remote: RemoteService
) -> X402Settlement:
    with Progress(*Progress.get_default_columns(), console=progress_console) as progress:
        task = progress.add_task("x402: starting", total=None)

        def show(phase: str, done: int, total: int) -> None:
            progress.update(task, description=f"x402: {phase}", completed=done, total=total)

        return asyncio.run(
            pay_compute_over_x402(stream, scenario, remote, participants=sample, on_progress=show)
        )


@app.command()
@click.option("--scenario", default="demo", show_default=True, help="A preset or a TOML file.")
@click.option(
    "--grid",
    "axes",
    multiple=True,
    required=True,
    metavar="NAME=V1,V2,...",
    help="A scenario value and the values to try (repeatable: every combination runs).",
)
@click.option(
    "--seeds", default="42", show_default=True, help="Comma-separated seeds, each run per seed."
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=os.cpu_count() or 1,
    show_default="the machine's cores",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for sweep.json (default: runs/sweep-<time>).",
)
def sweep(
    scenario: str, axes: tuple[str, ...], seeds: str, processes: int, out: Path | None
) -> None:
    """Run every combination of a grid of scenario values, in parallel; one row per run."""
    grid = parse_grid(axes)
    seed_list = [_seed(text) for text in seeds.split(",")]
    combos = plan_sweep(scenario, grid, seed_list)
    folder = out or Path("runs") / f"sweep-{int(time.time())}"
    _require_writable(folder)
    with Progress(*Progress.get_default_columns(), console=progress_console) as progress:
        task = progress.add_task(f"sweep: {len(combos)} runs", total=len(combos))
        runs = run_sweep(scenario, combos, processes, lambda _run: progress.advance(task))
    write_sweep(folder, runs)
    console.print(sweep_table(runs, list(grid)))
    console.print(f"one row per run in {folder / SWEEP_FILE}")


def _require_writable(folder: Path) -> None:
    """Refuse a folder that cannot be written before a long run, not after it; nothing is
    created here, so a refused run leaves nothing behind."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise click.BadParameter(
            f"cannot write {folder}: {existing} is not a writable folder", param_hint="--out"
        )


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an integer seed", param_hint="--seeds") from None


def _name_value(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--set")
    return name.strip(), value.strip()


def main() -> None:
    sys.exit(run_cli(app, "robots"))

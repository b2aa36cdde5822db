"""The ``settlement`` command: a thin shell over the package."""

from __future__ import annotations

import asyncio
import sys

import click
from rich.console import Console
from rich.table import Table

from settlement import __version__
from settlement.chain.artifacts import load_artifact
from settlement.chain.session import open_chain
from settlement.chain.stablecoin import STABLECOIN_ARTIFACT, StablecoinContract
from settlement.cli_runner import run_cli
from settlement.config import Settings
from settlement.demo import MAX_PAYMENTS_PER_WAY, DemoResult, run_demo
from settlement.domain.money import WEI_PER_GWEI, format_dollars
from settlement.domain.payments import SettlementMode
from settlement.runtime import SUPPORTED_MODES
from settlement.server import serve_forever

console = Console()
progress_console = Console(stderr=True)

rpc_url_option = click.option(
    "--rpc-url",
    envvar="SETTLEMENT_RPC_URL",
    metavar="URL",
    help="JSON-RPC URL of an EVM chain. Without it an embedded Anvil is started and stopped. "
    "On a chain other than a local dev chain (id 31337), SETTLEMENT_PRIVATE_KEY must hold a "
    "funded key.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="settlement")
def app() -> None:
    """Settle robot micro-payments in a stablecoin and measure what each payment costs."""


@app.command()
@rpc_url_option
@click.option(
    "--payments",
    type=click.IntRange(1, MAX_PAYMENTS_PER_WAY),
    default=10,
    show_default=True,
    help="Payments to settle in each way of paying.",
)
def demo(rpc_url: str | None, payments: int) -> None:
    """Deploy the stablecoin, settle micro-payments each way, print gas per payment per way."""
    result = asyncio.run(_demo(_settings(rpc_url), payments))
    _print_demo(result)


@app.command()
@click.option(
    "--rpc-url",
    envvar="SETTLEMENT_RPC_URL",
    metavar="URL",
    required=True,
    help="JSON-RPC URL of the chain to deploy to.",
)
def deploy(rpc_url: str) -> None:
    """Deploy the stablecoin to a chain and print its address (the operator becomes admin)."""
    address = asyncio.run(_deploy(_settings(rpc_url)))
    console.print(address)


@app.command()
@rpc_url_option
@click.option(
    "--database-url",
    envvar="SETTLEMENT_DATABASE_URL",
    metavar="URL",
    help="sqlite:///file.db or postgresql://user@host/db. Default: a SQLite file that lives as "
    "long as the embedded chain.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--mode",
    "modes",
    type=click.Choice([mode.value for mode in SUPPORTED_MODES]),
    multiple=True,
    help="Settlement modes to enable (repeatable). Default: all available.",
)
@click.option(
    "--window-size",
    type=click.IntRange(1, 100_000),
    envvar="SETTLEMENT_WINDOW_MAX_PAYMENTS",
    default=1_000,
    show_default=True,
    help="Close a window when this many payments of a mode are queued.",
)
@click.option(
    "--window-seconds",
    type=click.FloatRange(0, 3600, min_open=True),
    envvar="SETTLEMENT_WINDOW_MAX_WAIT_S",
    default=2.0,
    show_default=True,
    help="Close a window when its oldest payment has waited this long.",
)
def serve(
    rpc_url: str | None,
    database_url: str | None,
    host: str,
    port: int,
    modes: tuple[str, ...],
    window_size: int,
    window_seconds: float,
) -> None:
    """Run the settlement service (HTTP API and settlement windows) until interrupted."""
    settings = _settings(rpc_url).model_copy(
        update={
            "database_url": database_url or Settings().database_url,
            "window_max_payments": window_size,
            "window_max_wait_s": window_seconds,
        }
    )
    enabled = [SettlementMode(mode) for mode in modes] or list(SUPPORTED_MODES)
    asyncio.run(serve_forever(settings, enabled, host, port, progress_console))


def _settings(rpc_url: str | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"rpc_url": rpc_url}) if rpc_url else settings


async def _demo(settings: Settings, payments: int) -> DemoResult:
    async with open_chain(settings) as session:
        where = "embedded Anvil" if session.embedded else session.rpc_url
        progress_console.print(f"chain {session.client.chain_id} at {where}")
        with progress_console.status("starting") as status:
            return await run_demo(session, settings, payments, status.update)


async def _deploy(settings: Settings) -> str:
    async with open_chain(settings) as session:
        artifact = load_artifact(settings.contracts_dir, STABLECOIN_ARTIFACT)
        coin, _ = await StablecoinContract.deploy(session.client, artifact, session.operator)
        return coin.address


def _print_demo(result: DemoResult) -> None:
    table = Table(title=f"Gas per payment of {format_dollars(result.payment_base_units)}")
    for column in ("way", "payments", "gas/payment", "gas min-max", "fee/payment", "p50 latency"):
        table.add_column(column, justify="left" if column == "way" else "right")
    for way in result.ways:
        table.add_row(
            way.way,
            str(len(way.payments)),
            f"{way.gas_per_payment_mean:,.0f}",
            f"{way.gas_per_payment_min:,}-{way.gas_per_payment_max:,}",
            f"{way.fee_wei_per_payment_mean / WEI_PER_GWEI:,.0f} gwei",
            f"{way.latency_ms_p50:.1f} ms",
        )
    console.print(table)
    console.print(f"chain {result.chain_id}, stablecoin at {result.token_address}")
    for way in result.ways:
        console.print(f"  {way.way}: {way.description}")
    console.print(
        "Gas is each transaction's gasUsed from its receipt, the 21,000 base included. Payees "
        "already held tokens, so these are steady-state transfers between existing holders."
    )


def main() -> None:
    sys.exit(run_cli(app, "settlement"))

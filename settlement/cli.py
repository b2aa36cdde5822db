"""The ``settlement`` command: a thin shell over the package."""

from __future__ import annotations

import asyncio
import math
import os
import sys
import webbrowser
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
import httpx
import uvloop
from rich.console import Console
from rich.table import Table

from settlement import __version__, cost_views
from settlement.chain.artifacts import load_artifact
from settlement.chain.session import open_chain
from settlement.chain.stablecoin import STABLECOIN_ARTIFACT, StablecoinContract
from settlement.cli_runner import run_cli
from settlement.config import Settings
from settlement.demo import MAX_PAYMENTS_PER_WAY, DemoResult, run_demo
from settlement.domain.fees import (
    ModeInputs,
    format_usd,
    load_fee_book,
    load_mode_catalog,
    mode_inputs_from_results,
    round_significant,
)
from settlement.domain.money import WEI_PER_GWEI, dollars_to_base_units, format_dollars
from settlement.domain.payments import SettlementMode
from settlement.domain.policy import DEFAULT_FUNDING_LIFETIME_S, choose_mode
from settlement.errors import ConfigurationError
from settlement.keystore import (
    KDFS,
    Kdf,
    check_new_keystore_path,
    given_password,
    new_private_key,
    write_keystore,
)
from settlement.redaction import public_rpc_url
from settlement.report import (
    REPORT_JSON,
    REPORT_MD,
    answer_sentences,
    compare_reports,
    load_report,
    summary_rows,
    write_report,
    x402_sentence,
)
from settlement.runtime import SUPPORTED_MODES
from settlement.server import Role, serve_forever
from settlement.terminal_table import fitted_table
from settlement.workers import MAX_WORKERS, serve_workers

console = Console()
progress_console = Console(stderr=True)


def _http_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A JSON-RPC URL must be http:// or https:// with a host; anything else is a usage error."""
    if value is None:
        return None
    try:
        host = httpx.URL(value).host if value.startswith(("http://", "https://")) else ""
    except httpx.InvalidURL:
        host = ""
    if not host:
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


def _finite(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    """click's float ranges let NaN through (every comparison with it is false)."""
    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value


rpc_url_option = click.option(
    "--rpc-url",
    envvar="SETTLEMENT_RPC_URL",
    metavar="URL",
    callback=_http_url,
    help="JSON-RPC URL of an EVM chain. Without it an embedded Anvil is started and stopped. "
    "On a chain other than a local dev chain (id 31337), SETTLEMENT_PRIVATE_KEY or a keystore "
    "(--keystore) must hold a funded key.",
)
keystore_option = click.option(
    "--keystore",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An Ethereum V3 keystore file holding the operator key, instead of "
    "SETTLEMENT_PRIVATE_KEY (also SETTLEMENT_KEYSTORE). Its password comes from "
    "SETTLEMENT_KEYSTORE_PASSWORD or the file named by SETTLEMENT_KEYSTORE_PASSWORD_FILE, never "
    "from a flag that `ps` would show.",
)
# A private key is 66 characters; anything much longer on standard input is not one.
MAX_KEY_INPUT_CHARS = 1_024


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="settlement")
def app() -> None:
    """Settle robot micro-payments in a stablecoin and measure what each payment costs."""


@app.command()
@rpc_url_option
@keystore_option
@click.option(
    "--payments",
    type=click.IntRange(1, MAX_PAYMENTS_PER_WAY),
    default=10,
    show_default=True,
    help="Payments to settle in each way of paying.",
)
def demo(rpc_url: str | None, keystore: Path | None, payments: int) -> None:
    """Deploy the stablecoin, settle micro-payments each way, print gas per payment per way."""
    result = asyncio.run(_demo(_settings(rpc_url, keystore), payments))
    _print_demo(result)


@app.command()
@click.option(
    "--rpc-url",
    envvar="SETTLEMENT_RPC_URL",
    metavar="URL",
    required=True,
    callback=_http_url,
    help="JSON-RPC URL of the chain to deploy to.",
)
@keystore_option
def deploy(rpc_url: str, keystore: Path | None) -> None:
    """Deploy the stablecoin to a chain and print its address (the operator becomes admin)."""
    address = asyncio.run(_deploy(_settings(rpc_url, keystore)))
    console.print(address)


@app.command()
@rpc_url_option
@keystore_option
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
    callback=_finite,
    envvar="SETTLEMENT_WINDOW_MAX_WAIT_S",
    default=2.0,
    show_default=True,
    help="Close a window when its oldest payment has waited this long.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    envvar="SETTLEMENT_WORKERS",
    default=1,
    show_default=True,
    help="API processes sharing the port and the store (one per core); one of them settles.",
)
# A --workers parent starts its children with these; not for users.
@click.option(
    "--role", type=click.Choice([role.value for role in Role]), default="all", hidden=True
)
@click.option("--listen-fd", type=click.IntRange(0), hidden=True)
def serve(
    *,
    rpc_url: str | None,
    keystore: Path | None,
    database_url: str | None,
    host: str,
    port: int,
    modes: tuple[str, ...],
    window_size: int,
    window_seconds: float,
    workers: int,
    role: str,
    listen_fd: int | None,
) -> None:
    """Run the settlement service (HTTP API and settlement windows) until interrupted."""
    settings = _settings(rpc_url, keystore)
    settings = settings.model_copy(
        update={
            "database_url": database_url or settings.database_url,
            "window_max_payments": window_size,
            "window_max_wait_s": window_seconds,
        }
    )
    enabled = [SettlementMode(mode) for mode in modes] or list(SUPPORTED_MODES)
    if workers > 1 and Role(role) is Role.ALL:
        job = serve_workers(settings, enabled, host, port, workers, progress_console)
    else:
        job = serve_forever(settings, enabled, host, port, progress_console, Role(role), listen_fd)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(job)


def _settings(rpc_url: str | None, keystore: Path | None = None) -> Settings:
    """The environment's settings under the command line's; a keystore is decrypted here, once."""
    settings = Settings(keystore=keystore) if keystore is not None else Settings()
    return settings.model_copy(update={"rpc_url": rpc_url}) if rpc_url else settings


async def _demo(settings: Settings, payments: int) -> DemoResult:
    async with open_chain(settings) as session:
        where = "embedded Anvil" if session.embedded else public_rpc_url(session.rpc_url)
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


# ---------------------------------------------------------------- keystores

keystore_out_option = click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The keystore file to create; an existing file is never replaced.",
)
kdf_option = click.option(
    "--kdf",
    type=click.Choice(KDFS),
    default="scrypt",
    show_default=True,
    help="How the password is stretched into the encryption key.",
)


@app.group()
def keystore() -> None:
    """Encrypt the operator key into a keystore file (for --keystore / SETTLEMENT_KEYSTORE).

    The password comes from SETTLEMENT_KEYSTORE_PASSWORD or SETTLEMENT_KEYSTORE_PASSWORD_FILE,
    or is asked for on a terminal. Only the key's address is printed.
    """


@keystore.command("new")
@keystore_out_option
@kdf_option
def keystore_new(out_path: Path, kdf: Kdf) -> None:
    """Generate a new key that exists only in the keystore, and print its address."""
    check_new_keystore_path(out_path)
    password = _new_keystore_password()
    console.print(write_keystore(out_path, new_private_key(), password, kdf))


@keystore.command("import")
@keystore_out_option
@kdf_option
def keystore_import(out_path: Path, kdf: Kdf) -> None:
    """Encrypt a private key read from standard input (64 hex digits, 0x optional), and print
    its address."""
    check_new_keystore_path(out_path)
    private_key = _private_key_from_stdin()
    password = _new_keystore_password()
    console.print(write_keystore(out_path, private_key, password, kdf))


def _private_key_from_stdin() -> str:
    if sys.stdin.isatty():
        typed: str = click.prompt("Private key", hide_input=True)
        return typed
    text = sys.stdin.read(MAX_KEY_INPUT_CHARS + 1)
    if len(text) > MAX_KEY_INPUT_CHARS or len(text.split()) != 1:
        raise ConfigurationError("standard input must hold one private key and nothing else")
    return text.strip()


def _new_keystore_password() -> str:
    """The password from the environment, else asked for twice on a terminal."""
    password_file = os.environ.get("SETTLEMENT_KEYSTORE_PASSWORD_FILE")
    password = given_password(
        os.environ.get("SETTLEMENT_KEYSTORE_PASSWORD"),
        Path(password_file) if password_file else None,
    )
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise ConfigurationError(
            "set SETTLEMENT_KEYSTORE_PASSWORD or SETTLEMENT_KEYSTORE_PASSWORD_FILE (no terminal "
            "to ask on)"
        )
    typed: str = click.prompt("Keystore password", hide_input=True, confirmation_prompt=True)
    if not typed:
        raise ConfigurationError("the keystore password must not be empty")
    return typed


# ---------------------------------------------------------------- cost model and policy


class DecimalType(click.ParamType[Decimal, object]):
    """An exact decimal number from its text, never through a float."""

    name = "decimal"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.fail(f"{value!r} is not a decimal number", param, ctx)
        if not number.is_finite():
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class DollarsType(click.ParamType[int, object]):
    """A positive dollar amount such as 0.002, converted exactly to stablecoin base units."""

    name = "dollars"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        try:
            base_units = dollars_to_base_units(str(value))
        except InvalidOperation:
            self.fail(f"{value!r} is not a dollar amount such as 0.002", param, ctx)
        except ValueError as error:
            self.fail(f"{value!r} is not a dollar amount: {error}", param, ctx)
        if base_units <= 0:
            self.fail(f"{value} is not a positive amount", param, ctx)
        return base_units


profiles_option = click.option(
    "--profiles",
    "profiles_file",
    envvar="SETTLEMENT_FEE_PROFILES",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A TOML file whose values replace the packaged fee profiles' (same shape as "
    "settlement/data/fee_profiles.toml).",
)


@app.command()
@profiles_option
@click.option(
    "--results",
    "results_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A benchmark's results.json to price (its workload.json beside it, when present, "
    "sizes the transactions, and its ledger_results.json adds the ledger row). Default: the "
    "README's reference run.",
)
@click.option(
    "--amount",
    "amount_base_units",
    type=DollarsType(),
    default="0.01",
    show_default=True,
    help="The payment's value in dollars.",
)
@click.option(
    "--ledger-cpu-ns",
    type=click.IntRange(0, 10**12),
    help="CPU time per payment of the traditional ledger baseline, in ns, to price beside "
    "(instead of the one measured in --results' ledger_results.json).",
)
def costs(
    profiles_file: Path | None,
    results_file: Path | None,
    amount_base_units: int,
    ledger_cpu_ns: int | None,
) -> None:
    """What one payment costs in each mode under each fee profile, with the rails beside."""
    book = load_fee_book(profiles_file)
    catalog = load_mode_catalog()
    if results_file is None:
        entries, counts = catalog.reference_results(), None
    else:
        entries, counts = cost_views.read_results(results_file)
        if ledger_cpu_ns is None:
            ledger_cpu_ns = cost_views.measured_ledger_cpu_ns(results_file)
    inputs = mode_inputs_from_results(entries, catalog, counts)
    if ledger_cpu_ns is not None:
        inputs.append(
            ModeInputs(cost_views.LEDGER_ENGINE_LABEL, Decimal(0), Decimal(0), ledger_cpu_ns)
        )
    origin = str(results_file) if results_file else "the cost model's reference run (2026-12-04)"
    console.print(cost_views.costs_table(book, inputs, amount_base_units, origin))
    console.print(cost_views.rails_table(book, amount_base_units))
    console.print(
        "Gas is measured (all-in: channel opens and net deposits included); L1 bytes are estimated "
        "from each mode's shape. Break-even is the smallest payment whose cost is at most 1% of "
        "it; a payment below a rail's minimum charge is not possible on that rail. Every price "
        "is a declared assumption with its source and date in "
        "settlement/data/fee_profiles.toml; replace any with --profiles FILE."
    )


@app.command()
@profiles_option
@click.option(
    "--profile",
    "profile_name",
    required=True,
    help="The chain's fee profile: anvil-local, ethereum-l1, base, optimism, arbitrum-one, or "
    "one from --profiles.",
)
@click.option(
    "--amount",
    "amount_base_units",
    type=DollarsType(),
    required=True,
    help="Each payment's value in dollars, such as 0.002.",
)
@click.option(
    "--pair-rate", type=DecimalType(), required=True, help="Payments an hour between the pair."
)
@click.option(
    "--latency",
    type=DecimalType(),
    required=True,
    help="Seconds within which each payment must be settled on chain.",
)
@click.option(
    "--funding-lifetime",
    type=DecimalType(),
    default=str(DEFAULT_FUNDING_LIFETIME_S),
    show_default=True,
    help="Seconds a channel or a net deposit serves before it is funded again.",
)
def policy(
    profiles_file: Path | None,
    profile_name: str,
    amount_base_units: int,
    pair_rate: Decimal,
    latency: Decimal,
    funding_lifetime: Decimal,
) -> None:
    """Choose the cheapest settlement mode for a pair's payments within a latency bound."""
    book = load_fee_book(profiles_file)
    choice = choose_mode(
        book.evm_profile(profile_name),
        amount_base_units,
        pair_rate,
        latency,
        funding_lifetime_s=funding_lifetime,
        rails=book.rails,
    )
    console.print(
        f"[bold]auto: {choice.mode.value}[/bold] on {choice.profile}, "
        f"{format_usd(choice.usd_per_payment)} per payment of "
        f"{format_dollars(amount_base_units)}, settled within "
        f"{round_significant(choice.latency_s)} s"
    )
    console.print(cost_views.candidates_table(choice))
    console.print(choice.explanation)


@app.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--compare",
    "other_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Another run's folder: show what changed from RUN_DIR to it, figure by figure.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open report.html in a browser.")
def report(run_dir: Path, other_dir: Path | None, open_browser: bool) -> None:
    """Write a fleet run's report.json, report.md and report.html, and print its summary."""
    if other_dir is not None:
        before, after = load_report(run_dir), load_report(other_dir)
        table = Table(title=f"{run_dir.name} -> {other_dir.name}")
        for column in ("figure", run_dir.name, other_dir.name, "change"):
            table.add_column(column, justify="left" if column == "figure" else "right")
        for row in compare_reports(before, after):
            table.add_row(*row)
        console.print(table)
        return
    written = write_report(run_dir)
    header, rows = summary_rows(written.report, compact=True)
    if rows:
        console.print(fitted_table(f"Settlement of {run_dir.name}", header, rows, console.width))
    if written.report["x402"]:
        console.print(f"x402: {x402_sentence(written.report['x402'])}")
    console.print("[bold]Answer:[/bold] " + " ".join(answer_sentences(written.report)))
    console.print(f"report in {written.html_path} (and {REPORT_JSON}, {REPORT_MD})")
    if open_browser:
        webbrowser.open(written.html_path.resolve().as_uri())


def main() -> None:
    sys.exit(run_cli(app, "settlement"))

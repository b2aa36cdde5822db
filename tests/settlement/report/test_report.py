"""Reports of real fleet runs: the JSON document, the Markdown, the offline HTML page, the
comparison, and the command that writes them."""

from __future__ import annotations

import json
import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from robots.run import x402_entry
from robots.x402_fleet import X402Settlement
from settlement.domain.fees import load_fee_book
from settlement.report import (
    REPORT_SCHEMA,
    REPORT_VERSION,
    compare_reports,
    summary_rows,
    write_report,
)
from settlement.report.build import break_even_section, rails_section
from tests.cli_helpers import run_program, run_robots, run_settlement

MODES = ["direct", "authorization", "batch", "channel", "net", "ledger"]


@pytest.fixture(scope="module")
def settled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("settled") / "run"
    done = run_robots("simulate", "--steps", "20", "--mode", "all", "--out", str(folder))
    assert done.returncode == 0, done.stderr
    assert f"report: {folder / 'report.html'}" in done.stdout
    return folder


@pytest.mark.anvil
def test_the_report_carries_every_modes_figures_as_measured(settled_run: Path) -> None:
    report = json.loads((settled_run / "report.json").read_text())
    settlement = json.loads((settled_run / "settlement.json").read_text())

    assert (report["schema"], report["version"]) == (REPORT_SCHEMA, REPORT_VERSION)
    assert [m["mode"] for m in report["settlement"]["modes"]] == MODES
    for mode, measured in zip(report["settlement"]["modes"], settlement["modes"], strict=True):
        assert mode["settled"] == measured["settled"] == report["economy"]["payments"]
        assert sum(mode["throughput"]["settled"]) == mode["settled"]
        assert sum(mode["throughput"]["accepted"]) == mode["settled"] + mode["failed"]
        cdf = mode["latency_cdf_ms"]
        assert len(cdf) == 101
        assert cdf == sorted(cdf)
        assert mode["latency_ms"]["p50"] == measured["latency_ms_p50"] == cdf[50]
        assert set(mode["usd_per_payment"]) == {
            "anvil-local", "base", "optimism", "arbitrum-one", "ethereum-l1",
        }  # fmt: skip
    rails = {rail["rail"] for rail in report["rails"]}
    assert rails == {"card", "ach", "fednow", "sepa-instant"}
    curves = report["break_even"]["curves"]
    assert "card" in curves
    assert "net on base" in curves
    assert len(curves["card"]) == len(report["break_even"]["amounts_usd"])
    assert report["energy"]["per_good_wh"] > 0
    assert {choice["profile"] for choice in report["policy"]["choices"]} >= {"base"}
    assert report["environment"]["versions"]["web3"]
    assert report["run"]["seed"] == 42


@pytest.mark.anvil
def test_the_html_page_opens_offline_with_its_charts(settled_run: Path) -> None:
    page = (settled_run / "report.html").read_text()

    # Nothing to fetch: no scripts, stylesheets or images from elsewhere.
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "<script" not in page
    # Nine charts of the run, and the answer's three sensitivity plots (Base has an L2 data fee).
    assert page.count("<svg") == 12
    assert page.index("<h2>Answer</h2>") < page.index("<h2>Settlement</h2>")
    assert "no data" not in page
    for mode in MODES:
        assert f"<td>{mode}</td>" in page
    markdown = (settled_run / "report.md").read_text()
    assert markdown.startswith("# Fleet run run")
    assert "| batch | " in markdown


@pytest.mark.anvil
def test_the_command_prints_the_summary_and_compares_two_runs(
    settled_run: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    simulated = run_robots(
        "simulate", "--steps", "20", "--seed", "7", "--mode", "net", "--out", str(other)
    )
    assert simulated.returncode == 0, simulated.stderr

    printed = run_settlement("report", str(settled_run))
    assert printed.returncode == 0, printed.stderr
    assert "Settlement of run" in printed.stdout
    assert "report.html" in printed.stdout

    compared = run_settlement("report", str(settled_run), "--compare", str(other))
    assert compared.returncode == 0, compared.stderr
    rows = compare_reports(
        json.loads((settled_run / "report.json").read_text()),
        json.loads((other / "report.json").read_text()),
    )
    by_name = {row[0]: row for row in rows}
    assert by_name["batch: settled"][2] == "n/a"  # the other run settled only net
    before, after = (settled_modes(run)["net"]["settled"] for run in (settled_run, other))
    change = "same" if before == after else f"{(after - before) / before:+.1%}"
    assert by_name["net: settled"][1:] == [f"{before:,}", f"{after:,}", change]
    assert "net: all-in gas/payment" in compared.stdout


@pytest.mark.anvil
def test_the_answer_prices_every_payment_of_the_run_on_every_way(settled_run: Path) -> None:
    report = json.loads((settled_run / "report.json").read_text())
    answer = report["answer"]
    with np.load(settled_run / "stream.npz") as stream:
        amounts = np.asarray(stream["amounts_base_units"], dtype=np.int64)
    value_usd = Decimal(int(amounts.sum())) / 10**6

    assert (answer["profile"], answer["chain_costs"]) == ("base", "measured")
    assert answer["payments"] == len(amounts) == report["economy"]["payments"]
    ways = {way["way"]: way for way in answer["ways"]}
    assert list(ways) == [f"{mode} on base" for mode in MODES[:-1]] + [
        "card", "ach", "fednow", "sepa-instant",
    ]  # fmt: skip
    for mode in report["settlement"]["modes"][:-1]:
        way = ways[f"{mode['mode']} on base"]
        usd = Decimal(settlement_prices(settled_run)[mode["mode"]]["usd_per_payment"])
        assert way["share_of_value"] == float(usd * len(amounts) / value_usd)
        assert way["settles"] == (way["share_of_value"] <= 0.01)
    below_fifty_cents = int((amounts < 500_000).sum())
    assert ways["card"]["payments_not_possible"] == below_fifty_cents
    assert not ways["card"]["settles"]
    assert "settles in 2 days, more than 1 h" in ways["card"]["reasons"]
    assert answer["auto"]["mode"] in MODES
    assert answer["auto"]["mode"] in " ".join(answer["sentences"])
    levers = answer["sensitivity"]["levers"]
    assert [lever["lever"] for lever in levers] == [
        "eth_usd", "gas_price_gwei", "l2_data_fee_wei_per_byte",
    ]  # fmt: skip
    assert levers[0]["profile_value"] == 2500
    markdown = (settled_run / "report.md").read_text()
    assert markdown.index("## Answer") < markdown.index("## Economy")
    assert "| card | no: " in markdown
    assert "How the answer moves with ETH price, gas price and L2 data fee" in markdown


def settlement_prices(run: Path) -> dict[str, dict[str, str]]:
    settlement = json.loads((run / "settlement.json").read_text())
    return {mode["mode"]: mode["prices"]["base"] for mode in settlement["modes"]}


@pytest.mark.parametrize("columns", [80, 200])
def test_the_printed_summary_keeps_every_digit_within_the_terminal(
    settled_run: Path, columns: int
) -> None:
    printed = run_settlement(
        "report", str(settled_run), env={**os.environ, "COLUMNS": str(columns)}
    )

    assert printed.returncode == 0, printed.stderr
    assert_fits(printed.stdout, columns)
    _, rows = summary_rows(json.loads((settled_run / "report.json").read_text()), compact=True)
    words = printed.stdout.split()
    assert all(cell in words for row in rows for cell in row)
    # Eight columns need about 90: at 80 they are cut into two tables, at 200 kept in one.
    assert printed.stdout.count("┏") == (2 if columns == 80 else 1)


@pytest.mark.anvil
@pytest.mark.parametrize("columns", [80, 200])
def test_the_fleets_settlement_table_keeps_every_digit_within_the_terminal(
    settled_run: Path, tmp_path: Path, columns: int
) -> None:
    run = shutil.copytree(settled_run, tmp_path / "run")

    # One mode keeps the test light; authorization has the longest name of them all.
    settled = run_program(
        "robots", "settle", str(run), "--mode", "authorization",
        env={**os.environ, "COLUMNS": str(columns)},
    )  # fmt: skip

    assert settled.returncode == 0, settled.stderr
    table = settled.stdout[settled.stdout.index("Settling the run's payments") :]
    assert_fits(table, columns)
    assert table.count("│ authorization ") == table.count("┏")
    assert table.count("┏") == (2 if columns == 80 else 1)


def assert_fits(printed: str, columns: int) -> None:
    assert "…" not in printed
    longest = max(len(line) for line in printed.splitlines())
    assert longest <= columns, f"a line of {longest} characters in a {columns}-column terminal"


def settled_modes(run: Path) -> dict[str, dict[str, int]]:
    report = json.loads((run / "report.json").read_text())
    return {mode["mode"]: mode for mode in report["settlement"]["modes"]}


def test_an_unsettled_run_is_reported_as_such(tmp_path: Path) -> None:
    done = run_robots("simulate", "--steps", "10", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr

    written = write_report(tmp_path)
    assert written.report["settlement"]["modes"] == []
    assert written.report["x402"] is None
    markdown = written.markdown_path.read_text()
    assert "This run was not settled" in markdown
    assert "over x402" not in markdown
    # Unsettled, the answer still stands: every payment counted into each chain mode's work.
    answer = written.report["answer"]
    assert answer["chain_costs"] == "whole run"
    assert [way["way"] for way in answer["ways"][:5]] == [f"{mode} on base" for mode in MODES[:-1]]
    assert "Chain costs are every payment of the run counted" in markdown

    # Without the stream there is nothing to count: the cost model plans the modes.
    (tmp_path / "stream.npz").unlink()
    modelled = write_report(tmp_path)
    assert modelled.report["answer"]["chain_costs"] == "modelled"
    assert "The run was not settled: chain costs are the cost model's on base" in (
        modelled.markdown_path.read_text()
    )


def test_every_payment_of_the_run_is_priced_in_each_chain_mode(tmp_path: Path) -> None:
    done = run_robots("simulate", "--steps", "20", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr

    written = write_report(tmp_path)

    whole, economy = written.report["whole_run"], written.report["economy"]
    payments = economy["payments"]
    assert whole["payments"] == payments > 0
    assert whole["value_usd"] == pytest.approx(economy["value_usd"])
    # Settled once per the policy's hour: the demo's 20 minutes are one interval.
    assert (whole["interval_steps"], whole["interval_s"]) == (60, 3_600)
    modes = {mode["mode"]: mode for mode in whole["modes"]}
    assert list(modes) == ["direct", "authorization", "batch", "channel", "net"]
    assert modes["direct"]["gas"] == payments * 37_155
    assert modes["batch"]["transactions"] == -(-payments // 1_000)
    for mode in modes.values():
        assert set(mode["usd"]) == {"ethereum-l1", "base", "optimism", "arbitrum-one"}
        for profile, usd in mode["usd"].items():
            assert mode["share_of_value"][profile] == pytest.approx(usd / whole["value_usd"])
    title = "Every payment of the run, priced from the modes' cost shapes"
    markdown = written.markdown_path.read_text()
    assert f"### {title}" in markdown
    assert f"| batch | {modes['batch']['transactions']:,} | {modes['batch']['gas']:,} |" in markdown
    assert f"All {payments:,} payments of the run" in markdown
    assert f"<h3>{title}</h3>" in written.html_path.read_text()


def test_x402_payments_the_providers_did_not_receive_in_full_are_said_so(tmp_path: Path) -> None:
    done = run_robots("simulate", "--steps", "10", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    short = X402Settlement(
        settled_by="http://127.0.0.1:8000", participant_key_tag="t x402",
        compute_payments_in_stream=10, attempted=10, paid=9, refused=1,
        refusal_reasons={"settlement_pending": 1}, transactions=9, gas_total=9 * 75_000,
        paid_per_s=3.0, latency_ms_p50=700.0, latency_ms_p95=800.0, latency_ms_p99=900.0,
        service_cpu_ns_per_payment=20_000_000, value_paid_base_units=9_000,
        value_received_base_units=8_000, sampled=False,
    )  # fmt: skip
    document = {"profile": "base", "sampled_participants": None, "modes": []}
    document["x402"] = x402_entry(short, {})
    (tmp_path / "settlement.json").write_text(json.dumps(document))

    written = write_report(tmp_path)
    x402 = written.report["x402"]
    assert (x402["paid"], x402["refused"], x402["gas_per_payment"]) == (9, 1, 75_000)
    markdown = written.markdown_path.read_text()
    assert "$0.009 was paid and the providers' balances rose by $0.008" in markdown
    assert "| refusals | settlement_pending (1) |" in markdown
    assert "| USD per payment (base) | n/a |" in markdown


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["report", "/nonexistent"], "does not exist"),
        (["report", "."], "holds no fleet run"),
    ],
)
def test_bad_folders_give_one_line(args: list[str], reason: str, tmp_path: Path) -> None:
    done = run_settlement(*args)
    assert done.returncode != 0
    assert reason in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_rail_prices_nothing_below_its_minimum_charge_and_draws_no_curve_there() -> None:
    book = load_fee_book()
    small = {rail["rail"]: rail for rail in rails_section(book, 4_659)}  # $0.004659
    assert (small["card"]["usd_per_payment"], small["card"]["share_of_value"]) == (None, None)
    assert small["card"]["not_possible"] == "below card's $0.5 minimum charge"
    assert small["fednow"]["not_possible"] == "below fednow's $0.01 minimum charge"
    large = {rail["rail"]: rail for rail in rails_section(book, 1_000_000)}  # $1
    assert large["ach"]["usd_per_payment"] == 0.008
    assert large["ach"]["not_possible"] is None
    assert large["ach"]["break_even_usd"] == 0.5  # its minimum, not "any size"
    assert large["ach"]["availability"] == "banking hours"

    section = break_even_section(book, [], "base")
    for rail in ("card", "ach"):
        curve = section["curves"][rail]
        for amount, share in zip(section["amounts_usd"], curve, strict=True):
            assert (share is None) == (amount < 0.5), (rail, amount)


@pytest.mark.anvil
def test_a_sampled_run_is_answered_from_every_payment_not_the_sample(tmp_path: Path) -> None:
    done = run_robots(
        "simulate", "--set", "robots=30", "--sample-robots", "5", "--steps", "60", "--mode",
        "net", "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    report = json.loads((tmp_path / "report.json").read_text())

    answer, whole = report["answer"], report["whole_run"]
    assert answer["chain_costs"] == "whole run"
    chain_ways = [way for way in answer["ways"] if way["kind"] == "chain"]
    assert [way["way"] for way in chain_ways] == [f"{m['mode']} on base" for m in whole["modes"]]
    for way, counted in zip(chain_ways, whole["modes"], strict=True):
        assert way["share_of_value"] == pytest.approx(counted["share_of_value"]["base"])
        assert way["latency_s"] == whole["interval_s"]
    # The sample measured net's CPU, and only net's.
    energies = {way["way"]: way["energy_wh_per_payment"] for way in chain_ways}
    assert energies.pop("net on base") > 0
    assert set(energies.values()) == {None}
    assert "not a settled sample" in (tmp_path / "report.md").read_text()

"""``robots simulate`` from the command line: a run's files and summary, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_robots


def test_simulate_writes_the_stream_reporters_and_summary(tmp_path: Path) -> None:
    done = run_robots("simulate", "--steps", "30", "--set", "robots=8", "--out", str(tmp_path))

    assert done.returncode == 0, done.stderr
    assert "Fleet run: scenario demo, seed 42" in done.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["summary"]["steps"] == 30
    assert summary["scenario"]["robots"] == 8
    assert len(json.loads((tmp_path / "steps.json").read_text())) == 30
    assert (tmp_path / "stream.npz").stat().st_size > 0


@pytest.mark.anvil
def test_simulate_settles_the_run_in_a_mode_and_prices_it(tmp_path: Path) -> None:
    done = run_robots(
        "simulate",
        "--steps",
        "20",
        "--mode",
        "batch",
        "--profile",
        "optimism",
        "--out",
        str(tmp_path),
    )

    assert done.returncode == 0, done.stderr
    assert "Settling the run's payments, priced on optimism" in done.stdout
    document = json.loads((tmp_path / "settlement.json").read_text())
    (batch,) = document["modes"]
    stream_payments = json.loads((tmp_path / "summary.json").read_text())["summary"]["payments"]
    assert batch["mode"] == "batch"
    assert batch["settled"] == stream_payments > 0
    assert batch["failed"] == 0
    assert float(batch["usd_per_payment"]) > 0

    # Each step's cost share, weighted by the step's value, adds up to the run's share.
    steps = json.loads((tmp_path / "steps.json").read_text())
    weighted = sum(
        step["settlement_cost_share"]["batch"] * step["value_base_units"]
        for step in steps
        if step["payments"]
    )
    total_value = sum(step["value_base_units"] for step in steps)
    assert weighted / total_value == pytest.approx(float(batch["share_of_value_settled"]))
    assert all(
        (step["settlement_cost_share"]["batch"] is None) == (step["payments"] == 0)
        for step in steps
    )


@pytest.mark.anvil
def test_a_declared_sample_of_robots_is_settled_and_said(tmp_path: Path) -> None:
    done = run_robots(
        "simulate", "--set", "robots=30", "--sample-robots", "5", "--mode", "ledger",
        "--out", str(tmp_path),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "settling a declared random sample: 5 of 30 robots (16.67%)" in done.stdout
    document = json.loads((tmp_path / "settlement.json").read_text())
    (ledger,) = document["modes"]
    assert document["sampled_participants"] == 5 + (30 + 3 + 2 + 6) - 30
    assert ledger["sampled"] is True
    assert 0 < ledger["payments_settled_attempted"] < ledger["payments_in_stream"]
    assert ledger["settled"] == ledger["payments_settled_attempted"]


@pytest.mark.anvil
def test_a_recorded_run_replays_into_another_mode(tmp_path: Path) -> None:
    simulated = run_robots("simulate", "--steps", "15", "--out", str(tmp_path))
    replayed = run_robots("settle", str(tmp_path), "--mode", "ledger")

    assert simulated.returncode == 0, simulated.stderr
    assert replayed.returncode == 0, replayed.stderr
    (ledger,) = json.loads((tmp_path / "settlement.json").read_text())["modes"]
    payments = json.loads((tmp_path / "summary.json").read_text())["summary"]["payments"]
    assert ledger["settled"] == payments > 0


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (["simulate", "--scenario", "moon"], 1, "unknown scenario 'moon'"),
        (["simulate", "--set", "robots=-3"], 1, "robots must be between 1"),
        (["simulate", "--set", "robots"], 2, "is not NAME=VALUE"),
        (["simulate", "--set", "colour=blue"], 1, "unknown scenario value 'colour'"),
        (["simulate", "--steps", "0"], 2, "is not in the range"),
        (["simulate", "--seed", "x"], 2, "is not a valid integer"),
        (["simulate", "--mode", "barter"], 2, "'barter' is not one of"),
        (["simulate", "--profile", "moonchain"], 1, "no fee profile 'moonchain'"),
        (["settle", "/nonexistent-run"], 2, "does not exist"),
        (["settle", "."], 2, "name a mode, or 'all'"),
        (["settle", ".", "--mode", "net"], 1, "holds no fleet run"),
        (["simulate", "--settlement-url", "http://127.0.0.1:9"], 2, "needs a mode, or 'all'"),
        (
            ["simulate", "--settlement-url", "127.0.0.1:8000", "--mode", "net"],
            2,
            "is not an http:// or https:// URL",
        ),
        (
            [
                "simulate",
                "--steps",
                "5",
                "--mode",
                "batch",
                "--settlement-url",
                "http://127.0.0.1:9",
                "--api-key",
                "k",
            ],
            1,
            "GET http://127.0.0.1:9/v1/terms: no answer after",
        ),
        (["simulate", "--concurrency", "0", "--mode", "batch"], 2, "is not in the range"),
    ],
)
def test_bad_input_gives_one_line_and_a_nonzero_exit(
    args: list[str], code: int, reason: str
) -> None:
    done = run_robots(*args)

    assert done.returncode == code
    assert reason in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_malformed_scenario_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("robots = [1, 2\n")

    done = run_robots("simulate", "--scenario", str(broken))

    assert done.returncode == 1
    assert "broken.toml is not valid TOML" in done.stderr

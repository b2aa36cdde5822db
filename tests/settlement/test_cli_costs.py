"""``settlement costs`` and ``settlement policy`` from the command line, as a user runs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli_helpers import run_settlement


def test_policy_prints_the_choice_its_candidates_and_why() -> None:
    done = run_settlement(
        "policy", "--profile", "base", "--amount", "0.002", "--pair-rate", "60", "--latency", "3600"
    )

    assert done.returncode == 0, done.stderr
    first_line = done.stdout.splitlines()[0]
    assert first_line.startswith("auto: channel on base")
    assert "Rejected: direct" in " ".join(done.stdout.split())
    assert "card" in done.stdout


def test_costs_prices_every_mode_and_rail() -> None:
    done = run_settlement("costs", "--amount", "0.01", "--ledger-cpu-ns", "20000")

    assert done.returncode == 0, done.stderr
    for name in ("direct", "batch", "channel", "net", "ledger", "fednow", "sepa-instant"):
        assert name in done.stdout, name


def rail_row(stdout: str, rail: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(f"│ {rail} "))


def test_costs_says_a_payment_below_a_rails_minimum_is_not_possible_there() -> None:
    wide = {**os.environ, "COLUMNS": "120"}
    cent = run_settlement("costs", "--amount", "0.01", env=wide)
    dollar = run_settlement("costs", "--amount", "1", env=wide)

    assert cent.returncode == dollar.returncode == 0, cent.stderr + dollar.stderr
    assert "not possible" in rail_row(cent.stdout, "card")
    assert "$0.045" in rail_row(cent.stdout, "fednow")
    card = rail_row(dollar.stdout, "card")
    assert "$0.329" in card
    assert "not possible" not in card
    assert "4 days, banking hours" in rail_row(dollar.stdout, "ach")


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (["policy", "--profile", "nope"], 1, "no fee profile 'nope'"),
        (["policy", "--amount", "-1"], 2, "is not a positive amount"),
        (["policy", "--amount", "0.0000001"], 2, "more than 6 decimal places"),
        (["policy", "--latency", "soon"], 2, "is not a decimal number"),
        (["costs", "--amount", "abc"], 2, "is not a dollar amount"),
    ],
)
def test_bad_policy_input_gives_one_line_and_a_nonzero_exit(
    args: list[str], code: int, reason: str
) -> None:
    defaults = {"--profile": "base", "--amount": "0.01", "--pair-rate": "1", "--latency": "60"}
    command, given = args[0], args[1:]
    for flag, value in defaults.items():
        if command == "policy" and flag not in given:
            given = [*given, flag, value]

    done = run_settlement(command, *given)

    assert done.returncode == code, done.stdout
    assert reason in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_malformed_profiles_file_is_named_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "profiles.toml"
    broken.write_text("[profiles.base]\ngas_price_gwei = 0.5\n")

    done = run_settlement("costs", "--profiles", str(broken))

    assert done.returncode == 1
    assert "profiles.toml" in done.stderr
    assert "gas_price_gwei" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr

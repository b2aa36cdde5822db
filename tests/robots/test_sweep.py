"""robots sweep: every combination once, in grid order, the same rows whatever the processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robots.sweep import MAX_SWEEP_RUNS, SweepError, parse_grid, plan, sweep
from tests.cli_helpers import run_robots


def test_every_combination_runs_once_in_grid_order_and_matches_a_single_process() -> None:
    grid = parse_grid(["robots=4,8", "latitude_deg=0,50"])
    combos = plan("demo", grid, [1, 2])

    parallel = sweep("demo", combos, processes=2)
    serial = sweep("demo", combos, processes=1)

    assert [(run.values, run.seed) for run in parallel] == combos
    assert len(combos) == 8
    assert [run.summary.payments for run in parallel] == [run.summary.payments for run in serial]
    assert {run.summary.robots for run in parallel} == {4, 8}


@pytest.mark.parametrize(
    ("axes", "reason"),
    [
        (["robots"], "is not NAME=VALUE"),
        (["robots="], "is not NAME=VALUE"),
        (["=4"], "is not NAME=VALUE"),
    ],
)
def test_a_malformed_grid_is_refused(axes: list[str], reason: str) -> None:
    with pytest.raises(SweepError, match=reason):
        parse_grid(axes)


def test_a_grid_too_large_or_with_a_bad_value_fails_before_any_run() -> None:
    too_many = parse_grid([f"robots={','.join(str(n) for n in range(1, MAX_SWEEP_RUNS + 2))}"])
    with pytest.raises(SweepError, match="at most 1,000"):
        plan("demo", too_many, [1])
    with pytest.raises(ValueError, match="robots must be between 1"):
        plan("demo", parse_grid(["robots=5,0"]), [1])


def test_the_cli_writes_one_row_per_run(tmp_path: Path) -> None:
    done = run_robots(
        "sweep", "--grid", "robots=3,5", "--seeds", "1,2", "--processes", "2",
        "--out", str(tmp_path),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "sweep.json").read_text())
    assert [(row["values"]["robots"], row["seed"]) for row in rows] == [
        ("3", 1), ("3", 2), ("5", 1), ("5", 2)
    ]  # fmt: skip
    assert all(row["payments"] > 0 for row in rows)


def test_cli_bad_seeds_give_one_line() -> None:
    done = run_robots("sweep", "--grid", "robots=3", "--seeds", "1,x")

    assert done.returncode == 2
    assert "'x' is not an integer seed" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

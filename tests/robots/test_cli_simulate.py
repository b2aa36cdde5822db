"""``robots simulate`` from the command line: a run's files and summary, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run_robots(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from robots.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_simulate_writes_the_stream_reporters_and_summary(tmp_path: Path) -> None:
    done = run_robots("simulate", "--steps", "30", "--set", "robots=8", "--out", str(tmp_path))

    assert done.returncode == 0, done.stderr
    assert "Fleet run: scenario demo, seed 42" in done.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["summary"]["steps"] == 30
    assert summary["scenario"]["robots"] == 8
    assert len(json.loads((tmp_path / "steps.json").read_text())) == 30
    assert (tmp_path / "stream.npz").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (["simulate", "--scenario", "moon"], 1, "unknown scenario 'moon'"),
        (["simulate", "--set", "robots=-3"], 1, "robots must be between 1"),
        (["simulate", "--set", "robots"], 2, "is not NAME=VALUE"),
        (["simulate", "--set", "colour=blue"], 1, "unknown scenario value 'colour'"),
        (["simulate", "--steps", "0"], 2, "is not in the range"),
        (["simulate", "--seed", "x"], 2, "is not a valid integer"),
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

"""Bad flags and files for both programs: one clear line on stderr, a non-zero exit, no traceback
and no output files. Cases the older CLI tests (tests/robots/test_cli_simulate.py,
tests/settlement/test_cli_costs.py) already cover are not repeated here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_robots, run_settlement

USAGE, FAILURE = 2, 1
# Stands for the test's temporary folder in a case's arguments.
TMP = "{tmp}"


def _files(folder: Path) -> None:
    (folder / "unclosed.toml").write_text("robots = [1, 2\n")
    (folder / "binary.toml").write_bytes(bytes(range(128, 256)))
    (folder / "broken.json").write_text("{not json")
    (folder / "list.json").write_text("[1, 2]")
    (folder / "a-file").write_text("not a folder")
    (folder / "empty-run").mkdir()
    (folder / "empty-run" / "summary.json").write_text("{}")


CASES = [
    # robots simulate: scenario files and values
    (["robots", "simulate", "--scenario", f"{TMP}/binary.toml"], FAILURE, "is not UTF-8 text"),
    (["robots", "simulate", "--scenario", f"{TMP}/missing.toml"], FAILURE, "cannot read scenario"),
    (["robots", "simulate", "--set", "robots=1e400"], FAILURE, "robots must be an integer"),
    (["robots", "simulate", "--set", "robots=-3"], FAILURE, "robots must be between 1 and"),
    (["robots", "simulate", "--set", "robots"], USAGE, "is not NAME=VALUE"),
    (["robots", "simulate", "--set", "no_such_value=1"], FAILURE, "unknown scenario value"),
    (["robots", "simulate", "--set", "latitude_deg=nan"], FAILURE, "latitude_deg must be"),
    (["robots", "simulate", "--sample-robots", "-1", "--mode", "net"], USAGE, "not in the range"),
    (["robots", "simulate", "--out", f"{TMP}/a-file/run"], USAGE, "is not a writable folder"),
    (
        ["robots", "simulate", "--mode", "net", "--settlement-url", "http://[::1"],
        USAGE,
        "is not an http:// or https:// URL",
    ),
    (
        ["robots", "simulate", "--mode", "net", "--settlement-url", "ftp://host"],
        USAGE,
        "is not an http:// or https:// URL",
    ),
    (
        ["robots", "simulate", "--compute-over-x402"],
        USAGE,
        "paying over x402 needs a running service as the facilitator: --settlement-url",
    ),
    # robots settle and sweep
    (
        ["robots", "settle", f"{TMP}/empty-run", "--compute-over-x402"],
        USAGE,
        "needs a running service as the facilitator",
    ),
    (["robots", "settle", f"{TMP}/empty-run", "--mode", "net"], FAILURE, "holds no fleet run"),
    (["robots", "settle", f"{TMP}/a-file", "--mode", "net"], USAGE, "is a file"),
    (["robots", "sweep", "--grid", "robots=a,b"], FAILURE, "robots must be an integer"),
    (["robots", "sweep", "--grid", "robots"], FAILURE, "is not NAME=VALUE"),
    (["robots", "sweep", "--grid", "robots=10", "--seeds", "x"], USAGE, "is not an integer seed"),
    (["robots", "sweep", "--grid", "robots=10", "--processes", "0"], USAGE, "not in the range"),
    (
        ["robots", "sweep", "--grid", "robots=10", "--out", f"{TMP}/a-file/sweep"],
        USAGE,
        "is not a writable folder",
    ),
    # robots solar-budget
    (["robots", "solar-budget", "--robot-power-w", "inf"], FAILURE, "must be positive and finite"),
    (["robots", "solar-budget", "--fraction", "nan"], FAILURE, "fraction must be positive"),
    # settlement costs and policy
    (["settlement", "costs", "--amount", "inf"], USAGE, "is not a finite amount"),
    (["settlement", "costs", "--amount", "nan"], USAGE, "is not a finite amount"),
    (["settlement", "costs", "--amount", "1e999999"], USAGE, "digits before the point"),
    (["settlement", "costs", "--results", f"{TMP}/broken.json"], FAILURE, "is not JSON"),
    (["settlement", "costs", "--results", f"{TMP}/list.json"], FAILURE, "per-mode results"),
    (["settlement", "costs", "--results", f"{TMP}/missing.json"], USAGE, "does not exist"),
    (["settlement", "costs", "--profiles", f"{TMP}/binary.toml"], FAILURE, "is not UTF-8 text"),
    (["settlement", "costs", "--profiles", f"{TMP}/unclosed.toml"], FAILURE, "not valid TOML"),
    (
        [
            *("settlement", "policy", "--profile", "base", "--amount", "0.01"),
            *("--pair-rate", "inf", "--latency", "60"),
        ],
        USAGE,
        "is not a finite number",
    ),
    # settlement report
    (["settlement", "report", f"{TMP}/empty-run"], FAILURE, "holds no fleet run"),
    (["settlement", "report", f"{TMP}/missing-run"], USAGE, "does not exist"),
    # settlement serve, deploy, demo: refused before any chain or database is touched
    (["settlement", "serve", "--window-seconds", "nan"], USAGE, "nan is not a finite number"),
    (["settlement", "serve", "--window-size", "0"], USAGE, "not in the range"),
    (["settlement", "serve", "--mode", "teleport"], USAGE, "'teleport' is not one of"),
    (["settlement", "serve", "--rpc-url", "notaurl"], USAGE, "is not an http:// or https:// URL"),
    (["settlement", "serve", "--database-url", "mysql://x"], FAILURE, "unsupported database"),
    (["settlement", "deploy", "--rpc-url", "ftp://x"], USAGE, "is not an http:// or https:// URL"),
    (["settlement", "demo", "--rpc-url", "http://"], USAGE, "is not an http:// or https:// URL"),
    (["settlement", "demo", "--payments", "-1"], USAGE, "not in the range"),
    (["settlement", "no-such-command"], USAGE, "No such command"),
]


@pytest.mark.parametrize(
    ("args", "code", "reason"), CASES, ids=[" ".join(case[0]) for case in CASES]
)
def test_bad_flags_and_files_give_one_line_and_a_nonzero_exit(
    tmp_path: Path, args: list[str], code: int, reason: str
) -> None:
    _files(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    program, *rest = (arg.replace(TMP, str(tmp_path)) for arg in args)
    run = run_robots if program == "robots" else run_settlement

    done = run(*rest)

    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{program}: error: "), done.stderr
    assert reason in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert sorted(tmp_path.rglob("*")) == before, "a refused command wrote files"

"""A fleet settled through a running service over HTTP, as with ``docker compose up``: the
service runs in its own process (embedded Anvil, SQLite), ``robots`` talks to it by URL."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import run_program, served

pytestmark = pytest.mark.anvil

API_KEY = "fleet-http-key"


def test_every_mode_settles_through_the_service_and_reruns_start_afresh(tmp_path: Path) -> None:
    with served(tmp_path, API_KEY, "--window-seconds", "0.3") as url:
        first = run_robots_with_key(
            "simulate", "--steps", "40", "--mode", "all", "--settlement-url", url,
            "--out", str(tmp_path / "run"),
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert f"settling through the service at {url}" in first.stdout
        payments = summary_payments(tmp_path / "run")
        modes = settled_modes(tmp_path / "run")
        assert list(modes) == ["direct", "authorization", "batch", "channel", "net", "ledger"]
        for mode, figures in modes.items():
            assert figures["settled_by"] == url
            assert (figures["settled"], figures["failed"]) == (payments, 0), mode
            assert figures["already_accepted"] == 0
            assert figures["service_cpu_ns_per_payment"] > 0
            assert float(figures["usd_per_payment"]) > 0
        assert modes["batch"]["gas_total"] > 0
        assert modes["channel"]["setup_gas"] > 0
        assert modes["ledger"]["gas_total"] == 0
        # The same kind of report as a run settled in process.
        report = json.loads((tmp_path / "run" / "report.json").read_text())
        assert [m["settled_by"] for m in report["settlement"]["modes"]] == [url] * 6
        for mode in report["settlement"]["modes"]:
            assert sum(mode["throughput"]["settled"]) == payments
        assert (tmp_path / "run" / "report.html").stat().st_size > 0

        # The same run again on the same service: fresh keys, so it settles again in full.
        again = run_robots_with_key(
            "settle", str(tmp_path / "run"), "--mode", "batch", "--settlement-url", url
        )
        assert again.returncode == 0, again.stderr
        (batch,) = settled_modes(tmp_path / "run").values()
        assert (batch["settled"], batch["already_accepted"]) == (payments, 0)
        assert batch["participant_key_tag"] != modes["batch"]["participant_key_tag"]


def test_without_the_operator_key_nothing_is_sent_and_one_line_says_why(tmp_path: Path) -> None:
    with served(tmp_path, API_KEY) as url:
        done = run_program(
            "robots", "simulate", "--steps", "5", "--mode", "batch", "--settlement-url", url,
            "--out", str(tmp_path / "run"),
            env={k: v for k, v in os.environ.items() if k != "SETTLEMENT_API_KEY"},
        )  # fmt: skip
    assert done.returncode == 1
    # Checked before simulating: no progress bar, one line.
    assert done.stderr.strip() == (
        "robots: error: funding a fleet through the service needs its operator key "
        "(SETTLEMENT_API_KEY)"
    )


def run_robots_with_key(*args: str) -> subprocess.CompletedProcess[str]:
    return run_program("robots", *args, env=dict(os.environ, SETTLEMENT_API_KEY=API_KEY))


def summary_payments(run: Path) -> int:
    payments: int = json.loads((run / "summary.json").read_text())["summary"]["payments"]
    return payments


def settled_modes(run: Path) -> dict[str, dict[str, object]]:
    document = json.loads((run / "settlement.json").read_text())
    return {entry["mode"]: entry for entry in document["modes"]}

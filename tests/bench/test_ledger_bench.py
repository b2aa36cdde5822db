"""The ledger bench end to end on a small workload: every shape measured, answers as expected."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

from settlement.config import REPOSITORY_ROOT

PAYMENTS = 300
SINGLE_REQUESTS = 20


@pytest.fixture
def ledger_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # bench/ holds scripts, not a package: import them as `python bench/ledger_bench.py` does.
    monkeypatch.syspath_prepend(str(REPOSITORY_ROOT / "bench"))
    return importlib.import_module("ledger_bench")


def chain_results(path: Path) -> None:
    """A chain bench's results.json as settlement_bench.py writes it, reduced to what is read."""
    entries = [
        {"mode": "batch", "settled_per_s": 1_000.0, "end_to_end_per_s": 500.0},
        {"mode": "net", "settled_per_s": 5_000.0, "end_to_end_per_s": 2_000.0},
    ]
    path.write_text(json.dumps(entries))


def test_every_engine_and_shape_is_recorded_with_every_result_as_expected(
    ledger_bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain_results(tmp_path / "results.json")

    exit_code = ledger_bench.main(
        [
            *("--out", str(tmp_path), "--payments", str(PAYMENTS), "--engines", "sqlite,memory"),
            *("--single-requests", str(SINGLE_REQUESTS)),
        ]
    )

    assert exit_code == 0
    records = json.loads((tmp_path / "ledger_results.json").read_text())
    assert [(r["engine"], r["shape"]) for r in records] == [
        (engine, shape)
        for engine in ("sqlite", "memory")
        for shape in ("batched", "single", "replay")
    ]
    for record in records:
        single = record["shape"] == "single"
        assert record["transfers"] == (SINGLE_REQUESTS if single else PAYMENTS)
        assert record["requests"] == (SINGLE_REQUESTS if single else 1)
        assert record["expected_result"] == ("exists" if record["shape"] == "replay" else "ok")
        assert record["transfers_per_s"] > 0
        assert 0 < record["latency_ms_p50"] <= record["latency_ms_p99"]
        assert record["cpu_ns_per_transfer"] > 0
        assert record["payments"] == PAYMENTS
    sqlite_batched = records[0]
    assert sqlite_batched["target_transfers_per_s"] == 100_000
    assert sqlite_batched["disk_fsync_ms_p50"] > 0
    assert not list(tmp_path.glob("ledger-*")), "the SQLite scratch folder is removed"
    printed = capsys.readouterr().out
    assert "ledger / settled" in printed
    assert "Target sqlite batched" in printed


def test_an_unreachable_postgresql_is_skipped_in_one_line(
    ledger_bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/none"

    exit_code = ledger_bench.main(
        [
            *("--out", str(tmp_path), "--payments", "10", "--engines", "postgresql"),
            *("--postgres-url", unreachable),
        ]
    )

    assert exit_code == 0
    assert f"skipped, not reachable at {unreachable}" in capsys.readouterr().out
    assert json.loads((tmp_path / "ledger_results.json").read_text()) == []


def test_a_run_folder_of_another_workload_is_refused(
    ledger_bench: ModuleType, tmp_path: Path
) -> None:
    assert (
        ledger_bench.main(["--out", str(tmp_path), "--payments", "10", "--engines", "memory"]) == 0
    )

    exit_code = ledger_bench.main(
        ["--out", str(tmp_path), "--payments", "11", "--engines", "memory"]
    )

    assert exit_code == 2

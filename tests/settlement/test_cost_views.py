"""Reading a benchmark run for ``settlement costs``: the ledger's CPU time beside results.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from settlement.cost_views import measured_ledger_cpu_ns
from tests.cli_helpers import run_settlement


def write_run(folder: Path, ledger_records: list[dict[str, object]] | None) -> Path:
    """A run folder: a one-mode results.json and, when given, the ledger bench's records."""
    results = folder / "results.json"
    results.write_text(
        json.dumps(
            [
                {
                    "mode": "batch",
                    "all_in_gas_per_payment": 12714,
                    "settled": 10000,
                    "transactions": 13,
                }
            ]
        )
    )
    if ledger_records is not None:
        (folder / "ledger_results.json").write_text(json.dumps(ledger_records))
    return results


def record(engine: str, shape: str, cpu_ns: int | None) -> dict[str, object]:
    return {"engine": engine, "shape": shape, "cpu_ns_per_transfer": cpu_ns}


def test_the_sqlite_batched_cpu_time_prices_the_ledger(tmp_path: Path) -> None:
    results = write_run(
        tmp_path,
        [
            record("postgresql", "batched", 40_000),
            record("sqlite", "single", 226_000),
            record("sqlite", "batched", 9_300),
        ],
    )

    assert measured_ledger_cpu_ns(results) == 9_300


def test_postgresql_prices_the_ledger_only_with_its_server_cpu(tmp_path: Path) -> None:
    without_server = write_run(tmp_path, [record("postgresql", "batched", None)])
    assert measured_ledger_cpu_ns(without_server) is None

    with_server = write_run(tmp_path, [record("postgresql", "batched", 45_000)])
    assert measured_ledger_cpu_ns(with_server) == 45_000


def test_a_run_without_ledger_results_has_no_ledger_cpu(tmp_path: Path) -> None:
    assert measured_ledger_cpu_ns(write_run(tmp_path, None)) is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "is not JSON"),
        ('{"engine": "sqlite"}', "must hold a list"),
        ('[{"engine": "sqlite", "shape": "batched", "cpu_ns_per_transfer": 9.3}]', "whole ns"),
    ],
)
def test_a_malformed_ledger_results_file_is_named(
    tmp_path: Path, content: str, reason: str
) -> None:
    results = write_run(tmp_path, None)
    (tmp_path / "ledger_results.json").write_text(content)

    with pytest.raises(ValueError, match=reason) as raised:
        measured_ledger_cpu_ns(results)

    assert "ledger_results.json" in str(raised.value)


def test_costs_adds_the_measured_ledger_row_from_the_run_folder(tmp_path: Path) -> None:
    results = write_run(tmp_path, [record("sqlite", "batched", 9_300)])

    done = run_settlement("costs", "--results", str(results))

    assert done.returncode == 0, done.stderr
    assert "ledger" in done.stdout
    assert "Wh/pay" in done.stdout

"""BENCHMARKS.md's table of one payment the peers' ways, from the committed gas-test snapshots."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from settlement.config import REPOSITORY_ROOT


@pytest.fixture
def benchmarks_md(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # bench/ holds scripts, not a package: import them as `python bench/benchmarks_md.py` does.
    monkeypatch.syspath_prepend(str(REPOSITORY_ROOT / "bench"))
    return importlib.import_module("benchmarks_md")


def test_the_peer_table_puts_every_way_beside_a_plain_transfer(benchmarks_md: ModuleType) -> None:
    snapshots = REPOSITORY_ROOT / "contracts" / "snapshots"
    lines = benchmarks_md.peer_section(snapshots)
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    ways = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    assert ways == [
        "OpenZeppelin ERC-20 `transfer`",
        "this token's `transfer` (direct)",
        "USDC-style `transferWithAuthorization`, relayed (authorization)",
        "`settleBatch` (batch)",
        "`settleBatch` (batch)",
        "`settleBatch` (batch)",
        "`claim` (channel)",
        "`settleWindow` (net)",
    ]
    peers = json.loads((snapshots / "PeerComparisonGasTest.json").read_text())
    plain = int(peers["openZeppelinTransferTransactionGas"])
    assert rows[0].endswith(f"| {plain:,} | 1.000x |")
    gas = [int(row.split(" | ")[2].replace(",", "")) for row in rows]
    assert gas[3] > gas[4] > gas[5] > gas[6] > gas[7], (
        "bigger batches, whole payers, then channels, then netting cost less"
    )


def test_without_the_snapshots_there_is_no_peer_table(
    benchmarks_md: ModuleType, tmp_path: Path
) -> None:
    snapshots = REPOSITORY_ROOT / "contracts" / "snapshots"
    for found in snapshots.glob("*.json"):
        if found.name != "PeerComparisonGasTest.json":
            shutil.copy(found, tmp_path / found.name)
    assert benchmarks_md.peer_section(tmp_path) == []

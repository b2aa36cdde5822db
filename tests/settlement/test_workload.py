"""Recorded workloads: deterministic for a seed, saved and loaded unchanged, checked on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from settlement.workload import SHARE_TO_REGULAR_SUPPLIERS, Workload, reference_workload


def test_the_same_seed_gives_the_same_workload() -> None:
    assert reference_workload(7, 500) == reference_workload(7, 500)
    assert reference_workload(7, 500) != reference_workload(8, 500)


def test_reference_workload_follows_its_definition() -> None:
    workload = reference_workload(42, 10_000, 100, 100)
    amounts = [payment.amount_base_units for payment in workload.payments]
    assert len(workload.payments) == 10_000
    assert min(amounts) >= 1
    assert max(amounts) <= 10_000
    # Most of each payer's payments go to its two regular suppliers.
    by_payer: dict[int, dict[int, int]] = {}
    for payment in workload.payments:
        by_payer.setdefault(payment.payer, {}).setdefault(payment.payee, 0)
        by_payer[payment.payer][payment.payee] += 1
    top_two = sum(sum(sorted(counts.values())[-2:]) for counts in by_payer.values())
    assert top_two / 10_000 >= SHARE_TO_REGULAR_SUPPLIERS - 0.02


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    workload = reference_workload(3, 200)
    path = tmp_path / "workload.json"
    workload.save(path)
    assert Workload.load(path) == workload


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("not json", "is not a workload file"),
        (json.dumps({"format_version": 99}), "format_version 99"),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "seed": 1,
                    "payer_count": 1,
                    "payee_count": 1,
                    "payments": [[0, 5, 10, "energy"]],
                }
            ),
            "unknown participant",
        ),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "seed": 1,
                    "payer_count": 1,
                    "payee_count": 1,
                    "payments": [[0, 0, -1, "energy"]],
                }
            ),
            "non-positive amount",
        ),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, document: str, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(document)
    with pytest.raises(ValueError, match=reason):
        Workload.load(path)


def test_participant_keys_are_distinct_and_stable() -> None:
    workload = reference_workload(5, 10, 3, 3)
    keys = {workload.payer_key(i) for i in range(3)} | {workload.payee_key(i) for i in range(3)}
    assert len(keys) == 6
    assert workload.payer_key(0) == reference_workload(5, 10, 3, 3).payer_key(0)

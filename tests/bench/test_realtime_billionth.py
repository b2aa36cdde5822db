"""The real-time replay: its busiest-hour arithmetic, its verdict, and a short run end to end on
the demo economy through a real `settlement serve` on a real Anvil."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from robots.stream import PaymentStream
from settlement.config import REPOSITORY_ROOT


@pytest.fixture
def realtime(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # bench/ holds scripts, not a package: import them as `python bench/...` does.
    monkeypatch.syspath_prepend(str(REPOSITORY_ROOT / "bench"))
    return importlib.import_module("realtime_billionth")


def stream_of(steps: list[int]) -> PaymentStream:
    count = len(steps)
    return PaymentStream(
        seed=1,
        participant_count=3,
        steps=np.array(steps, dtype=np.int64),
        payers=np.zeros(count, dtype=np.int64),
        payees=np.ones(count, dtype=np.int64),
        amounts_base_units=np.full(count, 10, dtype=np.int64),
        purposes=np.zeros(count, dtype=np.int64),
    )


def test_the_busiest_hour_is_found_and_each_step_spread_evenly(realtime: ModuleType) -> None:
    # Hour 0 has two payments, hour 1 four: three in its first step, one in its second.
    span = realtime.busiest_span(stream_of([0, 5, 60, 60, 60, 61]), 2, steps_per_hour=60)
    assert (span.hour, span.hour_payments) == (1, 4)
    assert span.rows.tolist() == [2, 3, 4, 5]
    assert span.due_s.tolist() == [0.0, 20.0, 40.0, 60.0]
    assert span.offered_per_s == pytest.approx(4 / 120)
    first_minute = realtime.busiest_span(stream_of([0, 5, 60, 60, 60, 61]), 1, steps_per_hour=60)
    assert first_minute.rows.tolist() == [2, 3, 4]


def test_deposits_cover_what_each_participant_pays_and_one_unit_at_least(
    realtime: ModuleType,
) -> None:
    span = realtime.busiest_span(stream_of([60, 60, 61]), 2, steps_per_hour=60)
    owed = realtime.deposits_owed(span, {0: "0xpayer", 1: "0xpayee"})
    assert owed == {"0xpayer": 30, "0xpayee": 1}


def clean_run(**changes: Any) -> dict[str, Any]:
    return {
        "stopped_early": None,
        "refused": {},
        "lost": 0,
        "acceptance_to_confirmation_ms": {"p99": 4_000.0},
    } | changes


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"stopped_early": "at 12 s: payments due 11 s before"}, "fell behind at 12 s"),
        ({"refused": {"HTTP 429": 1000}}, "1,000 payments refused"),
        ({"lost": 3}, "3 payments not final"),
        ({"acceptance_to_confirmation_ms": {"p99": 45_000.0}}, "p99 acceptance to confirmation"),
    ],
)
def test_a_speed_is_kept_up_only_within_every_bound(
    realtime: ModuleType, changes: dict[str, Any], reason: str | None
) -> None:
    kept_up, why = realtime.verdict(clean_run(**changes), p99_bound_s=30)
    assert kept_up is (reason is None)
    assert (why is None) if reason is None else (reason in why)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--minutes", "0"], "--minutes must be in 1..60"),
        (["--speeds", "1,fast"], "--speeds must be numbers"),
        (["--speeds", "0"], "every speed must be positive"),
        (["--workers", "0"], "must be at least 1"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    realtime: ModuleType, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        realtime.parse_arguments(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.anvil
def test_a_short_replay_of_the_demo_economy_settles_every_payment(
    realtime: ModuleType, tmp_path: Path
) -> None:
    argv = ["--scenario", "demo", "--minutes", "2", "--speeds", "20", "--workers", "1"]
    assert realtime.main([*argv, "--processes", "1", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "realtime_results.json").read_text())
    (run,) = results["runs"]
    assert results["scenario"] == "demo"
    assert run["sent"] == run["span_payments"] > 0
    assert run["accepted"] == run["sent"]
    assert run["confirmed"] == run["accepted"]
    assert (run["lost"], run["refused"], run["failed"]) == (0, {}, {})
    assert run["timeline"], "the queue was sampled while the fleet offered"
    assert run["kept_up"], run["why_not"]

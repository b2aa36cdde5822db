"""The load test end to end on a short run: every request accepted, every payment settled, the
figures present and consistent with each other."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from settlement.config import REPOSITORY_ROOT
from tests.cli_helpers import served

RATE_PER_S = 10
DURATION_S = 4
WARMUP_S = 1
MEASURED = RATE_PER_S * DURATION_S
WARMUP = RATE_PER_S * WARMUP_S
API_KEY = "load-test-key"


@pytest.fixture
def load_test(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # bench/ holds scripts, not a package: import them as `python bench/load_test.py` does.
    monkeypatch.syspath_prepend(str(REPOSITORY_ROOT / "bench"))
    return importlib.import_module("load_test")


def short_run(folder: Path, *extra: str) -> list[str]:
    return [
        *("--rate", str(RATE_PER_S), "--duration", str(DURATION_S), "--warmup", str(WARMUP_S)),
        *("--out", str(folder), *extra),
    ]


def assert_a_clean_run(document: dict[str, Any]) -> None:
    load, memory, settlement = document["load"], document["memory"], document["settlement"]
    assert document["passed"] is True
    assert load["requests"] == MEASURED
    assert load["by_status"] == {"201": MEASURED}
    assert load["errors"] == 0
    assert load["error_reasons"] == {}
    # The schedule held: requests went out at the rate asked. The answered rate counts the last
    # answer's latency too, so a settlement window's pause at the end of so short a run lowers it.
    assert load["offered_per_s"] == pytest.approx(RATE_PER_S, rel=0.05)
    assert 0.5 * RATE_PER_S <= load["achieved_per_s"] <= 1.1 * RATE_PER_S
    for figures in (load["latency_ms"], load["service_latency_ms"]):
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"]
    # The service's share of a request is part of its latency, never more.
    assert load["service_latency_ms"]["max"] <= load["latency_ms"]["max"]
    assert sum(second["requests"] for second in load["per_second"]) == MEASURED
    # Every accepted payment, the warm-up's too, reached confirmed; none lost or failed.
    assert settlement["accepted"] == MEASURED + WARMUP
    assert settlement["settled"] == settlement["accepted"]
    assert (settlement["lost"], settlement["failed"], settlement["unknown"]) == (0, {}, 0)
    assert settlement["queue_drained"] is True
    assert 0 < memory["rss_start_mib"] <= memory["rss_peak_mib"]
    assert memory["rss_end_mib"] <= memory["rss_peak_mib"]
    assert memory["rss_growth_mib"] == pytest.approx(
        memory["rss_end_mib"] - memory["rss_start_mib"], abs=0.02
    )
    assert memory["within_bound"] is True
    assert len(memory["rss_samples_mib"]) >= DURATION_S
    assert memory["cpu_us_per_request"] > 0


@pytest.mark.anvil
def test_a_short_run_against_its_own_service_accepts_and_settles_everything(
    load_test: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = load_test.main(short_run(tmp_path))

    printed = capsys.readouterr()
    assert exit_code == 0, printed.err
    document = json.loads((tmp_path / "load_results.json").read_text())
    assert_a_clean_run(document)
    assert document["plan"]["mode"] == "batch"
    assert document["service_exit_code"] == 0
    assert "offered requests/s" in printed.out
    assert "answers by status" in printed.out
    assert "settlement service on http://127.0.0.1:" in (tmp_path / "serve.log").read_text()


@pytest.mark.anvil
def test_a_running_service_is_driven_by_url_and_its_process_found_by_port(
    load_test: ModuleType, tmp_path: Path
) -> None:
    with served(tmp_path, API_KEY, "--mode", "authorization") as url:
        exit_code = load_test.main(
            short_run(
                tmp_path / "out", "--url", url, "--mode", "authorization", "--api-key", API_KEY
            )
        )

    assert exit_code == 0
    document = json.loads((tmp_path / "out" / "load_results.json").read_text())
    assert_a_clean_run(document)
    assert document["plan"]["mode"] == "authorization"
    assert "service_exit_code" not in document  # it was not this run's to stop


@pytest.mark.parametrize(
    "url", ["http://10.0.0.8:8000", "http://example.com", "http://0.0.0.0:8000"]
)
def test_a_service_off_the_loopback_is_refused_in_one_line(
    load_test: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    exit_code = load_test.main(["--url", url, "--out", str(tmp_path / "out")])

    assert exit_code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"load_test: error: --url {url} is not a loopback address")
    assert len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists(), "nothing was run or written"


def test_a_rate_out_of_bounds_is_a_usage_error(
    load_test: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        load_test.main(["--rate", "0"])

    assert exit_info.value.code == 2
    assert "--rate must be between 0.1 and 5000, not 0" in capsys.readouterr().err


def passing_document() -> dict[str, Any]:
    """The parts of a run's figures the verdict reads, as a run that passed has them."""
    return {
        "plan": {"rate_per_s": 40.0},
        "load": {
            "requests": 2_400,
            "errors": 0,
            "error_reasons": {},
            "offered_per_s": 40.0,
            "achieved_per_s": 39.9,
        },
        "memory": {"rss_growth_mib": 4.0, "max_rss_growth_mib": 32.0, "within_bound": True},
        "settlement": {"accepted": 2_600, "settled": 2_600, "lost": 0, "failed": {}},
    }


@pytest.mark.parametrize(
    ("part", "changes", "line"),
    [
        (
            "load",
            {"errors": 3, "error_reasons": {"429 queue full": 3}},
            "3 of 2400 requests were not accepted (429 queue full: 3)",
        ),
        (
            "memory",
            {"rss_growth_mib": 40.25, "within_bound": False},
            "the service's memory grew 40.2 MiB, over the bound of 32 MiB",
        ),
        (
            "settlement",
            {"settled": 2_599, "lost": 1},
            "2599 of 2600 accepted payments settled (1 lost, 0 failed)",
        ),
        (
            "settlement",
            {"settled": 2_598, "failed": {"insufficient balance": 2}},
            "2598 of 2600 accepted payments settled (0 lost, 2 failed; insufficient balance: 2)",
        ),
        ("load", {"offered_per_s": 30.0}, "the client offered only 30.0 of 40 requests/s"),
    ],
)
def test_each_way_a_run_can_fail_is_one_line(
    load_test: ModuleType, part: str, changes: dict[str, Any], line: str
) -> None:
    document = passing_document()
    assert load_test.failure_line(document) is None

    document[part] |= changes

    assert load_test.failure_line(document) == line


def test_a_service_answering_slower_than_offered_is_a_warning_not_a_failure(
    load_test: ModuleType,
) -> None:
    document = passing_document()
    assert load_test.falling_behind(document) is None

    document["load"]["achieved_per_s"] = 31.0

    assert load_test.failure_line(document) is None
    assert load_test.falling_behind(document) == (
        "the service answered 31.0 of the 40.0 requests/s offered: it fell behind (see the latency)"
    )


def test_percentiles_are_nearest_rank(load_test: ModuleType) -> None:
    hundred = [float(value) for value in range(1, 101)]

    assert [load_test.percentile(hundred, share) for share in (50, 95, 99, 100)] == [
        50.0,
        95.0,
        99.0,
        100.0,
    ]
    assert load_test.percentile([7.0], 99) == 7.0
    assert load_test.percentile([], 50) == 0.0
    assert load_test.distribution_ms([0.001, 0.002, 0.004]) == {
        "p50": 2.0,
        "p95": 4.0,
        "p99": 4.0,
        "max": 4.0,
    }


def held_step() -> dict[str, Any]:
    """The parts of a saturation step the verdict reads, as a step that held has them."""
    document = passing_document()
    document["load"]["latency_ms"] = {"p50": 12.0, "p99": 80.0}
    return document


@pytest.mark.parametrize(
    ("part", "changes", "reason"),
    [
        ("load", {"errors": 2}, "2 errors"),
        ("load", {"latency_ms": {"p50": 40.0, "p99": 140.0}}, "p99 140 ms > 100 ms"),
        ("load", {"achieved_per_s": 20.0}, "answered 20/s of 40/s"),
        ("settlement", {"settled": 2_590}, "10 accepted payments not settled"),
    ],
)
def test_a_saturation_step_holds_only_within_every_bound(
    load_test: ModuleType, part: str, changes: dict[str, Any], reason: str
) -> None:
    step = held_step()
    assert load_test.held(step, 100.0) is None

    step[part] |= changes

    assert load_test.held(step, 100.0) == reason


def test_saturation_rates_must_be_positive_and_ascending(
    load_test: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = load_test.parse_arguments(["--saturate", "250,500,1000"])
    assert arguments.saturate == [250.0, 500.0, 1000.0]
    assert arguments.rate == 1000.0, "funding and bounds are sized for the highest step"
    for bad in ("500,250", "0,100", "fast"):
        with pytest.raises(SystemExit) as exit_info:
            load_test.parse_arguments(["--saturate", bad])
        assert exit_info.value.code == 2
        assert "--saturate" in capsys.readouterr().err


@pytest.mark.anvil
def test_a_saturation_search_goes_past_a_slow_step_and_stops_where_answers_fall_behind(
    load_test: ModuleType, tmp_path: Path
) -> None:
    # A p99 bound no real request meets: every step misses it, yet answers keep up, so the
    # search goes on to the last step; none held, both answered.
    exit_code = load_test.main(
        short_run(tmp_path, "--saturate", "5,10", "--p99-bound-ms", "1", "--duration", "2")
    )

    assert exit_code == 0, "a step that breaks is the answer, not a failure"
    document = json.loads((tmp_path / "load_results.json").read_text())
    saturation = document["saturation"]
    assert saturation["highest_rate_held_per_s"] is None
    assert saturation["highest_rate_answered_per_s"] == 10.0
    assert saturation["fell_behind_at_per_s"] is None
    assert [step["broke"].split()[0] for step in saturation["steps"]] == ["p99", "p99"]
    assert all(step["errors"] == 0 for step in saturation["steps"])
    assert document["settlement"]["settled"] == document["settlement"]["accepted"]


def test_a_step_falls_behind_on_errors_unsettled_payments_or_slow_answers_not_on_latency(
    load_test: ModuleType,
) -> None:
    step = held_step()
    step["load"]["latency_ms"] = {"p50": 400.0, "p99": 900.0}
    assert load_test.fell_behind(step) is None
    assert load_test.held(step, 100.0) == "p99 900 ms > 100 ms"
    step["load"]["achieved_per_s"] = 10.0
    assert load_test.fell_behind(step) == "answered 10/s of 40/s"

from __future__ import annotations

import pytest

from robots.solar_budget import SolarBudget, billionth
from tests.cli_helpers import run_robots


def test_one_billionth_of_sunlight_runs_about_347_thousand_robots() -> None:
    budget = billionth()
    assert budget.intercepted_power_w == pytest.approx(1.735e17, rel=1e-3)
    assert budget.available_power_w == pytest.approx(173.5e6, rel=1e-3)
    assert budget.robot_count == 347_098


def test_robot_count_scales_inversely_with_robot_power() -> None:
    assert billionth(robot_power_w=1_000).robot_count == billionth().robot_count // 2


@pytest.mark.parametrize(
    ("field", "value"), [("robot_power_w", 0.0), ("fraction", -1e-9), ("fraction", 2.0)]
)
def test_invalid_inputs_are_refused(field: str, value: float) -> None:
    inputs = {
        "solar_constant_w_per_m2": 1361.0,
        "earth_radius_m": 6.371e6,
        "fraction": 1e-9,
        "robot_power_w": 500.0,
    }
    inputs[field] = value
    with pytest.raises(ValueError, match=field):
        SolarBudget(**inputs)


def test_cli_shows_the_arithmetic() -> None:
    done = run_robots("solar-budget")
    assert done.returncode == 0, done.stderr
    assert "173.5 MW" in done.stdout
    assert "347,098 robots" in done.stdout


def test_cli_rejects_a_negative_robot_power_in_one_line() -> None:
    done = run_robots("solar-budget", "--robot-power-w", "-5")
    assert done.returncode == 2
    assert done.stderr.startswith("robots: error: Invalid value for '--robot-power-w'")
    assert len(done.stderr.strip().splitlines()) == 1

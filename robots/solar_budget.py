"""How many robots "one billionth of the sun's energy" runs, with every input a parameter.

The seed article's headline: robots and AI running on a billionth of the sunlight reaching
Earth. Earth intercepts sunlight over its cross-section, a disc of radius R, so the power reaching
it is the solar constant times pi R^2: 1,361 W/m^2 x pi x (6.371e6 m)^2 = about 1.735e17 W. A
billionth of that is about 173.5 MW, which at 500 W per robot runs about 347,000 robots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Total solar irradiance at 1 AU, the mean over a solar cycle (Kopp & Lean 2011, SORCE/TIM).
SOLAR_CONSTANT_W_PER_M2 = 1361.0
# IUGG mean radius of the Earth.
EARTH_MEAN_RADIUS_M = 6.371e6
ONE_BILLIONTH = 1e-9
DEFAULT_ROBOT_POWER_W = 500.0


@dataclass(frozen=True)
class SolarBudget:
    """The arithmetic from sunlight to a robot count, each step kept for display."""

    solar_constant_w_per_m2: float
    earth_radius_m: float
    fraction: float
    robot_power_w: float

    def __post_init__(self) -> None:
        for name in ("solar_constant_w_per_m2", "earth_radius_m", "fraction", "robot_power_w"):
            if not 0 < getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be positive and finite, got {getattr(self, name)}")
        if self.fraction > 1:
            raise ValueError(f"fraction must be at most 1, got {self.fraction}")

    @property
    def cross_section_m2(self) -> float:
        return math.pi * self.earth_radius_m**2

    @property
    def intercepted_power_w(self) -> float:
        return self.solar_constant_w_per_m2 * self.cross_section_m2

    @property
    def available_power_w(self) -> float:
        return self.intercepted_power_w * self.fraction

    @property
    def robot_count(self) -> int:
        """Whole robots the available power runs continuously."""
        return math.floor(self.available_power_w / self.robot_power_w)


def billionth(robot_power_w: float = DEFAULT_ROBOT_POWER_W) -> SolarBudget:
    return SolarBudget(SOLAR_CONSTANT_W_PER_M2, EARTH_MEAN_RADIUS_M, ONE_BILLIONTH, robot_power_w)

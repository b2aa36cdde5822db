"""Sunlight, panels and batteries, vectorised over every farm or robot at once.

Irradiance follows the sun: its declination for the day of the year, the hour angle, and the
zenith angle at the site's latitude give the clear-sky irradiance on a horizontal panel by
Haurwitz's model (1945), GHI = 1098 cos(z) exp(-0.057 / cos(z)) W/m^2, zero at night. Clouds
scale it by a clearness factor per farm that wanders (an AR(1) process drawn from the model's
own random generator), so neighbouring minutes are alike and no two farms are the same.

Batteries keep an exact account: every watt-hour offered to one is either stored, lost to
charging inefficiency, or spilled because the battery is full; every watt-hour drawn costs more
than it delivers by the discharge inefficiency. ``EnergyAccount`` sums these so a run can prove
that energy was neither created nor lost unaccounted for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

HAURWITZ_SCALE_W_PER_M2 = 1098.0
HAURWITZ_EXTINCTION = 0.057
# Panels are rated at 1,000 W/m^2 (standard test conditions).
STC_IRRADIANCE_W_PER_M2 = 1000.0
EARTH_AXIAL_TILT_DEG = 23.44
DEGREES_PER_HOUR = 15.0
MIN_CLEARNESS = 0.05


def solar_declination_rad(day_of_year: int) -> float:
    """Cooper's formula: the sun's declination on ``day_of_year`` (1 to 365)."""
    return float(np.radians(EARTH_AXIAL_TILT_DEG * np.sin(2 * np.pi * (284 + day_of_year) / 365)))


def clear_sky_irradiance_w_per_m2(
    latitude_deg: float, day_of_year: int, solar_hour: float
) -> float:
    """Global horizontal irradiance under a clear sky at local solar time ``solar_hour``."""
    latitude = np.radians(latitude_deg)
    declination = solar_declination_rad(day_of_year)
    hour_angle = np.radians(DEGREES_PER_HOUR * (solar_hour - 12.0))
    cos_zenith = np.sin(latitude) * np.sin(declination) + np.cos(latitude) * np.cos(
        declination
    ) * np.cos(hour_angle)
    if cos_zenith <= 0:
        return 0.0
    return float(HAURWITZ_SCALE_W_PER_M2 * cos_zenith * np.exp(-HAURWITZ_EXTINCTION / cos_zenith))


@dataclass
class Clouds:
    """Each farm's clearness (0 to 1), wandering around ``mean`` minute by minute."""

    clearness: FloatArray
    mean: float
    persistence: float  # how much of the last step's deviation remains (AR(1) coefficient)
    volatility: float  # standard deviation of each step's fresh noise

    @classmethod
    def start(
        cls,
        rng: np.random.Generator,
        farms: int,
        mean: float,
        persistence: float,
        volatility: float,
    ) -> Clouds:
        return cls(np.full(farms, mean), mean, persistence, volatility)

    def step(self, rng: np.random.Generator) -> FloatArray:
        noise = rng.normal(0.0, self.volatility, size=self.clearness.shape)
        drifted = self.mean + self.persistence * (self.clearness - self.mean) + noise
        self.clearness = np.clip(drifted, MIN_CLEARNESS, 1.0)
        return self.clearness


@dataclass
class EnergyAccount:
    """Where every watt-hour went, summed over a run (all in Wh)."""

    harvested: float = 0.0
    charging_losses: float = 0.0
    spilled: float = 0.0
    discharging_losses: float = 0.0
    delivered: float = 0.0

    def unaccounted_wh(self, stored_at_start_wh: float, stored_now_wh: float) -> float:
        """Harvest less everything it became; zero (to rounding) in a sound run."""
        became = (
            self.charging_losses
            + self.spilled
            + self.discharging_losses
            + self.delivered
            + (stored_now_wh - stored_at_start_wh)
        )
        return self.harvested - became


@dataclass
class Batteries:
    """Batteries of one kind of agent: capacity and charge per agent, shared efficiencies."""

    capacity_wh: FloatArray
    stored_wh: FloatArray
    charge_efficiency: float
    discharge_efficiency: float
    account: EnergyAccount = field(default_factory=EnergyAccount)

    def __post_init__(self) -> None:
        for name in ("charge_efficiency", "discharge_efficiency"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if np.any(self.stored_wh > self.capacity_wh) or np.any(self.stored_wh < 0):
            raise ValueError("a battery starts outside 0 and its capacity")

    def harvest(self, harvested_wh: FloatArray) -> None:
        """Energy from the panels: stored as far as capacity allows, the rest spilled."""
        self.account.harvested += float(harvested_wh.sum())
        self.charge(harvested_wh)

    def charge(self, offered_wh: FloatArray) -> FloatArray:
        """Store what fits of ``offered_wh`` (counted as arriving energy); return the spill."""
        room_wh = (self.capacity_wh - self.stored_wh) / self.charge_efficiency
        accepted_wh = np.minimum(offered_wh, np.maximum(room_wh, 0.0))
        self.stored_wh = np.minimum(
            self.stored_wh + accepted_wh * self.charge_efficiency, self.capacity_wh
        )
        spilled_wh = offered_wh - accepted_wh
        self.account.charging_losses += float(accepted_wh.sum()) * (1 - self.charge_efficiency)
        self.account.spilled += float(spilled_wh.sum())
        return spilled_wh

    def deliverable_wh(self) -> FloatArray:
        return self.stored_wh * self.discharge_efficiency

    def discharge(self, requested_wh: FloatArray) -> FloatArray:
        """Deliver up to ``requested_wh`` each; return what was delivered."""
        delivered_wh = np.minimum(requested_wh, self.deliverable_wh())
        drawn_wh = delivered_wh / self.discharge_efficiency
        self.stored_wh = np.maximum(self.stored_wh - drawn_wh, 0.0)
        self.account.delivered += float(delivered_wh.sum())
        self.account.discharging_losses += float((drawn_wh - delivered_wh).sum())
        return delivered_wh

"""Scenario presets: every number a fleet run uses, in a TOML file, each overridable.

``load_scenario("demo", {"robots": 20})`` reads ``robots/scenarios/demo.toml`` (or a path) and
replaces the named values. Unknown names and values of the wrong kind are refused with a message
that names them, so a typo never silently runs the default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

# Bounds that keep every loop and array of a run finite.
MAX_AGENTS = 5_000_000
MAX_STEPS = 100_000


class ScenarioError(ValueError):
    """A scenario file or override is malformed; the message says which value."""


@dataclass(frozen=True)
class Scenario:
    """A fleet economy. Money in stablecoin base units (1 = $0.000001), energy in Wh."""

    name: str
    # Who takes part.
    robots: int
    farms: int
    compute_providers: int
    consumers: int
    parts_maker_share: float  # robots that make parts for other robots, not consumer goods
    # Time.
    steps: int
    step_minutes: float
    start_hour: float  # local solar time of the first step
    day_of_year: int
    latitude_deg: float
    # Sun and storage.
    farm_panel_peak_w: float
    farm_battery_wh: float
    robot_battery_wh: float
    charge_efficiency: float
    discharge_efficiency: float
    cloud_mean_clearness: float
    cloud_persistence: float
    cloud_volatility: float
    # Production.
    robot_power_w: float  # what a robot draws while producing
    goods_per_hour: float  # a producing robot's output
    wear_per_good: float  # a part is needed when wear reaches 1
    inference_calls_per_good: float
    inference_calls_per_payment: int  # calls are paid for in bundles of this many
    refill_below_share: float  # a robot buys energy when its battery falls below this share
    # Prices, in base units.
    energy_price_per_kwh: int
    good_price: int
    part_price: int
    inference_price_per_call: int
    # Demand and funding.
    purchases_per_consumer_per_hour: float
    goods_per_purchase: int
    robot_funding: int
    consumer_funding: int

    def __post_init__(self) -> None:
        for name in ("robots", "farms", "compute_providers", "consumers"):
            if not 1 <= getattr(self, name) <= MAX_AGENTS:
                raise ScenarioError(f"{name} must be between 1 and {MAX_AGENTS:,}")
        for name in ("inference_calls_per_payment", "goods_per_purchase"):
            if getattr(self, name) < 1:
                raise ScenarioError(f"{name} must be at least 1")
        if not 1 <= self.steps <= MAX_STEPS:
            raise ScenarioError(f"steps must be between 1 and {MAX_STEPS:,}")
        if not 1 <= self.day_of_year <= 365:
            raise ScenarioError("day_of_year must be between 1 and 365")
        if not -90 <= self.latitude_deg <= 90:
            raise ScenarioError("latitude_deg must be between -90 and 90")
        for name in ("parts_maker_share", "refill_below_share", "cloud_mean_clearness"):
            if not 0 <= getattr(self, name) <= 1:
                raise ScenarioError(f"{name} must be between 0 and 1")
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name not in ("name", "latitude_deg") and value < 0:
                raise ScenarioError(f"{spec.name} must not be negative, got {value}")

    @property
    def step_hours(self) -> float:
        return self.step_minutes / 60

    @property
    def participants(self) -> int:
        return self.farms + self.robots + self.compute_providers + self.consumers


def load_scenario(name_or_path: str, overrides: dict[str, str] | None = None) -> Scenario:
    """A preset by name (demo, city, billionth) or a TOML file, with ``overrides`` applied."""
    document = _read(name_or_path)
    known = {spec.name: spec for spec in fields(Scenario)}
    values: dict[str, Any] = {}
    for key, value in {**document, **(overrides or {})}.items():
        if key not in known:
            raise ScenarioError(f"unknown scenario value {key!r}")
        values[key] = _typed(key, value, known[key].type)
    missing = sorted(set(known) - set(values) - {"name"})
    if missing:
        raise ScenarioError(f"scenario {name_or_path!r} lacks {', '.join(missing)}")
    values.setdefault("name", Path(name_or_path).stem)
    return Scenario(**values)


def with_overrides(scenario: Scenario, **changes: Any) -> Scenario:
    return replace(scenario, **changes)


def preset_names() -> list[str]:
    folder = resources.files("robots") / "scenarios"
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def _read(name_or_path: str) -> dict[str, Any]:
    path = Path(name_or_path)
    try:
        if path.suffix == ".toml":
            return tomllib.loads(path.read_text())
        preset = resources.files("robots") / "scenarios" / f"{name_or_path}.toml"
        if not preset.is_file():
            known = ", ".join(preset_names())
            raise ScenarioError(f"unknown scenario {name_or_path!r}; presets: {known}")
        return tomllib.loads(preset.read_text())
    except OSError as error:
        raise ScenarioError(f"cannot read scenario {name_or_path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{name_or_path} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{name_or_path} is not UTF-8 text") from None


def _typed(key: str, value: Any, kind: Any) -> Any:
    """``value`` (from TOML, or an override's text) as the field's type."""
    target = {"int": int, "float": float, "str": str}[
        kind if isinstance(kind, str) else kind.__name__
    ]
    described = {int: "an integer", float: "a number", str: "text"}[target]
    if isinstance(value, bool):
        raise ScenarioError(f"{key} must be {described}, got {value!r}")
    try:
        if target is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return target(value) if target is not int else int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise ScenarioError(f"{key} must be {described}, got {value!r}") from None

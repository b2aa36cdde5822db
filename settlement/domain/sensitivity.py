"""How the answer moves with the three figures a chain's price rests on: the ETH price, the
gas price and the L2 data fee per byte.

A chain mode's cost per payment is linear in each of them (``usd = a + b * x``, the other two
held at the profile's values), so the share of the economy's value it consumes is too, and the
point where it crosses 1% is exact: ``x = (1% * value / payments - a) / b``. The sweep prices
the same payments at multiples of the profile's figure for the plot; the flip point says in one
number where the conclusion changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Final

from settlement.domain.fees import (
    BASE_UNITS_PER_CURRENCY_UNIT,
    BREAK_EVEN_SHARE,
    WEI_PER_GWEI_DECIMAL,
    EvmProfile,
    ModeInputs,
    PowerFigure,
    format_share,
    price_mode,
    round_significant,
)


class Lever(StrEnum):
    """A figure of a chain profile the sweep varies, named with its unit."""

    ETH_USD = "eth_usd"
    GAS_PRICE_GWEI = "gas_price_gwei"
    L2_DATA_FEE_WEI_PER_BYTE = "l2_data_fee_wei_per_byte"


# Multiples of the profile's figure, four a decade. ETH moves within a few times its price; gas
# prices and data fees spike by hundreds of times under congestion.
MULTIPLES: Final[Mapping[Lever, tuple[Decimal, ...]]] = {
    Lever.ETH_USD: tuple(Decimal(10) ** (Decimal(k) / 4) for k in range(-4, 5)),
    Lever.GAS_PRICE_GWEI: tuple(Decimal(10) ** (Decimal(k) / 4) for k in range(-4, 13)),
    Lever.L2_DATA_FEE_WEI_PER_BYTE: tuple(Decimal(10) ** (Decimal(k) / 4) for k in range(-4, 13)),
}


@dataclass(frozen=True)
class Flip:
    """Where a mode's share of value crosses the line as one lever moves.

    ``at`` is the lever's value at the crossing: below it the mode stays at or under the line.
    ``None`` with ``unaffected`` when the lever does not move the mode's cost; ``at`` of zero
    when the mode's other costs alone are above the line.
    """

    at: Decimal | None
    unaffected: bool = False


LEVER_NAMES: Final[Mapping[Lever, str]] = {
    Lever.ETH_USD: "ETH price",
    Lever.GAS_PRICE_GWEI: "gas price",
    Lever.L2_DATA_FEE_WEI_PER_BYTE: "L2 data fee",
}
ARTICLES: Final[Mapping[Lever, str]] = {
    Lever.ETH_USD: "an",
    Lever.GAS_PRICE_GWEI: "a",
    Lever.L2_DATA_FEE_WEI_PER_BYTE: "an",
}


@dataclass(frozen=True)
class LeverSweep:
    lever: Lever
    profile_value: Decimal
    values: tuple[Decimal, ...]
    shares: Mapping[str, tuple[Decimal, ...]]
    flips: Mapping[str, Flip]
    # Each way's share at the profile's own figures, where the sweep starts from.
    profile_shares: Mapping[str, Decimal]


@dataclass(frozen=True)
class Economy:
    """The payments whose settlement is swept: how many, their value, and the power figure
    that prices the service's CPU."""

    payments: int
    value_base_units: int
    power: PowerFigure | None

    def __post_init__(self) -> None:
        assert self.payments > 0, "an economy with no payments has no share"
        assert self.value_base_units > 0, "an economy with no value has no share"

    def usd_per_payment(self, profile: EvmProfile, inputs: ModeInputs) -> Decimal:
        # The mean payment only sizes the price's share field; the cost itself is flat.
        mean_base_units = max(self.value_base_units // self.payments, 1)
        return price_mode(profile, inputs, mean_base_units, self.power).usd_per_payment

    def share_of_value(self, profile: EvmProfile, inputs: ModeInputs) -> Decimal:
        """The payments settled in ``inputs.mode`` on ``profile``, as a share of their value."""
        usd = self.usd_per_payment(profile, inputs)
        return usd * self.payments * BASE_UNITS_PER_CURRENCY_UNIT / self.value_base_units


def lever_value(profile: EvmProfile, lever: Lever) -> Decimal:
    """The profile's own figure for ``lever``, in the lever's unit."""
    if lever is Lever.ETH_USD:
        return profile.eth_usd
    if lever is Lever.GAS_PRICE_GWEI:
        return Decimal(profile.gas_price_wei) / WEI_PER_GWEI_DECIMAL
    return Decimal(profile.l1_data_fee_wei_per_byte)


def with_lever(profile: EvmProfile, lever: Lever, value: Decimal) -> EvmProfile:
    """``profile`` with ``lever`` set to ``value``. The swept price is the profile's own, never
    a local run's receipts, so the sweep means the same on every profile."""
    assert value >= 0, "a price is not negative"
    fixed = replace(profile, gas_price_from_receipts=False)
    if lever is Lever.ETH_USD:
        return replace(fixed, eth_usd=value)
    if lever is Lever.GAS_PRICE_GWEI:
        # Fractions of a wei are below what a chain can charge, so the price rounds to whole wei.
        return replace(fixed, gas_price_wei=int(value * WEI_PER_GWEI_DECIMAL))
    return replace(fixed, l1_data_fee_wei_per_byte=int(value))


def flip(
    profile: EvmProfile,
    inputs: ModeInputs,
    lever: Lever,
    economy: Economy,
    share: Decimal = BREAK_EVEN_SHARE,
) -> Flip:
    """The lever's value at which the mode's share of value reaches ``share`` (see ``Flip``).
    Unit steps are exact for every lever (1 gwei and 1 wei are whole wei), so the slope is."""
    at_zero = economy.usd_per_payment(with_lever(profile, lever, Decimal(0)), inputs)
    at_one = economy.usd_per_payment(with_lever(profile, lever, Decimal(1)), inputs)
    slope = at_one - at_zero
    if slope == 0:
        return Flip(None, unaffected=True)
    line_usd = share * economy.value_base_units / BASE_UNITS_PER_CURRENCY_UNIT / economy.payments
    return Flip(max(Decimal(0), (line_usd - at_zero) / slope))


def sweep(
    profile: EvmProfile, inputs_by_way: Mapping[str, ModeInputs], lever: Lever, economy: Economy
) -> LeverSweep | None:
    """Each way's share of value at multiples of the profile's figure, and its flip point;
    None when the profile has no such figure to vary (an L1 charges no L2 data fee)."""
    current = lever_value(profile, lever)
    if current == 0 or not inputs_by_way:
        return None
    values = tuple(current * multiple for multiple in MULTIPLES[lever])
    shares = {
        way: tuple(
            economy.share_of_value(with_lever(profile, lever, value), inputs) for value in values
        )
        for way, inputs in inputs_by_way.items()
    }
    flips = {way: flip(profile, inputs, lever, economy) for way, inputs in inputs_by_way.items()}
    now = {way: economy.share_of_value(profile, inputs) for way, inputs in inputs_by_way.items()}
    return LeverSweep(lever, current, values, shares, flips, now)


def sweeps(
    profile: EvmProfile, inputs_by_way: Mapping[str, ModeInputs], economy: Economy
) -> list[LeverSweep]:
    found = (sweep(profile, inputs_by_way, lever, economy) for lever in Lever)
    return [result for result in found if result is not None]


def format_lever(lever: Lever, value: Decimal) -> str:
    """A lever's value in its unit: $1,250, 0.004 gwei, 51,144,562 wei per byte."""
    if lever is Lever.ETH_USD:
        return f"${value:,.0f}" if value >= 100 else f"${round_significant(value)}"
    if lever is Lever.GAS_PRICE_GWEI:
        return f"{round_significant(value)} gwei"
    return f"{value:,.0f} wei per byte"


def flip_sentences(
    results: Sequence[LeverSweep], profile: str, share: Decimal = BREAK_EVEN_SHARE
) -> list[str]:
    """Where each way's conclusion flips, one lever at a time, in one sentence per way."""
    if not results:
        return []
    line = format_share(share)
    sentences = []
    for way, now in results[0].profile_shares.items():
        crossings = [
            f"{ARTICLES[result.lever]} {LEVER_NAMES[result.lever]} of "
            f"{format_lever(result.lever, flip.at)}"
            for result in results
            if (flip := result.flips[way]).at is not None and flip.at > 0
        ]
        if now <= share:
            sentences.append(
                f"{way} stays under {line} up to " + _either(crossings) + f", each alone with the "
                f"other figures as on {profile}."
            )
        elif crossings:
            sentences.append(
                f"{way} ({format_share(now)} now) comes under {line} below "
                + _either(crossings)
                + ", each alone."
            )
        else:
            sentences.append(f"{way} stays over {line} even if any one of them fell to zero.")
    return sentences


def _either(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items) or "any value"
    return ", ".join(items[:-1]) + " or " + items[-1]


def as_dict(results: Sequence[LeverSweep], profile: str) -> dict[str, object]:
    """Plain JSON values: floats for plotting, as the rest of the report."""
    levers = [
        {
            "lever": result.lever.value,
            "profile_value": float(result.profile_value),
            "values": [float(value) for value in result.values],
            "shares": {way: [float(s) for s in shares] for way, shares in result.shares.items()},
            "flips": {
                way: {"at": None if f.at is None else float(f.at), "unaffected": f.unaffected}
                for way, f in result.flips.items()
            },
        }
        for result in results
    ]
    return {"levers": levers, "sentences": flip_sentences(results, profile)}

"""Money is an integer count of base units; ``Decimal`` appears only for display."""

from __future__ import annotations

from decimal import Decimal

STABLECOIN_DECIMALS = 6
BASE_UNITS_PER_DOLLAR = 10**STABLECOIN_DECIMALS
WEI_PER_ETH = 10**18
WEI_PER_GWEI = 10**9


# Far beyond any sum of money; a larger figure is a typo, and would take long to print.
MAX_DOLLAR_DIGITS = 30


def dollars_to_base_units(dollars: str | Decimal) -> int:
    """Exact conversion; refuses amounts finer than one base unit rather than rounding them,
    and infinities, NaN and amounts of more than ``MAX_DOLLAR_DIGITS`` digits."""
    amount = Decimal(dollars)
    if not amount.is_finite():
        raise ValueError(f"{dollars} is not a finite amount")
    if amount.adjusted() >= MAX_DOLLAR_DIGITS:
        raise ValueError(f"{dollars} has more than {MAX_DOLLAR_DIGITS} digits before the point")
    scaled = amount * BASE_UNITS_PER_DOLLAR
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{dollars} has more than {STABLECOIN_DECIMALS} decimal places")
    return int(scaled)


def format_dollars(base_units: int) -> str:
    """``1500`` base units as ``$0.0015``: every significant digit, no trailing zeros."""
    value = Decimal(base_units) / BASE_UNITS_PER_DOLLAR
    text = format(value.normalize(), "f")
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def format_eth(wei: int) -> str:
    return f"{Decimal(wei) / WEI_PER_ETH:.9f} ETH"

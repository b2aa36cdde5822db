from __future__ import annotations

from decimal import Decimal

import pytest

from settlement.domain.money import dollars_to_base_units, format_dollars


@pytest.mark.parametrize(
    ("dollars", "base_units"),
    [("1", 1_000_000), ("0.001", 1_000), ("0.000001", 1), (Decimal("12.5"), 12_500_000)],
)
def test_dollars_convert_exactly(dollars: str | Decimal, base_units: int) -> None:
    assert dollars_to_base_units(dollars) == base_units


def test_amounts_finer_than_a_base_unit_are_refused() -> None:
    with pytest.raises(ValueError, match="more than 6 decimal places"):
        dollars_to_base_units("0.0000001")


@pytest.mark.parametrize(
    ("base_units", "text"),
    [(1_000, "$0.001"), (1, "$0.000001"), (2_500_000, "$2.5"), (0, "$0"), (-1_500, "-$0.0015")],
)
def test_format_dollars(base_units: int, text: str) -> None:
    assert format_dollars(base_units) == text

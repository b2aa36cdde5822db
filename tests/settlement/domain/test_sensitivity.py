"""The answer swept over ETH price, gas price and L2 data fee: flip points checked by pricing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from settlement.domain.fees import ModeInputs, load_fee_book
from settlement.domain.sensitivity import (
    Economy,
    Lever,
    flip,
    flip_sentences,
    lever_value,
    sweeps,
    with_lever,
)

BOOK = load_fee_book()
BASE = BOOK.evm_profile("base")
BATCH = ModeInputs("batch", Decimal(10_144), Decimal("79.1"), 700_000)
PAYMENTS, VALUE_BASE_UNITS = 1_000, 5_000_000  # a thousand payments of half a cent
ECONOMY = Economy(PAYMENTS, VALUE_BASE_UNITS, BOOK.power)


def share_at(lever: Lever, value: Decimal, inputs: ModeInputs = BATCH) -> Decimal:
    profile = with_lever(BASE, lever, value)
    return ECONOMY.share_of_value(profile, inputs)


@pytest.mark.parametrize("lever", list(Lever))
def test_the_flip_point_is_where_the_share_crosses_one_percent(lever: Lever) -> None:
    found = flip(BASE, BATCH, lever, ECONOMY)
    assert found.at is not None
    assert not found.unaffected
    if found.at == 0:
        # The other figures alone cost more than 1%: even a zero leaves the mode above the line.
        assert share_at(lever, Decimal(0)) > Decimal("0.01")
        return
    assert share_at(lever, found.at * Decimal("0.99")) < Decimal("0.01")
    assert share_at(lever, found.at * Decimal("1.01")) > Decimal("0.01")


def test_the_eth_price_flip_is_exact() -> None:
    found = flip(BASE, BATCH, Lever.ETH_USD, ECONOMY)
    assert found.at is not None
    assert abs(share_at(Lever.ETH_USD, found.at) - Decimal("0.01")) < Decimal("1e-20")


def test_a_mode_without_l1_bytes_is_not_moved_by_the_data_fee() -> None:
    no_bytes = ModeInputs("net", Decimal(1_280), Decimal(0))
    without_power = Economy(PAYMENTS, VALUE_BASE_UNITS, None)
    found = flip(BASE, no_bytes, Lever.L2_DATA_FEE_WEI_PER_BYTE, without_power)
    assert (found.at, found.unaffected) == (None, True)


def test_the_sweep_starts_from_the_profiles_figures_and_skips_what_it_lacks() -> None:
    results = sweeps(BASE, {"batch on base": BATCH}, ECONOMY)
    assert [result.lever for result in results] == list(Lever)
    for result in results:
        assert result.profile_value == lever_value(BASE, result.lever)
        assert result.profile_value in result.values
        at_profile = result.shares["batch on base"][result.values.index(result.profile_value)]
        assert at_profile == result.profile_shares["batch on base"]
        assert list(result.shares["batch on base"]) == sorted(result.shares["batch on base"])
    # Ethereum has no L2 data fee to sweep.
    ethereum = BOOK.evm_profile("ethereum-l1")
    swept = sweeps(ethereum, {"batch": BATCH}, ECONOMY)
    assert [result.lever for result in swept] == [Lever.ETH_USD, Lever.GAS_PRICE_GWEI]


def test_the_sentences_say_where_each_way_flips() -> None:
    rich = Economy(PAYMENTS, 100 * VALUE_BASE_UNITS, BOOK.power)
    results = sweeps(BASE, {"batch on base": BATCH}, rich)
    (sentence,) = flip_sentences(results, "base")
    assert sentence.startswith("batch on base stays under 1% up to an ETH price of $")
    assert "a gas price of" in sentence
    assert sentence.endswith("each alone with the other figures as on base.")
    poor = Economy(PAYMENTS, VALUE_BASE_UNITS // 10, BOOK.power)
    dear = sweeps(BASE, {"batch on base": BATCH}, poor)
    (over,) = flip_sentences(dear, "base")
    assert over.startswith("batch on base (")
    assert "now) comes under 1% below an ETH price of $" in over

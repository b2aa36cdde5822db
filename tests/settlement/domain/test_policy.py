"""The auto policy: cheapest mode within the latency bound, explained, deterministic, logged."""

from __future__ import annotations

import json
import logging
import tomllib
from decimal import Decimal
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.domain.fees import (
    load_fee_book,
    load_mode_catalog,
    parse_mode_catalog,
)
from settlement.domain.payments import SettlementMode
from settlement.domain.policy import MODE_ORDER, choose_mode
from settlement.errors import FeeProfileError, PolicyInputError

BOOK = load_fee_book()
BASE = BOOK.evm_profile("base")
TWO_TENTHS_OF_A_CENT = 2_000  # base units
ONE_DOLLAR = 1_000_000
HOUR = Decimal(3_600)
INTERVAL_MODES = {SettlementMode.BATCH, SettlementMode.CHANNEL, SettlementMode.NET}


def test_a_frequent_small_pair_with_an_hour_to_spare_uses_channel_or_net() -> None:
    for chain in ("base", "ethereum-l1", "optimism", "arbitrum-one"):
        choice = choose_mode(
            BOOK.evm_profile(chain), TWO_TENTHS_OF_A_CENT, Decimal(60), HOUR, rails=BOOK.rails
        )
        assert choice.mode in {SettlementMode.CHANNEL, SettlementMode.NET}, chain
        assert choice.latency_s <= HOUR


def test_a_one_block_bound_leaves_only_one_transaction_per_payment() -> None:
    choice = choose_mode(BASE, TWO_TENTHS_OF_A_CENT, Decimal(60), BASE.block_time_s)
    assert choice.mode is SettlementMode.DIRECT
    assert choice.latency_s == BASE.block_time_s
    for candidate in choice.candidates:
        if candidate.mode in INTERVAL_MODES:
            assert not candidate.feasible
            assert candidate.verdict == "exceeds the latency bound"
    authorization = next(c for c in choice.candidates if c.mode is SettlementMode.AUTHORIZATION)
    assert authorization.verdict == "costs more"


def test_a_bound_shorter_than_a_block_is_refused_with_the_reason() -> None:
    with pytest.raises(match=r"no mode settles within 1 s on base: one block"):
        choose_mode(BASE, TWO_TENTHS_OF_A_CENT, Decimal(60), Decimal(1))


def test_the_channel_plan_shares_claim_and_opening_as_stated() -> None:
    # The bound less one 2 s block leaves a 3,600 s claim interval: 60 payments per claim; a
    # day's funding lifetime serves 1,440 payments.
    choice = choose_mode(BASE, TWO_TENTHS_OF_A_CENT, Decimal(60), HOUR + 2)
    channel = next(c for c in choice.candidates if c.mode is SettlementMode.CHANNEL)
    assert channel.payments_per_transaction == 60
    assert channel.latency_s == HOUR + 2
    assert channel.inputs is not None
    claim, opening = Decimal(21_400 + 16_000), Decimal(94_600)
    assert channel.inputs.gas_per_payment == claim / 60 + opening / 1_440
    assert channel.inputs.l1_bytes_per_payment == Decimal(120 + 98) / 60 + Decimal(267) / 1_440


def test_the_net_plan_pays_for_two_accounts_per_window() -> None:
    choice = choose_mode(BASE, TWO_TENTHS_OF_A_CENT, Decimal(60), HOUR + 2)
    net = next(c for c in choice.candidates if c.mode is SettlementMode.NET)
    assert net.inputs is not None
    window = Decimal(56_000 + 2 * 6_233)
    assert net.inputs.gas_per_payment == window / 60 + Decimal(117_900) / 1_440


def test_a_full_batch_leaves_before_its_interval_ends() -> None:
    # 3.6 million payments an hour fill a pair's 2,190-payment batch in 2.19 seconds.
    choice = choose_mode(BASE, TWO_TENTHS_OF_A_CENT, Decimal(3_600_000), HOUR)
    batch = next(c for c in choice.candidates if c.mode is SettlementMode.BATCH)
    assert batch.payments_per_transaction == 2_190
    assert batch.latency_s == Decimal("2.19") + BASE.block_time_s


def test_the_explanation_names_the_choice_the_rejected_and_the_rails() -> None:
    choice = choose_mode(BASE, TWO_TENTHS_OF_A_CENT, Decimal(60), HOUR, rails=BOOK.rails)
    text = choice.explanation
    assert f"on base, {choice.mode.value} costs" in text
    for mode in MODE_ORDER:
        if mode is not choice.mode:
            assert f"{mode.value} (costs more" in text
    # A fifth of a cent is below every rail's minimum charge: no rail takes it, at any price.
    assert "card not possible (below card's $0.5 minimum charge)" in text
    assert "fednow not possible (below fednow's $0.01 minimum charge)" in text
    assert "a conservative lower bound" in text


def test_a_payment_the_rails_take_is_priced_on_them_in_the_explanation() -> None:
    choice = choose_mode(BASE, ONE_DOLLAR, Decimal(60), HOUR, rails=BOOK.rails)
    assert "card $0.329 (32.9% of value)" in choice.explanation
    assert "fednow $0.045 (4.5% of value)" in choice.explanation
    document = json.loads(json.dumps(choice.as_dict()))
    rails = {item["rail"]: item for item in document["rails"]}
    assert rails["ach"]["usd_per_payment"] == "0.008"
    assert rails["ach"]["not_possible"] is None
    assert (rails["ach"]["availability"], rails["ach"]["settlement_latency_s"]) == (
        "banking hours",
        "345600",
    )


def test_a_tie_goes_to_the_mode_first_in_the_stated_order() -> None:
    document = tomllib.loads(
        resources.files("settlement").joinpath("data", "mode_costs.toml").read_text()
    )
    modes = document["modes"]
    modes["authorization"] = {**modes["direct"]}  # authorization now costs exactly as direct
    catalog = parse_mode_catalog(document, "test")
    choice = choose_mode(
        BASE, TWO_TENTHS_OF_A_CENT, Decimal(60), BASE.block_time_s, catalog=catalog
    )
    assert choice.mode is SettlementMode.DIRECT
    authorization = next(c for c in choice.candidates if c.mode is SettlementMode.AUTHORIZATION)
    assert authorization.rejection == "costs the same: direct comes first in the mode order"


def test_each_choice_is_logged_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="settlement.policy"):
        choice = choose_mode(BASE, TWO_TENTHS_OF_A_CENT, Decimal(60), HOUR)
    (record,) = caplog.records
    message = record.getMessage()
    assert "profile=base amount_base_units=2000 pair_payments_per_hour=60" in message
    assert f"-> mode={choice.mode.value} usd_per_payment={choice.usd_per_payment}" in message


def test_the_choice_as_a_plain_dict_survives_json() -> None:
    choice = choose_mode(BASE, TWO_TENTHS_OF_A_CENT, Decimal(60), HOUR, rails=BOOK.rails)
    document = json.loads(json.dumps(choice.as_dict()))
    assert document["mode"] == choice.mode.value
    assert Decimal(document["usd_per_payment"]) == choice.usd_per_payment
    assert [item["mode"] for item in document["candidates"]] == [m.value for m in MODE_ORDER]
    assert {item["rail"] for item in document["rails"]} == {"card", "ach", "fednow", "sepa-instant"}
    card = next(item for item in document["rails"] if item["rail"] == "card")
    assert card["usd_per_payment"] is None
    assert card["not_possible"] == "below card's $0.5 minimum charge"


@pytest.mark.parametrize(
    ("amount", "rate", "latency", "message"),
    [
        (0, Decimal(60), HOUR, "between 1 and"),
        (-2_000, Decimal(60), HOUR, "between 1 and"),
        (2_000, Decimal(0), HOUR, "pair_payments_per_hour must be above 0"),
        (2_000, Decimal(60), Decimal(-1), "latency_bound_s must be above 0"),
        (2_000, Decimal("NaN"), HOUR, "pair_payments_per_hour must be above 0"),
    ],
)
def test_inputs_out_of_range_are_refused(
    amount: int, rate: Decimal, latency: Decimal, message: str
) -> None:
    with pytest.raises(match=message):
        choose_mode(BASE, amount, rate, latency)


def test_a_rail_is_not_a_chain_to_settle_on() -> None:
    with pytest.raises(FeeProfileError, match="not a chain"):
        BOOK.evm_profile("fednow")


@settings(max_examples=60, deadline=None)
@given(
    chain=st.sampled_from([profile.name for profile in BOOK.evm_profiles]),
    amount=st.integers(min_value=1, max_value=10**9),
    rate=st.decimals(min_value="0.01", max_value="100000", places=2),
    latency=st.decimals(min_value="0.25", max_value="86400", places=2),
)
def test_the_choice_is_the_cheapest_feasible_mode_within_the_bound(
    chain: str, amount: int, rate: Decimal, latency: Decimal
) -> None:
    profile = BOOK.evm_profile(chain)
    if latency < profile.block_time_s:
        with pytest.raises(PolicyInputError):
            choose_mode(profile, amount, rate, latency)
        return
    choice = choose_mode(profile, amount, rate, latency)
    assert choice.latency_s <= latency
    for candidate in choice.candidates:
        if candidate.price is not None:
            assert choice.usd_per_payment <= candidate.price.usd_per_payment
            assert candidate.latency_s is not None
            assert candidate.latency_s <= latency
    assert choose_mode(profile, amount, rate, latency) == choice


def test_the_packaged_shapes_load_for_every_mode() -> None:
    catalog = load_mode_catalog()
    assert set(catalog.shapes) == set(SettlementMode) - {SettlementMode.LEDGER}
    assert catalog.shape(SettlementMode.BATCH).max_payments_per_transaction == 2_190
    assert "CPU" in catalog.ledger_note

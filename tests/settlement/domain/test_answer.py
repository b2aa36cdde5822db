"""The report's answer: which ways settle an economy's payments at 1% within the need, by hand."""

from __future__ import annotations

from decimal import Decimal

from settlement.domain.answer import (
    AmountTally,
    ChainWay,
    Need,
    answer,
    judge_chain_way,
    judge_rail,
    rail_totals,
)
from settlement.domain.fees import Availability, load_fee_book

BOOK = load_fee_book()
HOUR = Decimal(3_600)
DIME, DOLLAR, TEN_DOLLARS = 100_000, 1_000_000, 10_000_000


def test_a_tally_counts_payments_and_value_in_a_range_of_sizes() -> None:
    tally = AmountTally([DOLLAR, DIME, TEN_DOLLARS, DIME])
    assert (tally.payments, tally.value_base_units) == (4, 11_200_000)
    assert tally.between(1, DOLLAR) == (2, 200_000)
    assert tally.between(DOLLAR, None) == (2, 11_000_000)
    assert tally.between(TEN_DOLLARS + 1, None) == (0, 0)
    assert tally.between(DOLLAR, DIME) == (0, 0)  # an empty range, not a negative one


def test_ach_refuses_what_is_below_its_minimum_and_caps_the_rest() -> None:
    ach = BOOK.rail("ach")
    # $0.10 is refused; $1 pays 0.8%; $1,000 pays the $5 cap (0.8% would be $8).
    totals = rail_totals(ach, AmountTally([DIME, DOLLAR, 1_000 * DOLLAR]))
    assert (totals.payments_refused, totals.value_refused_base_units) == (1, DIME)
    assert (totals.payments_taken, totals.value_taken_base_units) == (2, 1_001 * DOLLAR)
    assert totals.cost_usd == Decimal("0.008") + 5


def test_a_rail_whose_minimum_is_above_every_payment_cannot_settle_them() -> None:
    verdict = judge_rail(BOOK.rail("card"), AmountTally.uniform(50, 4_659), Need(HOUR))
    assert not verdict.settles
    assert verdict.share_of_value is None
    assert verdict.payments_not_possible == 50
    assert verdict.reasons == (
        "every payment is below its $0.5 minimum charge",
        "settles in 2 days, more than 1 h",
        "settles on banking days only, and the robots pay around the clock",
    )


def test_a_rail_that_takes_some_payments_names_the_share_it_refuses() -> None:
    verdict = judge_rail(BOOK.rail("fednow"), AmountTally([5_000, TEN_DOLLARS]), Need(HOUR))
    assert verdict.payments_not_possible == 1
    assert verdict.reasons[0] == (
        "1 of 2 payments (0.04998% of the value) are below its $0.01 minimum charge"
    )
    assert verdict.share_of_value == Decimal("0.0045")  # $0.045 on the $10 it took


def test_fednow_settles_ten_dollar_payments_around_the_clock_under_one_percent() -> None:
    verdict = judge_rail(BOOK.rail("fednow"), AmountTally.uniform(3, TEN_DOLLARS), Need(HOUR))
    assert verdict.settles
    assert verdict.reasons == ()
    assert verdict.share_of_value == Decimal("0.0045")
    assert verdict.smallest_payment_usd == Decimal("4.5")
    assert verdict.availability is Availability.ALWAYS


def test_a_chain_mode_costs_its_flat_price_times_the_payments_over_their_value() -> None:
    tally = AmountTally([DIME, DOLLAR])
    way = ChainWay("batch", "base", Decimal("0.0001"), Decimal("0.5"), Decimal("0.000001"))
    verdict = judge_chain_way(way, tally, Need(HOUR))
    assert verdict.share_of_value == Decimal("0.0002") / Decimal("1.1")
    assert verdict.settles
    assert verdict.smallest_payment_usd == Decimal("0.01")
    slow = judge_chain_way(way, tally, Need(Decimal("0.25")))
    assert slow.reasons == ("settles in 0.5 s, more than 0.25 s",)
    dear = ChainWay("direct", "ethereum-l1", Decimal("0.1"), Decimal(12), None)
    assert judge_chain_way(dear, tally, Need(HOUR)).reasons == ("costs 18.18% of the value",)


def test_a_mode_the_policy_rejected_says_why_and_has_no_share() -> None:
    way = ChainWay("batch", "base", None, None, None, rejection="exceeds the latency bound: x")
    verdict = judge_chain_way(way, AmountTally([DOLLAR]), Need(HOUR))
    assert (verdict.settles, verdict.share_of_value) == (False, None)
    assert verdict.reasons == ("exceeds the latency bound: x",)


def test_the_sentences_name_the_ways_that_settle_and_the_rails_that_cannot() -> None:
    tally = AmountTally.uniform(4, TEN_DOLLARS)
    net = ChainWay("net", "base", Decimal("0.00001"), Decimal(60), Decimal("0.000002"))
    result = answer(
        [net], BOOK.rails, tally, Need(HOUR),
        chain_costs="measured", energy_per_good_wh=Decimal(10), auto=None,
    )  # fmt: skip
    assert [verdict.way for verdict in result.ways if verdict.settles] == [
        "net on base",
        "fednow",
        "sepa-instant",
    ]
    question, settling, rails, energy = result.sentences
    assert question.startswith("This run's economy made 4 payments worth $40 (about $10 each)")
    assert settling == (
        "These ways settle them within that: net on base (0.0001% of value); fednow (0.45% of "
        "value); sepa-instant (0.022% of value)."
    )
    # 2.9% + $0.30 of $10 is 5.9%; ACH's 0.8% is under 1%, but it takes 4 days.
    assert rails == (
        "Traditional rails that cannot: card: costs 5.9% of the value; ach: settles in 4 days, "
        "more than 1 h."
    )
    assert "0.000002 Wh of service CPU (net on base)" in energy
    assert "the 10 Wh the robots spend to make one good" in energy
    assert result.as_dict()["ways"][0]["share_of_value"] == 0.000001  # type: ignore[index]

"""Fee profiles and prices: exact arithmetic by hand, the L2 data fee, files refused clearly."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.domain.fees import (
    Availability,
    ModeInputs,
    NotPossible,
    PaymentPrice,
    RailQuote,
    WorkloadCounts,
    break_even_usd,
    load_fee_book,
    load_mode_catalog,
    mode_inputs_from_results,
    price_ledger,
    price_mode,
    price_rail,
    round_significant,
)
from settlement.errors import FeeProfileError, UnknownProfileError

BOOK = load_fee_book()
CATALOG = load_mode_catalog()
ONE_CENT = 10_000  # base units
FIFTY_CENTS = 50 * ONE_CENT


def direct(gas: int = 41_118, l1_bytes: int = 0, **extra: int) -> ModeInputs:
    return ModeInputs("direct", Decimal(gas), Decimal(l1_bytes), **extra)


# ---------------------------------------------------------------- rails


def priced(quote: RailQuote) -> PaymentPrice:
    assert isinstance(quote, PaymentPrice), quote
    return quote


def test_a_card_payment_below_stripes_minimum_is_not_possible_rather_than_cheap() -> None:
    card = BOOK.rail("card")
    quote = price_rail(card, ONE_CENT)
    assert quote == NotPossible("card", ONE_CENT, "below card's $0.5 minimum charge")
    assert price_rail(card, FIFTY_CENTS - 1) == NotPossible(
        "card", FIFTY_CENTS - 1, "below card's $0.5 minimum charge"
    )
    # At the minimum it is priced: 2.9% of $0.50 plus $0.30.
    at_minimum = priced(price_rail(card, FIFTY_CENTS))
    assert at_minimum.usd_per_payment == Decimal("0.3145")
    assert at_minimum.share_of_value == Decimal("0.629")
    assert at_minimum.break_even_usd() is None
    assert card.break_even_usd() is None


def test_fednow_costs_its_flat_fee_and_breaks_even_at_four_fifty() -> None:
    price = priced(price_rail(BOOK.rail("fednow"), ONE_CENT))
    assert price.usd_per_payment == Decimal("0.045")
    assert price.share_of_value == Decimal("4.5")
    assert price.break_even_usd() == Decimal("4.5")


def test_ach_is_capped_under_one_percent_but_takes_nothing_below_fifty_cents() -> None:
    ach = BOOK.rail("ach")
    assert isinstance(price_rail(ach, ONE_CENT), NotPossible)
    assert priced(price_rail(ach, FIFTY_CENTS)).usd_per_payment == Decimal("0.004")
    assert priced(price_rail(ach, 1_000 * 10**6)).usd_per_payment == Decimal(5)  # not $8
    # 0.8% is under 1% at any size, so the smallest payment it settles at 1% is its minimum.
    assert ach.break_even_usd() == Decimal("0.5")
    assert priced(price_rail(ach, FIFTY_CENTS)).break_even_usd() == Decimal("0.5")


def test_sepa_instant_converts_its_euro_fee_and_minimum_at_the_declared_rate() -> None:
    sepa = BOOK.rail("sepa-instant")
    assert (sepa.currency, sepa.usd_per_currency_unit) == ("EUR", Decimal("1.10"))
    assert priced(price_rail(sepa, 2 * ONE_CENT)).usd_per_payment == Decimal("0.0022")
    # One euro cent is $0.011, more than a one-cent payment can carry.
    assert sepa.minimum_usd == Decimal("0.011")
    assert isinstance(price_rail(sepa, ONE_CENT), NotPossible)


def test_each_rail_states_its_latency_and_hours() -> None:
    hours = {rail.name: rail.availability for rail in BOOK.rails}
    assert hours == {
        "card": Availability.BANKING_HOURS,
        "ach": Availability.BANKING_HOURS,
        "fednow": Availability.ALWAYS,
        "sepa-instant": Availability.ALWAYS,
    }
    assert BOOK.rail("ach").settlement_latency_s == 4 * 86_400
    assert BOOK.rail("fednow").settlement_latency_s == 5


def test_a_cap_gives_a_break_even_even_when_the_rate_is_above_one_percent() -> None:
    assert break_even_usd(Decimal("0.30"), Decimal("0.029"), Decimal(1)) == Decimal(100)
    # Below 1% the line crosses first: 0.30 / (0.01 - 0.005) = 60 < 1 / 0.01 = 100.
    assert break_even_usd(Decimal("0.30"), Decimal("0.005"), Decimal(1)) == Decimal(60)
    assert break_even_usd(Decimal("0.30"), Decimal("0.01"), None) is None


# ---------------------------------------------------------------- chains


def test_a_direct_payment_on_ethereum_costs_gas_times_price_times_eth() -> None:
    price = price_mode(BOOK.evm_profile("ethereum-l1"), direct(), ONE_CENT)
    # 41,118 gas x 1 gwei x $2,500 / 10**18
    assert price.usd_per_payment == Decimal("0.102795")
    assert price.share_of_value == Decimal("10.2795")
    assert price.break_even_usd() == Decimal("10.2795")


def test_the_l2_data_fee_adds_bytes_times_the_fee_per_byte() -> None:
    base = BOOK.evm_profile("base")
    execution_only = price_mode(base, direct(l1_bytes=0), ONE_CENT).usd_per_payment
    with_data = price_mode(base, direct(l1_bytes=100), ONE_CENT).usd_per_payment
    # 100 bytes x 102,289,125 wei x $2,500 / 10**18
    assert with_data - execution_only == Decimal("0.00002557228125")
    assert execution_only == Decimal("0.00020559")  # 41,118 x 2,000,000 wei x $2,500 / 10**18


@pytest.mark.parametrize(
    ("profile", "base_fee_scalar", "blob_fee_scalar"),
    [("base", 2_269, 1_055_762), ("optimism", 5_227, 1_014_213)],
)
def test_the_op_stack_fee_per_byte_follows_the_fjord_formula_in_its_note(
    profile: str, base_fee_scalar: int, blob_fee_scalar: int
) -> None:
    l1_base_fee_wei, blob_base_fee_wei = 10**9, 10**9 // 16
    per_byte = (
        16 * base_fee_scalar * l1_base_fee_wei + blob_fee_scalar * blob_base_fee_wei
    ) // 10**6
    chain = BOOK.evm_profile(profile)
    assert chain.l1_data_fee_wei_per_byte == per_byte
    assert f"{per_byte:,}" in chain.provenance.note


def test_a_local_chain_prices_with_the_receipts_gas_price_when_known() -> None:
    measured = direct(effective_gas_price_wei=1_140_800_000)
    local = price_mode(BOOK.evm_profile("anvil-local"), measured, ONE_CENT)
    assert local.usd_per_payment == Decimal(41_118 * 1_140_800_000 * 2_500) / 10**18
    assert price_mode(BOOK.evm_profile("anvil-local"), direct(), ONE_CENT).usd_per_payment == (
        Decimal("0.102795")
    )
    # A public chain's price is its own, whatever a local run measured.
    ethereum = price_mode(BOOK.evm_profile("ethereum-l1"), measured, ONE_CENT)
    assert ethereum.usd_per_payment == Decimal("0.102795")


def test_cpu_time_becomes_energy_at_the_power_of_one_core() -> None:
    price = price_ledger(60_000, ONE_CENT, BOOK.power)
    # 60 us x 3.75 W = 225 uJ = 6.25e-8 Wh, at $0.13 per kWh
    assert price.energy_wh_per_payment == Decimal("6.25E-8")
    assert price.usd_per_payment == Decimal("8.125E-12")
    chain = BOOK.evm_profile("base")
    with_cpu = price_mode(chain, direct(cpu_ns_per_payment=60_000), ONE_CENT, BOOK.power)
    assert with_cpu.energy_wh_per_payment == Decimal("6.25E-8")
    without_power = price_mode(chain, direct(cpu_ns_per_payment=60_000), ONE_CENT)
    assert with_cpu.usd_per_payment - without_power.usd_per_payment == Decimal("8.125E-12")
    assert without_power.energy_wh_per_payment is None


def test_amounts_outside_a_payment_are_refused() -> None:
    with pytest.raises(ValueError, match="between 1 and"):
        price_rail(BOOK.rail("card"), 0)
    with pytest.raises(ValueError, match="between 1 and"):
        price_mode(BOOK.evm_profile("base"), direct(), -5)


@given(
    smaller=st.integers(min_value=1, max_value=10**12),
    larger_by=st.integers(min_value=0, max_value=10**12),
)
def test_a_rails_share_of_value_never_grows_with_the_amount(smaller: int, larger_by: int) -> None:
    for rail in BOOK.rails:
        small, large = price_rail(rail, smaller), price_rail(rail, smaller + larger_by)
        if isinstance(small, NotPossible):
            assert Decimal(smaller) / 10**6 < rail.minimum_usd
            continue
        # A rail that takes a payment takes every larger one, at no larger a share.
        assert priced(large).share_of_value <= small.share_of_value


@given(
    fixed_micro=st.integers(min_value=0, max_value=10**7),
    rate_bps=st.integers(min_value=0, max_value=500),
    cap_cents=st.one_of(st.none(), st.integers(min_value=1, max_value=10_000)),
)
def test_the_break_even_is_exactly_where_the_cost_reaches_one_percent(
    fixed_micro: int, rate_bps: int, cap_cents: int | None
) -> None:
    fixed, rate = Decimal(fixed_micro) / 10**6, Decimal(rate_bps) / 10_000
    cap = None if cap_cents is None else Decimal(cap_cents) / 100

    def cost(value: Decimal) -> Decimal:
        uncapped = fixed + rate * value
        return uncapped if cap is None else min(uncapped, cap)

    threshold = break_even_usd(fixed, rate, cap)
    if threshold is None:
        assert rate >= Decimal("0.01")
        assert cap is None
        return
    assert cost(threshold) <= threshold / 100
    if threshold > 0:
        below = threshold * Decimal("0.999")
        assert cost(below) > below / 100


# ---------------------------------------------------------------- the files


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    return path


def test_every_packaged_profile_cites_a_source_and_a_date() -> None:
    assert {"anvil-local", "ethereum-l1", "base", "optimism", "arbitrum-one"} <= {
        profile.name for profile in BOOK.evm_profiles
    }
    assert {rail.name for rail in BOOK.rails} == {"card", "ach", "fednow", "sepa-instant"}
    for profile in BOOK.profiles.values():
        assert profile.provenance.sources
        assert all(source.startswith("https://") for source in profile.provenance.sources)
        assert profile.provenance.note


def test_an_override_file_replaces_one_value_and_keeps_the_rest(tmp_path: Path) -> None:
    book = load_fee_book(write(tmp_path, '[profiles.base]\neth_usd = "3000"\n'))
    base = book.evm_profile("base")
    assert base.eth_usd == Decimal(3000)
    assert base == replace(BOOK.evm_profile("base"), eth_usd=Decimal(3000))
    assert book.evm_profile("optimism") == BOOK.evm_profile("optimism")


def test_an_override_file_can_change_a_rails_minimum_and_hours(tmp_path: Path) -> None:
    text = '[profiles.fednow]\nminimum_charge = "1.00"\navailability = "banking hours"\n'
    fednow = load_fee_book(write(tmp_path, text)).rail("fednow")
    assert fednow == replace(
        BOOK.rail("fednow"),
        minimum_charge_base_units=1_000_000,
        availability=Availability.BANKING_HOURS,
    )
    assert isinstance(price_rail(fednow, FIFTY_CENTS), NotPossible)


def test_a_new_rail_must_state_its_minimum_and_hours(tmp_path: Path) -> None:
    text = """
[profiles.wire]
kind = "rail"
source = "https://example.org/wire"
as_of = 2026-01-31
note = "a test rail"
percent_bps = 0
fixed_fee = "15"
currency = "USD"
settlement_latency_s = "3600"
"""
    with pytest.raises(FeeProfileError, match=r"profiles\.wire: missing key 'minimum_charge'"):
        load_fee_book(write(tmp_path, text))
    complete = text + 'minimum_charge = "0.01"\navailability = "banking hours"\n'
    wire = load_fee_book(write(tmp_path, complete)).rail("wire")
    assert (wire.minimum_usd, wire.availability) == (Decimal("0.01"), Availability.BANKING_HOURS)


def test_an_override_file_can_add_a_complete_profile(tmp_path: Path) -> None:
    text = """
[profiles.polygon]
kind = "evm"
source = "https://example.org/gas"
as_of = 2026-01-31
note = "a test chain"
gas_price_gwei = "30.5"
eth_usd = "0.25"
block_time_s = "2"
l1_data_fee_wei_per_byte = 0
"""
    polygon = load_fee_book(write(tmp_path, text)).evm_profile("polygon")
    assert polygon.gas_price_wei == 30_500_000_000
    assert polygon.provenance.sources == ("https://example.org/gas",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[profiles.base]\neth_usd = 2500.5\n",
            r"profiles\.base\.eth_usd: write 2500\.5 as a string",
        ),
        (
            '[profiles.base]\ngas_price_gwie = "1"\n',
            r"profiles\.base: unknown key 'gas_price_gwie'",
        ),
        (
            '[profiles.base]\ngas_price_gwei = "1e-12"\n',
            r"profiles\.base\.gas_price_gwei must be a whole",
        ),
        (
            '[profiles.card]\nfixed_fee = "0.3000001"\n',
            r"profiles\.card\.fixed_fee: .* decimal places",
        ),
        (
            '[profiles.card]\npercent_bps = "twelve"\n',
            r"profiles\.card\.percent_bps is not a decimal",
        ),
        ('[profiles.new]\nkind = "evm"\n', r"profiles\.new: missing key 'gas_price_gwei'"),
        ('[profiles.new]\nkind = "ledger"\n', r"profiles\.new\.kind must be 'evm' or 'rail'"),
        ('[power]\nwatts_per_core = "0"\n', r"power\.watts_per_core must be positive"),
        (
            '[profiles.ach]\navailability = "weekdays"\n',
            r"profiles\.ach\.availability must be '24/7' or 'banking hours', not 'weekdays'",
        ),
        ('[profiles.card]\nminimum_charge = "-1"\n', r"profiles\.card\.minimum_charge must not be"),
        ("[profiles.card]\nminimum_charge = 0.5\n", r"profiles\.card\.minimum_charge: write 0\.5"),
        ("[profiles.base\n", r"not valid TOML"),
        ('[fees]\nx = "1"\n', r"unknown key 'fees'"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(FeeProfileError, match=message):
        load_fee_book(write(tmp_path, text))


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FeeProfileError, match="cannot read fee profiles"):
        load_fee_book(tmp_path / "missing.toml")


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(
        UnknownProfileError, match="no fee profile 'solana'; known: ach, anvil-local"
    ):
        BOOK.profile("solana")
    with pytest.raises(FeeProfileError, match="'card' is a rail profile, not a chain"):
        BOOK.evm_profile("card")


# ---------------------------------------------------------------- measured results


def test_bench_results_become_per_mode_inputs_with_estimated_bytes() -> None:
    results = [
        {"mode": "direct", "settled": 10_000, "transactions": 10_000, "gas_per_payment": 41118.0,
         "all_in_gas_per_payment": 41118.0},
        {"mode": "batch", "settled": 10_000, "transactions": 13, "gas_per_payment": 12714.3,
         "all_in_gas_per_payment": 12714.3},
        {"mode": "channel", "settled": 10_000, "transactions": 5, "gas_per_payment": 1831.2,
         "all_in_gas_per_payment": 15771.4},
        {"mode": "net", "settled": 10_000, "transactions": 1, "gas_per_payment": 258.1,
         "all_in_gas_per_payment": 1242.5, "cpu_ns_per_payment": 5_000},
        {"mode": "ledger", "cpu_ns_per_payment": 2_000},
    ]  # fmt: skip
    by_mode = {item.mode: item for item in mode_inputs_from_results(results, CATALOG)}
    assert by_mode["direct"].l1_bytes_per_payment == 139
    assert by_mode["channel"].gas_per_payment == Decimal("15771.4")
    # 13 x 120 + 10,000 x 75 + 13 x 200 accounts x 20, over 10,000 payments
    assert by_mode["batch"].l1_bytes_per_payment == Decimal("80.356")
    # 5 x 120 + 1,430 claims x 98 + 1,430 opens x 267
    assert by_mode["channel"].l1_bytes_per_payment == Decimal("52.255")
    # 155 + 200 accounts x 23 + 100 deposits x 267
    assert by_mode["net"].l1_bytes_per_payment == Decimal("3.1455")
    assert by_mode["net"].cpu_ns_per_payment == 5_000
    assert by_mode["ledger"] == ModeInputs("ledger", Decimal(0), Decimal(0), 2_000)
    settled_only = mode_inputs_from_results(results[2:3], CATALOG, all_in=False)
    assert settled_only[0].gas_per_payment == Decimal("1831.2")


def test_the_reference_run_prices_like_the_readme_table() -> None:
    inputs = mode_inputs_from_results(CATALOG.reference_results(), CATALOG)
    assert [item.gas_per_payment for item in inputs] == [37_155, 71_816, 7_778, 15_367, 1_280]


def test_results_with_an_unknown_mode_or_missing_figure_are_refused() -> None:
    with pytest.raises(FeeProfileError, match=r"results\[0\]\.mode: unknown mode 'fast'"):
        mode_inputs_from_results([{"mode": "fast"}], CATALOG)
    with pytest.raises(FeeProfileError, match=r"results\[0\]: missing key 'settled'"):
        mode_inputs_from_results([{"mode": "batch", "all_in_gas_per_payment": "1"}], CATALOG)


def test_workload_counts_keep_payers_and_payees_apart() -> None:
    counts = WorkloadCounts.of_pairs([(0, 0), (0, 1), (0, 0), (1, 0)])
    assert counts == WorkloadCounts(payments=4, distinct_pairs=3, distinct_payers=2,
                                    distinct_accounts=4)  # fmt: skip


def test_figures_round_to_significant_digits_for_display() -> None:
    assert round_significant(Decimal("0.00000443399")) == "0.000004434"
    assert round_significant(Decimal("8.125E-12")) == "8.125e-12"
    assert round_significant(Decimal("30.029")) == "30.03"
    assert round_significant(Decimal(0)) == "0"

"""What a payment costs: fee profiles for chains and rails, mode cost shapes, prices per payment.

A fee profile says what a unit of work costs somewhere: gas and L1 data bytes on an EVM chain,
or a percentage, a fixed fee and a cap on a traditional rail. The profiles, with their sources
and dates, live in ``settlement/data/fee_profiles.toml``; a user file replaces any value. How each
settlement mode's gas and bytes grow lives in ``settlement/data/mode_costs.toml``.

Every price here is a function of three inputs per payment (gas, estimated compressed L1 bytes,
settlement CPU time) and a profile::

    fee_wei   = gas * gas_price_wei + l1_bytes * l1_data_fee_wei_per_byte
    usd       = fee_wei * eth_usd / 10**18  +  energy_kwh * usd_per_kwh
    energy_wh = cpu_ns / 10**9 * watts_per_core / 3600

A rail costs ``min(fixed + rate * amount, cap)``. Since every cost has that shape (a chain's rate
is zero), the break-even payment, the smallest amount whose cost is at most 1% of it, is
``fixed / (1% - rate)`` when the rate is below 1%, or ``100 * cap`` when a cap makes it cheaper,
and never otherwise. A rail also has a minimum charge: a payment below it is not possible on
that rail at all (``NotPossible``, with the reason), so a rail's break-even is never below its
minimum. Each rail states its settlement latency and whether it settles around the clock or on
banking days only.

Money stays exact: wei and base units are integers, everything derived is a ``Decimal`` parsed
from integers or strings. A float in a profile file is refused rather than rounded.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

from settlement.domain.money import (
    BASE_UNITS_PER_DOLLAR,
    WEI_PER_ETH,
    WEI_PER_GWEI,
    dollars_to_base_units,
)
from settlement.domain.payments import MAX_PAYMENT_BASE_UNITS, SettlementMode
from settlement.errors import FeeProfileError, UnknownProfileError

FEE_PROFILES_FILE: Final = "fee_profiles.toml"
MODE_COSTS_FILE: Final = "mode_costs.toml"
BREAK_EVEN_SHARE: Final = Decimal("0.01")
BASIS_POINTS_PER_UNIT: Final = Decimal(10_000)
NANOSECONDS_PER_SECOND: Final = Decimal(10**9)
SECONDS_PER_HOUR: Final = Decimal(3_600)
WH_PER_KWH: Final = Decimal(1_000)
# The money module's scales are plain ints (10**n, which type checkers see as Any); as Decimals
# they keep every division here exact and typed.
BASE_UNITS_PER_CURRENCY_UNIT: Final = Decimal(BASE_UNITS_PER_DOLLAR)
WEI_PER_ETH_DECIMAL: Final = Decimal(WEI_PER_ETH)
WEI_PER_GWEI_DECIMAL: Final = Decimal(WEI_PER_GWEI)
LEDGER: Final = SettlementMode.LEDGER.value
# The modes that settle on chain, which the mode cost file describes; the ledger costs CPU only.
CHAIN_MODES: Final = tuple(mode for mode in SettlementMode if mode is not SettlementMode.LEDGER)
SMALLEST_PLAIN_EXPONENT: Final = -6
# Every modelled transaction serves one payer and payee pair, which touches two accounts, one of
# them a payer (whose batch nonce word is touched too), and, in channel mode, claims one channel.
ACCOUNTS_PER_PAIR: Final = 2
PAYERS_PER_PAIR: Final = 1
CLAIMS_PER_PAIR: Final = 1


class ProfileKind(StrEnum):
    EVM = "evm"
    RAIL = "rail"


class Availability(StrEnum):
    """When a rail moves money to the payee: at any hour, or on banking days in banking hours."""

    ALWAYS = "24/7"
    BANKING_HOURS = "banking hours"


@dataclass(frozen=True)
class Provenance:
    """Where a figure comes from and when it applied."""

    sources: tuple[str, ...]
    as_of: date
    note: str


@dataclass(frozen=True)
class EvmProfile:
    name: str
    provenance: Provenance
    gas_price_wei: int
    eth_usd: Decimal
    block_time_s: Decimal
    l1_data_fee_wei_per_byte: int
    # A local chain's price is whatever its receipts say; a measured price replaces the profile's.
    gas_price_from_receipts: bool = False

    kind = ProfileKind.EVM

    def gas_price_for(self, inputs: ModeInputs) -> int:
        measured = inputs.effective_gas_price_wei
        return measured if self.gas_price_from_receipts and measured else self.gas_price_wei


@dataclass(frozen=True)
class RailProfile:
    name: str
    provenance: Provenance
    percent_bps: Decimal
    # In the rail's currency, scaled by 10**6 like the stablecoin's base units.
    fixed_fee_base_units: int
    cap_base_units: int | None
    currency: str
    usd_per_currency_unit: Decimal
    settlement_latency_s: Decimal
    # The smallest payment the rail takes, in its currency scaled by 10**6.
    minimum_charge_base_units: int
    availability: Availability

    kind = ProfileKind.RAIL

    @property
    def rate(self) -> Decimal:
        return self.percent_bps / BASIS_POINTS_PER_UNIT

    @property
    def fixed_usd(self) -> Decimal:
        return _base_units_to_usd(self.fixed_fee_base_units) * self.usd_per_currency_unit

    @property
    def cap_usd(self) -> Decimal | None:
        if self.cap_base_units is None:
            return None
        return _base_units_to_usd(self.cap_base_units) * self.usd_per_currency_unit

    @property
    def minimum_usd(self) -> Decimal:
        return _base_units_to_usd(self.minimum_charge_base_units) * self.usd_per_currency_unit

    def break_even_usd(self, share: Decimal = BREAK_EVEN_SHARE) -> Decimal | None:
        """The smallest payment the rail takes at a cost of at most ``share`` of it."""
        return break_even_usd(self.fixed_usd, self.rate, self.cap_usd, share, self.minimum_usd)

    def refusal(self, amount_base_units: int) -> str | None:
        """Why the rail cannot take a payment of ``amount_base_units`` (USD), or None if it can."""
        if _base_units_to_usd(amount_base_units) >= self.minimum_usd:
            return None
        return f"below {self.name}'s {format_usd(self.minimum_usd)} minimum charge"


@dataclass(frozen=True)
class PowerFigure:
    """Turns settlement CPU time into energy and energy into dollars."""

    provenance: Provenance
    watts_per_core: Decimal
    usd_per_kwh: Decimal


Profile = EvmProfile | RailProfile


@dataclass(frozen=True)
class FeeBook:
    """Every fee profile by name, and the power figure."""

    profiles: Mapping[str, Profile]
    power: PowerFigure

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise UnknownProfileError(f"no fee profile {name!r}; known: {known}") from None

    def evm_profile(self, name: str) -> EvmProfile:
        profile = self.profile(name)
        if not isinstance(profile, EvmProfile):
            raise FeeProfileError(f"fee profile {name!r} is a {profile.kind} profile, not a chain")
        return profile

    def rail(self, name: str) -> RailProfile:
        profile = self.profile(name)
        if not isinstance(profile, RailProfile):
            raise FeeProfileError(f"fee profile {name!r} is a {profile.kind} profile, not a rail")
        return profile

    @property
    def evm_profiles(self) -> list[EvmProfile]:
        return [p for p in self.profiles.values() if isinstance(p, EvmProfile)]

    @property
    def rails(self) -> list[RailProfile]:
        return [p for p in self.profiles.values() if isinstance(p, RailProfile)]


@dataclass(frozen=True)
class ModeInputs:
    """One payment's share of settlement work in some mode: what a profile prices."""

    mode: str
    gas_per_payment: Decimal
    l1_bytes_per_payment: Decimal
    cpu_ns_per_payment: int | None = None
    # The receipts' effective gas price, when they were measured on a local chain.
    effective_gas_price_wei: int | None = None


@dataclass(frozen=True)
class PaymentPrice:
    """What one payment of ``amount_base_units`` costs in a mode under a profile, or on a rail."""

    label: str
    profile: str
    amount_base_units: int
    usd_per_payment: Decimal
    # The cost's fixed part and its rate on the amount: cost(v) = min(fixed + rate * v, cap).
    fixed_usd: Decimal
    rate: Decimal
    cap_usd: Decimal | None
    energy_wh_per_payment: Decimal | None = None
    cpu_ns_per_payment: int | None = None
    # The smallest payment the way takes at all: a rail's minimum charge; nothing on a chain.
    minimum_usd: Decimal = Decimal(0)

    @property
    def amount_usd(self) -> Decimal:
        return _base_units_to_usd(self.amount_base_units)

    @property
    def share_of_value(self) -> Decimal:
        return self.usd_per_payment / self.amount_usd

    def break_even_usd(self, share: Decimal = BREAK_EVEN_SHARE) -> Decimal | None:
        """The smallest payment costing at most ``share`` of its value; None when there is none."""
        return break_even_usd(self.fixed_usd, self.rate, self.cap_usd, share, self.minimum_usd)


@dataclass(frozen=True)
class NotPossible:
    """A payment a rail does not take at all, so it has no price: only the reason."""

    label: str
    amount_base_units: int
    reason: str


# A rail's answer for one payment: its price, or why it cannot take the payment.
RailQuote = PaymentPrice | NotPossible


# ---------------------------------------------------------------- pricing


def break_even_usd(
    fixed_usd: Decimal,
    rate: Decimal,
    cap_usd: Decimal | None,
    share: Decimal = BREAK_EVEN_SHARE,
    minimum_usd: Decimal = Decimal(0),
) -> Decimal | None:
    """The payment ``v`` from which ``min(fixed + rate * v, cap) <= share * v``, and at least
    ``minimum_usd`` (nothing smaller is taken at all); None if never.

    Below the line's crossing ``fixed / (share - rate)`` the uncapped cost is above the share,
    and below ``cap / share`` so is the cap, so the smaller of the two is exactly the threshold.
    """
    assert share > 0, "the share of value must be positive"
    thresholds = []
    if rate < share:
        thresholds.append(fixed_usd / (share - rate))
    if cap_usd is not None:
        thresholds.append(cap_usd / share)
    return max(min(thresholds), minimum_usd) if thresholds else None


def price_mode(
    profile: EvmProfile,
    inputs: ModeInputs,
    amount_base_units: int,
    power: PowerFigure | None = None,
) -> PaymentPrice:
    """One payment settled in ``inputs.mode`` on ``profile``'s chain; CPU energy when known."""
    require_payment_amount(amount_base_units)
    fee_wei = (
        inputs.gas_per_payment * profile.gas_price_for(inputs)
        + inputs.l1_bytes_per_payment * profile.l1_data_fee_wei_per_byte
    )
    energy_wh = energy_wh_per_payment(inputs.cpu_ns_per_payment, power)
    energy_usd = _energy_usd(energy_wh, power)
    usd = fee_wei * profile.eth_usd / WEI_PER_ETH_DECIMAL + energy_usd
    return _flat_price(
        inputs.mode, profile.name, amount_base_units, usd, energy_wh, inputs.cpu_ns_per_payment
    )


def price_ledger(
    cpu_ns_per_payment: int, amount_base_units: int, power: PowerFigure
) -> PaymentPrice:
    """The traditional ledger baseline: no chain, so its only cost is CPU energy."""
    require_payment_amount(amount_base_units)
    energy_wh = energy_wh_per_payment(cpu_ns_per_payment, power)
    usd = _energy_usd(energy_wh, power)
    return _flat_price(LEDGER, "power", amount_base_units, usd, energy_wh, cpu_ns_per_payment)


def _flat_price(
    label: str,
    profile: str,
    amount_base_units: int,
    usd: Decimal,
    energy_wh: Decimal | None,
    cpu_ns: int | None,
) -> PaymentPrice:
    """A cost that does not grow with the amount: settling on a chain, or on the ledger."""
    return PaymentPrice(
        label=label,
        profile=profile,
        amount_base_units=amount_base_units,
        usd_per_payment=usd,
        fixed_usd=usd,
        rate=Decimal(0),
        cap_usd=None,
        energy_wh_per_payment=energy_wh,
        cpu_ns_per_payment=cpu_ns,
    )


def price_rail(rail: RailProfile, amount_base_units: int) -> RailQuote:
    """One payment on a traditional rail, from its fee schedule (the percentage needs no FX);
    ``NotPossible`` below the rail's minimum charge, which no fee schedule makes cheap."""
    require_payment_amount(amount_base_units)
    refusal = rail.refusal(amount_base_units)
    if refusal is not None:
        return NotPossible(rail.name, amount_base_units, refusal)
    uncapped = rail.fixed_usd + rail.rate * _base_units_to_usd(amount_base_units)
    cap = rail.cap_usd
    return PaymentPrice(
        label=rail.name,
        profile=rail.name,
        amount_base_units=amount_base_units,
        usd_per_payment=uncapped if cap is None else min(uncapped, cap),
        fixed_usd=rail.fixed_usd,
        rate=rail.rate,
        cap_usd=cap,
        minimum_usd=rail.minimum_usd,
    )


def energy_wh_per_payment(cpu_ns: int | None, power: PowerFigure | None) -> Decimal | None:
    """CPU time at the power of one fully used core, in watt-hours; None when either is unknown."""
    if cpu_ns is None or power is None:
        return None
    assert cpu_ns >= 0, "CPU time cannot be negative"
    joules = Decimal(cpu_ns) / NANOSECONDS_PER_SECOND * power.watts_per_core
    return joules / SECONDS_PER_HOUR


def require_payment_amount(amount_base_units: int) -> None:
    if not 0 < amount_base_units <= MAX_PAYMENT_BASE_UNITS:
        raise ValueError(
            f"a payment amount must be between 1 and {MAX_PAYMENT_BASE_UNITS:,} base units, "
            f"got {amount_base_units:,}"
        )


def _energy_usd(energy_wh: Decimal | None, power: PowerFigure | None) -> Decimal:
    if energy_wh is None or power is None:
        return Decimal(0)
    return energy_wh / WH_PER_KWH * power.usd_per_kwh


def _base_units_to_usd(base_units: int) -> Decimal:
    return Decimal(base_units) / BASE_UNITS_PER_CURRENCY_UNIT


def round_significant(value: Decimal, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits: plain down to a millionth (0.00002411), in
    scientific notation below (8.125e-12), where a row of zeros would hide the digits."""
    if value == 0:
        return "0"
    if value.adjusted() < SMALLEST_PLAIN_EXPONENT:
        return f"{value:.{digits - 1}e}"
    exponent = value.adjusted() - digits + 1
    return format(value.quantize(Decimal(1).scaleb(exponent)).normalize(), "f")


def format_usd(value: Decimal) -> str:
    return f"${round_significant(value)}"


SECONDS_PER_DAY: Final = Decimal(86_400)


def format_duration(seconds: Decimal) -> str:
    """A latency as people say it: 5 s, 1 h, 2 days."""
    if seconds >= SECONDS_PER_DAY:
        days = seconds / SECONDS_PER_DAY
        return f"{round_significant(days, 3)} day{'' if days == 1 else 's'}"
    if seconds >= SECONDS_PER_HOUR:
        return f"{round_significant(seconds / SECONDS_PER_HOUR, 3)} h"
    return f"{round_significant(seconds, 3)} s"


def format_share(share: Decimal) -> str:
    """A share of value as a percentage: 0.0241 as 2.41%."""
    return f"{round_significant(share * 100)}%"


# ---------------------------------------------------------------- mode cost shapes


@dataclass(frozen=True)
class ModeShape:
    """How one mode's gas and bytes grow with payments, accounts and claims (see the data file)."""

    mode: SettlementMode
    settles_on_interval: bool
    gas_per_transaction: int
    gas_per_payment: int
    gas_per_account: int
    gas_per_payer: int
    gas_per_claim: int
    setup_gas_per_pair: int
    l1_bytes_per_transaction: int
    l1_bytes_per_payment: int
    l1_bytes_per_account: int
    l1_bytes_per_claim: int
    setup_l1_bytes_per_pair: int
    max_payments_per_transaction: int | None
    reference_transactions: int
    reference_gas_per_payment: Decimal
    reference_all_in_gas_per_payment: Decimal
    note: str

    def for_pair(
        self, payments_per_transaction: Decimal, payments_per_funding: Decimal
    ) -> ModeInputs:
        """Per-payment gas and bytes when one pair's payments alone fill each transaction.

        The transaction's fixed cost, its two accounts (one of them the payer) and its one claim
        are shared by the ``payments_per_transaction`` it carries; the funding (a channel open, a
        net deposit) by the ``payments_per_funding`` it serves.
        """
        assert payments_per_transaction >= 1, "a transaction carries at least one payment"
        assert payments_per_funding >= 1, "a funding serves at least one payment"
        shared_gas = (
            self.gas_per_transaction
            + ACCOUNTS_PER_PAIR * self.gas_per_account
            + PAYERS_PER_PAIR * self.gas_per_payer
            + CLAIMS_PER_PAIR * self.gas_per_claim
        )
        shared_bytes = (
            self.l1_bytes_per_transaction
            + ACCOUNTS_PER_PAIR * self.l1_bytes_per_account
            + CLAIMS_PER_PAIR * self.l1_bytes_per_claim
        )
        return ModeInputs(
            mode=self.mode.value,
            gas_per_payment=shared_gas / payments_per_transaction
            + self.gas_per_payment
            + self.setup_gas_per_pair / payments_per_funding,
            l1_bytes_per_payment=shared_bytes / payments_per_transaction
            + self.l1_bytes_per_payment
            + self.setup_l1_bytes_per_pair / payments_per_funding,
        )


@dataclass(frozen=True)
class WorkloadCounts:
    """The counts of a workload that decide how much each settlement transaction carries."""

    payments: int
    distinct_pairs: int
    distinct_payers: int
    distinct_accounts: int

    @classmethod
    def of_pairs(cls, pairs: Iterable[tuple[object, object]]) -> WorkloadCounts:
        """Counts of a stream of (payer, payee) payments. Payers and payees are separate
        participants, as in a ``Workload`` (payer 3 and payee 3 are two accounts)."""
        payments = 0
        unique_pairs: set[tuple[object, object]] = set()
        payers: set[object] = set()
        accounts: set[tuple[str, object]] = set()
        for payer, payee in pairs:
            payments += 1
            unique_pairs.add((payer, payee))
            payers.add(payer)
            accounts.update((("payer", payer), ("payee", payee)))
        return cls(payments, len(unique_pairs), len(payers), len(accounts))


@dataclass(frozen=True)
class ModeCatalog:
    shapes: Mapping[SettlementMode, ModeShape]
    reference: WorkloadCounts
    ledger_note: str

    def shape(self, mode: SettlementMode) -> ModeShape:
        return self.shapes[mode]

    def reference_results(self) -> list[dict[str, object]]:
        """The README benchmark's figures, in the format of a ``results.json``."""
        return [
            {
                "mode": shape.mode.value,
                "settled": self.reference.payments,
                "transactions": shape.reference_transactions,
                "gas_per_payment": str(shape.reference_gas_per_payment),
                "all_in_gas_per_payment": str(shape.reference_all_in_gas_per_payment),
            }
            for shape in self.shapes.values()
        ]


# ---------------------------------------------------------------- measured results


def mode_inputs_from_results(
    entries: Sequence[Mapping[str, object]],
    catalog: ModeCatalog,
    counts: WorkloadCounts | None = None,
    all_in: bool = True,
) -> list[ModeInputs]:
    """Per-mode inputs from a benchmark's ``results.json`` list, to price real measurements.

    Gas is the measured ``all_in_gas_per_payment`` (funding included) or, with ``all_in`` off,
    ``gas_per_payment``. Bytes are not measured: they come from the mode's shape at the measured
    payments per transaction and the workload's ``counts`` (the reference workload's by default).
    ``cpu_ns_per_payment`` and ``effective_gas_price_wei`` are taken when an entry has them; a
    ``ledger`` entry has no gas.
    """
    counts = counts or catalog.reference
    inputs = []
    for index, entry in enumerate(entries):
        where = f"results[{index}]"
        mode = _text(_required(entry, "mode", where), f"{where}.mode")
        cpu_ns = _optional_int(entry.get("cpu_ns_per_payment"), f"{where}.cpu_ns_per_payment")
        if mode == LEDGER:
            inputs.append(ModeInputs(LEDGER, Decimal(0), Decimal(0), cpu_ns))
            continue
        shape = catalog.shape(_settlement_mode(mode, f"{where}.mode"))
        gas_key = "all_in_gas_per_payment" if all_in else "gas_per_payment"
        gas = _decimal(_required(entry, gas_key, where), f"{where}.{gas_key}", allow_float=True)
        settled = _int(_required(entry, "settled", where), f"{where}.settled")
        transactions = _int(_required(entry, "transactions", where), f"{where}.transactions")
        if settled <= 0 or transactions <= 0:
            raise FeeProfileError(f"{where}: settled and transactions must be positive")
        l1_bytes = _measured_l1_bytes(shape, settled, transactions, counts, all_in)
        gas_price = _optional_int(
            entry.get("effective_gas_price_wei"), f"{where}.effective_gas_price_wei"
        )
        inputs.append(ModeInputs(mode, gas, l1_bytes, cpu_ns, gas_price))
    return inputs


def _measured_l1_bytes(
    shape: ModeShape, settled: int, transactions: int, counts: WorkloadCounts, all_in: bool
) -> Decimal:
    """Bytes per payment of a measured run: each transaction touches at most every account (two
    per payment), every channel is claimed once, and each pair (or payer, for net) was funded."""
    accounts_per_transaction = min(counts.distinct_accounts, 2 * settled // transactions)
    fundings = counts.distinct_payers if shape.mode is SettlementMode.NET else counts.distinct_pairs
    total = (
        transactions * shape.l1_bytes_per_transaction
        + settled * shape.l1_bytes_per_payment
        + transactions * accounts_per_transaction * shape.l1_bytes_per_account
        + counts.distinct_pairs * shape.l1_bytes_per_claim
        + (fundings * shape.setup_l1_bytes_per_pair if all_in else 0)
    )
    return Decimal(total) / settled


# ---------------------------------------------------------------- loading the data files


def load_fee_book(overrides: Path | None = None) -> FeeBook:
    """The packaged fee profiles, with ``overrides``' values in place of theirs where given."""
    document = _packaged_toml(FEE_PROFILES_FILE)
    if overrides is None:
        return parse_fee_book(document, FEE_PROFILES_FILE)
    merged = _merge(document, _read_toml(overrides), str(overrides))
    return parse_fee_book(merged, f"{overrides} over {FEE_PROFILES_FILE}")


@cache
def load_mode_catalog() -> ModeCatalog:
    """The packaged mode cost shapes, read once: they ship with the code and never change."""
    return parse_mode_catalog(_packaged_toml(MODE_COSTS_FILE), MODE_COSTS_FILE)


def parse_fee_book(document: Mapping[str, object], origin: str) -> FeeBook:
    _only_keys(document, {"profiles", "power"}, origin)
    profiles = _table(document, "profiles", origin)
    parsed: dict[str, Profile] = {}
    for name in profiles:
        where = f"{origin}: profiles.{name}"
        parsed[name] = _parse_profile(name, _table(profiles, name, where), where)
    power = _table(document, "power", origin)
    return FeeBook(parsed, _parse_power(power, f"{origin}: power"))


def parse_mode_catalog(document: Mapping[str, object], origin: str) -> ModeCatalog:
    _only_keys(document, {"reference", "modes", "ledger"}, origin)
    modes = _table(document, "modes", origin)
    shapes: dict[SettlementMode, ModeShape] = {}
    for mode in CHAIN_MODES:
        where = f"{origin}: modes.{mode.value}"
        shapes[mode] = _parse_shape(mode, _table(modes, mode.value, where), where)
    ledger = _table(document, "ledger", origin)
    return ModeCatalog(
        shapes=shapes,
        reference=_parse_counts(_table(document, "reference", origin), f"{origin}: reference"),
        ledger_note=_text(_required(ledger, "note", f"{origin}: ledger"), f"{origin}: ledger.note"),
    )


PROVENANCE_KEYS: Final = frozenset({"kind", "source", "as_of", "note"})
EVM_KEYS: Final = PROVENANCE_KEYS | {
    "gas_price_from_receipts",
    "gas_price_gwei",
    "eth_usd",
    "block_time_s",
    "l1_data_fee_wei_per_byte",
}
RAIL_KEYS: Final = PROVENANCE_KEYS | {
    "percent_bps",
    "fixed_fee",
    "cap",
    "currency",
    "usd_per_currency_unit",
    "settlement_latency_s",
    "minimum_charge",
    "availability",
}


def _parse_profile(name: str, table: Mapping[str, object], where: str) -> Profile:
    kind = _text(_required(table, "kind", where), f"{where}.kind")
    if kind == ProfileKind.EVM:
        return _parse_evm(name, table, where)
    if kind == ProfileKind.RAIL:
        return _parse_rail(name, table, where)
    raise FeeProfileError(f"{where}.kind must be 'evm' or 'rail', not {kind!r}")


def _parse_evm(name: str, table: Mapping[str, object], where: str) -> EvmProfile:
    _only_keys(table, EVM_KEYS, where)
    gas_price_gwei = _decimal(_required(table, "gas_price_gwei", where), f"{where}.gas_price_gwei")
    gas_price_wei = gas_price_gwei * WEI_PER_GWEI_DECIMAL
    if gas_price_wei != gas_price_wei.to_integral_value() or gas_price_wei < 0:
        raise FeeProfileError(
            f"{where}.gas_price_gwei must be a whole, non-negative number of wei, "
            f"not {gas_price_gwei} gwei"
        )
    return EvmProfile(
        name=name,
        provenance=_parse_provenance(table, where),
        gas_price_wei=int(gas_price_wei),
        eth_usd=_positive(table, "eth_usd", where),
        block_time_s=_positive(table, "block_time_s", where),
        l1_data_fee_wei_per_byte=_non_negative_int(table, "l1_data_fee_wei_per_byte", where),
        gas_price_from_receipts=_flag(table, "gas_price_from_receipts", where),
    )


def _parse_rail(name: str, table: Mapping[str, object], where: str) -> RailProfile:
    _only_keys(table, RAIL_KEYS, where)
    percent_bps = _decimal(_required(table, "percent_bps", where), f"{where}.percent_bps")
    if not 0 <= percent_bps <= BASIS_POINTS_PER_UNIT:
        raise FeeProfileError(f"{where}.percent_bps must be 0 to 10000, not {percent_bps}")
    cap = table.get("cap")
    currency = _text(_required(table, "currency", where), f"{where}.currency")
    usd_per_unit = (
        _positive(table, "usd_per_currency_unit", where)
        if "usd_per_currency_unit" in table or currency != "USD"
        else Decimal(1)
    )
    return RailProfile(
        name=name,
        provenance=_parse_provenance(table, where),
        percent_bps=percent_bps,
        fixed_fee_base_units=_money(_required(table, "fixed_fee", where), f"{where}.fixed_fee"),
        cap_base_units=None if cap is None else _money(cap, f"{where}.cap"),
        currency=currency,
        usd_per_currency_unit=usd_per_unit,
        settlement_latency_s=_positive(table, "settlement_latency_s", where),
        minimum_charge_base_units=_money(
            _required(table, "minimum_charge", where), f"{where}.minimum_charge"
        ),
        availability=_availability(_required(table, "availability", where), where),
    )


def _availability(value: object, where: str) -> Availability:
    if isinstance(value, str) and value in set(Availability):
        return Availability(value)
    known = " or ".join(repr(item.value) for item in Availability)
    raise FeeProfileError(f"{where}.availability must be {known}, not {value!r}")


def _parse_power(table: Mapping[str, object], where: str) -> PowerFigure:
    _only_keys(table, {"source", "as_of", "note", "watts_per_core", "usd_per_kwh"}, where)
    return PowerFigure(
        provenance=_parse_provenance(table, where),
        watts_per_core=_positive(table, "watts_per_core", where),
        usd_per_kwh=_positive(table, "usd_per_kwh", where),
    )


def _parse_provenance(table: Mapping[str, object], where: str) -> Provenance:
    source = _required(table, "source", where)
    sources = [source] if isinstance(source, str) else source
    if not isinstance(sources, list) or not sources:
        raise FeeProfileError(f"{where}.source must be a URL or a list of URLs")
    as_of = _required(table, "as_of", where)
    if not isinstance(as_of, date):
        raise FeeProfileError(f"{where}.as_of must be a TOML date such as 2026-01-31")
    return Provenance(
        sources=tuple(_text(item, f"{where}.source") for item in sources),
        as_of=as_of,
        note=_text(_required(table, "note", where), f"{where}.note"),
    )


SHAPE_KEYS: Final = frozenset(
    {
        "gas_per_payment",
        "gas_per_account",
        "gas_per_payer",
        "gas_per_claim",
        "setup_gas_per_pair",
        "l1_bytes_per_payment",
        "l1_bytes_per_account",
        "l1_bytes_per_claim",
        "setup_l1_bytes_per_pair",
    }
) | {
    "note",
    "settles_on_interval",
    "gas_per_transaction",
    "l1_bytes_per_transaction",
    "max_payments_per_transaction",
    "reference_transactions",
    "reference_gas_per_payment",
    "reference_all_in_gas_per_payment",
}


def _parse_shape(mode: SettlementMode, table: Mapping[str, object], where: str) -> ModeShape:
    _only_keys(table, SHAPE_KEYS, where)
    maximum = None
    if "max_payments_per_transaction" in table:
        maximum = _non_negative_int(table, "max_payments_per_transaction", where)

    def count(key: str) -> int:
        return _non_negative_int(table, key, where, default=0)

    return ModeShape(
        mode=mode,
        settles_on_interval=_flag(table, "settles_on_interval", where, required=True),
        gas_per_transaction=_non_negative_int(table, "gas_per_transaction", where),
        gas_per_payment=count("gas_per_payment"),
        gas_per_account=count("gas_per_account"),
        gas_per_payer=count("gas_per_payer"),
        gas_per_claim=count("gas_per_claim"),
        setup_gas_per_pair=count("setup_gas_per_pair"),
        l1_bytes_per_transaction=_non_negative_int(table, "l1_bytes_per_transaction", where),
        l1_bytes_per_payment=count("l1_bytes_per_payment"),
        l1_bytes_per_account=count("l1_bytes_per_account"),
        l1_bytes_per_claim=count("l1_bytes_per_claim"),
        setup_l1_bytes_per_pair=count("setup_l1_bytes_per_pair"),
        max_payments_per_transaction=maximum,
        reference_transactions=_non_negative_int(table, "reference_transactions", where),
        reference_gas_per_payment=_positive(table, "reference_gas_per_payment", where),
        reference_all_in_gas_per_payment=_positive(
            table, "reference_all_in_gas_per_payment", where
        ),
        note=_text(_required(table, "note", where), f"{where}.note"),
    )


def _parse_counts(table: Mapping[str, object], where: str) -> WorkloadCounts:
    _only_keys(table, {"payments", "distinct_pairs", "distinct_payers", "distinct_accounts"}, where)
    return WorkloadCounts(
        payments=_non_negative_int(table, "payments", where),
        distinct_pairs=_non_negative_int(table, "distinct_pairs", where),
        distinct_payers=_non_negative_int(table, "distinct_payers", where),
        distinct_accounts=_non_negative_int(table, "distinct_accounts", where),
    )


# ---------------------------------------------------------------- TOML values, checked


def _packaged_toml(name: str) -> dict[str, object]:
    text = resources.files("settlement").joinpath("data", name).read_text(encoding="utf-8")
    return _parse_toml(text, name)


def _read_toml(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FeeProfileError(f"cannot read fee profiles {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise FeeProfileError(f"{path} is not UTF-8 text") from None
    return _parse_toml(text, str(path))


def _parse_toml(text: str, origin: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise FeeProfileError(f"{origin} is not valid TOML: {error}") from None


def _merge(
    base: Mapping[str, object], overrides: Mapping[str, object], origin: str
) -> dict[str, object]:
    """``base`` with each table of ``overrides`` laid over it key by key, so an override file
    can change one value of one profile and leave the rest as packaged."""
    _only_keys(overrides, {"profiles", "power"}, origin)
    merged = dict(base)
    for key, value in overrides.items():
        if not isinstance(value, dict):
            raise FeeProfileError(f"{origin}: {key} must be a table")
        current = merged.get(key)
        merged[key] = _merge_tables(current if isinstance(current, dict) else {}, value)
    return merged


def _merge_tables(base: dict[str, object], overrides: dict[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = _merge_tables(current, value)
        else:
            merged[key] = value
    return merged


def _only_keys(table: Mapping[str, object], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise FeeProfileError(f"{where}: unknown key {unknown[0]!r}")


def _table(parent: Mapping[str, object], key: str, where: str) -> Mapping[str, object]:
    value = _required(parent, key, where)
    if not isinstance(value, dict):
        raise FeeProfileError(f"{where}: {key} must be a table")
    return value


def _required(table: Mapping[str, object], key: str, where: str) -> object:
    if key not in table:
        raise FeeProfileError(f"{where}: missing key {key!r}")
    return table[key]


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FeeProfileError(f"{where} must be a non-empty string")
    return value


def _flag(table: Mapping[str, object], key: str, where: str, required: bool = False) -> bool:
    value = _required(table, key, where) if required else table.get(key, False)
    if not isinstance(value, bool):
        raise FeeProfileError(f"{where}.{key} must be true or false, not {value!r}")
    return value


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FeeProfileError(f"{where} must be an integer, not {value!r}")
    return value


def _optional_int(value: object, where: str) -> int | None:
    return None if value is None else _int(value, where)


def _non_negative_int(
    table: Mapping[str, object], key: str, where: str, default: int | None = None
) -> int:
    if default is not None and key not in table:
        return default
    value = _int(_required(table, key, where), f"{where}.{key}")
    if value < 0:
        raise FeeProfileError(f"{where}.{key} must not be negative, not {value}")
    return value


def _decimal(value: object, where: str, allow_float: bool = False) -> Decimal:
    """An exact number from an integer or a decimal string. A float is refused in a profile (it
    has already lost digits); measured results may carry floats, read through their repr."""
    if isinstance(value, float):
        if not allow_float:
            raise FeeProfileError(f'{where}: write {value!r} as a string, such as "{value}"')
        value = repr(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FeeProfileError(f"{where} must be a number or a decimal string, not {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise FeeProfileError(f"{where} is not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise FeeProfileError(f"{where} must be finite, not {value!r}")
    return number


def _positive(table: Mapping[str, object], key: str, where: str) -> Decimal:
    value = _decimal(_required(table, key, where), f"{where}.{key}")
    if value <= 0:
        raise FeeProfileError(f"{where}.{key} must be positive, not {value}")
    return value


def _money(value: object, where: str) -> int:
    """A fee in currency units with at most 6 decimals, as exact base units."""
    amount = _decimal(value, where)
    try:
        base_units = dollars_to_base_units(amount)
    except ValueError as error:
        raise FeeProfileError(f"{where}: {error}") from None
    if base_units < 0:
        raise FeeProfileError(f"{where} must not be negative, not {amount}")
    return base_units


def _settlement_mode(value: str, where: str) -> SettlementMode:
    try:
        return SettlementMode(value)
    except ValueError:
        known = ", ".join(mode.value for mode in SettlementMode)
        raise FeeProfileError(f"{where}: unknown mode {value!r}; known: {known}") from None

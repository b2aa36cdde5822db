"""The ``auto`` settlement policy: the cheapest mode that settles a payment within a latency bound.

For one payer and payee pair that pays ``pair_payments_per_hour`` and needs each payment settled
within ``latency_bound_s``, every mode is priced under one chain's fee profile:

- direct and authorization: one transaction per payment, settled in one block;
- batch: one transaction per batching interval (the bound less a block), carrying the pair's
  payments of that interval, at most the settler's batch size;
- channel: one claim per claim interval (the bound less a block) covering the pair's payments of
  that interval, plus the channel's opening shared by its payments over ``funding_lifetime_s``;
- net: one window per window interval (the bound less a block); each of the pair's two accounts
  is paid for once per window, shared by the pair's payments in it, plus the payer's deposit
  shared over ``funding_lifetime_s``.

Assumptions, stated because they all err against the interval modes: the pair's payments alone
share each transaction (in a busy service other pairs share its fixed cost), and an account's
payments in a window are only this pair's (its other pairs would share the account's cost too).

A mode whose latency exceeds the bound is rejected; the cheapest of the rest is chosen, ties
broken by ``MODE_ORDER``. The choice is deterministic: the same inputs give the same choice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

from settlement.domain.fees import (
    SECONDS_PER_HOUR,
    EvmProfile,
    ModeCatalog,
    ModeInputs,
    ModeShape,
    NotPossible,
    PaymentPrice,
    RailProfile,
    RailQuote,
    format_share,
    format_usd,
    load_mode_catalog,
    price_mode,
    price_rail,
    require_payment_amount,
    round_significant,
)
from settlement.domain.money import format_dollars
from settlement.domain.payments import SettlementMode
from settlement.errors import PolicyInputError

# Ties go to the simpler mode: fewer moving parts, no escrow to fund.
MODE_ORDER: Final = (
    SettlementMode.DIRECT,
    SettlementMode.AUTHORIZATION,
    SettlementMode.BATCH,
    SettlementMode.CHANNEL,
    SettlementMode.NET,
)
DEFAULT_FUNDING_LIFETIME_S: Final = Decimal(24 * 3_600)
MAX_PAIR_PAYMENTS_PER_HOUR: Final = Decimal(3_600_000)  # a thousand a second
MAX_LATENCY_BOUND_S: Final = Decimal(30 * 24 * 3_600)
MAX_FUNDING_LIFETIME_S: Final = Decimal(366 * 24 * 3_600)

logger = logging.getLogger("settlement.policy")


@dataclass(frozen=True)
class PolicyRequest:
    """One pair's payment pattern and the latency its payments must settle within."""

    amount_base_units: int
    pair_payments_per_hour: Decimal
    latency_bound_s: Decimal
    funding_lifetime_s: Decimal = DEFAULT_FUNDING_LIFETIME_S

    def __post_init__(self) -> None:
        try:
            require_payment_amount(self.amount_base_units)
        except ValueError as error:
            raise PolicyInputError(str(error)) from None
        _require_within(
            "pair_payments_per_hour", self.pair_payments_per_hour, MAX_PAIR_PAYMENTS_PER_HOUR
        )
        _require_within("latency_bound_s", self.latency_bound_s, MAX_LATENCY_BOUND_S)
        _require_within("funding_lifetime_s", self.funding_lifetime_s, MAX_FUNDING_LIFETIME_S)

    def payments_in(self, seconds: Decimal) -> Decimal:
        """The pair's payments in ``seconds``, at least one: a transaction that settles anything
        of the pair's settles at least one of its payments."""
        return max(Decimal(1), self.pair_payments_per_hour * seconds / SECONDS_PER_HOUR)


@dataclass(frozen=True)
class Candidate:
    """One mode's plan for the pair: its cost and latency, or why it cannot meet the bound."""

    mode: SettlementMode
    latency_s: Decimal | None
    payments_per_transaction: Decimal | None
    inputs: ModeInputs | None
    price: PaymentPrice | None
    rejection: str | None = None

    @property
    def feasible(self) -> bool:
        return self.price is not None

    @property
    def verdict(self) -> str:
        """``chosen``, or the rejection's gist (``costs more``, ``exceeds the latency bound``)."""
        return "chosen" if self.rejection is None else self.rejection.split(":")[0]

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode.value,
            "feasible": self.feasible,
            "latency_s": _text(self.latency_s),
            "payments_per_transaction": _text(self.payments_per_transaction),
            "gas_per_payment": _text(self.inputs.gas_per_payment if self.inputs else None),
            "l1_bytes_per_payment": _text(
                self.inputs.l1_bytes_per_payment if self.inputs else None
            ),
            "usd_per_payment": _text(self.price.usd_per_payment if self.price else None),
            "share_of_value": _text(self.price.share_of_value if self.price else None),
            "verdict": self.verdict,
            "rejection": self.rejection,
        }


@dataclass(frozen=True)
class PolicyChoice:
    """The chosen mode, what it costs and how soon it settles, and every candidate's verdict."""

    profile: str
    request: PolicyRequest
    mode: SettlementMode
    usd_per_payment: Decimal
    latency_s: Decimal
    candidates: tuple[Candidate, ...]
    # Each rail beside the chain, with its quote for the payment (a price, or why not).
    rails: tuple[tuple[RailProfile, RailQuote], ...]
    explanation: str

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready values (decimals as exact strings) for reports and the API."""
        return {
            "profile": self.profile,
            "amount_base_units": self.request.amount_base_units,
            "pair_payments_per_hour": str(self.request.pair_payments_per_hour),
            "latency_bound_s": str(self.request.latency_bound_s),
            "funding_lifetime_s": str(self.request.funding_lifetime_s),
            "mode": self.mode.value,
            "usd_per_payment": str(self.usd_per_payment),
            "latency_s": str(self.latency_s),
            "candidates": [candidate.as_dict() for candidate in self.candidates],
            "rails": [_rail_dict(rail, quote) for rail, quote in self.rails],
            "explanation": self.explanation,
        }


def choose_mode(
    profile: EvmProfile,
    amount_base_units: int,
    pair_payments_per_hour: Decimal,
    latency_bound_s: Decimal,
    *,
    funding_lifetime_s: Decimal = DEFAULT_FUNDING_LIFETIME_S,
    rails: Sequence[RailProfile] = (),
    catalog: ModeCatalog | None = None,
) -> PolicyChoice:
    """The cheapest mode on ``profile``'s chain that settles within ``latency_bound_s``.

    ``rails`` are priced beside it for the explanation; ``catalog`` defaults to the packaged
    mode cost shapes. Raises ``PolicyInputError`` for inputs out of range, or when even one block
    is longer than the bound.
    """
    request = PolicyRequest(
        amount_base_units, pair_payments_per_hour, latency_bound_s, funding_lifetime_s
    )
    catalog = catalog or load_mode_catalog()
    planned = [_plan(catalog.shape(mode), profile, request) for mode in MODE_ORDER]
    feasible = [candidate for candidate in planned if candidate.price is not None]
    if not feasible:
        raise PolicyInputError(
            f"no mode settles within {latency_bound_s} s on {profile.name}: one block takes "
            f"{profile.block_time_s} s"
        )
    chosen = min(feasible, key=_cost_then_order)
    candidates = tuple(_with_rejection(candidate, chosen) for candidate in planned)
    rail_prices = tuple((rail, price_rail(rail, amount_base_units)) for rail in rails)
    choice = PolicyChoice(
        profile=profile.name,
        request=request,
        mode=chosen.mode,
        usd_per_payment=_price(chosen).usd_per_payment,
        latency_s=_latency(chosen),
        candidates=candidates,
        rails=rail_prices,
        explanation=_explain(
            profile, request, chosen, candidates, [quote for _, quote in rail_prices]
        ),
    )
    logger.info(
        "policy profile=%s amount_base_units=%d pair_payments_per_hour=%s latency_bound_s=%s "
        "funding_lifetime_s=%s -> mode=%s usd_per_payment=%s latency_s=%s",
        profile.name,
        amount_base_units,
        pair_payments_per_hour,
        latency_bound_s,
        funding_lifetime_s,
        choice.mode.value,
        choice.usd_per_payment,
        choice.latency_s,
    )
    return choice


def _plan(shape: ModeShape, profile: EvmProfile, request: PolicyRequest) -> Candidate:
    block_s = profile.block_time_s
    if not shape.settles_on_interval:
        if request.latency_bound_s < block_s:
            return _rejected(shape.mode, f"needs one block ({block_s} s)")
        return _priced(shape, profile, request, Decimal(1), block_s)
    interval_s = request.latency_bound_s - block_s
    if interval_s <= 0:
        return _rejected(shape.mode, f"needs an interval plus one block, more than {block_s} s")
    per_transaction = request.payments_in(interval_s)
    limit = shape.max_payments_per_transaction
    if limit is not None and per_transaction > limit:
        # A full transaction goes out before the interval ends, which shortens the latency.
        per_transaction = Decimal(limit)
        interval_s = per_transaction * SECONDS_PER_HOUR / request.pair_payments_per_hour
    return _priced(shape, profile, request, per_transaction, interval_s + block_s)


def _priced(
    shape: ModeShape,
    profile: EvmProfile,
    request: PolicyRequest,
    per_transaction: Decimal,
    latency_s: Decimal,
) -> Candidate:
    inputs = shape.for_pair(per_transaction, request.payments_in(request.funding_lifetime_s))
    price = price_mode(profile, inputs, request.amount_base_units)
    return Candidate(shape.mode, latency_s, per_transaction, inputs, price)


def _rejected(mode: SettlementMode, need: str) -> Candidate:
    return Candidate(mode, None, None, None, None, f"exceeds the latency bound: {need}")


def _with_rejection(candidate: Candidate, chosen: Candidate) -> Candidate:
    if candidate.price is None or candidate is chosen:
        return candidate
    chosen_usd = _price(chosen).usd_per_payment
    if candidate.price.usd_per_payment == chosen_usd:
        reason = f"costs the same: {chosen.mode.value} comes first in the mode order"
    else:
        reason = (
            f"costs more: {format_usd(candidate.price.usd_per_payment)} per payment against "
            f"{format_usd(chosen_usd)} for {chosen.mode.value}"
        )
    return replace(candidate, rejection=reason)


def _cost_then_order(candidate: Candidate) -> tuple[Decimal, int]:
    return _price(candidate).usd_per_payment, MODE_ORDER.index(candidate.mode)


def _explain(
    profile: EvmProfile,
    request: PolicyRequest,
    chosen: Candidate,
    candidates: Sequence[Candidate],
    rails: Sequence[RailQuote],
) -> str:
    sentences = [_chosen_sentence(profile, request, chosen)]
    rejected = [
        f"{candidate.mode.value} ({candidate.rejection})"
        for candidate in candidates
        if candidate.rejection is not None
    ]
    if rejected:
        sentences.append("Rejected: " + "; ".join(rejected) + ".")
    sentences.append(
        "The figures assume the pair's payments alone share each transaction and stand in for "
        "each account's payments in a net window, a conservative lower bound: a busier service "
        "pays less per payment in batch, channel and net."
    )
    if rails:
        costs = [f"{rail.label} {_quote_text(rail)}" for rail in rails]
        sentences.append("The same payment on traditional rails: " + "; ".join(costs) + ".")
    return " ".join(sentences)


def _chosen_sentence(profile: EvmProfile, request: PolicyRequest, chosen: Candidate) -> str:
    per_transaction = chosen.payments_per_transaction or Decimal(1)
    carrying = (
        "one transaction per payment"
        if per_transaction == 1
        else f"about {round_significant(per_transaction)} of the pair's payments per transaction"
    )
    return (
        f"For {format_dollars(request.amount_base_units)} payments between a pair paying "
        f"{request.pair_payments_per_hour} times an hour, each settled within "
        f"{request.latency_bound_s} s on {profile.name}, {chosen.mode.value} costs "
        f"{_cost_and_share(_price(chosen))} and settles within "
        f"{round_significant(_latency(chosen))} s, {carrying}."
    )


def _cost_and_share(price: PaymentPrice) -> str:
    return f"{format_usd(price.usd_per_payment)} ({format_share(price.share_of_value)} of value)"


def _quote_text(quote: RailQuote) -> str:
    if isinstance(quote, NotPossible):
        return f"not possible ({quote.reason})"
    return _cost_and_share(quote)


def _rail_dict(rail: RailProfile, quote: RailQuote) -> dict[str, object]:
    """A rail's quote as JSON: no price for a payment it cannot take, and the reason instead."""
    break_even = rail.break_even_usd()
    price = quote if isinstance(quote, PaymentPrice) else None
    return {
        "rail": rail.name,
        "usd_per_payment": None if price is None else str(price.usd_per_payment),
        "share_of_value": None if price is None else str(price.share_of_value),
        "not_possible": quote.reason if isinstance(quote, NotPossible) else None,
        "break_even_usd": None if break_even is None else str(break_even),
        "minimum_charge_usd": str(rail.minimum_usd),
        "settlement_latency_s": str(rail.settlement_latency_s),
        "availability": rail.availability.value,
    }


def _price(candidate: Candidate) -> PaymentPrice:
    assert candidate.price is not None, "only a feasible candidate has a price"
    return candidate.price


def _latency(candidate: Candidate) -> Decimal:
    assert candidate.latency_s is not None, "only a feasible candidate has a latency"
    return candidate.latency_s


def _require_within(name: str, value: Decimal, maximum: Decimal) -> None:
    if not value.is_finite() or not 0 < value <= maximum:
        raise PolicyInputError(f"{name} must be above 0 and at most {maximum}, not {value}")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)

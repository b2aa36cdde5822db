"""The answer a run's report opens with: which ways can settle this economy's payments.

A way is a chain mode on one fee profile, or a traditional rail. It settles the run's payments
when all of these hold:

- it can take every payment (a rail takes nothing below its minimum charge);
- the total cost of all the run's payments settled that way is at most 1% of their total value
  (a chain mode's cost per payment is flat; a rail's is priced payment by payment, from the
  run's real distribution of amounts);
- it settles within the run's latency need;
- it settles at the hours the economy pays: robots pay around the clock, so a rail that moves
  money on banking days only cannot keep up.

Every figure is exact (``Decimal`` from integers and decimal strings); the reasons a way fails
are plain sentences a reader can check against the fee profiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Final

import numpy as np

from settlement.domain.fees import (
    BASE_UNITS_PER_CURRENCY_UNIT,
    BREAK_EVEN_SHARE,
    Availability,
    ModeInputs,
    RailProfile,
    format_duration,
    format_share,
    format_usd,
    round_significant,
)
from settlement.domain.money import format_dollars
from settlement.domain.policy import PolicyChoice

CHAIN: Final = "chain"
RAIL: Final = "rail"
# A sum of amounts must stay exact in 64-bit integers; an economy's value is far below this.
MAX_TALLY_BASE_UNITS: Final = 2**62


class AmountTally:
    """A run's payment amounts, sorted once, answering how many payments (and what value) fall
    in a range of sizes without touching them one by one."""

    def __init__(self, amounts_base_units: Sequence[int] | np.ndarray) -> None:
        self._sorted = np.sort(np.asarray(amounts_base_units, dtype=np.int64))
        assert self._sorted.size == 0 or self._sorted[0] > 0, "a payment amount is positive"
        self._running = np.concatenate(([0], np.cumsum(self._sorted, dtype=np.int64)))
        assert int(self._running[-1]) < MAX_TALLY_BASE_UNITS, "the economy's value overflows"

    @classmethod
    def uniform(cls, payments: int, amount_base_units: int) -> AmountTally:
        """Every payment at one amount: the run's mean, when its amounts were not kept."""
        return cls(np.full(payments, amount_base_units, dtype=np.int64))

    @property
    def payments(self) -> int:
        return int(self._sorted.size)

    @property
    def value_base_units(self) -> int:
        return int(self._running[-1])

    def between(self, low_base_units: int, high_base_units: int | None) -> tuple[int, int]:
        """Payments with ``low <= amount < high`` (no upper bound for None): count and value."""
        start = int(np.searchsorted(self._sorted, low_base_units, side="left"))
        end = (
            self.payments
            if high_base_units is None
            else int(np.searchsorted(self._sorted, high_base_units, side="left"))
        )
        end = max(start, end)
        return end - start, int(self._running[end] - self._running[start])


@dataclass(frozen=True)
class Need:
    """What the run asks of a way: a latency bound, the hours it pays at, a share of value."""

    latency_s: Decimal
    availability: Availability = Availability.ALWAYS
    share: Decimal = BREAK_EVEN_SHARE


@dataclass(frozen=True)
class ChainWay:
    """A chain mode on a profile: a flat cost per payment, whatever its size."""

    mode: str
    profile: str
    usd_per_payment: Decimal | None
    latency_s: Decimal | None
    energy_wh_per_payment: Decimal | None
    # The gas and bytes the cost came from, for the sensitivity sweep; None when not known.
    inputs: ModeInputs | None = None
    # Why the mode has no cost, when it has none (the policy rejected it for the bound).
    rejection: str | None = None


@dataclass(frozen=True)
class WayVerdict:
    """Whether one way settles the run's payments, and the figures that decide it."""

    way: str
    kind: str
    settles: bool
    reasons: tuple[str, ...]
    share_of_value: Decimal | None
    smallest_payment_usd: Decimal | None
    latency_s: Decimal | None
    availability: Availability
    payments_not_possible: int
    energy_wh_per_payment: Decimal | None

    def as_dict(self) -> dict[str, object]:
        return {
            "way": self.way,
            "kind": self.kind,
            "settles": self.settles,
            "reasons": list(self.reasons),
            "share_of_value": _float(self.share_of_value),
            "smallest_payment_usd": _float(self.smallest_payment_usd),
            "latency_s": _float(self.latency_s),
            "availability": self.availability.value,
            "payments_not_possible": self.payments_not_possible,
            "energy_wh_per_payment": _float(self.energy_wh_per_payment),
        }


# ---------------------------------------------------------------- chain modes


def judge_chain_way(way: ChainWay, tally: AmountTally, need: Need) -> WayVerdict:
    """A chain mode's verdict: its flat cost times the run's payments, over their value."""
    label = f"{way.mode} on {way.profile}"
    if way.usd_per_payment is None:
        reason = way.rejection or "has no cost for this run"
        return _verdict(label, CHAIN, (reason,), None, None, way, Availability.ALWAYS, 0)
    value_usd = _usd(tally.value_base_units)
    share = way.usd_per_payment * tally.payments / value_usd if value_usd else None
    reasons = [*_cost_reasons(share, need), *_latency_reasons(way.latency_s, need)]
    smallest = way.usd_per_payment / need.share
    return _verdict(label, CHAIN, tuple(reasons), share, smallest, way, Availability.ALWAYS, 0)


# ---------------------------------------------------------------- rails


@dataclass(frozen=True)
class RailTotals:
    """A rail's cost of the run's payments it can take, and what it cannot take."""

    payments_taken: int
    value_taken_base_units: int
    cost_usd: Decimal
    payments_refused: int
    value_refused_base_units: int


def rail_totals(rail: RailProfile, tally: AmountTally) -> RailTotals:
    """Every payment of ``tally`` priced on ``rail``: those below its minimum are refused, those
    above the cap's breakpoint pay the cap, the rest ``fixed + rate * amount``."""
    minimum = _base_units_ceiling(rail.minimum_usd)
    refused, refused_value = tally.between(1, minimum)
    breakpoint = _cap_breakpoint_base_units(rail)
    below, below_value = tally.between(minimum, breakpoint)
    cost = below * rail.fixed_usd + rail.rate * _usd(below_value)
    capped, capped_value = (0, 0)
    if breakpoint is not None:
        capped, capped_value = tally.between(max(minimum, breakpoint), None)
        cost += capped * _cap(rail)
    return RailTotals(
        payments_taken=below + capped,
        value_taken_base_units=below_value + capped_value,
        cost_usd=cost,
        payments_refused=refused,
        value_refused_base_units=refused_value,
    )


def judge_rail(rail: RailProfile, tally: AmountTally, need: Need) -> WayVerdict:
    totals = rail_totals(rail, tally)
    taken_usd = _usd(totals.value_taken_base_units)
    share = totals.cost_usd / taken_usd if totals.payments_taken else None
    reasons = [
        *_minimum_reasons(rail, totals, tally),
        *_cost_reasons(share, need),
        *_latency_reasons(rail.settlement_latency_s, need),
    ]
    if need.availability is Availability.ALWAYS and rail.availability is not Availability.ALWAYS:
        reasons.append("settles on banking days only, and the robots pay around the clock")
    return WayVerdict(
        way=rail.name,
        kind=RAIL,
        settles=not reasons,
        reasons=tuple(reasons),
        share_of_value=share,
        smallest_payment_usd=rail.break_even_usd(need.share),
        latency_s=rail.settlement_latency_s,
        availability=rail.availability,
        payments_not_possible=totals.payments_refused,
        energy_wh_per_payment=None,
    )


def _minimum_reasons(rail: RailProfile, totals: RailTotals, tally: AmountTally) -> list[str]:
    if totals.payments_refused == 0:
        return []
    minimum = format_usd(rail.minimum_usd)
    if totals.payments_taken == 0:
        return [f"every payment is below its {minimum} minimum charge"]
    share = Decimal(totals.value_refused_base_units) / tally.value_base_units
    return [
        f"{totals.payments_refused:,} of {tally.payments:,} payments ({format_share(share)} of "
        f"the value) are below its {minimum} minimum charge"
    ]


def _cap_breakpoint_base_units(rail: RailProfile) -> int | None:
    """The smallest amount at which the cap is reached, or None when there is no cap."""
    cap = rail.cap_usd
    if cap is None:
        return None
    if cap <= rail.fixed_usd:
        return 0
    if rail.rate == 0:
        return None  # the fixed fee never reaches the cap
    return _base_units_ceiling((cap - rail.fixed_usd) / rail.rate)


def _cap(rail: RailProfile) -> Decimal:
    assert rail.cap_usd is not None, "only a capped rail has a breakpoint"
    return rail.cap_usd


# ---------------------------------------------------------------- the whole answer


@dataclass(frozen=True)
class Answer:
    need: Need
    payments: int
    value_base_units: int
    # "measured" in this run, "whole run" counted from every payment of a run settled on a
    # sample or not settled, or "modelled" by the cost model.
    chain_costs: str
    energy_per_good_wh: Decimal | None
    ways: tuple[WayVerdict, ...]
    auto: PolicyChoice | None
    sentences: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "share_line": float(self.need.share),
            "latency_need_s": float(self.need.latency_s),
            "availability_need": self.need.availability.value,
            "payments": self.payments,
            "value_usd": float(_usd(self.value_base_units)),
            "chain_costs": self.chain_costs,
            "energy_per_good_wh": _float(self.energy_per_good_wh),
            "ways": [way.as_dict() for way in self.ways],
            "auto": None if self.auto is None else _auto_dict(self.auto),
            "sentences": list(self.sentences),
        }


def answer(
    chain_ways: Sequence[ChainWay],
    rails: Sequence[RailProfile],
    tally: AmountTally,
    need: Need,
    *,
    chain_costs: str,
    energy_per_good_wh: Decimal | None,
    auto: PolicyChoice | None,
) -> Answer:
    """Every way's verdict on the run's payments, and the sentences that say it plainly."""
    verdicts = tuple(
        [judge_chain_way(way, tally, need) for way in chain_ways]
        + [judge_rail(rail, tally, need) for rail in rails]
    )
    sentences = (
        _question_sentence(tally, need),
        _verdict_sentence(verdicts, need),
        *_rails_sentence(verdicts),
        *_energy_sentence(verdicts, energy_per_good_wh),
        *_auto_sentence(auto, tally),
    )
    return Answer(
        need, tally.payments, tally.value_base_units, chain_costs, energy_per_good_wh,
        verdicts, auto, sentences,
    )  # fmt: skip


def _question_sentence(tally: AmountTally, need: Need) -> str:
    mean = tally.value_base_units // max(tally.payments, 1)
    hours = "at any hour" if need.availability is Availability.ALWAYS else "in banking hours"
    return (
        f"This run's economy made {tally.payments:,} payments worth "
        f"{_total_dollars(tally.value_base_units)} (about {format_dollars(mean)} each), to be "
        f"settled within {format_duration(need.latency_s)}, {hours}, for at most "
        f"{format_share(need.share)} of their value."
    )


def _verdict_sentence(verdicts: Sequence[WayVerdict], need: Need) -> str:
    settling = [verdict for verdict in verdicts if verdict.settles]
    if settling:
        ways = "; ".join(f"{v.way} ({_share_text(v.share_of_value)} of value)" for v in settling)
        return f"These ways settle them within that: {ways}."
    priced = [v for v in verdicts if v.share_of_value is not None]
    if not priced:
        return "No way settles them."
    cheapest = min(priced, key=lambda verdict: _decimal(verdict.share_of_value))
    return (
        f"No way settles them at {format_share(need.share)} or less: the cheapest, "
        f"{cheapest.way}, consumes {_share_text(cheapest.share_of_value)} of their value."
    )


def _rails_sentence(verdicts: Sequence[WayVerdict]) -> list[str]:
    failing = [v for v in verdicts if v.kind == RAIL and not v.settles]
    if not failing:
        return []
    reasons = "; ".join(f"{verdict.way}: {verdict.reasons[0]}" for verdict in failing)
    return [f"Traditional rails that cannot: {reasons}."]


def _energy_sentence(
    verdicts: Sequence[WayVerdict], energy_per_good_wh: Decimal | None
) -> list[str]:
    measured = [v for v in verdicts if v.energy_wh_per_payment is not None]
    if not measured or energy_per_good_wh is None:
        return []
    least = min(measured, key=lambda verdict: _decimal(verdict.energy_wh_per_payment))
    most = max(measured, key=lambda verdict: _decimal(verdict.energy_wh_per_payment))
    span = f"{round_significant(_decimal(least.energy_wh_per_payment))} Wh of service CPU"
    span += f" ({least.way})"
    if most is not least:
        span += f" to {round_significant(_decimal(most.energy_wh_per_payment))} Wh ({most.way})"
    return [
        f"Settling one payment takes {span}, beside the "
        f"{round_significant(energy_per_good_wh)} Wh the robots spend to make one good."
    ]


def _auto_sentence(auto: PolicyChoice | None, tally: AmountTally) -> list[str]:
    if auto is None:
        return []
    by_verdict: dict[str, list[str]] = {}
    for candidate in auto.candidates:
        if candidate.mode is not auto.mode:
            by_verdict.setdefault(candidate.verdict, []).append(candidate.mode.value)
    verdicts = "; ".join(f"{', '.join(modes)}: {verdict}" for verdict, modes in by_verdict.items())
    amount = auto.request.amount_base_units
    share = auto.usd_per_payment * BASE_UNITS_PER_CURRENCY_UNIT / amount
    return [
        f"The auto policy picks {auto.mode.value} on {auto.profile} for the mean payment of "
        f"{format_dollars(amount)} at {round_significant(auto.request.pair_payments_per_hour)} "
        f"payments per pair an hour: {format_usd(auto.usd_per_payment)} a payment "
        f"({format_share(share)} of it), settled within {format_duration(auto.latency_s)}, the "
        f"cheapest mode its cost model finds within {format_duration(auto.request.latency_bound_s)}"
        f" ({verdicts}). The model lets only the pair's own payments share a transaction, so its "
        "figures can differ from the costs this run measured."
    ]


def _auto_dict(choice: PolicyChoice) -> dict[str, object]:
    return {
        "profile": choice.profile,
        "mode": choice.mode.value,
        "usd_per_payment": float(choice.usd_per_payment),
        "latency_s": float(choice.latency_s),
        "candidates": {c.mode.value: c.verdict for c in choice.candidates},
        "explanation": choice.explanation,
    }


# ---------------------------------------------------------------- small pieces


def _verdict(
    label: str,
    kind: str,
    reasons: tuple[str, ...],
    share: Decimal | None,
    smallest: Decimal | None,
    way: ChainWay,
    availability: Availability,
    refused: int,
) -> WayVerdict:
    return WayVerdict(
        label, kind, not reasons, reasons, share, smallest, way.latency_s, availability, refused,
        way.energy_wh_per_payment,
    )  # fmt: skip


def _cost_reasons(share: Decimal | None, need: Need) -> list[str]:
    if share is None or share <= need.share:
        return []
    return [f"costs {format_share(share)} of the value"]


def _latency_reasons(latency_s: Decimal | None, need: Need) -> list[str]:
    if latency_s is None or latency_s <= need.latency_s:
        return []
    return [f"settles in {format_duration(latency_s)}, more than {format_duration(need.latency_s)}"]


def _share_text(share: Decimal | None) -> str:
    return "n/a" if share is None else format_share(share)


def _base_units_ceiling(usd: Decimal) -> int:
    return int((usd * BASE_UNITS_PER_CURRENCY_UNIT).to_integral_value(rounding=ROUND_CEILING))


def _total_dollars(base_units: int) -> str:
    """A total of $1,000 or more to the cent with thousands separated ($871,031.03); a smaller
    one with every digit."""
    if base_units < 1_000 * BASE_UNITS_PER_CURRENCY_UNIT:
        return format_dollars(base_units)
    return f"${Decimal(base_units) / BASE_UNITS_PER_CURRENCY_UNIT:,.2f}"


def _usd(base_units: int) -> Decimal:
    return Decimal(base_units) / BASE_UNITS_PER_CURRENCY_UNIT


def _decimal(value: Decimal | None) -> Decimal:
    assert value is not None, "only a figure that was computed is compared"
    return value


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)

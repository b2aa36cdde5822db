"""What settling every payment of a run would cost in each chain mode, counted from the payments
and priced from the modes' measured cost shapes (``settlement/data/mode_costs.toml``).

A large run (the billionth scenario's day: 46.6 million payments among 451,000 participants) is
more than one machine's chain can settle, so the fleet settles a sample. Its whole cost still
follows from a few counts of each mode's work, which the payments themselves decide. Every
payment made in an interval of ``interval_steps`` steps is settled at the interval's end, cut
into transactions the way the service's settlers cut them:

- direct and authorization: one transaction per payment;
- batch: the interval's payments grouped by payer (payers in the order of their first payment,
  each payer's in order, as the batch settler plans a round), up to
  ``max_payments_per_transaction`` to a transaction and as many as keep its gas within
  ``MAX_TRANSACTION_GAS``, each transaction paying once for every account its payments touch
  and once more for each payer's nonce word;
- channel: one claim per payer and payee pair that paid in the interval, up to
  ``MAX_CLAIMS_PER_TRANSACTION`` claims to a transaction; each pair's channel opened once;
- net: windows filled in payment order until one more payment would take a window past
  ``MAX_WINDOW_ACCOUNTS`` accounts (its payments' net changes must sum to zero, so a payment
  never splits across windows), or its gas past the cap, each window paying once for each
  account in it; each payer's deposit made once.

The counts are priced by the mode's shape, ``gas = transactions * gas_per_transaction +
payments * gas_per_payment + accounts * gas_per_account + payers * gas_per_payer + claims *
gas_per_claim + fundings * setup_gas_per_pair`` (bytes alike), and a chain profile's fee,
``(gas * gas_price + bytes * l1_data_fee_per_byte) * eth_usd / 10**18``, all in integers and
Decimals.

The columns are read in slices of at most ``SLICE_PAYMENTS`` and never copied whole, so a day of
tens of millions of payments is counted in memory proportional to a slice, the intervals'
distinct pairs and the participants.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

from settlement.domain.fees import (
    BASE_UNITS_PER_CURRENCY_UNIT,
    CHAIN_MODES,
    WEI_PER_ETH_DECIMAL,
    EvmProfile,
    ModeCatalog,
    ModeShape,
)
from settlement.domain.payments import SettlementMode

IntArray = npt.NDArray[np.int64]

# The settlers' limits (settlement.settlers.channel and .net, checked equal by the tests): the
# domain cannot import the settlers, which sit above it.
MAX_CLAIMS_PER_TRANSACTION: Final = 256
MAX_WINDOW_ACCOUNTS: Final = 600
# EIP-7825 caps a transaction's gas at 2**24 on post-Osaka chains; a batch of fresh accounts
# reaches it before its payment limit.
MAX_TRANSACTION_GAS: Final = 2**24
# Payments a transaction without a payment or account limit is first looked for in.
FIRST_LOOK_PAYMENTS: Final = 1_024
# Payments read at once: bounds the working memory of a count, whatever the run's size.
SLICE_PAYMENTS: Final = 1 << 20
MAX_INTERVAL_STEPS: Final = 100_000
# A pair is keyed payer * participants + payee in an int64, so participants**2 must fit.
MAX_PARTICIPANTS: Final = 2**31


@dataclass(frozen=True)
class RunPayments:
    """A run's payments as columns in the order they were made: the step of each, who paid
    whom, how much. ``steps`` never decreases."""

    steps: IntArray
    payers: IntArray
    payees: IntArray
    amounts_base_units: IntArray
    participant_count: int

    def __post_init__(self) -> None:
        columns = (self.steps, self.payers, self.payees, self.amounts_base_units)
        if len({len(column) for column in columns}) != 1:
            raise ValueError("the payments' columns must all have the same length")
        if not 0 < self.participant_count <= MAX_PARTICIPANTS:
            raise ValueError(
                f"a run has 1 to {MAX_PARTICIPANTS:,} participants, not {self.participant_count:,}"
            )
        if len(self.steps) == 0:
            return
        if min(self.payers.min(), self.payees.min()) < 0 or (
            max(self.payers.max(), self.payees.max()) >= self.participant_count
        ):
            raise ValueError("a payment names a participant outside the run")
        if np.any(self.steps[1:] < self.steps[:-1]):
            raise ValueError("the payments must be in the order they were made (steps ascending)")

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class SettlementWork:
    """What settling the run takes in one mode: the counts its cost shape prices."""

    mode: SettlementMode
    payments: int
    transactions: int
    # Account entries paid for: an account once in each transaction (or window) it is in.
    accounts: int
    claims: int
    # Channel openings, or net deposits: once per pair, or per payer, for the run.
    fundings: int
    # Payer entries among the account entries: a payer once in each transaction it pays in.
    payers: int = 0

    def gas(self, shape: ModeShape) -> int:
        return (
            self.transactions * shape.gas_per_transaction
            + self.payments * shape.gas_per_payment
            + self.accounts * shape.gas_per_account
            + self.payers * shape.gas_per_payer
            + self.claims * shape.gas_per_claim
            + self.fundings * shape.setup_gas_per_pair
        )

    def l1_bytes(self, shape: ModeShape) -> int:
        return (
            self.transactions * shape.l1_bytes_per_transaction
            + self.payments * shape.l1_bytes_per_payment
            + self.accounts * shape.l1_bytes_per_account
            + self.claims * shape.l1_bytes_per_claim
            + self.fundings * shape.setup_l1_bytes_per_pair
        )


@dataclass(frozen=True)
class WholeRunCost:
    """One mode's settlement of every payment of the run: its work, gas, bytes and price."""

    work: SettlementWork
    gas: int
    l1_bytes: int
    usd_by_profile: Mapping[str, Decimal]

    def share_of_value(self, profile: str, value_base_units: int) -> Decimal:
        """The settlement's cost over the value the run's payments carried."""
        assert value_base_units > 0, "a run with payments carries value"
        value_usd = Decimal(value_base_units) / BASE_UNITS_PER_CURRENCY_UNIT
        return self.usd_by_profile[profile] / value_usd


def whole_run_costs(
    payments: RunPayments,
    catalog: ModeCatalog,
    profiles: Sequence[EvmProfile],
    interval_steps: int,
) -> list[WholeRunCost]:
    """Every chain mode's cost of settling all of ``payments``, once every ``interval_steps``
    steps, on each of ``profiles``' chains."""
    if not 1 <= interval_steps <= MAX_INTERVAL_STEPS:
        raise ValueError(
            f"a settlement interval is 1 to {MAX_INTERVAL_STEPS:,} steps, not {interval_steps}"
        )
    costs = []
    for mode in CHAIN_MODES:
        shape = catalog.shape(mode)
        work = settlement_work(payments, shape, interval_steps)
        gas, l1_bytes = work.gas(shape), work.l1_bytes(shape)
        usd = {profile.name: fee_usd(profile, gas, l1_bytes) for profile in profiles}
        costs.append(WholeRunCost(work, gas, l1_bytes, usd))
    return costs


def fee_usd(profile: EvmProfile, gas: int, l1_bytes: int) -> Decimal:
    """What ``gas`` and ``l1_bytes`` cost on ``profile``'s chain, at its listed gas price."""
    fee_wei = gas * profile.gas_price_wei + l1_bytes * profile.l1_data_fee_wei_per_byte
    return Decimal(fee_wei) * profile.eth_usd / WEI_PER_ETH_DECIMAL


def settlement_work(payments: RunPayments, shape: ModeShape, interval_steps: int) -> SettlementWork:
    """The counts of ``shape.mode``'s work to settle ``payments`` (see the module's rules)."""
    count = len(payments)
    if not shape.settles_on_interval:
        return SettlementWork(shape.mode, count, count, 0, 0, 0)
    intervals = interval_bounds(payments.steps, interval_steps)
    if shape.mode is SettlementMode.BATCH:
        return _batch_work(payments, intervals, shape)
    if shape.mode is SettlementMode.CHANNEL:
        return _channel_work(payments, intervals)
    if shape.mode is SettlementMode.NET:
        return _net_work(payments, intervals, shape)
    raise AssertionError(f"no counting rule for {shape.mode.value}, which settles on an interval")


def interval_bounds(steps: IntArray, interval_steps: int) -> list[tuple[int, int]]:
    """The [start, end) positions of each non-empty interval's payments, in order."""
    if len(steps) == 0:
        return []
    first, last = int(steps[0]) // interval_steps, int(steps[-1]) // interval_steps
    edges = np.arange(first, last + 2, dtype=np.int64) * interval_steps
    positions = np.searchsorted(steps, edges, side="left").tolist()
    return [(start, end) for start, end in itertools.pairwise(positions) if end > start]


def _batch_work(
    payments: RunPayments, intervals: Sequence[tuple[int, int]], shape: ModeShape
) -> SettlementWork:
    limits = TransactionLimits.of(shape, max_payments=shape.max_payments_per_transaction)
    transactions, accounts, payers = _filled_in_order(payments, intervals, limits, by_payer=True)
    return SettlementWork(
        SettlementMode.BATCH, len(payments), transactions, accounts, claims=0, fundings=0,
        payers=payers,
    )  # fmt: skip


def _channel_work(payments: RunPayments, intervals: Sequence[tuple[int, int]]) -> SettlementWork:
    transactions = claims = 0
    every_pair = _DistinctKeys()
    for start, end in intervals:
        interval_pairs = _DistinctKeys()
        for low, high in _slices(start, end, SLICE_PAYMENTS):
            interval_pairs.add(_pair_keys(payments, low, high))
        pairs = interval_pairs.keys()
        claims += len(pairs)
        transactions += -(-len(pairs) // MAX_CLAIMS_PER_TRANSACTION)
        every_pair.add(pairs)
    return SettlementWork(
        SettlementMode.CHANNEL, len(payments), transactions, accounts=0, claims=claims,
        fundings=len(every_pair.keys()),
    )  # fmt: skip


def _net_work(
    payments: RunPayments, intervals: Sequence[tuple[int, int]], shape: ModeShape
) -> SettlementWork:
    limits = TransactionLimits.of(shape, max_accounts=MAX_WINDOW_ACCOUNTS)
    windows, accounts, _ = _filled_in_order(payments, intervals, limits)
    payers = np.zeros(payments.participant_count, dtype=np.bool_)
    for low, high in _slices(0, len(payments), SLICE_PAYMENTS):
        payers[payments.payers[low:high]] = True
    return SettlementWork(
        SettlementMode.NET, len(payments), windows, accounts, claims=0,
        fundings=int(payers.sum()),
    )  # fmt: skip


@dataclass(frozen=True)
class TransactionLimits:
    """What one batch or net window may hold: at most ``max_payments`` payments, at most
    ``max_accounts`` distinct accounts, and its shape's gas within ``max_gas``."""

    max_payments: int | None
    max_accounts: int | None
    gas_per_transaction: int
    gas_per_payment: int
    gas_per_account: int
    gas_per_payer: int = 0
    max_gas: int = MAX_TRANSACTION_GAS

    @classmethod
    def of(
        cls, shape: ModeShape, max_payments: int | None = None, max_accounts: int | None = None
    ) -> TransactionLimits:
        return cls(
            max_payments,
            max_accounts,
            shape.gas_per_transaction,
            shape.gas_per_payment,
            shape.gas_per_account,
            shape.gas_per_payer,
        )

    def first_look(self) -> int:
        """How many payments to look at first: as many as a transaction may hold, or as many
        as its account limit (a full window of fresh accounts holds half that)."""
        if self.max_payments is not None:
            return self.max_payments
        return self.max_accounts or FIRST_LOOK_PAYMENTS


def _filled_in_order(
    payments: RunPayments,
    intervals: Sequence[tuple[int, int]],
    limits: TransactionLimits,
    by_payer: bool = False,
) -> tuple[int, int, int]:
    """Transactions, account entries and payer entries of every interval's payments, each
    interval filled in order, or, ``by_payer``, grouped by payer first."""
    transactions = accounts = payer_entries = 0
    for start, end in intervals:
        payers, payees = payments.payers[start:end], payments.payees[start:end]
        if by_payer:
            order = grouped_by_payer(payers)
            payers, payees = payers[order], payees[order]
        filled, entries, payer_count = fill_in_order(payers, payees, limits)
        transactions += filled
        accounts += entries
        payer_entries += payer_count
    return transactions, accounts, payer_entries


def grouped_by_payer(payers: IntArray) -> IntArray:
    """The order that puts each payer's payments together, payers in the order of their first
    payment and each payer's payments in their own order (the batch settler's
    ``grouped_by_payer``)."""
    _, first_seen, group = np.unique(payers, return_index=True, return_inverse=True)
    rank_of_group = np.argsort(np.argsort(first_seen, kind="stable"), kind="stable")
    return np.argsort(rank_of_group[group], kind="stable")


def fill_in_order(
    payers: IntArray, payees: IntArray, limits: TransactionLimits
) -> tuple[int, int, int]:
    """How many transactions, and how many account and payer entries in all, the payments fill
    when each transaction takes payments in order until the next would break one of
    ``limits``."""
    transactions = entries = payer_entries = 0
    start = 0
    while start < len(payers):
        fitted, accounts, payer_count = _next_transaction(payers, payees, start, limits)
        assert fitted >= 1, "one payment alone always fits a transaction"
        transactions += 1
        entries += accounts
        payer_entries += payer_count
        start += fitted
    return transactions, entries, payer_entries


def _next_transaction(
    payers: IntArray, payees: IntArray, start: int, limits: TransactionLimits
) -> tuple[int, int, int]:
    """The payments from ``start`` that fit one transaction, its distinct accounts and its
    distinct payers. When every payment looked at fits, and more remain, it looks twice as
    far."""
    look = limits.first_look()
    while True:
        end = min(start + look, len(payers))
        accounts = np.empty(2 * (end - start), dtype=np.int64)
        accounts[0::2], accounts[1::2] = payers[start:end], payees[start:end]
        # Distinct accounts once each payment is in: counted after its payee.
        distinct_after = _distinct_after(accounts)[1::2]
        payers_after = _distinct_after(payers[start:end])
        fitted = _leading_fits(distinct_after, payers_after, limits)
        if fitted < end - start or end == len(payers):
            return fitted, int(distinct_after[fitted - 1]), int(payers_after[fitted - 1])
        look *= 2


def _distinct_after(keys: IntArray) -> IntArray:
    """How many distinct keys there are up to and including each position."""
    _, first_seen = np.unique(keys, return_index=True)
    is_new = np.zeros(len(keys), dtype=np.int64)
    is_new[first_seen] = 1
    return np.cumsum(is_new)


def _leading_fits(
    distinct_after: IntArray, payers_after: IntArray, limits: TransactionLimits
) -> int:
    """How many leading payments fit: every limit only tightens as payments are added, so the
    first payment that breaks one ends the transaction."""
    payments = np.arange(1, len(distinct_after) + 1, dtype=np.int64)
    gas = (
        limits.gas_per_transaction
        + payments * limits.gas_per_payment
        + distinct_after * limits.gas_per_account
        + payers_after * limits.gas_per_payer
    )
    fits = gas <= limits.max_gas
    if limits.max_payments is not None:
        fits &= payments <= limits.max_payments
    if limits.max_accounts is not None:
        fits &= distinct_after <= limits.max_accounts
    return len(fits) if fits.all() else int(np.argmin(fits))


def _pair_keys(payments: RunPayments, low: int, high: int) -> IntArray:
    keys = payments.payers[low:high] * payments.participant_count + payments.payees[low:high]
    return sorted_unique(keys)


def sorted_unique(keys: IntArray) -> IntArray:
    """``keys``' distinct values in ascending order. numpy 2's ``unique`` hashes integer arrays,
    which measured 15 times slower than this sort on a slice of two million keys."""
    ordered: IntArray = np.sort(keys)
    if len(ordered) == 0:
        return ordered
    distinct: IntArray = ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]
    return distinct


def _slices(start: int, end: int, size: int) -> Iterator[tuple[int, int]]:
    for low in range(start, end, size):
        yield low, min(low + size, end)


class _DistinctKeys:
    """A set of int64 keys gathered in sorted, unique arrays and merged only when the pending
    arrays outgrow the merged one, so adding many small arrays stays near linear."""

    def __init__(self) -> None:
        self._merged: IntArray = np.zeros(0, dtype=np.int64)
        self._pending: list[IntArray] = []
        self._pending_size = 0

    def add(self, unique_keys: IntArray) -> None:
        self._pending.append(unique_keys)
        self._pending_size += len(unique_keys)
        if self._pending_size > max(len(self._merged), SLICE_PAYMENTS):
            self._merge()

    def keys(self) -> IntArray:
        self._merge()
        return self._merged

    def _merge(self) -> None:
        if self._pending:
            self._merged = sorted_unique(np.concatenate([self._merged, *self._pending]))
            self._pending, self._pending_size = [], 0

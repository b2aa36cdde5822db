"""Every payment of a run counted into each mode's settlement work and priced from the modes'
cost shapes: hand-made streams with known counts, a plain-Python reference on random streams,
the settlers' own limits, and bad input."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from settlement.domain import whole_run
from settlement.domain.fees import load_fee_book, load_mode_catalog
from settlement.domain.payments import SettlementMode
from settlement.domain.whole_run import (
    MAX_CLAIMS_PER_TRANSACTION,
    MAX_TRANSACTION_GAS,
    MAX_WINDOW_ACCOUNTS,
    RunPayments,
    SettlementWork,
    TransactionLimits,
    fee_usd,
    fill_in_order,
    settlement_work,
    whole_run_costs,
)
from settlement.settlers import batch, channel, net

CATALOG = load_mode_catalog()
BATCH, CHANNEL, NET = (
    CATALOG.shape(SettlementMode.BATCH),
    CATALOG.shape(SettlementMode.CHANNEL),
    CATALOG.shape(SettlementMode.NET),
)


def run_payments(
    steps: list[int], payers: list[int], payees: list[int], participants: int
) -> RunPayments:
    columns = [np.asarray(column, dtype=np.int64) for column in (steps, payers, payees)]
    return RunPayments(*columns, np.full(len(steps), 1_000, dtype=np.int64), participants)


def test_the_counting_rules_use_the_settlers_own_limits() -> None:
    assert MAX_CLAIMS_PER_TRANSACTION == channel.MAX_CLAIMS_PER_TRANSACTION
    assert MAX_WINDOW_ACCOUNTS == net.MAX_WINDOW_ACCOUNTS
    assert MAX_TRANSACTION_GAS == batch.MAX_TRANSACTION_GAS
    # The settler's own limit bounds memory; a batch meets the gas cap first.
    assert BATCH.max_payments_per_transaction is not None
    assert BATCH.max_payments_per_transaction < batch.MAX_BATCH_PAYMENTS


def test_a_batch_holds_whole_payers_up_to_its_limit_and_pays_once_per_account() -> None:
    # 2,500 payments in the first interval from 10 payers, each paying one of 5 payees; 3 more
    # in the next.
    payers = [i % 10 for i in range(2_500)] + [20, 21, 20]
    payees = [10 + i % 5 for i in range(2_500)] + [22, 23, 22]
    payments = run_payments([0] * 2_500 + [60] * 3, payers, payees, participants=24)

    work = settlement_work(payments, BATCH, interval_steps=60)

    # Grouped by payer, 250 payments each: the first transaction holds 2,190 payments of payers
    # 0 to 8 (14 accounts), the second the rest of 8 and all of 9 (4 accounts); the next
    # interval's three payments one more (4 accounts, 2 payers).
    assert work == SettlementWork(SettlementMode.BATCH, 2_503, 3, 14 + 4 + 4, 0, 0, payers=13)
    assert work.gas(BATCH) == 3 * 60_000 + 2_503 * 7_340 + 22 * 6_340 + 13 * 5_970
    assert work.l1_bytes(BATCH) == 3 * 120 + 2_503 * 75 + 22 * 20


def test_grouping_by_payer_keeps_payers_in_first_seen_order_and_each_in_its_own() -> None:
    payers = np.array([5, 3, 5, 7, 3, 5], dtype=np.int64)

    order = whole_run.grouped_by_payer(payers)

    assert order.tolist() == [0, 2, 5, 1, 4, 3]


def test_a_channel_claims_each_pair_once_per_interval_and_opens_once_per_run() -> None:
    # Pairs (0, 1) twice and (2, 1) in the first hour; (0, 1) again in the second.
    payments = run_payments([0, 5, 59, 60], [0, 0, 2, 0], [1, 1, 1, 1], participants=3)

    work = settlement_work(payments, CHANNEL, interval_steps=60)

    assert work == SettlementWork(SettlementMode.CHANNEL, 4, 2, 0, claims=3, fundings=2)
    assert work.gas(CHANNEL) == 2 * 21_400 + 3 * 16_000 + 2 * 94_600


def test_net_windows_close_before_a_payment_would_take_them_past_600_accounts() -> None:
    # 700 payments between fresh accounts: windows of 300, 300 and 100 payments.
    fresh = run_payments([0] * 700, list(range(0, 1_400, 2)), list(range(1, 1_400, 2)), 1_400)
    # 700 payments between the same two accounts: one window of two accounts.
    repeated = run_payments([0] * 700, [0] * 700, [1] * 700, participants=2)

    assert settlement_work(fresh, NET, 60) == SettlementWork(
        SettlementMode.NET, 700, 3, 1_400, claims=0, fundings=700
    )
    assert settlement_work(repeated, NET, 60) == SettlementWork(
        SettlementMode.NET, 700, 1, 2, claims=0, fundings=1
    )


def test_a_batch_of_fresh_accounts_is_cut_at_the_transaction_gas_cap() -> None:
    # Every payment brings a new payer and payee: 60,000 + 643 * (7,340 + 2 * 6,340 + 5,970)
    # gas fits under 2**24, one more payment does not.
    payments = run_payments([0] * 1_000, list(range(0, 2_000, 2)), list(range(1, 2_000, 2)), 2_000)

    work = settlement_work(payments, BATCH, interval_steps=60)

    assert 60_000 + 643 * 25_990 <= MAX_TRANSACTION_GAS < 60_000 + 644 * 25_990
    assert work == SettlementWork(SettlementMode.BATCH, 1_000, 2, 2_000, 0, 0, payers=1_000)


def test_a_window_takes_whole_payments_in_order() -> None:
    # At most four accounts: {0, 1, 2} then (3, 4) would make five, so a second window opens.
    payers = np.array([0, 1, 3, 0], dtype=np.int64)
    payees = np.array([1, 2, 4, 5], dtype=np.int64)
    limits = TransactionLimits(None, 4, gas_per_transaction=0, gas_per_payment=0, gas_per_account=0)

    # Payers 0 and 1 in the first window, 3 and 0 in the second.
    assert fill_in_order(payers, payees, limits) == (2, 3 + 4, 2 + 2)


def reference_work(
    payments: RunPayments, mode: SettlementMode, interval: int, batch: int
) -> tuple[int, int, int, int]:
    """The counting rules written as plain loops over the payments: (transactions, accounts,
    claims, fundings, payers)."""
    intervals: dict[int, list[tuple[int, int]]] = {}
    for step, payer, payee in zip(payments.steps, payments.payers, payments.payees, strict=True):
        intervals.setdefault(int(step) // interval, []).append((int(payer), int(payee)))
    transactions = accounts = claims = payer_entries = 0
    every_pair: set[tuple[int, int]] = set()
    for pairs in intervals.values():
        if mode is SettlementMode.BATCH:
            shape, held, touched, paying = CATALOG.shape(mode), 0, set(), set()
            by_payer: dict[int, list[tuple[int, int]]] = {}
            for pair in pairs:
                by_payer.setdefault(pair[0], []).append(pair)
            for pair in [pair for group in by_payer.values() for pair in group]:
                widened, payers_widened = touched | set(pair), paying | {pair[0]}
                gas = (
                    shape.gas_per_transaction
                    + (held + 1) * shape.gas_per_payment
                    + len(widened) * shape.gas_per_account
                    + len(payers_widened) * shape.gas_per_payer
                )
                if held == batch or gas > MAX_TRANSACTION_GAS:
                    transactions, accounts = transactions + 1, accounts + len(touched)
                    payer_entries += len(paying)
                    held, widened, payers_widened = 0, set(pair), {pair[0]}
                held, touched, paying = held + 1, widened, payers_widened
            transactions, accounts = transactions + 1, accounts + len(touched)
            payer_entries += len(paying)
        elif mode is SettlementMode.CHANNEL:
            distinct = set(pairs)
            claims += len(distinct)
            transactions += math.ceil(len(distinct) / MAX_CLAIMS_PER_TRANSACTION)
            every_pair |= distinct
        else:
            window: set[int] = set()
            for pair in pairs:
                if len(window | set(pair)) > MAX_WINDOW_ACCOUNTS:
                    transactions, accounts, window = transactions + 1, accounts + len(window), set()
                window |= set(pair)
            transactions, accounts = transactions + 1, accounts + len(window)
    fundings = {
        SettlementMode.BATCH: 0,
        SettlementMode.CHANNEL: len(every_pair),
        SettlementMode.NET: len(set(payments.payers.tolist())),
    }[mode]
    return transactions, accounts, claims, fundings, payer_entries


def random_run(seed: int) -> RunPayments:
    generator = np.random.default_rng(seed)
    count, participants = 6_000, 1_500
    payers = generator.integers(0, participants, count)
    # A few busy payees, as farms are: accounts repeat within windows and batches.
    payees = (payers + generator.choice([1, 2, 3, 500], count)) % participants
    steps = np.sort(generator.integers(0, 240, count))
    return RunPayments(steps, payers, payees, np.ones(count, dtype=np.int64), participants)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("interval", [1, 60, 240])
@pytest.mark.parametrize("mode", [SettlementMode.BATCH, SettlementMode.CHANNEL, SettlementMode.NET])
# A batch cut at 70 payments, or (at 5,000) by the gas cap; the slices small, so intervals span
# several.
@pytest.mark.parametrize("batch_limit", [70, 5_000])
def test_the_counts_match_the_rules_written_as_loops(
    seed: int,
    interval: int,
    mode: SettlementMode,
    batch_limit: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payments = random_run(seed)
    shape = replace(CATALOG.shape(mode), max_payments_per_transaction=batch_limit)
    monkeypatch.setattr(whole_run, "SLICE_PAYMENTS", 500)

    work = settlement_work(payments, shape, interval)

    expected = reference_work(payments, mode, interval, batch=batch_limit)
    counted = (work.transactions, work.accounts, work.claims, work.fundings, work.payers)
    assert counted == expected
    assert work.payments == len(payments)


def test_the_whole_run_is_priced_on_each_chain_at_its_gas_price_and_data_fee() -> None:
    book = load_fee_book()
    chains = [book.evm_profile("base"), book.evm_profile("ethereum-l1")]
    payments = random_run(3)
    value = int(payments.amounts_base_units.sum())

    costs = {cost.work.mode: cost for cost in whole_run_costs(payments, CATALOG, chains, 60)}

    direct = costs[SettlementMode.DIRECT]
    assert direct.work.transactions == len(payments)
    assert direct.gas == len(payments) * 37_155
    assert direct.l1_bytes == len(payments) * 139
    for chain in chains:
        fee_wei = (
            direct.gas * chain.gas_price_wei + direct.l1_bytes * chain.l1_data_fee_wei_per_byte
        )
        assert direct.usd_by_profile[chain.name] == Decimal(fee_wei) * chain.eth_usd / 10**18
        assert direct.share_of_value(chain.name, value) == direct.usd_by_profile[chain.name] / (
            Decimal(value) / 10**6
        )
    assert set(costs) == {
        SettlementMode.DIRECT, SettlementMode.AUTHORIZATION, SettlementMode.BATCH,
        SettlementMode.CHANNEL, SettlementMode.NET,
    }  # fmt: skip
    for cost in costs.values():
        shape = CATALOG.shape(cost.work.mode)
        assert cost.gas == cost.work.gas(shape)
        assert cost.usd_by_profile["base"] == fee_usd(chains[0], cost.gas, cost.l1_bytes)
    # Interval modes share each transaction's cost, so they undercut a transfer per payment.
    assert costs[SettlementMode.BATCH].gas < direct.gas


@pytest.mark.parametrize(
    ("columns", "participants", "reason"),
    [
        (([1, 0], [0, 1], [1, 0]), 2, "in the order they were made"),
        (([0, 0], [0, 2], [1, 0]), 2, "outside the run"),
        (([0, 0], [-1, 0], [1, 0]), 2, "outside the run"),
        (([0], [0, 1], [1, 0]), 2, "same length"),
        (([0], [0], [1]), 0, "1 to 2,147,483,648 participants"),
    ],
)
def test_bad_payments_are_refused_in_one_line(
    columns: tuple[list[int], list[int], list[int]], participants: int, reason: str
) -> None:
    steps, payers, payees = columns
    with pytest.raises(ValueError, match=reason):
        RunPayments(
            np.asarray(steps, dtype=np.int64),
            np.asarray(payers, dtype=np.int64),
            np.asarray(payees, dtype=np.int64),
            np.ones(len(payers), dtype=np.int64),
            participants,
        )


@pytest.mark.parametrize("interval", [0, 100_001])
def test_an_interval_out_of_range_is_refused(interval: int) -> None:
    with pytest.raises(ValueError, match="a settlement interval is 1 to 100,000 steps"):
        whole_run_costs(random_run(1), CATALOG, [], interval)

"""The batch settler's gas bound against what the contract's gas test measured.

The bound must never fall below a batch's real gas (the transaction would run out and revert),
and should sit close above it, or batches are cut shorter than the 2**24 cap allows and each
payment carries more of its accounts' first touches. The forge gas test
(contracts/test/gas/StablecoinBatchGas.t.sol) writes what 2,000 payments among 100 payers and 100
payees cost to contracts/snapshots/; the same workload is planned here.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from settlement.domain.payments import SettlementMode
from settlement.settlers.batch import (
    MAX_TRANSACTION_GAS,
    BatchGasBound,
    BatchSettler,
    SlotsInUse,
)
from settlement.store import PaymentRecord
from tests.settlement.records import queued_record

SNAPSHOT = Path(__file__).parents[2] / "contracts" / "snapshots" / "StablecoinBatchGasTest.json"
PAYERS, PAYEES = 100, 100
# The gas test's payments: 2.5 cents and up, valid for an hour from its block time of 1.
PAYMENT_VALUE, VALID_BEFORE = 25_000, 1 + 3_600


def payer(index: int) -> str:
    return "0x" + (0xA0 << 152 | index).to_bytes(20, "big").hex()


def payee(index: int) -> str:
    return "0x" + (0xB0 << 152 | index).to_bytes(20, "big").hex()


def gas_test_payment(index: int) -> PaymentRecord:
    """Payment ``index`` of the gas test: payer i % 100 to payee (i + i / 100) % 100."""
    return queued_record(
        index,
        payer(index % PAYERS),
        payee((index + index // PAYERS) % PAYEES),
        PAYMENT_VALUE + index,
        SettlementMode.BATCH,
        {
            "nonce": 1 + index // PAYERS,
            "valid_before": VALID_BEFORE,
            "signature": "0x" + "11" * 64 + "1b",
        },
    )


def steady_state() -> SlotsInUse:
    """Every account holds tokens and every payer's nonce word 0 holds a used nonce."""
    return SlotsInUse(
        accounts=frozenset([payer(i) for i in range(PAYERS)] + [payee(i) for i in range(PAYEES)]),
        nonce_words=frozenset((payer(i), 0) for i in range(PAYERS)),
    )


def bound_of(payments: list[PaymentRecord], in_use: SlotsInUse) -> int:
    bound = BatchGasBound(in_use)
    for record in payments:
        bound.add(record, bound.cost_of(record))
    return bound.gas


def measured_gas(payments: int) -> int:
    figures = json.loads(SNAPSHOT.read_text())
    return int(figures[f"transactionGasPerPayment_{payments}Payments"]) * payments


def test_the_bound_covers_the_measured_batch_and_sits_close_above_it() -> None:
    bound = bound_of([gas_test_payment(i) for i in range(2_000)], steady_state())
    measured = measured_gas(2_000)
    assert bound >= measured
    # Every payment is priced at its dearest path, skipped after its signature was checked (the
    # skip's log outweighs a transfer's: about 265 gas more than settling), so a batch that
    # settles every payment comes in about 4% under its bound.
    assert bound <= measured * 1.05, f"bound {bound:,} more than 5% above {measured:,}"


def test_a_steady_state_batch_is_cut_near_the_cap() -> None:
    settler = BatchSettler(payer(0), None, batch_size=2_500)  # type: ignore[arg-type]
    settler.slots_in_use = steady_state()
    batches = settler._cut([gas_test_payment(i) for i in range(4_000)])
    sizes = [len(batch) for batch, _ in batches]
    assert sum(sizes) == 4_000
    assert all(gas <= MAX_TRANSACTION_GAS for _, gas in batches)
    assert min(sizes[:-1]) >= 1_900, sizes


def test_empty_slots_are_priced_as_fills() -> None:
    payments = [gas_test_payment(i) for i in range(200)]
    steady = bound_of(payments, steady_state())
    fresh = bound_of(payments, SlotsInUse())
    # 200 accounts and 100 nonce words, each filled from empty: 17,100 more apiece.
    assert fresh - steady == 300 * 17_100


def test_a_round_is_planned_in_whole_payers_so_batches_touch_fewer_accounts() -> None:
    settler = BatchSettler(payer(0), None, batch_size=2_500)  # type: ignore[arg-type]
    settler.slots_in_use = steady_state()
    round_payments = [gas_test_payment(i) for i in range(10_000)]  # 100 payments a payer

    planned = settler.plan(round_payments)

    by_id = {record.payment_id: record for record in round_payments}
    batches = [[by_id[payment_id] for payment_id in each.payment_ids] for each in planned]
    assert sorted(r.payment_id for batch in batches for r in batch) == sorted(by_id)
    assert len(batches) == 5
    for batch in batches:
        payers = {record.payer for record in batch}
        # About 2,090 payments fit a batch: 20 whole payers of 100 and parts of two more.
        assert len(payers) <= 22
        # Each payer's payments stay in their own order.
        for each in payers:
            own = [r.amount_base_units for r in batch if r.payer == each]
            assert own == sorted(own)
    # A payer split across two batches only where one batch ends and the next begins.
    payers_per_batch = [{record.payer for record in batch} for batch in batches]
    for earlier, later in itertools.pairwise(payers_per_batch):
        assert len(earlier & later) <= 1

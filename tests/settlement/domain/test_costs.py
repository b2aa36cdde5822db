"""Per-payment cost records: gas shares add up to the receipt exactly; latencies from acceptance."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from settlement.domain.costs import SettlementFacts, gas_share, payment_cost


@given(
    gas_used=st.integers(min_value=21_000, max_value=30_000_000),
    count=st.integers(min_value=1, max_value=300),
)
def test_gas_shares_sum_to_the_receipt_and_differ_by_at_most_one(gas_used: int, count: int) -> None:
    ids = [f"0x{n:064x}" for n in range(count)]
    shares = [gas_share(gas_used, ids, payment_id) for payment_id in ids]
    assert sum(shares) == gas_used
    assert max(shares) - min(shares) <= 1


def test_a_payment_the_transaction_did_not_settle_has_no_share() -> None:
    assert gas_share(100_000, ["0xa", "0xb"], "0xc") == 0


def test_a_cost_record_carries_fee_and_latencies() -> None:
    facts = SettlementFacts(
        payment_id="0xb",
        mode="batch",
        accepted_at=100.0,
        submitted_at=100.5,
        mined_at=101.25,
        confirmed_at=102.0,
        verify_cpu_ns=60_000,
        tx_hash="0x" + "11" * 32,
        gas_used=100_001,
        effective_gas_price_wei=7,
        settled_payment_ids=["0xb", "0xa"],
    )
    cost = payment_cost(facts)
    assert (cost.gas, cost.fee_wei, cost.payments_in_transaction) == (50_000, 350_000, 2)
    assert (cost.accepted_to_submitted_s, cost.accepted_to_included_s) == (0.5, 1.25)
    assert cost.accepted_to_confirmed_s == 2.0

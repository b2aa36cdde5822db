"""Direct mode through the service: payers' own transfers, checked and relayed unchanged."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import PaymentIntent, PaymentState, SettlementMode
from settlement.settlers.base import PaymentSubmission
from settlement.store import SqlPaymentStore
from tests.settlement.api_helpers import direct_payment, make_service

pytestmark = pytest.mark.anvil


@pytest.fixture
async def payer(payer: LocalAccount, admin: LocalAccount, chain: ChainClient) -> LocalAccount:
    """A funded payer that also holds ether, since in direct mode it pays its own gas."""
    await chain.send_transaction(admin, to=payer.address, value_wei=10**17, gas=21_000)
    return payer


async def test_payers_own_transfers_settle_once_each(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    service = make_service(store, chain, coin, admin)
    payee = Account.create().address
    submissions = [direct_payment(coin, payer, payee, f"d-{n}", 100 + n, n) for n in range(4)]
    accepted = await service.submit(submissions)
    assert all(outcome.created for outcome in accepted)
    report = await service.settle_round(SettlementMode.DIRECT)
    assert (report.transactions, report.settled, report.failed) == (4, 4, 0)
    assert await coin.balance_of(payee) == 100 + 101 + 102 + 103
    for outcome in accepted:
        record = await store.get(outcome.payment_id)
        assert record is not None
        assert record.state is PaymentState.CONFIRMED
    # The payer paid its own gas; the service's relayer spent nothing on these.
    assert all(mined.gas_used > 21_000 for mined in report.mined)


async def test_transactions_that_do_not_match_the_payment_are_refused(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    service = make_service(store, chain, coin, admin)
    payee = Account.create().address
    stranger: LocalAccount = Account.create()
    forged_sender = direct_payment(coin, stranger, payee, "x-1", 10, 0)
    cases = [
        (direct_payment(coin, payer, payee, "x-2", 10, 0, chain_id=1), "not 31337"),
        (direct_payment(coin, payer, payee, "x-3", 10, 0, to=payee), "must call the stablecoin"),
        (
            direct_payment(coin, payer, payee, "x-4", 10, 0, calldata_payee=stranger.address),
            "does not transfer the amount to the payee",
        ),
        (
            PaymentSubmission(
                PaymentIntent("x-5", payer.address, payee, 10),
                SettlementMode.DIRECT,
                forged_sender.instrument,
            ),
            f"not the payer {payer.address}",
        ),
    ]
    outcomes = await service.submit([submission for submission, _ in cases])
    for outcome, (_, reason) in zip(outcomes, cases, strict=True):
        assert outcome.record is None
        assert reason in (outcome.rejection or ""), outcome.rejection
    assert await store.count_queued() == 0


async def test_a_second_payment_reusing_a_transaction_nonce_is_refused(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    payer: LocalAccount,
) -> None:
    service = make_service(store, chain, coin, admin)
    payee = Account.create().address
    first, second = await service.submit(
        [
            direct_payment(coin, payer, payee, "n-1", 10, 0),
            direct_payment(coin, payer, payee, "n-2", 11, 0),
        ]
    )
    assert first.created
    assert second.conflict
    assert f"direct:{payer.address}:0 is already spent" in (second.rejection or "")

"""Net mode through the service on Anvil: deposits, admission, a netted window, proofs."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.client import ChainClient
from settlement.chain.relayer import Relayer
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import PaymentState, Purpose, SettlementMode
from settlement.runtime import Contracts
from settlement.settlers import net as net_settler
from settlement.settlers.base import PaymentSubmission
from settlement.settlers.net import EXPIRED_REASON, window_tree
from settlement.store import PaymentRecord, SqlPaymentStore
from settlement.wallet import ChainTerms, PayerWallet
from tests.settlement.api_helpers import (
    EscrowedService,
    funded_wallet,
    funding,
    make_escrowed_service,
    service_on,
    terms_for,
)
from tests.settlement.crashes import (
    CrashAfterSendRelayer,
    CrashBeforeSendRelayer,
    SimulatedCrashAfterSendError,
    SimulatedCrashBeforeSendError,
)

pytestmark = pytest.mark.anvil

DEPOSIT = 10_000


async def depositor(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount, terms: ChainTerms
) -> PayerWallet:
    wallet = await funded_wallet(coin, admin, DEPOSIT)
    signed = wallet.net_deposit(DEPOSIT, terms)
    view = await escrowed.escrow.deposit(signed.nonce, funding(signed))
    assert view.deposit_base_units == DEPOSIT
    return wallet


def net_payment(
    wallet: PayerWallet, payee: str, key: str, amount: int, terms: ChainTerms
) -> PaymentSubmission:
    return wallet.submission(SettlementMode.NET, key, payee, amount, Purpose.GOODS, terms)


async def test_a_window_nets_payments_into_one_transaction_and_proves_each_on_chain(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service, net = escrowed.service, escrowed.net
    terms = await terms_for(coin, escrowed)
    robots = [await depositor(escrowed, coin, admin, terms) for _ in range(3)]
    outsider = Account.create().address
    submissions = [
        net_payment(robots[0], robots[1].address, "n-1", 4_000, terms),
        net_payment(robots[1], robots[2].address, "n-2", 3_000, terms),
        net_payment(robots[2], robots[0].address, "n-3", 1_000, terms),
        net_payment(robots[1], outsider, "n-4", 500, terms),
    ]
    assert all(outcome.created for outcome in await service.submit(submissions))

    report = await service.settle_round(SettlementMode.NET)

    assert (report.transactions, report.settled, report.failed) == (1, 4, 0)
    balances = await net.balances([robot.address for robot in robots] + [outsider])
    assert list(balances.values()) == [
        DEPOSIT - 4_000 + 1_000,
        DEPOSIT + 4_000 - 3_000 - 500,
        DEPOSIT + 3_000 - 1_000,
        500,
    ]
    records = [await confirmed(service.store, s) for s in submissions]
    tree = window_tree(records)
    window_id = await net.next_window_id() - 1
    for index, record in enumerate(sorted(records, key=lambda r: r.payment_id)):
        assert await net.verify_payment(
            window_id,
            bytes.fromhex(record.payment_id[2:]),
            record.payer,
            record.payee,
            record.amount_base_units,
            tree.proof(index),
        )
    proofs = [await escrowed.escrow.inclusion_proof(record.payment_id) for record in records]
    assert all(proof.verified_on_chain for proof in proofs)
    assert {proof.window_id for proof in proofs} == {window_id}
    assert sorted(proof.leaf_index for proof in proofs) == [0, 1, 2, 3]
    assert not await net.verify_payment(
        window_id,
        bytes.fromhex(records[0].payment_id[2:]),
        records[0].payer,
        records[0].payee,
        records[0].amount_base_units + 1,
        tree.proof(0),
    )


async def confirmed(store: SqlPaymentStore, submission: PaymentSubmission) -> PaymentRecord:
    record = await store.get("0x" + submission.intent.payment_id.hex())
    assert record is not None
    assert record.state is PaymentState.CONFIRMED
    return record


async def test_a_round_fills_several_windows_in_order_and_leaves_the_rest_for_the_next(
    escrowed: EscrowedService,
    coin: StablecoinContract,
    admin: LocalAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many accounts paying once each fill a window's accounts quickly: a round settles several
    windows, consecutive ids in one relayer's nonce order, up to its limit."""
    monkeypatch.setattr(net_settler, "MAX_WINDOW_ACCOUNTS", 4)
    monkeypatch.setattr(net_settler, "MAX_WINDOWS_PER_ROUND", 2)
    service, net = escrowed.service, escrowed.net
    terms = await terms_for(coin, escrowed)
    robots = [await depositor(escrowed, coin, admin, terms) for _ in range(4)]
    outsiders = [Account.create().address for _ in range(3)]
    submissions = [
        net_payment(robots[0], outsiders[0], "w-1", 100, terms),
        net_payment(robots[1], outsiders[1], "w-2", 200, terms),
        net_payment(robots[2], outsiders[2], "w-3", 300, terms),
        net_payment(robots[0], outsiders[0], "w-4", 400, terms),
        net_payment(robots[3], outsiders[1], "w-5", 500, terms),  # a third window's accounts
    ]
    assert all(outcome.created for outcome in await service.submit(submissions))
    first_window = await net.next_window_id()

    first = await service.settle_round(SettlementMode.NET)
    second = await service.settle_round(SettlementMode.NET)

    assert (first.transactions, first.settled, first.failed) == (2, 4, 0)
    assert (second.transactions, second.settled, second.failed) == (1, 1, 0)
    assert await net.next_window_id() == first_window + 3
    assert list((await net.balances(outsiders)).values()) == [500, 700, 300]
    records = [await confirmed(service.store, s) for s in submissions]
    proofs = [await escrowed.escrow.inclusion_proof(record.payment_id) for record in records]
    assert all(proof.verified_on_chain for proof in proofs)
    assert [proof.window_id - first_window for proof in proofs] == [0, 0, 1, 1, 2]
    # The next lease is sized by what the last round could take, not the whole queue.
    assert service.settlers[SettlementMode.NET].round_lease() == net_settler.MIN_ROUND_LEASE


async def test_payments_beyond_the_deposit_and_what_is_already_owed_are_refused(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = escrowed.service
    terms = await terms_for(coin, escrowed)
    robot = await depositor(escrowed, coin, admin, terms)
    payee = Account.create().address
    first = net_payment(robot, payee, "a-1", 6_000, terms)
    second = net_payment(robot, payee, "a-2", 5_000, terms)
    third = net_payment(robot, payee, "a-3", 4_000, terms)

    outcomes = await service.submit([first, second, third])

    assert [outcome.created for outcome in outcomes] == [True, False, True]
    assert outcomes[1].record is None
    assert outcomes[1].rejection == (
        f"insufficient net-settlement deposit: {robot.address} holds {DEPOSIT}, has 6000 "
        "committed to payments not yet settled, and cannot also pay 5000"
    )
    retried = await service.submit([third])
    assert retried[0].record is not None, "a retry of an accepted payment is not re-checked"
    assert not retried[0].created
    account = await escrowed.escrow.net_account(robot.address)
    assert (account.deposit_base_units, account.committed_base_units) == (DEPOSIT, 10_000)


async def test_a_payment_that_expired_in_the_queue_fails_with_the_reason(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount, chain: ChainClient
) -> None:
    service = escrowed.service
    terms = await terms_for(coin, escrowed)
    robot = await depositor(escrowed, coin, admin, terms)
    payee = Account.create().address
    (outcome,) = await service.submit([net_payment(robot, payee, "late", 100, terms)])
    assert outcome.created
    await chain.w3.provider.make_request("evm_increaseTime", [7_200])  # type: ignore[arg-type]
    await chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    report = await service.settle_round(SettlementMode.NET)

    assert (report.transactions, report.settled, report.failed) == (0, 0, 1)
    record = await service.store.get(outcome.payment_id)
    assert record is not None
    assert (record.state, record.failure_reason) == (PaymentState.FAILED, EXPIRED_REASON)
    assert await escrowed.net.balance_of(payee) == 0


async def test_a_net_payment_for_another_payment_id_is_refused(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    terms = await terms_for(coin, escrowed)
    robot = await depositor(escrowed, coin, admin, terms)
    payee = Account.create().address
    signed_for_one = net_payment(robot, payee, "one", 100, terms)
    other = net_payment(robot, payee, "two", 100, terms)
    swapped = PaymentSubmission(other.intent, other.mode, signed_for_one.instrument)

    (outcome,) = await escrowed.service.submit([swapped])

    assert outcome.record is None
    assert outcome.rejection is not None
    assert outcome.rejection.startswith("signed by 0x")


@pytest.mark.parametrize("crash", [CrashBeforeSendRelayer, CrashAfterSendRelayer])
async def test_a_restart_in_the_middle_of_a_window_settles_each_payment_once(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
    crash: type[Relayer],
) -> None:
    crashing = await make_escrowed_service(store, chain, coin, admin, contracts_dir, crash)
    terms = await terms_for(coin, crashing)
    robot = await depositor(crashing, coin, admin, terms)
    payee = Account.create().address
    await crashing.service.submit(
        [net_payment(robot, payee, f"w-{n}", 100 + n, terms) for n in range(5)]
    )
    with pytest.raises((SimulatedCrashBeforeSendError, SimulatedCrashAfterSendError)):
        await crashing.service.settle_round(SettlementMode.NET)
    contracts = Contracts(coin, crashing.channels, crashing.net)
    restarted = service_on(contracts, store, admin)
    await restarted.service.submit([net_payment(robot, payee, "w-late", 1_000, terms)])

    await restarted.service.reconcile()
    while (await restarted.service.settle_round(SettlementMode.NET)).transactions:
        pass

    assert await crashing.net.balance_of(payee) == sum(100 + n for n in range(5)) + 1_000
    assert await store.count_by_state() == {(SettlementMode.NET, PaymentState.CONFIRMED): 6}


async def test_a_payment_sent_twice_in_one_request_is_charged_to_the_deposit_once(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    terms = await terms_for(coin, escrowed)
    robot = await depositor(escrowed, coin, admin, terms)
    whole_deposit = net_payment(robot, Account.create().address, "all-in", DEPOSIT, terms)

    first, copy = await escrowed.service.submit([whole_deposit, whole_deposit])

    assert first.created
    assert copy.record == first.record
    assert not copy.created


class MinedWhileReconcilingRelayer(Relayer):
    """Sends the transactions a crash left recorded at the moment reconcile reads the nonces,
    standing for a transaction the node mines while reconcile is looking for it."""

    async def _mined_nonces(self, senders: set[str]) -> dict[str, int]:
        pending = await self.store.pending_submissions()
        await self._broadcast([submission.attempts[-1] for submission in pending])
        return await super()._mined_nonces(senders)


async def test_a_window_mined_while_reconcile_looks_for_it_is_not_settled_again(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
) -> None:
    crashing = await make_escrowed_service(
        store, chain, coin, admin, contracts_dir, CrashBeforeSendRelayer
    )
    terms = await terms_for(coin, crashing)
    robot = await depositor(crashing, coin, admin, terms)
    payee = Account.create().address
    await crashing.service.submit([net_payment(robot, payee, "m-1", 700, terms)])
    with pytest.raises(SimulatedCrashBeforeSendError):
        await crashing.service.settle_round(SettlementMode.NET)
    contracts = Contracts(coin, crashing.channels, crashing.net)

    restarted = service_on(contracts, store, admin, MinedWhileReconcilingRelayer)
    await restarted.service.reconcile()
    while (await restarted.service.settle_round(SettlementMode.NET)).transactions:
        pass

    assert await crashing.net.balance_of(payee) == 700
    assert await store.count_by_state() == {(SettlementMode.NET, PaymentState.CONFIRMED): 1}

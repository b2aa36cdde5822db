"""The service's book on Anvil: pending on accept, posted or voided after, checked against chain.

Each test runs with the store and the book's ledger on SQLite, then both on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.book import holding_account_id
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.holdings import Holding
from settlement.domain.messages import CancelAuthorization
from settlement.domain.payments import Purpose, SettlementMode
from settlement.ledger import Ledger
from settlement.runtime import Contracts
from settlement.store import SqlPaymentStore
from settlement.wallet import ChainTerms, PayerWallet
from tests.settlement.api_helpers import (
    EscrowedService,
    funded_wallet,
    funding,
    make_escrowed_service,
    service_on,
    terms_for,
)
from tests.settlement.crashes import CrashAfterSendRelayer, SimulatedCrashAfterSendError, mined

pytestmark = pytest.mark.anvil


def book_balances(ledger: Ledger, holding: Holding, address: str) -> tuple[int, int]:
    """(posted balance, pending out) of one holding's book account."""
    (account,) = ledger.lookup_accounts([holding_account_id(holding, address)])
    return account.balance, account.debits_pending


class MinedUnrecorded(NamedTuple):
    crashing: EscrowedService
    terms: ChainTerms
    robot: PayerWallet
    payee: str


async def first_payment_mined_unrecorded(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
    ledger: Ledger,
    holds: int,
) -> MinedUnrecorded:
    """A robot holding ``holds`` pays 600 in batch mode; the service crashes after sending the
    settlement, which is then mined but not recorded."""
    crashing = await make_escrowed_service(
        store, chain, coin, admin, contracts_dir, CrashAfterSendRelayer, ledger
    )
    terms = await terms_for(coin, crashing)
    robot = await funded_wallet(coin, admin, holds)
    payee = Account.create().address
    await crashing.service.submit(
        [robot.submission(SettlementMode.BATCH, "first", payee, 600, Purpose.GOODS, terms)]
    )
    with pytest.raises(SimulatedCrashAfterSendError) as crash:
        await crashing.service.settle_round(SettlementMode.BATCH)
    await mined(chain, crash.value)
    return MinedUnrecorded(crashing, terms, robot, payee)


async def test_accepted_payments_are_pending_then_posted_and_the_book_matches_the_chain(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    robot = await funded_wallet(coin, admin, 5_000)
    payee = Account.create().address
    payments = [
        robot.submission(SettlementMode.BATCH, f"b{i}", payee, 1_000, Purpose.ENERGY, terms)
        for i in range(3)
    ]

    await service.submit(payments)
    reserved = book_balances(escrowed.ledger, Holding.WALLET, robot.address)
    before = await service.reconcile_book()
    await service.settle_round(SettlementMode.BATCH)
    after = await service.reconcile_book()

    assert reserved == (5_000, 3_000)
    assert before.differences == []
    assert book_balances(escrowed.ledger, Holding.WALLET, robot.address) == (2_000, 0)
    assert book_balances(escrowed.ledger, Holding.WALLET, payee) == (3_000, 0)
    assert (after.holdings_checked, after.differences) == (2, [])


async def test_a_failed_payment_is_voided_and_leaves_no_trace(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    robot = await funded_wallet(coin, admin, 500)
    payee = Account.create().address
    payment = robot.submission(
        SettlementMode.AUTHORIZATION, "big", payee, 300, Purpose.PARTS, terms
    )
    await service.submit([payment])
    # The robot cancels the authorization on chain after the service accepted it.
    nonce = bytes.fromhex(str(payment.instrument["nonce"])[2:])
    cancel = CancelAuthorization(robot.address, nonce).sign(robot.account.key, coin.domain)
    await coin.cancel_authorization(admin, cancel)

    report = await service.settle_round(SettlementMode.AUTHORIZATION)

    assert report.failed == 1
    assert book_balances(escrowed.ledger, Holding.WALLET, robot.address) == (500, 0)
    assert (await service.reconcile_book()).differences == []


async def test_a_payer_whose_last_payment_is_mined_but_unrecorded_can_pay_what_it_still_holds(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
    service_ledger: Ledger,
) -> None:
    """Acceptance reads the balance the chain has now, which already lacks a mined payment the
    store still calls submitted: counting that payment again would refuse a payer who can pay."""
    crashing, terms, robot, payee = await first_payment_mined_unrecorded(
        store, chain, coin, admin, contracts_dir, service_ledger, holds=1_000
    )

    (second,) = await crashing.service.submit(
        [robot.submission(SettlementMode.BATCH, "second", payee, 400, Purpose.GOODS, terms)]
    )
    (too_much,) = await crashing.service.submit(
        [robot.submission(SettlementMode.BATCH, "third", payee, 1, Purpose.GOODS, terms)]
    )

    assert second.created, second.rejection
    assert too_much.rejection is not None
    assert "insufficient balance" in too_much.rejection


async def test_money_moved_behind_the_services_back_is_reported_unexplained(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    robot = await funded_wallet(coin, admin, 1_000)
    payee = Account.create().address
    await service.submit(
        [robot.submission(SettlementMode.BATCH, "k", payee, 100, Purpose.OTHER, terms)]
    )
    await service.settle_round(SettlementMode.BATCH)

    await coin.mint(admin, payee, 42)
    reconciliation = await service.reconcile_book()

    (difference,) = reconciliation.unexplained
    assert (difference.holding, difference.address) == (Holding.WALLET, payee)
    assert (difference.book_base_units, difference.chain_base_units) == (100, 142)
    assert difference.difference_base_units == 42


async def test_escrow_funding_and_net_and_channel_payments_keep_the_book_level(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service, terms = escrowed.service, await terms_for(coin, escrowed)
    robot = await funded_wallet(coin, admin, 10_000)
    supplier = Account.create().address
    signed = robot.net_deposit(4_000, terms)
    await escrowed.escrow.deposit(signed.nonce, funding(signed))
    salt, opening = robot.channel_funding(supplier, 3_000, terms)
    await escrowed.escrow.open_channel(supplier, salt, funding(opening))

    await service.submit(
        [
            robot.submission(SettlementMode.NET, "n1", supplier, 700, Purpose.ENERGY, terms),
            robot.submission(SettlementMode.CHANNEL, "c1", supplier, 400, Purpose.PARTS, terms),
            robot.submission(SettlementMode.CHANNEL, "c2", supplier, 500, Purpose.PARTS, terms),
        ]
    )
    await service.settle_round(SettlementMode.NET)
    await service.settle_round(SettlementMode.CHANNEL)
    reconciliation = await service.reconcile_book()

    assert reconciliation.differences == []
    assert reconciliation.holdings_checked == 4
    assert book_balances(escrowed.ledger, Holding.WALLET, robot.address) == (3_000, 0)
    assert book_balances(escrowed.ledger, Holding.NET_DEPOSIT, robot.address) == (3_300, 0)
    assert book_balances(escrowed.ledger, Holding.CHANNEL_ESCROW, robot.address) == (2_100, 0)
    assert book_balances(escrowed.ledger, Holding.WALLET, supplier) == (900, 0)


async def test_payments_mined_but_not_yet_recorded_show_as_in_flight(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
    service_ledger: Ledger,
) -> None:
    crashing, _terms, _robot, _payee = await first_payment_mined_unrecorded(
        store, chain, coin, admin, contracts_dir, service_ledger, holds=2_000
    )

    in_flight = await crashing.service.reconcile_book()
    restarted = service_on(
        Contracts(coin, crashing.channels, crashing.net), store, admin, ledger=service_ledger
    )
    await restarted.service.reconcile()
    settled = await restarted.service.reconcile_book()

    assert [d.difference_base_units for d in in_flight.differences] == [-600, 600]
    assert in_flight.unexplained == []
    assert settled.differences == []

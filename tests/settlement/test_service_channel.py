"""Channel mode through the service on Anvil: vouchers accepted in order, claimed in batches."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.client import ChainClient
from settlement.chain.payment_channels import DEFAULT_CHALLENGE_PERIOD_S
from settlement.chain.relayer import Relayer
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.messages import Voucher
from settlement.domain.payments import PaymentIntent, PaymentState, Purpose, SettlementMode
from settlement.runtime import Contracts
from settlement.service import RoundReport, SettlementService
from settlement.settlers.base import PaymentSubmission
from settlement.settlers.channel import DEFAULT_CLAIM_MARGIN_S, WITHDRAWAL_CHECK_INTERVAL_S
from settlement.store import SqlPaymentStore
from settlement.wallet import ChainTerms, PayerWallet
from settlement.windows import WindowPolicy, run_windows
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

DEPOSIT = 100_000


async def open_channel(
    escrowed: EscrowedService, wallet: PayerWallet, payee: str, terms: ChainTerms
) -> str:
    salt, signed = wallet.channel_funding(payee, DEPOSIT, terms)
    view = await escrowed.escrow.open_channel(payee, salt, funding(signed))
    assert view.deposit_base_units == DEPOSIT
    return view.channel_id


def voucher_payment(
    wallet: PayerWallet, payee: str, key: str, amount: int, terms: ChainTerms
) -> PaymentSubmission:
    return wallet.submission(SettlementMode.CHANNEL, key, payee, amount, Purpose.ENERGY, terms)


async def test_vouchers_settle_by_one_claim_per_channel_and_later_ones_by_the_next(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = escrowed.service
    terms = await terms_for(coin, escrowed)
    payers = [await funded_wallet(coin, admin) for _ in range(2)]
    payees = [Account.create().address for _ in range(2)]
    for wallet in payers:
        for payee in payees:
            await open_channel(escrowed, wallet, payee, terms)
    first = [
        voucher_payment(payers[n % 2], payees[n // 2 % 2], f"c-{n}", 10 + n, terms)
        for n in range(12)
    ]
    assert all(outcome.created for outcome in await service.submit(first))

    report = await service.settle_round(SettlementMode.CHANNEL)

    assert (report.transactions, report.settled, report.failed) == (1, 12, 0)
    expected = [sum(10 + n for n in range(12) if n // 2 % 2 == side) for side in (0, 1)]
    assert [await coin.balance_of(payee) for payee in payees] == expected
    later = voucher_payment(payers[0], payees[0], "c-later", 5, terms)
    (outcome,) = await service.submit([later])
    assert outcome.created
    again = await service.settle_round(SettlementMode.CHANNEL)
    assert (again.transactions, again.settled) == (1, 1)
    assert await coin.balance_of(payees[0]) == expected[0] + 5
    channel = await escrowed.escrow.channel(bytes.fromhex(later.instrument["channel_id"][2:]))
    assert channel.claimed_base_units == channel.accepted_base_units


async def test_out_of_order_excessive_unknown_and_forged_vouchers_are_refused_and_not_stored(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = escrowed.service
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    payee = Account.create().address
    channel_id = await open_channel(escrowed, wallet, payee, terms)
    accepted = voucher_payment(wallet, payee, "ok", 100, terms)
    assert (await service.submit([accepted]))[0].created

    def signed_voucher(key: str, amount: int, cumulative: int, channel: str) -> PaymentSubmission:
        voucher = Voucher(wallet.address, bytes.fromhex(channel[2:]), cumulative)
        assert terms.channels_domain is not None
        signed = voucher.sign(wallet.private_key, terms.channels_domain)
        return PaymentSubmission(
            PaymentIntent(key, wallet.address, payee, amount, Purpose.ENERGY),
            SettlementMode.CHANNEL,
            {
                "channel_id": channel,
                "cumulative_amount": cumulative,
                "signature": "0x" + signed.signature.hex(),
            },
        )

    forged = signed_voucher("forged", 50, 150, channel_id)
    assert terms.channels_domain is not None
    intruder = Account.create()
    forged_voucher = Voucher(wallet.address, bytes.fromhex(channel_id[2:]), 150)
    forged_signature = forged_voucher.sign(intruder.key, terms.channels_domain).signature
    refused = await service.submit(
        [
            signed_voucher("skips-ahead", 50, 200, channel_id),
            signed_voucher("goes-back", 50, 50, channel_id),
            signed_voucher("over-deposit", DEPOSIT, DEPOSIT + 100, channel_id),
            signed_voucher("unknown", 50, 50, "0x" + "ab" * 32),
            PaymentSubmission(
                forged.intent,
                forged.mode,
                {**forged.instrument, "signature": "0x" + forged_signature.hex()},
            ),
        ]
    )

    reasons = [outcome.rejection or "" for outcome in refused]
    assert all(outcome.record is None for outcome in refused)
    assert "voucher out of order" in reasons[0]
    assert "needs a voucher for 150" in reasons[0]
    assert "voucher out of order" in reasons[1]
    assert f"exceeds the channel deposit {DEPOSIT}" in reasons[2]
    assert reasons[3] == "unknown channel 0x" + "ab" * 32
    assert reasons[4] == f"signed by {intruder.address}, expected {wallet.address}"
    assert [record.payment_id for record in await service.store.list_for_payer(wallet.address)] == [
        "0x" + accepted.intent.payment_id.hex()
    ]
    retried = await service.submit([accepted])
    assert retried[0].record is not None
    assert not retried[0].created
    view = await escrowed.escrow.channel(bytes.fromhex(channel_id[2:]))
    assert view.accepted_base_units == 100


async def test_two_vouchers_racing_from_the_same_predecessor_are_accepted_once(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    payee = Account.create().address
    await open_channel(escrowed, wallet, payee, terms)
    first = voucher_payment(wallet, payee, "race-70", 70, terms)
    # A second voucher that also follows on from nothing accepted (50, not 70 + 50): a different
    # amount and replay key, so only the channel's compare-and-set can keep one of the two out.
    wallet.channels[payee].promised_base_units = 0
    second = voucher_payment(wallet, payee, "race-50", 50, terms)

    outcomes = await asyncio.gather(
        escrowed.service.submit([first]), escrowed.service.submit([second])
    )

    results = [result for (result,) in outcomes]
    assert sorted(result.created for result in results) == [False, True]
    (loser,) = [result for result in results if not result.created]
    assert loser.record is None
    assert loser.rejection is not None
    assert loser.rejection.startswith("voucher out of order")
    view = await escrowed.escrow.channel(bytes.fromhex(first.instrument["channel_id"][2:]))
    (winner,) = [result for result in results if result.created]
    assert winner.record is not None
    assert view.accepted_base_units == winner.record.amount_base_units


async def test_a_voucher_signed_for_another_chain_is_refused(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    payee = Account.create().address
    await open_channel(escrowed, wallet, payee, terms)
    assert terms.channels_domain is not None
    other_chain = replace(terms.channels_domain, chain_id=terms.chain_id + 1)
    elsewhere = replace(terms, channels_domain=other_chain)
    (outcome,) = await escrowed.service.submit(
        [voucher_payment(wallet, payee, "wrong-chain", 10, elsewhere)]
    )
    assert outcome.record is None
    assert outcome.rejection is not None
    assert outcome.rejection.endswith(f"expected {wallet.address}")


async def test_a_payment_is_confirmed_only_with_its_channel_claimed(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    payee = Account.create().address
    await open_channel(escrowed, wallet, payee, terms)
    (outcome,) = await escrowed.service.submit([voucher_payment(wallet, payee, "p", 42, terms)])
    assert outcome.record is not None
    assert outcome.record.state is PaymentState.QUEUED
    await escrowed.service.settle_round(SettlementMode.CHANNEL)
    record = await escrowed.service.store.get(outcome.payment_id)
    assert record is not None
    assert record.state is PaymentState.CONFIRMED
    assert await coin.balance_of(payee) == 42


@pytest.mark.parametrize("crash", [CrashBeforeSendRelayer, CrashAfterSendRelayer])
async def test_a_restart_in_the_middle_of_a_claim_settles_each_payment_once(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
    crash: type[Relayer],
) -> None:
    crashing = await make_escrowed_service(store, chain, coin, admin, contracts_dir, crash)
    terms = await terms_for(coin, crashing)
    wallet = await funded_wallet(coin, admin)
    payee = Account.create().address
    await open_channel(crashing, wallet, payee, terms)
    await crashing.service.submit(
        [voucher_payment(wallet, payee, f"k-{n}", 10 + n, terms) for n in range(5)]
    )
    with pytest.raises((SimulatedCrashBeforeSendError, SimulatedCrashAfterSendError)):
        await crashing.service.settle_round(SettlementMode.CHANNEL)
    restarted = service_on(Contracts(coin, crashing.channels, crashing.net), store, admin)
    await restarted.service.submit([voucher_payment(wallet, payee, "k-late", 100, terms)])

    await restarted.service.reconcile()
    while (await restarted.service.settle_round(SettlementMode.CHANNEL)).transactions:
        pass

    assert await coin.balance_of(payee) == sum(10 + n for n in range(5)) + 100
    assert await store.count_by_state() == {(SettlementMode.CHANNEL, PaymentState.CONFIRMED): 6}


async def test_a_payee_blocklisted_mid_way_has_its_vouchers_held_until_it_is_cleared(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = escrowed.service
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    payees = [Account.create().address for _ in range(3)]
    for payee in payees:
        await open_channel(escrowed, wallet, payee, terms)
    before = [
        voucher_payment(wallet, payee, f"before-{n}", 10, terms) for n, payee in enumerate(payees)
    ]
    await service.submit(before)
    assert (await service.settle_round(SettlementMode.CHANNEL)).settled == 3
    after = [
        voucher_payment(wallet, payee, f"after-{n}-{k}", 20 + k, terms)
        for n, payee in enumerate(payees)
        for k in range(2)
    ]
    assert all(outcome.created for outcome in await service.submit(after))
    # Blocklisted once its vouchers are accepted: acceptance refuses those that come later.
    blocked = payees[1]
    await coin.blocklist(admin, blocked)

    report = await service.settle_round(SettlementMode.CHANNEL)

    # The others' claims settle; the blocked payee's vouchers are not claimed, nor failed.
    assert (report.transactions, report.settled, report.failed, report.requeued) == (1, 4, 0, 0)
    assert [await coin.balance_of(payee) for payee in payees] == [51, 10, 51]
    states = await states_of(service, after)
    assert states == [
        PaymentState.QUEUED if each.intent.payee == blocked else PaymentState.CONFIRMED
        for each in after
    ]
    # Held while the payee stays blocklisted: a round claims nothing.
    assert (await service.settle_round(SettlementMode.CHANNEL)).transactions == 0

    await coin.unblocklist(admin, blocked)
    cleared = await service.settle_round(SettlementMode.CHANNEL)

    assert (cleared.transactions, cleared.settled, cleared.failed) == (1, 2, 0)
    assert [await coin.balance_of(payee) for payee in payees] == [51, 51, 51]
    assert set(await states_of(service, after)) == {PaymentState.CONFIRMED}


async def states_of(
    service: SettlementService, submissions: list[PaymentSubmission]
) -> list[PaymentState]:
    ids = ["0x" + each.intent.payment_id.hex() for each in submissions]
    records = await service.store.records(ids)
    return [records[payment_id].state for payment_id in ids]


async def test_a_voucher_to_a_blocklisted_payee_is_refused_at_acceptance(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> None:
    service = escrowed.service
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    blocked, cleared = Account.create().address, Account.create().address
    for payee in (blocked, cleared):
        await open_channel(escrowed, wallet, payee, terms)
    await coin.blocklist(admin, blocked)

    refused, accepted = await service.submit(
        [
            voucher_payment(wallet, blocked, "to-blocked", 10, terms),
            voucher_payment(wallet, cleared, "to-cleared", 10, terms),
        ]
    )

    assert refused.rejection == f"the payee {blocked} is blocklisted by the token"
    assert refused.record is None
    assert accepted.created
    assert accepted.rejection is None
    assert (await service.settle_round(SettlementMode.CHANNEL)).settled == 1
    assert [await coin.balance_of(payee) for payee in (blocked, cleared)] == [0, 10]


async def warp(chain: ChainClient, seconds: int) -> None:
    """Move the chain's clock ``seconds`` ahead and mine a block at the new time."""
    await chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    await chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


@pytest.mark.parametrize("requested", ["before the watch starts", "while it watches"])
async def test_a_channel_whose_payer_asks_to_withdraw_is_claimed_before_it_can_withdraw(
    escrowed: EscrowedService,
    coin: StablecoinContract,
    admin: LocalAccount,
    chain: ChainClient,
    requested: str,
) -> None:
    service = escrowed.service
    terms = await terms_for(coin, escrowed)
    wallet = await funded_wallet(coin, admin)
    payer = Account.from_key(wallet.private_key)
    await chain.batch_request([("anvil_setBalance", [payer.address, hex(10**18)])])
    payee = Account.create().address
    channel_id = bytes.fromhex((await open_channel(escrowed, wallet, payee, terms))[2:])
    vouchers = [voucher_payment(wallet, payee, f"w-{n}", 100 + n, terms) for n in range(3)]
    assert all(outcome.created for outcome in await service.submit(vouchers))
    paid = sum(100 + n for n in range(3))
    rounds: list[RoundReport] = []
    claimed, stop = asyncio.Event(), asyncio.Event()

    def on_round(report: RoundReport) -> None:
        rounds.append(report)
        claimed.set()

    # An hour-long window: without the withdrawal these vouchers would wait for it.
    policy = WindowPolicy(max_payments=1_000, max_wait_s=3_600)
    if requested == "before the watch starts":
        await escrowed.channels.request_withdrawal(payer, channel_id)
    windows = asyncio.create_task(
        run_windows(service, {SettlementMode.CHANNEL: policy}, stop, on_round)
    )
    try:
        await asyncio.sleep(WITHDRAWAL_CHECK_INTERVAL_S + 0.5)
        if requested == "while it watches":
            await escrowed.channels.request_withdrawal(payer, channel_id)
            await asyncio.sleep(WITHDRAWAL_CHECK_INTERVAL_S + 0.5)
        withdrawable_at = (await escrowed.channels.channel(channel_id)).withdrawable_at
        assert withdrawable_at > 0
        # More than the margin before the withdrawal: nothing is due yet.
        assert rounds == []
        assert await coin.balance_of(payee) == 0

        now = await chain.latest_block_timestamp()
        into_margin = withdrawable_at - DEFAULT_CLAIM_MARGIN_S + 5 - now
        assert 0 < into_margin < DEFAULT_CHALLENGE_PERIOD_S
        await warp(chain, into_margin)
        await asyncio.wait_for(claimed.wait(), 20)
    finally:
        stop.set()
        await windows

    (report,) = rounds
    assert (report.transactions, report.settled, report.failed) == (1, 3, 0)
    (mined,) = report.mined
    claim_block = await chain.w3.eth.get_block(mined.block_number)
    assert claim_block["timestamp"] < withdrawable_at
    state = await escrowed.channels.channel(channel_id)
    assert state.claimed_base_units == paid
    assert await coin.balance_of(payee) == paid
    # The payer's withdrawal, once possible, refunds only what the payee was not owed.
    balance_before = await coin.balance_of(payer.address)
    await warp(chain, DEFAULT_CLAIM_MARGIN_S)
    await escrowed.channels.withdraw(payer, channel_id)
    assert await coin.balance_of(payer.address) == balance_before + DEPOSIT - paid
    assert await coin.balance_of(payee) == paid

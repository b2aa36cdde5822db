"""Faults injected while payments settle on the service's own windows, one kind at a time and
then mixed; after each, the counts: lost and settled twice must be zero."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.api.app import create_app
from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.messages import CancelAuthorization
from settlement.domain.payments import SettlementMode
from settlement.errors import ChainError
from settlement.service import SettlementService
from settlement.settlers.base import PaymentSubmission
from settlement.store import SqlPaymentStore
from tests.settlement.api_helpers import (
    as_json,
    authorized_payment,
    batch_payment,
    funded,
    make_service,
)
from tests.settlement.faults.harness import FaultTally, count, settle_on_windows
from tests.settlement.faults.proxy import FaultProxy

pytestmark = [pytest.mark.anvil, pytest.mark.faults]

PAYERS = 4
PAYEES = 3
FUNDING = 10_000_000
COPIES = 10  # concurrent submissions of each payment
CHAOS_STEP_S = 0.15
CHAOS_DURATION_S = 6.0
FLAKY_PAYMENTS_PER_PAYER = 30


async def signed_payments(
    coin: StablecoinContract,
    mode: SettlementMode,
    payers: list[LocalAccount],
    payees: list[str],
    per_payer: int,
    tag: str,
) -> list[PaymentSubmission]:
    """``per_payer`` payments from each payer, round the payees, amounts all different."""
    submissions = []
    for p, payer in enumerate(payers):
        for n in range(per_payer):
            payee, amount, key = payees[(p + n) % len(payees)], 100 + 7 * n + p, f"{tag}-{p}-{n}"
            if mode is SettlementMode.BATCH:
                submissions.append(await batch_payment(coin, payer, payee, key, amount, n))
            else:
                submissions.append(await authorized_payment(coin, payer, payee, key, amount))
    return submissions


async def accounts(
    coin: StablecoinContract, admin: LocalAccount
) -> tuple[list[LocalAccount], list[str]]:
    payers = [await funded(coin, admin, FUNDING) for _ in range(PAYERS)]
    return payers, [Account.create().address for _ in range(PAYEES)]


async def cancel_on_chain(
    coin: StablecoinContract,
    relayer: LocalAccount,
    payer: LocalAccount,
    submitted: PaymentSubmission,
) -> None:
    """The payer spends its accepted authorization's nonce with CancelAuthorization."""
    nonce = bytes.fromhex(str(submitted.instrument["nonce"])[2:])
    signed = CancelAuthorization(payer.address, nonce).sign(payer.key, coin.domain)
    await coin.cancel_authorization(relayer, signed)


async def drain(chain: ChainClient, coin: StablecoinContract, payer: LocalAccount) -> None:
    """The payer moves everything it holds to a stranger (given the ether to do so)."""
    await chain.batch_request([("anvil_setBalance", [payer.address, hex(10**18)])])
    await coin.transfer(payer, Account.create().address, await coin.balance_of(payer.address))


@pytest.mark.parametrize("mode", [SettlementMode.AUTHORIZATION, SettlementMode.BATCH])
async def test_the_same_payment_submitted_concurrently_settles_once(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    mode: SettlementMode,
) -> None:
    service = make_service(store, chain, coin, admin)
    payers, payees = await accounts(coin, admin)
    submissions = await signed_payments(coin, mode, payers, payees, 3, f"dup-{mode.value}")

    # Every payment COPIES times at once, copies interleaved with other payments' copies.
    copies = [submission for submission in submissions for _ in range(COPIES)]
    outcomes = await asyncio.gather(*(service.submit([copy]) for copy in copies))
    created = [outcome for (outcome,) in outcomes if outcome.created]
    assert len(created) == len(submissions)
    assert all(outcome.record is not None for (outcome,) in outcomes)

    ids = [outcome.payment_id for outcome in created]
    await settle_on_windows(service, ids)
    tally = await count(
        FaultTally(f"{mode.value}: {COPIES} concurrent copies of each payment"),
        service,
        coin,
        ids,
        dict.fromkeys(payees, 0),
    )
    tally.faults = len(copies) - len(submissions)
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(submissions)


async def test_authorizations_cancelled_after_acceptance_fail_with_a_reason(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
) -> None:
    service = make_service(store, chain, coin, admin)
    payers, payees = await accounts(coin, admin)
    submissions = await signed_payments(
        coin, SettlementMode.AUTHORIZATION, payers, payees, 4, "cancel"
    )
    ids = [outcome.payment_id for outcome in await service.submit(submissions)]

    # Each payer cancels every other authorization on chain after the service accepted it.
    cancelled = submissions[::2]
    by_address = {payer.address: payer for payer in payers}
    for submission in cancelled:
        await cancel_on_chain(coin, admin, by_address[submission.intent.payer], submission)

    await settle_on_windows(service, ids)
    tally = await count(
        FaultTally("authorization: cancelled on chain after acceptance"),
        service,
        coin,
        ids,
        dict.fromkeys(payees, 0),
    )
    tally.faults = len(cancelled)
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(submissions) - len(cancelled)
    assert tally.failed.total() == len(cancelled)


@pytest.mark.parametrize("mode", [SettlementMode.AUTHORIZATION, SettlementMode.BATCH])
async def test_payers_drained_between_acceptance_and_settlement_fail_with_a_reason(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    mode: SettlementMode,
) -> None:
    service = make_service(store, chain, coin, admin)
    payers, payees = await accounts(coin, admin)
    submissions = await signed_payments(coin, mode, payers, payees, 4, f"drain-{mode.value}")
    ids = [outcome.payment_id for outcome in await service.submit(submissions)]

    # Half the payers move everything they hold elsewhere before any window closes.
    drained = payers[: PAYERS // 2]
    for payer in drained:
        await drain(chain, coin, payer)

    await settle_on_windows(service, ids)
    tally = await count(
        FaultTally(f"{mode.value}: payer drained after acceptance"),
        service,
        coin,
        ids,
        dict.fromkeys(payees, 0),
    )
    tally.faults = len(drained)
    drained_payments = sum(s.intent.payer in {p.address for p in drained} for s in submissions)
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.failed.total() == drained_payments
    assert tally.settled == len(submissions) - drained_payments


async def submit_through_faults(
    service: SettlementService, submissions: list[PaymentSubmission]
) -> list[str]:
    """Submit in small requests, resending one whose chain read failed, as a client would."""
    ids = []
    for start in range(0, len(submissions), 10):
        chunk = submissions[start : start + 10]
        for _ in range(20):
            try:
                ids += [outcome.payment_id for outcome in await service.submit(chunk)]
                break
            except ChainError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the chain never answered acceptance's read")
    return ids


@contextlib.asynccontextmanager
async def proxied_chain(anvil_rpc_url: str) -> AsyncIterator[tuple[FaultProxy, ChainClient]]:
    proxy = FaultProxy(anvil_rpc_url)
    url = await proxy.start()
    client = await ChainClient.connect(url, receipt_timeout_s=30)
    try:
        yield proxy, client
    finally:
        await client.close()
        await proxy.close()


async def break_the_connection(proxy: FaultProxy, duration_s: float) -> None:
    """For ``duration_s``, every 150 ms in turn: cut the open connections, refuse the next
    two, slow the answers; then heal."""
    step = 0
    ends = asyncio.get_running_loop().time() + duration_s
    while asyncio.get_running_loop().time() < ends:
        kind = step % 3
        if kind == 0:
            proxy.cut()
        elif kind == 1:
            proxy.refuse_next(2)
        else:
            proxy.delay_s = 0.2
        await asyncio.sleep(CHAOS_STEP_S)
        proxy.delay_s = 0.0
        step += 1
    proxy.heal()


@pytest.mark.parametrize("mode", [SettlementMode.AUTHORIZATION, SettlementMode.BATCH])
async def test_a_flaky_chain_connection_loses_nothing_and_settles_nothing_twice(
    store: SqlPaymentStore,
    coin: StablecoinContract,
    admin: LocalAccount,
    anvil_rpc_url: str,
    stablecoin_artifact: ContractArtifact,
    mode: SettlementMode,
) -> None:
    payers, payees = await accounts(coin, admin)
    submissions = await signed_payments(
        coin, mode, payers, payees, FLAKY_PAYMENTS_PER_PAYER, f"flaky-{mode.value}"
    )
    async with proxied_chain(anvil_rpc_url) as (proxy, flaky):
        flaky_coin = StablecoinContract(flaky, stablecoin_artifact, coin.address, coin.domain.name)
        service = make_service(store, flaky, flaky_coin, admin)
        # The connection breaks for a while, then heals; the windows run throughout.
        chaos = asyncio.create_task(break_the_connection(proxy, CHAOS_DURATION_S))
        try:
            ids = await submit_through_faults(service, submissions)
            await settle_on_windows(service, ids)
        finally:
            await chaos
        faults = proxy.faults
    tally = await count(
        FaultTally(f"{mode.value}: chain connection cut, refused, slowed"),
        service,
        coin,
        ids,
        dict.fromkeys(payees, 0),
    )
    tally.faults = faults
    assert faults > 0
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(submissions)


async def test_mixed_faults_lose_nothing_and_settle_nothing_twice(
    store: SqlPaymentStore,
    coin: StablecoinContract,
    chain: ChainClient,
    admin: LocalAccount,
    anvil_rpc_url: str,
    stablecoin_artifact: ContractArtifact,
) -> None:
    """A flaky connection, concurrent copies, cancelled authorizations and a drained payer, all
    in one run of authorization payments."""
    payers, payees = await accounts(coin, admin)
    submissions = await signed_payments(
        coin, SettlementMode.AUTHORIZATION, payers, payees, 12, "mixed"
    )
    drained, cancelled = payers[0], submissions[1::8]
    by_address = {payer.address: payer for payer in payers}
    async with proxied_chain(anvil_rpc_url) as (proxy, flaky):
        flaky_coin = StablecoinContract(flaky, stablecoin_artifact, coin.address, coin.domain.name)
        service = make_service(store, flaky, flaky_coin, admin)
        chaos = asyncio.create_task(break_the_connection(proxy, CHAOS_DURATION_S))
        try:
            copies = [s for s in submissions for _ in range(3)]
            ids = list(dict.fromkeys(await submit_through_faults(service, copies)))
            for submission in cancelled:
                await cancel_on_chain(coin, admin, by_address[submission.intent.payer], submission)
            await drain(chain, coin, drained)
            await settle_on_windows(service, ids)
        finally:
            await chaos
        faults = proxy.faults + len(copies) - len(submissions) + len(cancelled) + 1
    tally = await count(
        FaultTally("authorization: mixed (connection, copies, cancels, drain)"),
        service,
        coin,
        ids,
        dict.fromkeys(payees, 0),
    )
    tally.faults = faults
    doomed = {s.intent.payment_id for s in cancelled} | {
        s.intent.payment_id for s in submissions if s.intent.payer == drained.address
    }
    assert len(ids) == len(submissions)
    assert (tally.lost, tally.settled_twice) == (0, 0)
    # The windows open only after the cancels and the drain: exactly those payments fail.
    assert tally.failed.total() == len(doomed)
    assert tally.settled == len(submissions) - len(doomed)


async def test_a_restarted_service_frees_what_its_crashed_run_had_leased(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
) -> None:
    crashed = make_service(store, chain, coin, admin)
    payers, payees = await accounts(coin, admin)
    submissions = await signed_payments(
        coin, SettlementMode.AUTHORIZATION, payers, payees, 2, "leased"
    )
    ids = [outcome.payment_id for outcome in await crashed.submit(submissions)]
    # The run leases a round's payments, then dies before recording anything.
    leased = await store.lease_queued(SettlementMode.AUTHORIZATION, 100, crashed.lease_owner, 300)
    assert len(leased) == len(ids)

    restarted = make_service(store, chain, coin, admin)
    assert (await restarted.settle_round(SettlementMode.AUTHORIZATION)).settled == 0
    await restarted.reconcile()
    report = await restarted.settle_round(SettlementMode.AUTHORIZATION)
    assert report.settled == len(ids)
    tally = await count(
        FaultTally("authorization: crashed with payments leased"),
        restarted,
        coin,
        ids,
        dict.fromkeys(payees, 0),
    )
    tally.faults = 1
    assert (tally.lost, tally.settled_twice) == (0, 0)


async def test_the_api_answers_503_with_retry_after_while_the_chain_is_unreachable(
    store: SqlPaymentStore,
    coin: StablecoinContract,
    admin: LocalAccount,
    anvil_rpc_url: str,
    stablecoin_artifact: ContractArtifact,
) -> None:
    """A lost chain connection is the client's cue to resend, not a server error: the API says
    503 with Retry-After, stores nothing, and takes the same request once the chain is back."""
    payers, payees = await accounts(coin, admin)
    (submission,) = await signed_payments(
        coin, SettlementMode.AUTHORIZATION, payers[:1], payees, 1, "unreachable"
    )
    async with proxied_chain(anvil_rpc_url) as (proxy, flaky):
        flaky_coin = StablecoinContract(flaky, stablecoin_artifact, coin.address, coin.domain.name)
        app = create_app(make_service(store, flaky, flaky_coin, admin), None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://settlement") as api:
            proxy.cut()
            proxy.refuse_next(1_000)
            refused = await api.post("/v1/payments", json=as_json(submission))
            proxy.heal()
            accepted = await api.post("/v1/payments", json=as_json(submission))

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "1"
    assert "the chain is unavailable" in refused.json()["detail"]
    assert accepted.status_code == 201, accepted.text
    assert await store.count_queued() == 1

"""Direct and channel modes through `settlement serve` whose chain connection breaks (the fault
proxy) while it is killed with SIGKILL and restarted, a client streaming over HTTP throughout:
nothing lost, nothing settled twice, every payment settled.

Authorization, batch and net meet the same faults in ``test_faults``, ``test_kill`` and
``test_reorg``; these two modes carry state the others do not (a payer's own transaction nonces,
a channel's running voucher total), which a resent request or a half-done claim must not break.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from eth_account import Account

from settlement.chain.anvil import free_loopback_port
from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.client import SettlementClient
from settlement.domain.payments import Purpose, SettlementMode
from settlement.remote_replay import (
    chain_terms,
    fund_escrow,
    fund_participants,
    payment_body,
)
from settlement.replay import Replay, ReplayPayment, ThrottledProgress, sign_all
from settlement.wallet import PayerWallet
from tests.settlement.faults.harness import FaultTally, tally_outcomes
from tests.settlement.faults.proxy import FaultProxy
from tests.settlement.faults.test_faults import break_the_connection
from tests.settlement.faults.test_kill import (
    API_KEY,
    KILLS,
    KillableService,
    await_final,
    kill_and_restart,
)

pytestmark = [pytest.mark.anvil, pytest.mark.faults]

PAYERS = 4
PAYEES = 3
PAYMENTS_PER_PAYER = 30
CHUNK = 8
CHAOS_DURATION_S = 4.0


def disjoint_replay(tag: str) -> Replay:
    """Payers who only pay and payees who only receive, so a payee's balance on chain is its
    starting grant plus exactly what its confirmed payments bring."""
    keys = [Account.create().key for _ in range(PAYERS + PAYEES)]
    payments = [
        ReplayPayment(
            payer,
            PAYERS + (payer + n) % PAYEES,
            100 + 7 * n + payer,
            Purpose.ENERGY,
            f"{tag}{payer}-{n}",
        )
        for n in range(PAYMENTS_PER_PAYER)
        for payer in range(PAYERS)
    ]
    return Replay(keys, payments)


@asynccontextmanager
async def serve_behind_a_proxy(
    folder: Path, anvil_rpc_url: str
) -> AsyncIterator[tuple[KillableService, FaultProxy]]:
    proxy = FaultProxy(anvil_rpc_url)
    service = KillableService(folder, await proxy.start(), free_loopback_port())
    await asyncio.to_thread(service.start)
    try:
        yield service, proxy
    finally:
        await asyncio.to_thread(service.stop)
        await proxy.close()


@pytest.mark.parametrize("mode", [SettlementMode.DIRECT, SettlementMode.CHANNEL])
async def test_a_killed_service_on_a_flaky_chain_settles_every_payment_once(
    tmp_path: Path,
    anvil_rpc_url: str,
    stablecoin_artifact: ContractArtifact,
    mode: SettlementMode,
) -> None:
    replay = disjoint_replay(f"kill-{mode.value}-")
    wallets = [PayerWallet(key) for key in replay.participant_keys]
    payees = [wallet.address for wallet in wallets[PAYERS:]]
    async with serve_behind_a_proxy(tmp_path, anvil_rpc_url) as (service, proxy):
        async with SettlementClient(service.url, api_key=API_KEY, attempts=30) as client:
            terms = chain_terms(await client.terms())
            await fund_participants(client, replay, mode, wallets)
            await fund_escrow(client, replay, mode, wallets, terms)
            async with await ChainClient.connect(anvil_rpc_url) as chain:
                coin = StablecoinContract(chain, stablecoin_artifact, terms.token, "Robot Dollar")
                held_before = await coin.balances(payees)
            submissions = sign_all(mode, replay, wallets, terms, ThrottledProgress(None))
            bodies = [payment_body(submission) for submission in submissions]
            faults = asyncio.gather(
                kill_and_restart(service), break_the_connection(proxy, CHAOS_DURATION_S)
            )
            ids: list[str] = []
            # One request at a time, in the replay's order: each payer's transaction nonces
            # and voucher totals arrive in sequence, as a robot sends them.
            for start in range(0, len(bodies), CHUNK):
                answer = await client.submit_payments(bodies[start : start + CHUNK])
                ids += [result.payment_id for result in answer.results if result.payment]
                await asyncio.sleep(0.05)
            await faults
            assert len(ids) == len(bodies), "every payment accepted, through the faults"
            final = await await_final(client, ids)
            resent = client.retries
        async with await ChainClient.connect(anvil_rpc_url) as chain:
            coin = StablecoinContract(chain, stablecoin_artifact, terms.token, "Robot Dollar")
            held = await coin.balances(payees)

    tally = tally_outcomes(
        FaultTally(
            f"sqlite, {mode.value}: SIGKILLed and restarted, chain connection broken",
            faults=KILLS + proxy.faults,
        ),
        ids,
        final,
        {payee: held[payee] - held_before[payee] for payee in payees},
    )
    assert service.starts == KILLS + 1
    assert resent > 0  # the client met the dead service and sent those requests again
    assert proxy.faults > 0
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(bodies)

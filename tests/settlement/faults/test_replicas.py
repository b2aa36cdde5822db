"""Two `settlement serve` replicas on one PostgreSQL: both accept, one settles. The leader is
killed with SIGKILL mid-stream, several times, while a client streams payments over HTTP to both:
the other takes over within the lease's bound, and nothing is lost or settled twice."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from settlement.chain.anvil import free_loopback_port
from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.client import SettlementClient
from settlement.domain.payments import SettlementMode
from settlement.leadership import LEASE_TTL_S
from settlement.remote_replay import chain_terms
from tests.conftest import private_schema
from tests.settlement.faults.harness import FaultTally, tally_outcomes
from tests.settlement.faults.test_kill import (
    ADDRESS_LINES,
    API_KEY,
    KillableService,
    await_final,
    signed_stream,
)

pytestmark = [pytest.mark.anvil, pytest.mark.faults]

KILLS = 3
PAYERS = 6
PAYMENTS_PER_PAYER = 40
CHUNK = 8
# A follower sees the lease expire at most one campaign interval late (a third of the lease).
TAKEOVER_BOUND_S = LEASE_TTL_S * 4 / 3 + 3.0


def settling(replica: KillableService) -> bool:
    try:
        return httpx.get(f"{replica.url}/health", timeout=2).json().get("settling") is True
    except httpx.HTTPError:
        return False


async def leader_of(replicas: list[KillableService], within_s: float) -> KillableService:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        leaders = [r for r in replicas if await asyncio.to_thread(settling, r)]
        assert len(leaders) <= 1, "two replicas settle at once"
        if leaders:
            return leaders[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no replica took the lead within {within_s:.0f} s")


async def kill_leaders(replicas: list[KillableService], takeovers_s: list[float]) -> None:
    """KILLS times: kill whichever replica settles, time the other's takeover, restart it."""
    for _ in range(KILLS):
        await asyncio.sleep(1.0)
        leader = await leader_of(replicas, TAKEOVER_BOUND_S)
        killed_at = time.monotonic()
        leader.kill()
        follower = next(r for r in replicas if r is not leader)
        assert await leader_of([follower], TAKEOVER_BOUND_S) is follower
        takeovers_s.append(time.monotonic() - killed_at)
        await asyncio.to_thread(leader.start)


async def stream_to_both(
    clients: list[SettlementClient], bodies: list[dict[str, object]]
) -> list[str]:
    """Chunks of payments, each chunk to the next replica in turn; the accepted ids."""
    ids: list[str] = []
    for number, start in enumerate(range(0, len(bodies), CHUNK)):
        answer = await clients[number % 2].submit_payments(bodies[start : start + CHUNK])
        ids += [result.payment_id for result in answer.results if result.payment]
        await asyncio.sleep(0.05)
    return ids


async def test_replicas_on_one_postgresql_survive_their_leader_killed_again_and_again(
    tmp_path: Path, anvil_rpc_url: str, stablecoin_artifact: ContractArtifact
) -> None:
    with private_schema("replicas") as database_url:
        replicas = [
            KillableService(tmp_path, anvil_rpc_url, free_loopback_port(), database_url, name)
            for name in ("a", "b")
        ]
        # The first deploys the contracts; the second, given no addresses, finds them recorded
        # in the store and attaches to them, as a replica scaled up by compose does.
        for replica in replicas:
            replica.start()
        for variable in ADDRESS_LINES:
            assert replicas[1].env[variable] == replicas[0].env[variable]
        try:
            tally, takeovers_s, resent = await _stream_through_kills(
                replicas, anvil_rpc_url, stablecoin_artifact
            )
        finally:
            for replica in replicas:
                replica.stop()

    assert len(takeovers_s) == KILLS
    assert max(takeovers_s) <= TAKEOVER_BOUND_S, takeovers_s
    assert sum(replica.starts for replica in replicas) == 2 + KILLS
    assert resent > 0  # the clients met a dead replica and sent those requests again
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == PAYERS * PAYMENTS_PER_PAYER


async def _stream_through_kills(
    replicas: list[KillableService], rpc_url: str, artifact: ContractArtifact
) -> tuple[FaultTally, list[float], int]:
    clients = [SettlementClient(r.url, api_key=API_KEY, attempts=20) for r in replicas]
    async with clients[0], clients[1]:
        terms = chain_terms(await clients[0].terms())
        wallets, payees, bodies = signed_stream(
            terms, SettlementMode.BATCH, "r", PAYERS, PAYMENTS_PER_PAYER
        )
        # Through the follower if it is one: the faucet is served by the leader, forwarded.
        for client in clients:
            await client.faucet(
                [{"address": w.address, "token_base_units": 10**8} for w in wallets]
            )
        takeovers_s: list[float] = []
        killer = asyncio.create_task(kill_leaders(replicas, takeovers_s))
        ids = await stream_to_both(clients, bodies)
        await killer
        assert len(ids) == len(bodies), "every payment accepted, through the kills"
        final = await await_final(clients[0], ids)
        resent = clients[0].retries + clients[1].retries
    async with await ChainClient.connect(rpc_url) as chain:
        coin = StablecoinContract(chain, artifact, terms.token, "Robot Dollar")
        held = await coin.balances(payees)
    scenario = (
        f"postgresql, batch: 2 replicas, leader SIGKILLed, taken over in "
        f"{min(takeovers_s):.1f}-{max(takeovers_s):.1f} s"
    )
    tally = tally_outcomes(FaultTally(scenario, faults=KILLS), ids, final, held)
    return tally, takeovers_s, resent

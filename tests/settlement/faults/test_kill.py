"""`settlement serve` killed with SIGKILL in the middle of settling, then restarted on the same
database and chain, while a client keeps submitting over HTTP: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from settlement.api.models import PaymentOut
from settlement.chain.anvil import free_loopback_port
from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.client import SettlementClient
from settlement.domain.payments import PaymentState, Purpose, SettlementMode
from settlement.remote_replay import chain_terms, payment_body
from settlement.wallet import ChainTerms, PayerWallet
from tests.cli_helpers import serve_command, wait_for_health
from tests.settlement.faults.harness import FaultTally, tally_outcomes

pytestmark = [pytest.mark.anvil, pytest.mark.faults]

API_KEY = "kill-test-key"
KILLS = 3
PAYERS = 5
PAYMENTS_PER_PAYER = 40
CHUNK = 10
ADDRESS_LINES = {
    "SETTLEMENT_TOKEN_ADDRESS": re.compile(r"stablecoin (0x[0-9a-fA-F]{40})"),
    "SETTLEMENT_CHANNELS_ADDRESS": re.compile(r"payment channels (0x[0-9a-fA-F]{40})"),
    "SETTLEMENT_NET_ADDRESS": re.compile(r"net settlement (0x[0-9a-fA-F]{40})"),
}


class KillableService:
    """``settlement serve`` on the test session's Anvil; killed and restarted on demand, each
    time on the same port, database and contracts."""

    def __init__(
        self,
        folder: Path,
        rpc_url: str,
        port: int,
        database_url: str | None = None,
        name: str = "serve",
    ) -> None:
        self.folder = folder
        self.port = port
        self.name = name
        self.starts = 0
        self.env = dict(
            os.environ,
            SETTLEMENT_API_KEY=API_KEY,
            SETTLEMENT_RPC_URL=rpc_url,
            SETTLEMENT_DATABASE_URL=database_url or f"sqlite:///{folder / 'killed.db'}",
        )
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = self.folder / f"{self.name}-{self.starts}.log"
        with log.open("w") as output:
            self.process = subprocess.Popen(
                serve_command("--port", str(self.port), "--window-seconds", "0.2"),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                env=self.env,
            )
        wait_for_health(self.port, self.process)
        if "SETTLEMENT_TOKEN_ADDRESS" not in self.env:
            self._remember_contracts(log)

    def _remember_contracts(self, log: Path) -> None:
        """The first start deploys the contracts; restarts must attach to the same ones."""
        text = log.read_text()
        for variable, pattern in ADDRESS_LINES.items():
            match = pattern.search(text)
            assert match, f"serve did not name its {variable}: {text}"
            self.env[variable] = match.group(1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)


@contextmanager
def killable_service(folder: Path, rpc_url: str) -> Iterator[KillableService]:
    service = KillableService(folder, rpc_url, free_loopback_port())
    service.start()
    try:
        yield service
    finally:
        service.stop()


async def test_a_service_killed_mid_window_and_restarted_settles_everything_once(
    tmp_path: Path, anvil_rpc_url: str, stablecoin_artifact: ContractArtifact
) -> None:
    with killable_service(tmp_path, anvil_rpc_url) as service:
        url = f"http://127.0.0.1:{service.port}"
        async with SettlementClient(url, api_key=API_KEY, attempts=12) as client:
            terms = chain_terms(await client.terms())
            wallets, payees, bodies = signed_stream(terms, SettlementMode.AUTHORIZATION, "k")
            await client.faucet(
                [{"address": w.address, "token_base_units": 10**9} for w in wallets]
            )
            killer = asyncio.create_task(kill_and_restart(service))
            ids: list[str] = []
            for start in range(0, len(bodies), CHUNK):
                answer = await client.submit_payments(bodies[start : start + CHUNK])
                ids += [result.payment_id for result in answer.results if result.payment]
                await asyncio.sleep(0.05)
            await killer
            assert len(ids) == len(bodies), "every payment accepted, through the kills"
            final = await await_final(client, ids)
            resent = client.retries
        async with await ChainClient.connect(anvil_rpc_url) as chain:
            coin = StablecoinContract(chain, stablecoin_artifact, terms.token, "Robot Dollar")
            held = await coin.balances(payees)

    tally = tally_outcomes(
        FaultTally("sqlite, authorization: serve killed with SIGKILL and restarted", faults=KILLS),
        ids,
        final,
        held,
    )
    assert service.starts == KILLS + 1
    assert resent > 0  # the client met the dead service and sent those requests again
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(bodies)


def signed_stream(
    terms: ChainTerms,
    mode: SettlementMode,
    key_prefix: str,
    payers: int = PAYERS,
    payments_per_payer: int = PAYMENTS_PER_PAYER,
) -> tuple[list[PayerWallet], list[str], list[dict[str, Any]]]:
    """Fresh payers (to be funded), fresh payees, and every payer's payments signed in the
    order a robot sends them, round the payees."""
    wallets = [PayerWallet(Account.create().key) for _ in range(payers)]
    payees = [Account.create().address for _ in range(3)]
    bodies = [
        payment_body(
            wallet.submission(
                mode,
                f"{key_prefix}{p}-{n}",
                payees[(p + n) % len(payees)],
                100 + n,
                Purpose.ENERGY,
                terms,
            )
        )
        for n in range(payments_per_payer)
        for p, wallet in enumerate(wallets)
    ]
    return wallets, payees, bodies


async def kill_and_restart(service: KillableService) -> None:
    """Kill the service in the middle of a window, KILLS times, restarting it each time."""
    for _ in range(KILLS):
        await asyncio.sleep(0.7)
        service.kill()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(service.start)


async def await_final(client: SettlementClient, ids: list[str]) -> dict[str, PaymentOut]:
    """Each payment once it is confirmed or failed, within a minute."""
    final: dict[str, PaymentOut] = {}
    for _ in range(600):
        waiting = [payment_id for payment_id in ids if payment_id not in final]
        if not waiting:
            break
        for start in range(0, len(waiting), 1_000):
            found = await client.lookup_payments(waiting[start : start + 1_000])
            for settled in found.payments:
                if settled.payment.state in (PaymentState.CONFIRMED, PaymentState.FAILED):
                    final[settled.payment.payment_id] = settled.payment
        await asyncio.sleep(0.1)
    return final

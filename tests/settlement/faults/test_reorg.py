"""Reorganisations after inclusion, and Anvil restarted from saved state: confirmed settlements
whose blocks vanish are settled again, once; nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient
from settlement.chain.dev_accounts import anvil_dev_account
from settlement.chain.payment_channels import top_up_nonce_of
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.eip712 import keccak256
from settlement.domain.messages import AuthorizationKind, TransferAuthorization
from settlement.domain.payments import PaymentState, SettlementMode
from settlement.errors import ChainError
from settlement.escrow import Funding
from settlement.service import SettlementService
from settlement.settlers.base import PaymentSubmission
from settlement.store import SqlPaymentStore
from settlement.wallet import ChainTerms, PayerWallet
from settlement.windows import REORG_CHECK_INTERVAL_S, run_windows
from tests.conftest import deploy_test_coin
from tests.settlement.api_helpers import (
    EscrowedService,
    funded_wallet,
    funding,
    make_escrowed_service,
    make_service,
    terms_for,
)
from tests.settlement.faults.harness import FaultTally, Holdings, count, settle_on_windows
from tests.settlement.faults.proxy import FaultProxy
from tests.settlement.faults.test_faults import (
    PAYEES,
    PAYERS,
    accounts,
    signed_payments,
    submit_through_faults,
)
from tests.settlement.test_service_net import depositor, net_payment

pytestmark = [pytest.mark.anvil, pytest.mark.faults]

PER_PAYER = 15
REORGS = 3
# Settlement blocks each reorganisation lets be mined, then removes.
BLOCKS_PER_REORG = 3
# How long the chain may take to mine what it already received before a snapshot or rewind.
QUIET_WAIT_S = 10.0
# Payments arrive in small requests while the faults strike, as a fleet's would.
CHUNK = 6
CHUNK_INTERVAL_S = 0.15
# How long a fault waits for more payments to confirm before it strikes anyway.
PROGRESS_WAIT_S = 30.0


@dataclass
class RestartableChain:
    """Anvil behind a proxy whose address never changes, so a restarted Anvil (on another port)
    is the same chain to the service; ``restart`` stops the running one and starts a new one."""

    binary: Path
    proxy: FaultProxy | None = None
    anvil: EmbeddedAnvil | None = None
    started: list[EmbeddedAnvil] = field(default_factory=list)

    async def start(self, *extra_args: str) -> str:
        anvil_url = self._start_anvil(extra_args)
        self.proxy = FaultProxy(anvil_url)
        return await self.proxy.start()

    def restart(self, *extra_args: str) -> None:
        assert self.anvil is not None
        assert self.proxy is not None
        # SIGTERM: an Anvil started with --dump-state writes its state on the way out.
        self.anvil.stop()
        self.proxy.retarget(self._start_anvil(extra_args))

    @contextlib.asynccontextmanager
    async def quiet(self) -> AsyncIterator[ChainClient]:
        """Anvil, reached directly, while the proxy holds the service's requests and once Anvil
        has mined every transaction it already received.

        Anvil's ``evm_snapshot`` and ``evm_revert`` race its own mining: a rewind while
        transactions arrive can leave holes in its chain, a sender's nonces out of order across
        blocks, and a pool that never mines again (docs/anvil-revert-race.md). A
        node switches to another fork between one request and the next; holding the service's
        requests for the moment of the rewind gives the test the same.
        """
        assert self.proxy is not None
        assert self.anvil is not None
        async with self.proxy.held(), await ChainClient.connect(self.anvil.rpc_url) as anvil:
            await until_mined(anvil)
            yield anvil

    def _start_anvil(self, extra_args: Sequence[str]) -> str:
        self.anvil = EmbeddedAnvil(self.binary, extra_args=extra_args)
        self.started.append(self.anvil)
        return self.anvil.start()

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
        for anvil in self.started:
            anvil.stop()


@contextlib.asynccontextmanager
async def own_chain(
    contracts_dir: Path, artifact: ContractArtifact, *anvil_args: str
) -> AsyncIterator[tuple[RestartableChain, ChainClient, StablecoinContract]]:
    """A chain of the test's own (it is rewound and restarted), with a fresh stablecoin."""
    restartable = RestartableChain(find_anvil_binary(contracts_dir))
    try:
        url = await restartable.start(*anvil_args)
        async with await ChainClient.connect(url, receipt_timeout_s=30) as client:
            yield restartable, client, await deploy_test_coin(client, artifact, admin_account())
    finally:
        await restartable.close()


async def until_mined(anvil: ChainClient) -> None:
    """Wait until Anvil's pool holds nothing ready to mine and its head stays put."""
    deadline = time.monotonic() + QUIET_WAIT_S
    last_head = -1
    while time.monotonic() < deadline:
        (status,) = await anvil.batch_request([("txpool_status", [])])
        current = await head(anvil)
        if int(status["result"]["pending"], 16) == 0 and current == last_head:
            return
        last_head = current
        await asyncio.sleep(0.05)
    raise AssertionError(f"Anvil kept mining for {QUIET_WAIT_S:.0f} s with the service held back")


def admin_account() -> LocalAccount:
    return anvil_dev_account(0)


async def confirmed(store: SqlPaymentStore, ids: Sequence[str]) -> int:
    records = await store.records(list(ids))
    return sum(record.state is PaymentState.CONFIRMED for record in records.values())


async def until_confirmed(store: SqlPaymentStore, ids: Sequence[str], at_least: int) -> None:
    """Wait until ``at_least`` payments are confirmed, or ``PROGRESS_WAIT_S`` passes."""
    deadline = time.monotonic() + PROGRESS_WAIT_S
    while time.monotonic() < deadline and await confirmed(store, ids) < at_least:  # noqa: ASYNC110 - polls the store
        await asyncio.sleep(0.05)


async def stream(
    service: SettlementService, submissions: Sequence[PaymentSubmission], ids: list[str]
) -> None:
    """Submit in small requests spread over time, adding each accepted id to ``ids``; a request
    whose chain read failed (the chain restarting) is sent again, as a client would."""
    for start in range(0, len(submissions), CHUNK):
        ids += await submit_through_faults(service, list(submissions[start : start + CHUNK]))
        await asyncio.sleep(CHUNK_INTERVAL_S)


async def head_once_up(client: ChainClient) -> int:
    """The head of a chain that is (re)starting: its first answer."""
    deadline = time.monotonic() + PROGRESS_WAIT_S
    while True:
        try:
            return await head(client)
        except ChainError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def head(client: ChainClient) -> int:
    return int(await client.w3.eth.block_number)


async def until_head(client: ChainClient, block: int) -> None:
    """Wait until the chain reaches ``block``, or ``PROGRESS_WAIT_S`` passes."""
    deadline = time.monotonic() + PROGRESS_WAIT_S
    while time.monotonic() < deadline and await head(client) < block:  # noqa: ASYNC110 - polls the chain
        await asyncio.sleep(0.02)


async def reorganise(chain: RestartableChain, client: ChainClient, removed: list[int]) -> None:
    """``REORGS`` times, back to back: snapshot the chain, let ``BLOCKS_PER_REORG`` blocks of
    settlements be mined, rewind to the snapshot. Each rewind strikes while the service is
    still settling again what the last one removed. ``removed`` gets how many blocks each
    rewind took away (only the service's relayer sends transactions here, so each held
    settlements)."""
    for _ in range(REORGS):
        async with chain.quiet() as anvil:
            (snapshot,) = await anvil.batch_request([("evm_snapshot", [])])
            kept = await head(anvil)
        await until_head(client, kept + BLOCKS_PER_REORG)
        async with chain.quiet() as anvil:
            before = await head(anvil)
            (reverted,) = await anvil.batch_request([("evm_revert", [snapshot["result"]])])
        assert reverted["result"] is True
        removed.append(before - kept)


async def settled_through_reorganisations(
    chain: RestartableChain,
    service: SettlementService,
    holdings: Holdings,
    submissions: Sequence[PaymentSubmission],
    payees: Sequence[str],
    label: str,
) -> FaultTally:
    """Stream ``submissions`` in while the chain is rewound back to back, settle, and count
    (payees start from nothing; ``holdings`` is where their money lands)."""
    ids: list[str] = []
    removed: list[int] = []
    faults = asyncio.gather(
        stream(service, submissions, ids), reorganise(chain, service.client, removed)
    )
    await settle_on_windows(service, ids, faults=faults)
    tally = await count(
        FaultTally(f"{label}: {REORGS} reorganisations after inclusion"),
        service,
        holdings,
        ids,
        dict.fromkeys(payees, 0),
    )
    # Each block removed held settlements the service had confirmed; they count as the faults.
    tally.faults = sum(removed)
    assert all(blocks > 0 for blocks in removed), removed
    return tally


@pytest.mark.parametrize("mode", [SettlementMode.AUTHORIZATION, SettlementMode.BATCH])
async def test_settlements_removed_by_a_reorganisation_are_settled_again_once(
    store: SqlPaymentStore,
    contracts_dir: Path,
    stablecoin_artifact: ContractArtifact,
    mode: SettlementMode,
) -> None:
    async with own_chain(contracts_dir, stablecoin_artifact) as (chain, client, coin):
        admin = admin_account()
        payers, payees = await accounts(coin, admin)
        submissions = await signed_payments(coin, mode, payers, payees, PER_PAYER, "reorg")
        service = make_service(store, client, coin, admin)
        tally = await settled_through_reorganisations(
            chain, service, coin, submissions, payees, mode.value
        )
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(submissions)


async def test_net_windows_removed_by_a_reorganisation_are_settled_again_once(
    store: SqlPaymentStore, contracts_dir: Path, stablecoin_artifact: ContractArtifact
) -> None:
    """Net mode has no on-chain replay guard for a payment: only the relayer's nonce keeps a
    removed window and the one that settles its payments again from both landing."""
    async with own_chain(contracts_dir, stablecoin_artifact) as (chain, client, coin):
        admin = admin_account()
        escrowed = await make_escrowed_service(store, client, coin, admin, contracts_dir)
        terms = await terms_for(coin, escrowed)
        payers = [await depositor(escrowed, coin, admin, terms) for _ in range(PAYERS)]
        payees = [Account.create().address for _ in range(PAYEES)]
        submissions = [
            net_payment(
                payer, payees[(p + n) % PAYEES], f"reorg-net-{p}-{n}", 100 + 7 * n + p, terms
            )
            for p, payer in enumerate(payers)
            for n in range(PER_PAYER)
        ]
        tally = await settled_through_reorganisations(
            chain, escrowed.service, escrowed.net, submissions, payees, "net"
        )
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(submissions)


async def test_anvil_restarted_from_saved_state_loses_nothing_and_settles_nothing_twice(
    store: SqlPaymentStore,
    contracts_dir: Path,
    stablecoin_artifact: ContractArtifact,
    tmp_path: Path,
) -> None:
    """Anvil stops and starts again from the state it saved (the chain as it was); later it is
    restarted from that same, now older, state: what was settled since is gone."""
    saved = str(tmp_path / "anvil-state.json")
    async with own_chain(contracts_dir, stablecoin_artifact, "--dump-state", saved) as (
        chain,
        client,
        coin,
    ):
        admin = admin_account()
        payers, payees = await accounts(coin, admin)
        submissions = await signed_payments(
            coin, SettlementMode.AUTHORIZATION, payers, payees, PER_PAYER, "restart"
        )
        service = make_service(store, client, coin, admin)
        ids: list[str] = []
        removed: list[int] = []

        async def restarts() -> None:
            await until_confirmed(store, ids, PAYERS * PER_PAYER // 3)
            chain.restart("--load-state", saved)
            # At least the saved state's head (the service may be sending again already).
            kept = await head_once_up(client)
            await until_confirmed(store, ids, 2 * PAYERS * PER_PAYER // 3)
            before = await head(client)
            # Back to the state saved at the first restart: later settlements never happened.
            chain.restart("--load-state", saved)
            removed.append(before - kept)

        faults = asyncio.gather(stream(service, submissions, ids), restarts())
        await settle_on_windows(service, ids, faults=faults)
        tally = await count(
            FaultTally("authorization: Anvil restarted, then restored to older state"),
            service,
            coin,
            ids,
            dict.fromkeys(payees, 0),
        )
    tally.faults = 2 + sum(removed)
    assert removed[0] > 0, "the restore to older state removed no blocks"
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(submissions)


async def test_a_nonce_allocated_but_never_sent_does_not_hold_back_later_settlements(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
) -> None:
    """An operator call that took the relayer's next nonce and then never reached the node
    leaves a gap every later settlement waits behind; reconciliation fills it."""
    payers, payees = await accounts(coin, admin)
    submissions = await signed_payments(
        coin, SettlementMode.AUTHORIZATION, payers, payees, 3, "gap"
    )
    service = make_service(store, chain, coin, admin)
    lost_nonce = await chain.nonces.allocate(admin.address)
    ids = [outcome.payment_id for outcome in await service.submit(submissions)]

    await settle_on_windows(service, ids)
    tally = await count(
        FaultTally("authorization: a relayer nonce lost before sending"),
        service,
        coin,
        ids,
        dict.fromkeys(payees, 0),
    )
    tally.faults = 1
    assert (tally.lost, tally.settled_twice) == (0, 0)
    assert tally.settled == len(submissions)
    # The gap was filled by a transaction that does nothing, so the chain has moved past it.
    assert await chain.w3.eth.get_transaction_count(admin.address) > lost_nonce


async def test_escrow_funding_removed_by_a_reorganisation_is_sent_again_once(
    store: SqlPaymentStore, contracts_dir: Path, stablecoin_artifact: ContractArtifact
) -> None:
    """A channel opening, its top-up and a net deposit are tracked like settlements: a rewind
    that removes them has the service send each again, and each funds its escrow exactly once."""
    async with own_chain(contracts_dir, stablecoin_artifact) as (chain, client, coin):
        admin = admin_account()
        escrowed = await make_escrowed_service(store, client, coin, admin, contracts_dir)
        terms = await terms_for(coin, escrowed)
        wallet = await funded_wallet(coin, admin, ESCROW_FUNDS)
        payee = Account.create().address
        stop = asyncio.Event()
        # No settlement windows: the loop only watches for reorganisations and reconciles.
        watch = asyncio.create_task(run_windows(escrowed.service, {}, stop))
        try:
            async with chain.quiet() as anvil:
                (snapshot,) = await anvil.batch_request([("evm_snapshot", [])])
                kept = await head(anvil)
            channel_id = await fund_escrows(escrowed, coin, wallet, payee, terms)
            async with chain.quiet() as anvil:
                removed = await head(anvil) - kept
                (reverted,) = await anvil.batch_request([("evm_revert", [snapshot["result"]])])
            assert reverted["result"] is True
            assert removed == 3, "the three funding transactions, one block each"
            await until_funded(escrowed, channel_id, wallet.address)
            # Let the watch look again: nothing more may be sent.
            await asyncio.sleep(3 * REORG_CHECK_INTERVAL_S)
        finally:
            stop.set()
            await watch

        channel = await escrowed.channels.channel(channel_id)
        assert channel.deposit_base_units == CHANNEL_DEPOSIT + CHANNEL_TOP_UP
        assert await escrowed.net.balance_of(wallet.address) == NET_DEPOSIT
        spent = CHANNEL_DEPOSIT + CHANNEL_TOP_UP + NET_DEPOSIT
        assert await coin.balance_of(wallet.address) == ESCROW_FUNDS - spent
        for contract, event in (
            (escrowed.channels.address, b"ChannelOpened(bytes32,address,address,bytes32,uint256)"),
            (escrowed.channels.address, b"ChannelToppedUp(bytes32,bytes32,uint256,uint256)"),
            (escrowed.net.address, b"Deposited(address,uint256)"),
        ):
            logs = await client.w3.eth.get_logs(
                {
                    "address": contract,
                    "topics": [HexStr("0x" + keccak256(event).hex())],
                    "fromBlock": 0,
                }
            )
            assert len(logs) == 1, event
        assert await store.pending_submissions() == []
        assert (await store.gas_by_mode()) == {}, "funding is not settlement gas"


ESCROW_FUNDS = 1_000_000
CHANNEL_DEPOSIT = 100_000
CHANNEL_TOP_UP = 40_000
NET_DEPOSIT = 70_000


async def fund_escrows(
    escrowed: EscrowedService,
    coin: StablecoinContract,
    wallet: PayerWallet,
    payee: str,
    terms: ChainTerms,
) -> bytes:
    """Open a channel, top it up and make a net deposit, each through the service; the id."""
    salt, signed = wallet.channel_funding(payee, CHANNEL_DEPOSIT, terms)
    opened = await escrowed.escrow.open_channel(payee, salt, funding(signed))
    channel_id = bytes.fromhex(opened.channel_id[2:])
    top_up_salt = b"\x01" * 32
    authorization = TransferAuthorization(
        wallet.address,
        escrowed.channels.address,
        CHANNEL_TOP_UP,
        terms.chain_time - 1,
        terms.chain_time + 3_600,
        top_up_nonce_of(channel_id, top_up_salt),
        AuthorizationKind.RECEIVE,
    ).sign(wallet.private_key, coin.domain)
    topped = await escrowed.escrow.top_up_channel(
        channel_id,
        top_up_salt,
        Funding(
            wallet.address,
            CHANNEL_TOP_UP,
            authorization.message.valid_after,
            authorization.message.valid_before,
            authorization.signature,
        ),
    )
    assert topped.deposit_base_units == CHANNEL_DEPOSIT + CHANNEL_TOP_UP
    deposit = wallet.net_deposit(NET_DEPOSIT, terms)
    account = await escrowed.escrow.deposit(deposit.nonce, funding(deposit))
    assert account.deposit_base_units == NET_DEPOSIT
    return channel_id


async def until_funded(escrowed: EscrowedService, channel_id: bytes, payer: str) -> None:
    """Wait until the chain again shows the channel's and the net account's funding."""
    deadline = time.monotonic() + PROGRESS_WAIT_S
    while time.monotonic() < deadline:
        channel = await escrowed.channels.channel(channel_id)
        deposited = await escrowed.net.balance_of(payer)
        if channel.deposit_base_units == CHANNEL_DEPOSIT + CHANNEL_TOP_UP and deposited:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the funding removed by the rewind was not sent again")

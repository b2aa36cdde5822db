"""Assemble a running service from settings: chain, store, token, settlers, relayer."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from settlement.book import ServiceBook
from settlement.chain.artifacts import load_artifact
from settlement.chain.client import ChainClient
from settlement.chain.holdings import OnChainHoldings
from settlement.chain.net_settlement import NET_SETTLEMENT_ARTIFACT, NetSettlementContract
from settlement.chain.payment_channels import PAYMENT_CHANNELS_ARTIFACT, PaymentChannelsContract
from settlement.chain.relayer import Relayer
from settlement.chain.session import ChainSession, open_chain
from settlement.chain.stablecoin import STABLECOIN_ARTIFACT, Role, StablecoinContract
from settlement.config import Settings
from settlement.domain.payments import SettlementMode
from settlement.escrow import EscrowDesk
from settlement.faucet import DevFaucet
from settlement.ledger import Ledger, open_ledger
from settlement.service import SettlementService
from settlement.settlers.acceptance import TokenGate
from settlement.settlers.authorization import AuthorizationSettler, BatchedAuthorizationSettler
from settlement.settlers.base import Settler
from settlement.settlers.batch import BatchSettler
from settlement.settlers.channel import DEFAULT_CLAIM_MARGIN_S, ChannelSettler
from settlement.settlers.direct import DirectSettler
from settlement.settlers.ledger import LedgerSettler, ledger_domain
from settlement.settlers.net import NetSettler
from settlement.store import SqlPaymentStore

SUPPORTED_MODES = tuple(SettlementMode)
# Enough for a local fleet's funding; a real deployment configures its minters itself.
EMBEDDED_MINT_ALLOWANCE_BASE_UNITS = 10**15


@dataclass(frozen=True)
class Contracts:
    """The deployed contracts a service settles through; escrows only for the modes using them."""

    token: StablecoinContract
    channels: PaymentChannelsContract | None = None
    net: NetSettlementContract | None = None

    def escrow_addresses(self) -> dict[str, str]:
        """The escrow contracts' addresses under the store's names for them."""
        found = {"channels_address": self.channels, "net_address": self.net}
        return {key: contract.address for key, contract in found.items() if contract is not None}


def with_recorded_contracts(settings: Settings, recorded: dict[str, str]) -> Settings:
    """``settings`` with the contracts the store recorded filled in where none is configured:
    replicas sharing a store (``docker compose up --scale``) attach to the first one's."""
    fill = {key: address for key, address in recorded.items() if getattr(settings, key) is None}
    return settings.model_copy(update=fill) if fill else settings


@dataclass(frozen=True)
class Runtime:
    session: ChainSession
    store: SqlPaymentStore
    token: StablecoinContract
    service: SettlementService
    escrow: EscrowDesk
    contracts: Contracts
    database_url: str
    ledger: Ledger
    faucet: DevFaucet


def default_ledger_url(database_url: str) -> str:
    """The ledger beside the store: a sibling SQLite file, or the same PostgreSQL database."""
    if database_url.startswith("sqlite:///"):
        return database_url.removesuffix(".db") + ".ledger.db"
    return database_url


def build_settlers(
    modes: Iterable[SettlementMode],
    contracts: Contracts,
    store: SqlPaymentStore,
    ledger: Ledger | None = None,
    *,
    authorizations_batched: bool = False,
    channel_claim_margin_s: int = DEFAULT_CLAIM_MARGIN_S,
) -> dict[SettlementMode, Settler]:
    token = contracts.token
    # Token payments the chain would refuse now (paused, blocklisted, unfunded, spent nonce) are
    # refused at acceptance.
    gate = TokenGate(token, store)
    settlers: dict[SettlementMode, Settler] = {}
    for mode in modes:
        if mode is SettlementMode.DIRECT:
            settlers[mode] = DirectSettler(token.address, token.client.chain_id, gate)
        elif mode is SettlementMode.AUTHORIZATION:
            authorizations = (
                BatchedAuthorizationSettler if authorizations_batched else AuthorizationSettler
            )
            settlers[mode] = authorizations(token.address, token.domain, gate)
        elif mode is SettlementMode.BATCH:
            settlers[mode] = BatchSettler(token.address, token.domain, gate=gate)
        elif mode is SettlementMode.LEDGER:
            assert ledger is not None, "ledger mode needs a ledger"
            domain = ledger_domain(token.client.chain_id, token.address)
            settlers[mode] = LedgerSettler(ledger, domain, store)
        elif mode is SettlementMode.CHANNEL:
            assert contracts.channels is not None, "channel mode needs the channel contract"
            settlers[mode] = ChannelSettler(contracts.channels, store, channel_claim_margin_s, gate)
        else:
            assert contracts.net is not None, "net mode needs the net-settlement contract"
            settlers[mode] = NetSettler(contracts.net, store)
    return settlers


async def attach_or_deploy_token(session: ChainSession, settings: Settings) -> StablecoinContract:
    """The configured stablecoin, or a new one whose admin and minter is the operator."""
    artifact = load_artifact(settings.contracts_dir, STABLECOIN_ARTIFACT)
    if settings.token_address:
        return await StablecoinContract.attach(session.client, artifact, settings.token_address)
    token, _ = await StablecoinContract.deploy(session.client, artifact, session.operator)
    operator = session.operator
    await token.configure_minter(operator, operator.address, EMBEDDED_MINT_ALLOWANCE_BASE_UNITS)
    await token.grant_role(operator, Role.PAUSER, operator.address)
    await token.grant_role(operator, Role.BLOCKLISTER, operator.address)
    return token


async def attach_or_deploy_escrows(
    session: ChainSession,
    settings: Settings,
    token: StablecoinContract,
    modes: Iterable[SettlementMode],
) -> Contracts:
    """The channel and net contracts the modes need: configured ones, else new deployments."""
    modes = set(modes)
    client, contracts_dir, operator = session.client, settings.contracts_dir, session.operator
    channels = (
        await channels_contract(client, contracts_dir, operator, token, settings.channels_address)
        if SettlementMode.CHANNEL in modes
        else None
    )
    net = (
        await net_contract(client, contracts_dir, operator, token, settings.net_address)
        if SettlementMode.NET in modes
        else None
    )
    return Contracts(token, channels, net)


async def channels_contract(
    client: ChainClient,
    contracts_dir: Path,
    deployer: LocalAccount,
    token: StablecoinContract,
    address: str | None = None,
) -> PaymentChannelsContract:
    """PaymentChannels at ``address``, or a new one for ``token``."""
    artifact = load_artifact(contracts_dir, PAYMENT_CHANNELS_ARTIFACT)
    if address:
        return PaymentChannelsContract(client, artifact, address, token.abi)
    return await PaymentChannelsContract.deploy(
        client, artifact, deployer, token.address, token_abi=token.abi
    )


async def net_contract(
    client: ChainClient,
    contracts_dir: Path,
    operator: LocalAccount,
    token: StablecoinContract,
    address: str | None = None,
) -> NetSettlementContract:
    """NetSettlement at ``address``, or a new one for ``token`` with ``operator`` operating it."""
    artifact = load_artifact(contracts_dir, NET_SETTLEMENT_ARTIFACT)
    if address:
        return NetSettlementContract(client, artifact, address, token.abi)
    return await NetSettlementContract.deploy(
        client, artifact, operator, token.address, token_abi=token.abi
    )


@asynccontextmanager
async def running_service(
    settings: Settings,
    modes: Iterable[SettlementMode] = SUPPORTED_MODES,
    *,
    reconcile: bool = True,
) -> AsyncIterator[Runtime]:
    """Chain, store and service, ready; all closed on exit.

    With ``reconcile`` the service first finishes what an earlier run left pending. A process
    that shares its store with others (``settlement serve``) leaves that to whichever of them
    wins the settling lease: reconciling releases every other process's payment leases.
    """
    with tempfile.TemporaryDirectory(prefix="settlement-") as scratch:
        database_url = settings.database_url or f"sqlite:///{Path(scratch) / 'settlement.db'}"
        async with open_chain(settings) as session:
            store = await SqlPaymentStore.open(database_url)
            ledger = open_ledger(settings.ledger_url or default_ledger_url(database_url))
            try:
                genesis = (await session.client.w3.eth.get_block(0))["hash"].to_0x_hex()
                settings = with_recorded_contracts(
                    settings, await store.recorded_contracts(genesis)
                )
                token = await attach_or_deploy_token(session, settings)
                await store.bind_to_chain(session.client.chain_id, genesis, token.address)
                contracts = await attach_or_deploy_escrows(session, settings, token, modes)
                await store.record_escrows(contracts.escrow_addresses())
                relayer = Relayer(
                    session.client, session.operator, store, confirmations=settings.confirmations
                )
                book = ServiceBook(
                    ledger, OnChainHoldings(token, store, contracts.channels, contracts.net)
                )
                service = SettlementService(
                    store,
                    session.client,
                    relayer,
                    build_settlers(
                        modes,
                        contracts,
                        store,
                        ledger,
                        authorizations_batched=settings.authorizations_batched,
                        channel_claim_margin_s=settings.channel_claim_margin_s,
                    ),
                    token=token,
                    max_queued=settings.max_queued,
                    book=book,
                    finality_blocks=settings.finality_blocks,
                )
                escrow = EscrowDesk(
                    token,
                    store,
                    service.relayer,
                    service.lease_owner,
                    contracts.channels,
                    contracts.net,
                    book,
                )
                if reconcile:
                    await service.reconcile()
                faucet = DevFaucet(session.client, session.operator, token)
                yield Runtime(
                    session, store, token, service, escrow, contracts, database_url, ledger, faucet
                )
            finally:
                ledger.close()
                await store.close()

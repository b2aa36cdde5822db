"""Assemble a running service from settings: chain, store, token, settlers, relayer."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from settlement.chain.artifacts import load_artifact
from settlement.chain.relayer import Relayer
from settlement.chain.session import ChainSession, open_chain
from settlement.chain.stablecoin import STABLECOIN_ARTIFACT, Role, StablecoinContract
from settlement.config import Settings
from settlement.domain.payments import SettlementMode
from settlement.errors import ConfigurationError
from settlement.service import SettlementService
from settlement.settlers.authorization import AuthorizationSettler
from settlement.settlers.base import Settler
from settlement.settlers.batch import BatchSettler
from settlement.settlers.direct import DirectSettler
from settlement.store import SqlPaymentStore

SUPPORTED_MODES = (SettlementMode.DIRECT, SettlementMode.AUTHORIZATION, SettlementMode.BATCH)
# Enough for a local fleet's funding; a real deployment configures its minters itself.
EMBEDDED_MINT_ALLOWANCE_BASE_UNITS = 10**15


@dataclass(frozen=True)
class Runtime:
    session: ChainSession
    store: SqlPaymentStore
    token: StablecoinContract
    service: SettlementService
    database_url: str


def build_settlers(
    modes: Iterable[SettlementMode], token: StablecoinContract
) -> dict[SettlementMode, Settler]:
    settlers: dict[SettlementMode, Settler] = {}
    for mode in modes:
        if mode is SettlementMode.DIRECT:
            settlers[mode] = DirectSettler(token.address, token.client.chain_id)
        elif mode is SettlementMode.AUTHORIZATION:
            settlers[mode] = AuthorizationSettler(token.address, token.domain)
        elif mode is SettlementMode.BATCH:
            settlers[mode] = BatchSettler(token.address, token.domain)
        else:
            raise ConfigurationError(
                f"mode {mode.value!r} is not available yet; choose from "
                + ", ".join(m.value for m in SUPPORTED_MODES)
            )
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


@asynccontextmanager
async def running_service(
    settings: Settings, modes: Iterable[SettlementMode] = SUPPORTED_MODES
) -> AsyncIterator[Runtime]:
    """Chain, store and service, reconciled with the chain and ready; all closed on exit."""
    with tempfile.TemporaryDirectory(prefix="settlement-") as scratch:
        database_url = settings.database_url or f"sqlite:///{Path(scratch) / 'settlement.db'}"
        async with open_chain(settings) as session:
            store = await SqlPaymentStore.open(database_url)
            try:
                token = await attach_or_deploy_token(session, settings)
                genesis = await session.client.w3.eth.get_block(0)
                await store.bind_to_chain(
                    session.client.chain_id, genesis["hash"].to_0x_hex(), token.address
                )
                relayer = Relayer(
                    session.client, session.operator, store, confirmations=settings.confirmations
                )
                service = SettlementService(
                    store,
                    session.client,
                    relayer,
                    build_settlers(modes, token),
                    token=token,
                    max_queued=settings.max_queued,
                )
                await service.reconcile()
                yield Runtime(session, store, token, service, database_url)
            finally:
                await store.close()

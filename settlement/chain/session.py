"""Open a chain for a command: the configured RPC endpoint, or an embedded Anvil started for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.anvil import ANVIL_DEFAULT_CHAIN_ID, EmbeddedAnvil, find_anvil_binary
from settlement.chain.client import ChainClient
from settlement.chain.dev_accounts import anvil_dev_account
from settlement.config import Settings
from settlement.errors import ConfigurationError


@dataclass(frozen=True)
class ChainSession:
    """A connected client, the funded operator account, and where the chain is."""

    client: ChainClient
    operator: LocalAccount
    rpc_url: str
    embedded: bool


@asynccontextmanager
async def open_chain(settings: Settings) -> AsyncIterator[ChainSession]:
    """Yield a session; an embedded Anvil, if one was started, is stopped on every way out."""
    if settings.rpc_url:
        async with _connect(settings, settings.rpc_url, embedded=False) as session:
            yield session
        return
    anvil = EmbeddedAnvil(find_anvil_binary(settings.contracts_dir))
    try:
        rpc_url = await asyncio.to_thread(anvil.start)
        async with _connect(settings, rpc_url, embedded=True) as session:
            yield session
    finally:
        anvil.stop()


@asynccontextmanager
async def _connect(
    settings: Settings, rpc_url: str, *, embedded: bool
) -> AsyncIterator[ChainSession]:
    client = await ChainClient.connect(rpc_url, receipt_timeout_s=settings.receipt_timeout_s)
    try:
        operator = _operator_account(settings, client.chain_id)
        yield ChainSession(client, operator, rpc_url, embedded)
    finally:
        await client.close()


def _operator_account(settings: Settings, chain_id: int) -> LocalAccount:
    """The configured key; Anvil's public dev key only on a local dev chain (id 31337)."""
    if settings.private_key is not None:
        try:
            account: LocalAccount = Account.from_key(settings.private_key.get_secret_value())
        except (ValueError, TypeError):
            # The message never repeats the key, so a typo cannot leak it into logs.
            raise ConfigurationError("SETTLEMENT_PRIVATE_KEY is not a valid private key") from None
        return account
    if chain_id == ANVIL_DEFAULT_CHAIN_ID:
        return anvil_dev_account(0)
    raise ConfigurationError(
        f"chain {chain_id} is not a local dev chain: set SETTLEMENT_PRIVATE_KEY to a funded key"
    )

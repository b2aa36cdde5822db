"""The relayer on a chain that stops mining: stuck transactions are replaced, depth is waited for.

These tests run their own Anvil, since they switch its automatic mining off and on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient
from settlement.chain.relayer import Relayer
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import SettlementMode
from settlement.service import SettlementService
from settlement.settlers.authorization import AuthorizationSettler
from settlement.store import SqlPaymentStore, SubmissionRecord
from tests.settlement.api_helpers import authorized_payment, funded

pytestmark = pytest.mark.anvil


@pytest.fixture
def own_anvil(contracts_dir: Path) -> Iterator[str]:
    with EmbeddedAnvil(find_anvil_binary(contracts_dir)) as rpc_url:
        yield rpc_url


@pytest.fixture
async def own_chain(own_anvil: str) -> AsyncIterator[ChainClient]:
    async with await ChainClient.connect(own_anvil) as client:
        yield client


@pytest.fixture
async def own_coin(
    own_chain: ChainClient, stablecoin_artifact: ContractArtifact, admin: LocalAccount
) -> StablecoinContract:
    contract, _ = await StablecoinContract.deploy(own_chain, stablecoin_artifact, admin)
    await contract.configure_minter(admin, admin.address, 10**12)
    return contract


async def set_automine(chain: ChainClient, enabled: bool) -> None:
    await chain.w3.provider.make_request("evm_setAutomine", [enabled])  # type: ignore[arg-type]


async def mine(chain: ChainClient) -> None:
    await chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


async def wait_for_replacement(
    store: SqlPaymentStore, limit_s: float = 10.0
) -> list[SubmissionRecord]:
    """The pending submissions once the first has a second (replacement) attempt."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        pending = await store.pending_submissions()
        if pending and len(pending[0].attempts) >= 2:
            return pending
        await asyncio.sleep(0.1)
    raise AssertionError(f"no replacement was recorded within {limit_s} s")


def service_with(
    store: SqlPaymentStore, chain: ChainClient, coin: StablecoinContract, relayer: Relayer
) -> SettlementService:
    settler = AuthorizationSettler(coin.address, coin.domain)
    return SettlementService(
        store, chain, relayer, {SettlementMode.AUTHORIZATION: settler}, token=coin
    )


async def test_a_stuck_transaction_is_replaced_and_settles_once(
    store: SqlPaymentStore,
    own_chain: ChainClient,
    own_coin: StablecoinContract,
    admin: LocalAccount,
) -> None:
    payer = await funded(own_coin, admin, 1_000)
    payee = Account.create().address
    relayer = Relayer(own_chain, admin, store, stuck_after_s=0.3, wait_limit_s=30)
    service = service_with(store, own_chain, own_coin, relayer)
    await service.submit([await authorized_payment(own_coin, payer, payee, "stuck-1", 600)])

    await set_automine(own_chain, False)
    settling = asyncio.create_task(service.settle_round(SettlementMode.AUTHORIZATION))
    pending = await wait_for_replacement(store)
    await mine(own_chain)
    await set_automine(own_chain, True)
    report = await asyncio.wait_for(settling, timeout=30)

    assert (report.transactions, report.settled) == (1, 1)
    (mined,) = report.mined
    first, replacement = pending[0].attempts[:2]
    assert replacement.max_fee_per_gas_wei >= first.max_fee_per_gas_wei * 1.1
    assert mined.tx_hash == replacement.tx_hash
    assert await own_coin.balance_of(payee) == 600


async def test_confirmation_depth_is_waited_for(
    store: SqlPaymentStore,
    own_chain: ChainClient,
    own_coin: StablecoinContract,
    admin: LocalAccount,
) -> None:
    payer = await funded(own_coin, admin, 1_000)
    payee = Account.create().address
    relayer = Relayer(own_chain, admin, store, confirmations=3, wait_limit_s=30)
    service = service_with(store, own_chain, own_coin, relayer)
    await service.submit([await authorized_payment(own_coin, payer, payee, "deep-1", 250)])

    settling = asyncio.create_task(service.settle_round(SettlementMode.AUTHORIZATION))
    await asyncio.sleep(0.5)
    assert not settling.done(), "a transaction one block deep is not yet three blocks deep"
    await mine(own_chain)
    await mine(own_chain)
    report = await asyncio.wait_for(settling, timeout=10)
    assert report.settled == 1
    (mined,) = report.mined
    assert await own_chain.w3.eth.block_number >= mined.block_number + 2

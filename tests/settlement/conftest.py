"""Fixtures for the service tests: a store of the test's own (SQLite and PostgreSQL), a payer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.ledger import Ledger, PostgresLedger, SqliteLedger
from settlement.store import SqlPaymentStore
from tests.conftest import private_schema
from tests.settlement.api_helpers import EscrowedService, funded, make_escrowed_service

PAYER_FUNDING_BASE_UNITS = 10_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlPaymentStore]:
    """Every service test runs on a SQLite file and on a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        opened = await SqlPaymentStore.open(f"sqlite:///{tmp_path / 'service.db'}")
        yield opened
        await opened.close()
        return
    schema = request.getfixturevalue("postgres_schema")
    with private_schema(schema) as url:
        opened = await SqlPaymentStore.open(url)
        try:
            yield opened
        finally:
            await opened.close()


@pytest.fixture
async def payer(coin: StablecoinContract, admin: LocalAccount) -> LocalAccount:
    """A fresh account holding $10 of the test's stablecoin and no ether."""
    return await funded(coin, admin, PAYER_FUNDING_BASE_UNITS)


@pytest.fixture
def service_ledger(store: SqlPaymentStore, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger on the same engine as the test's store: a SQLite file, or a PostgreSQL schema."""
    if store.dialect == "sqlite":
        with SqliteLedger(tmp_path / "ledger.db") as ledger:
            yield ledger
        return
    with private_schema("ledger") as url, PostgresLedger(url) as ledger:
        yield ledger


@pytest.fixture
async def escrowed(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
    service_ledger: Ledger,
) -> EscrowedService:
    """A service with every mode, on channel and net contracts deployed for the test and a
    ledger on the store's engine."""
    return await make_escrowed_service(
        store, chain, coin, admin, contracts_dir, ledger=service_ledger
    )

"""Fixtures for the service tests: a store of the test's own (SQLite and PostgreSQL), a payer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from eth_account.signers.local import LocalAccount

from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.ledger import Ledger, PostgresLedger, SqliteLedger
from settlement.store import SqlPaymentStore
from tests.conftest import POSTGRES_URL, postgres_url_for
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
    own_schema = f"{schema}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {own_schema}")
    opened = await SqlPaymentStore.open(postgres_url_for(own_schema))
    try:
        yield opened
    finally:
        await opened.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {own_schema} CASCADE")


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
    schema = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        with PostgresLedger(postgres_url_for(schema)) as ledger:
            yield ledger
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


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

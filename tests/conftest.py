"""Shared fixtures: one embedded Anvil per test session, a fresh stablecoin per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from eth_account.signers.local import LocalAccount

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
from settlement.chain.artifacts import ContractArtifact, load_artifact
from settlement.chain.client import ChainClient
from settlement.chain.dev_accounts import anvil_dev_account
from settlement.chain.stablecoin import STABLECOIN_ARTIFACT, Role, StablecoinContract
from settlement.config import REPOSITORY_ROOT

POSTGRES_URL = os.environ.get(
    "SETTLEMENT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A private schema in the test database, dropped at the end of the session."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        connection = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL at {POSTGRES_URL}: {error}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    with connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        try:
            yield schema
        finally:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def postgres_url_for(schema: str) -> str:
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


@contextmanager
def private_schema(prefix: str) -> Iterator[str]:
    """A new schema in the test database for one test's tables; its URL, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield postgres_url_for(schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


GAS_RECORDS: list[tuple[str, int]] = []
RecordGas = Callable[[str, int], None]
ADMIN_MINT_ALLOWANCE_BASE_UNITS = 1_000_000 * 10**6


@pytest.fixture(scope="session")
def contracts_dir() -> Path:
    return REPOSITORY_ROOT / "contracts"


@pytest.fixture(scope="session")
def anvil_rpc_url(contracts_dir: Path) -> Iterator[str]:
    with EmbeddedAnvil(find_anvil_binary(contracts_dir)) as rpc_url:
        yield rpc_url


@pytest.fixture(scope="session")
def stablecoin_artifact(contracts_dir: Path) -> ContractArtifact:
    return load_artifact(contracts_dir, STABLECOIN_ARTIFACT)


@pytest.fixture
async def chain(anvil_rpc_url: str) -> AsyncIterator[ChainClient]:
    async with await ChainClient.connect(anvil_rpc_url) as client:
        yield client


@pytest.fixture
def admin() -> LocalAccount:
    return anvil_dev_account(0)


@pytest.fixture
async def coin(
    chain: ChainClient, stablecoin_artifact: ContractArtifact, admin: LocalAccount
) -> StablecoinContract:
    """A fresh stablecoin; the admin is also minter, pauser and blocklister."""
    return await deploy_test_coin(chain, stablecoin_artifact, admin)


async def deploy_test_coin(
    chain: ChainClient, stablecoin_artifact: ContractArtifact, admin: LocalAccount
) -> StablecoinContract:
    """A stablecoin whose admin is also minter, pauser and blocklister."""
    contract, _ = await StablecoinContract.deploy(chain, stablecoin_artifact, admin)
    await contract.configure_minter(admin, admin.address, ADMIN_MINT_ALLOWANCE_BASE_UNITS)
    await contract.grant_role(admin, Role.PAUSER, admin.address)
    await contract.grant_role(admin, Role.BLOCKLISTER, admin.address)
    return contract


@pytest.fixture
def record_gas() -> RecordGas:
    """Record a receipt's gasUsed under a label; the figures print at the end of the run."""

    def record(label: str, gas_used: int) -> None:
        GAS_RECORDS.append((label, gas_used))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not GAS_RECORDS:
        return
    terminalreporter.section("gasUsed from receipts on Anvil")
    for label, gas_used in GAS_RECORDS:
        terminalreporter.write_line(f"{label:<50} {gas_used:>10,}")

"""Fixtures for the service tests: a SQLite store of the test's own and a funded payer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.stablecoin import StablecoinContract
from settlement.store import SqlPaymentStore

PAYER_FUNDING_BASE_UNITS = 10_000_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlPaymentStore]:
    opened = await SqlPaymentStore.open(f"sqlite:///{tmp_path / 'service.db'}")
    yield opened
    await opened.close()


@pytest.fixture
async def payer(coin: StablecoinContract, admin: LocalAccount) -> LocalAccount:
    """A fresh account holding $10 of the test's stablecoin and no ether."""
    account: LocalAccount = Account.create()
    await coin.mint(admin, account.address, PAYER_FUNDING_BASE_UNITS)
    return account

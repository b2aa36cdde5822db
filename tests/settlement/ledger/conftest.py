"""Every ledger test runs on each engine: SQLite, PostgreSQL (a schema of its own), memory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from settlement.ledger import Ledger, MemoryLedger, PostgresLedger, SqliteLedger
from tests.conftest import private_schema

ENGINES = ["sqlite", "postgresql", "memory"]
START_NS = 1_800_000_000 * 10**9


class FakeClock:
    """A ledger clock the test moves by hand, so timeouts expire when the test says."""

    def __init__(self) -> None:
        self.now_ns = START_NS

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: int) -> None:
        self.now_ns += seconds * 10**9


OpenLedger = Callable[[FakeClock], AbstractContextManager[Ledger]]


@contextmanager
def fresh_ledger(engine: str, clock: FakeClock, tmp_path: Path, schema: str) -> Iterator[Ledger]:
    """A new, empty ledger on ``engine``; its storage is removed afterwards."""
    if engine == "memory":
        yield MemoryLedger(clock)
        return
    if engine == "sqlite":
        path = tmp_path / f"ledger-{uuid.uuid4().hex[:8]}.db"
        with SqliteLedger(path, clock) as ledger:
            yield ledger
        return
    with private_schema(schema) as url, PostgresLedger(url, clock) as ledger:
        yield ledger


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        request.getfixturevalue("postgres_schema")  # skips, or fails in CI, without PostgreSQL
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_fresh(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> OpenLedger:
    schema = request.getfixturevalue("postgres_schema") if engine == "postgresql" else ""
    return lambda clock: fresh_ledger(engine, clock, tmp_path, schema)


@pytest.fixture
def ledger(open_fresh: OpenLedger, clock: FakeClock) -> Iterator[Ledger]:
    with open_fresh(clock) as opened:
        yield opened

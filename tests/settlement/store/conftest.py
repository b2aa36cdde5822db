"""The store runs every test twice: on a SQLite file and on a real PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from settlement.store import SqlPaymentStore

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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'payments.db'}"
    schema: str = request.getfixturevalue("postgres_schema")
    # Each test gets fresh tables: a new schema per test would be slow, so tables are truncated.
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
        if tables:
            names = ", ".join(
                f"{schema}.{name}" for (name,) in tables if name != "schema_migrations"
            )
            if names:
                connection.execute(f"TRUNCATE {names} CASCADE")
    return postgres_url_for(schema)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlPaymentStore]:
    opened = await SqlPaymentStore.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()

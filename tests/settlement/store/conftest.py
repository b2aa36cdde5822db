"""The store runs every test twice: on a SQLite file and on a real PostgreSQL schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from settlement.store import SqlPaymentStore
from tests.conftest import POSTGRES_URL, postgres_url_for


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

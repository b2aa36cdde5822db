"""Forward-only schema migrations, applied in order and recorded in ``schema_migrations``.

Each migration is a numbered function of a connection. Migration 1 creates the tables as they
were first released; later ones alter them. Several service replicas may start at once against
one PostgreSQL: an advisory lock makes them take turns, and each applies only what is missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from settlement.store import schema

# An arbitrary constant naming this application's migration lock in PostgreSQL.
MIGRATION_LOCK_ID = 0x5E771E


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def _create_initial_tables(connection: sa.Connection) -> None:
    tables = [schema.submissions, schema.payments, schema.transaction_attempts]
    schema.metadata.create_all(connection, tables=tables)


def _add_mined_at(connection: sa.Connection) -> None:
    # Migration 1 creates tables from today's definitions, which already have the column; a
    # database created before it existed gets it added here.
    columns = {column["name"] for column in sa.inspect(connection).get_columns("submissions")}
    if "mined_at" not in columns:
        connection.execute(sa.text("ALTER TABLE submissions ADD COLUMN mined_at FLOAT"))


def _add_block_hash(connection: sa.Connection) -> None:
    # As with mined_at: only a database created before the column existed needs it added.
    inspector = sa.inspect(connection)
    columns = {column["name"] for column in inspector.get_columns("submissions")}
    if "block_hash" not in columns:
        connection.execute(sa.text("ALTER TABLE submissions ADD COLUMN block_hash VARCHAR(66)"))
    indexes = {index["name"] for index in inspector.get_indexes("submissions")}
    if "submissions_by_block" not in indexes:
        connection.execute(
            sa.text("CREATE INDEX submissions_by_block ON submissions (block_number)")
        )


def _add_escrow_operation(connection: sa.Connection) -> None:
    # As with mined_at: only a database created before the column existed needs it added.
    columns = {column["name"] for column in sa.inspect(connection).get_columns("submissions")}
    if "escrow_operation" not in columns:
        connection.execute(
            sa.text("ALTER TABLE submissions ADD COLUMN escrow_operation VARCHAR(32)")
        )


def _create_service_meta(connection: sa.Connection) -> None:
    schema.metadata.create_all(connection, tables=[schema.service_meta])


def _create_channels(connection: sa.Connection) -> None:
    schema.metadata.create_all(connection, tables=[schema.channels])


def _create_leadership(connection: sa.Connection) -> None:
    schema.metadata.create_all(connection, tables=[schema.leadership])


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "payments, submissions and transaction attempts", _create_initial_tables),
    Migration(2, "service_meta: the chain and contracts a store belongs to", _create_service_meta),
    Migration(3, "channels: deposits and accepted voucher amounts", _create_channels),
    Migration(4, "submissions.mined_at: when a transaction was seen in a block", _add_mined_at),
    Migration(5, "submissions.block_hash: to notice a block reorganised away", _add_block_hash),
    Migration(6, "leadership: which replica settles, by lease", _create_leadership),
    Migration(
        7,
        "submissions.escrow_operation: escrow funding tracked like settlements",
        _add_escrow_operation,
    ),
)


async def migrate(connection: AsyncConnection) -> list[int]:
    """Apply every missing migration inside the caller's transaction; return those applied."""
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"))
    await connection.run_sync(
        lambda sync: schema.metadata.create_all(sync, tables=[schema.schema_migrations])
    )
    applied = set(
        (await connection.execute(sa.select(schema.schema_migrations.c.version))).scalars()
    )
    newly_applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        await connection.run_sync(migration.apply)
        await connection.execute(
            schema.schema_migrations.insert().values(
                version=migration.version,
                description=migration.description,
                applied_at=time.time(),
            )
        )
        newly_applied.append(migration.version)
    return newly_applied

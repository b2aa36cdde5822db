"""The payment store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

Every method is one database transaction, so a crash leaves each payment in exactly one state.
A settler records a submission (the signed transaction and its hash) before it broadcasts it:
after a crash, ``pending_submissions`` lists everything that may be on chain, to reconcile.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from settlement.domain.addresses import to_checksummed
from settlement.domain.costs import SettlementFacts
from settlement.domain.payments import PaymentState, Purpose, SettlementMode
from settlement.errors import ConfigurationError
from settlement.store.channel_book import advance_channels, booked_row, channels_by_id
from settlement.store.leases import LeadershipLeases
from settlement.store.migrations import migrate
from settlement.store.records import (
    AcceptOutcome,
    ChannelRecord,
    Completion,
    MinedBlock,
    MinedSubmission,
    NewPayment,
    NewSubmission,
    PaymentOutcome,
    PaymentRecord,
    SettlementTransaction,
    SubmissionRecord,
    SubmissionState,
    TransactionAttempt,
)
from settlement.store.schema import (
    channels,
    payments,
    service_meta,
    submissions,
    transaction_attempts,
)

MAX_LIST_LIMIT = 1_000
# The service_meta keys of the contracts a store settles through (the settings' names for them).
CONTRACT_KEYS = ("token_address", "channels_address", "net_address")
# How a voucher payment's replay key starts (see ``queued_channel_ids``).
CHANNEL_REPLAY_PREFIX = "channel:"
SQLITE_BUSY_TIMEOUT_MS = 10_000
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}


def normalize_database_url(database_url: str) -> sa.URL:
    """``sqlite:///file.db`` or ``postgresql://...`` with the async driver filled in."""
    try:
        url = make_url(database_url)
    except sa.exc.ArgumentError:
        raise ConfigurationError(f"not a database URL: {database_url!r}") from None
    backend = url.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigurationError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return url.set(drivername=_DRIVERS[backend])


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; FULL sync makes every commit durable."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


class SqlPaymentStore:
    """Payments and submissions in SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # The migration versions this process applied when it opened the store.
        self.applied_migrations: list[int] = []
        # "sqlite" or "postgresql".
        self.dialect = engine.dialect.name
        self._insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert

    @classmethod
    async def open(cls, database_url: str) -> SqlPaymentStore:
        """Connect, apply pending migrations, and return the store."""
        url = normalize_database_url(database_url)
        engine = create_async_engine(url, pool_pre_ping=True)
        if url.get_backend_name() == "sqlite":
            sa.event.listen(engine.sync_engine, "connect", _configure_sqlite)
        store = cls(engine)
        try:
            async with engine.begin() as connection:
                store.applied_migrations = await migrate(connection)
        except (OSError, sa.exc.OperationalError) as error:
            await engine.dispose()
            raise ConfigurationError(f"cannot open database {url!r}: {error.args[0]}") from None
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    def leases(self) -> LeadershipLeases:
        """The leadership leases kept in this store (``settlement.store.leases``)."""
        return LeadershipLeases(self._engine)

    async def bind_to_chain(self, chain_id: int, genesis_hash: str, token_address: str) -> None:
        """Tie this store to one chain and token; refuse one that belongs to another.

        Payments and pending submissions only make sense on the chain they were made for: a store
        reopened against a fresh embedded chain would reconcile transactions that chain never saw.
        The genesis hash tells two Anvil runs apart even though both are chain 31337 and deploy
        the token at the same address.
        """
        wanted = {
            "chain_id": str(chain_id),
            "genesis_hash": genesis_hash.lower(),
            "token_address": token_address.lower(),
        }
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.select(service_meta.c.key, service_meta.c.value).where(
                    service_meta.c.key.in_(list(wanted))
                )
            )
            recorded = {row.key: row.value for row in result}
            if not recorded:
                await connection.execute(
                    service_meta.insert(), [{"key": k, "value": v} for k, v in wanted.items()]
                )
                return
        if recorded != wanted:
            recorded_genesis = recorded.get("genesis_hash", "?")[:10]
            raise ConfigurationError(
                f"this database belongs to chain {recorded.get('chain_id')} (genesis "
                f"{recorded_genesis}, token {recorded.get('token_address')}), "
                f"not to chain {chain_id} (genesis {genesis_hash[:10]}, token "
                f"{token_address.lower()}): use another database or the same chain"
            )

    async def recorded_contracts(self, genesis_hash: str) -> dict[str, str]:
        """The contract addresses recorded for the chain with ``genesis_hash``, by their
        ``CONTRACT_KEYS``, so a replica started without addresses attaches to the contracts the
        first one deployed instead of deploying its own."""
        async with self._engine.connect() as connection:
            result = await connection.execute(sa.select(service_meta.c.key, service_meta.c.value))
            recorded = {row.key: row.value for row in result}
        if recorded.get("genesis_hash") != genesis_hash.lower():
            return {}
        return {key: to_checksummed(recorded[key]) for key in CONTRACT_KEYS if key in recorded}

    async def record_escrows(self, addresses: dict[str, str]) -> None:
        """Remember the escrow contracts (``channels_address``, ``net_address``) this store's
        payments settle through. The first record stays: a replica that raced another to deploy
        is refused by ``bind_to_chain`` or attaches to the recorded ones at its next start."""
        assert set(addresses) <= set(CONTRACT_KEYS[1:]), addresses
        rows = [{"key": key, "value": address.lower()} for key, address in addresses.items()]
        if rows:
            async with self._engine.begin() as connection:
                await connection.execute(self._insert(service_meta).on_conflict_do_nothing(), rows)

    # ------------------------------------------------------------ acceptance

    async def accept(self, new_payments: Sequence[NewPayment]) -> list[AcceptOutcome]:
        """Store verified payments as QUEUED; retries return the first result, conflicts refuse.

        The payments already stored are read first; the rest are inserted with ON CONFLICT DO
        NOTHING, and RETURNING says which rows this insert wrote. Only those are created: a
        concurrent request (or replica) that stored the same payment a moment earlier makes this
        one a retry, answered with that row. A payment neither inserted nor stored collided on
        its replay key.
        """
        if not new_payments:
            return []
        async with self._engine.begin() as connection:
            existing = await self._records_by_id(connection, [p.payment_id for p in new_payments])
            fresh = _unique([p for p in new_payments if p.payment_id not in existing])
            written: set[str] = set()
            if fresh:
                result = await connection.execute(
                    self._insert(payments)
                    .on_conflict_do_nothing()
                    .returning(payments.c.payment_id),
                    [_payment_row(payment) for payment in fresh],
                )
                written = set(result.scalars())
            stored = await self._fingerprints(connection, [p.payment_id for p in fresh])
            inserted = {p.payment_id: _queued_record(p) for p in fresh if p.payment_id in written}
            refused = await advance_channels(
                connection, [p for p in fresh if p.payment_id in inserted]
            )
            if refused:
                # A voucher that does not follow on from its channel is not stored at all.
                await connection.execute(
                    payments.delete().where(payments.c.payment_id.in_(list(refused)))
                )
                for payment_id in refused:
                    del inserted[payment_id]
            # Stored, but not by this insert: the same payment from a concurrent request, or
            # another payment under the same idempotency key.
            raced = [
                p.payment_id
                for p in fresh
                if p.payment_id in stored and p.payment_id not in written
            ]
            existing.update(await self._records_by_id(connection, raced))
            missing = [p.replay_key for p in fresh if p.payment_id not in stored]
            replay_owners = await self._replay_key_owners(connection, missing)
        return [
            AcceptOutcome(payment.payment_id, None, rejection=refused[payment.payment_id])
            if payment.payment_id in refused
            else _outcome(payment, inserted, existing, replay_owners)
            for payment in new_payments
        ]

    async def _fingerprints(
        self, connection: AsyncConnection, payment_ids: Sequence[str]
    ) -> dict[str, str]:
        rows = await _rows_where_in(
            connection,
            [payments.c.payment_id, payments.c.fingerprint],
            payments.c.payment_id,
            payment_ids,
        )
        return {row.payment_id: row.fingerprint for row in rows}

    async def _records_by_id(
        self, connection: AsyncConnection, payment_ids: Sequence[str]
    ) -> dict[str, PaymentRecord]:
        rows = await _rows_where_in(
            connection, list(payments.c), payments.c.payment_id, payment_ids
        )
        return {row.payment_id: _record(row._mapping) for row in rows}

    async def _replay_key_owners(
        self, connection: AsyncConnection, replay_keys: Sequence[str]
    ) -> dict[str, str]:
        rows = await _rows_where_in(
            connection,
            [payments.c.replay_key, payments.c.payment_id],
            payments.c.replay_key,
            replay_keys,
        )
        return {row.replay_key: row.payment_id for row in rows}

    # ------------------------------------------------------------ channels

    async def book_channel(self, channel: ChannelRecord) -> ChannelRecord:
        """Record a channel seen on chain, or raise its deposit to what the chain now shows.

        A new channel starts from what is already claimed on chain; the amount accepted so far is
        never changed here, only by accepting vouchers.
        """
        row = booked_row(channel)
        statement = self._insert(channels).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[channels.c.channel_id],
            set_={
                "deposit_base_units": statement.excluded.deposit_base_units,
                "updated_at": statement.excluded.updated_at,
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)
            return (await channels_by_id(connection, [channel.channel_id]))[channel.channel_id]

    async def channels(self, channel_ids: Sequence[str]) -> dict[str, ChannelRecord]:
        async with self._engine.connect() as connection:
            return await channels_by_id(connection, channel_ids)

    async def channel_ids_of_payers(self, payers: Sequence[str]) -> list[str]:
        """Every channel the store has booked for any of ``payers``."""
        query = sa.select(channels.c.channel_id).where(channels.c.payer.in_(list(payers)))
        async with self._engine.connect() as connection:
            return [row.channel_id for row in await connection.execute(query)]

    async def participants(self, limit: int) -> list[tuple[SettlementMode, str, str]]:
        """Distinct (mode, payer, payee) of stored payments, at most ``limit``: whom the book
        has seen, for reconciliation."""
        query = (
            sa.select(payments.c.mode, payments.c.payer, payments.c.payee)
            .distinct()
            .order_by(payments.c.mode, payments.c.payer, payments.c.payee)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = await connection.execute(query)
            return [(SettlementMode(row.mode), row.payer, row.payee) for row in rows]

    # ------------------------------------------------------------ reads

    async def get(self, payment_id: str) -> PaymentRecord | None:
        async with self._engine.connect() as connection:
            found = await self._records_by_id(connection, [payment_id])
        return found.get(payment_id)

    async def list_for_payer(
        self, payer: str, limit: int = 100, accepted_before: float | None = None
    ) -> list[PaymentRecord]:
        """The payer's payments, newest first; page with ``accepted_before``."""
        assert 1 <= limit <= MAX_LIST_LIMIT, f"limit must be 1..{MAX_LIST_LIMIT}"
        query = sa.select(payments).where(payments.c.payer == payer)
        if accepted_before is not None:
            query = query.where(payments.c.accepted_at < accepted_before)
        query = query.order_by(payments.c.accepted_at.desc()).limit(limit)
        async with self._engine.connect() as connection:
            result = await connection.execute(query)
            return [_record(row._mapping) for row in result]

    async def pending_outgoing(self, payer: str, mode: SettlementMode | None = None) -> int:
        """Base units the payer has accepted but not yet settled or failed, in one or every mode."""
        query = sa.select(sa.func.coalesce(sa.func.sum(payments.c.amount_base_units), 0)).where(
            payments.c.payer == payer,
            payments.c.state.in_([PaymentState.QUEUED.value, PaymentState.SUBMITTED.value]),
        )
        if mode is not None:
            query = query.where(payments.c.mode == mode.value)
        async with self._engine.connect() as connection:
            total: int = (await connection.execute(query)).scalar_one()
            return int(total)

    async def pending_outgoing_by_payer(
        self,
        payers: Sequence[str],
        modes: Sequence[SettlementMode],
        states: Sequence[PaymentState] = (PaymentState.QUEUED, PaymentState.SUBMITTED),
    ) -> dict[str, int]:
        """``pending_outgoing`` of several payers in ``modes`` together, in one query (payers
        owing nothing are left out); ``states`` narrows which unsettled payments count."""
        if not payers:
            return {}
        query = (
            sa.select(payments.c.payer, sa.func.sum(payments.c.amount_base_units))
            .where(
                payments.c.payer.in_(list(payers)),
                payments.c.mode.in_([mode.value for mode in modes]),
                payments.c.state.in_([state.value for state in states]),
            )
            .group_by(payments.c.payer)
        )
        async with self._engine.connect() as connection:
            return {payer: int(total) for payer, total in await connection.execute(query)}

    async def records(self, payment_ids: Sequence[str]) -> dict[str, PaymentRecord]:
        async with self._engine.connect() as connection:
            return await self._records_by_id(connection, payment_ids)

    async def settlement_facts(self, payment_id: str) -> SettlementFacts | None:
        """A confirmed payment with its transaction's receipt figures, for its cost record."""
        query = (
            sa.select(
                payments,
                submissions.c.mined_tx_hash,
                submissions.c.gas_used,
                submissions.c.effective_gas_price_wei,
                submissions.c.mined_at,
            )
            .join(submissions, payments.c.submission_id == submissions.c.submission_id)
            .where(
                payments.c.payment_id == payment_id,
                payments.c.state == PaymentState.CONFIRMED.value,
            )
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
            if row is None:
                return None
            settled = await connection.execute(
                sa.select(payments.c.payment_id).where(
                    payments.c.submission_id == row.submission_id,
                    payments.c.state == PaymentState.CONFIRMED.value,
                )
            )
            return SettlementFacts(
                payment_id=row.payment_id,
                mode=row.mode,
                accepted_at=row.accepted_at,
                submitted_at=row.submitted_at,
                mined_at=row.mined_at,
                confirmed_at=row.confirmed_at,
                verify_cpu_ns=row.verify_cpu_ns,
                tx_hash=row.mined_tx_hash,
                gas_used=row.gas_used,
                effective_gas_price_wei=row.effective_gas_price_wei,
                settled_payment_ids=list(settled.scalars()),
            )

    async def mined_submissions(self, submission_ids: Sequence[int]) -> dict[int, MinedSubmission]:
        """Each mined submission's transaction, its gas and how many payments it confirmed."""
        if not submission_ids:
            return {}
        confirmed = sa.func.count(payments.c.payment_id)
        query = (
            sa.select(
                submissions.c.submission_id,
                submissions.c.mined_tx_hash,
                submissions.c.gas_used,
                confirmed,
            )
            .join(payments, payments.c.submission_id == submissions.c.submission_id)
            .where(
                submissions.c.submission_id.in_(sorted(set(submission_ids))),
                submissions.c.mined_tx_hash.is_not(None),
                payments.c.state == PaymentState.CONFIRMED.value,
            )
            .group_by(submissions.c.submission_id)
        )
        async with self._engine.connect() as connection:
            return {
                row.submission_id: MinedSubmission(row.mined_tx_hash, row.gas_used, int(row[3]))
                for row in await connection.execute(query)
            }

    async def per_second(
        self, since: float
    ) -> dict[SettlementMode, tuple[dict[int, int], dict[int, int]]]:
        """Per mode, payments accepted and confirmed in each whole second since ``since``
        (Unix seconds): counted by the database, so a busy minute is a few hundred rows."""
        rates: dict[SettlementMode, tuple[dict[int, int], dict[int, int]]] = {}
        accepted_second = self._whole_second(payments.c.accepted_at)
        confirmed_second = self._whole_second(payments.c.confirmed_at)
        queries = (
            sa.select(payments.c.mode, accepted_second, sa.func.count())
            .where(payments.c.accepted_at >= since)
            .group_by(payments.c.mode, accepted_second),
            sa.select(payments.c.mode, confirmed_second, sa.func.count())
            .where(
                payments.c.confirmed_at >= since,
                payments.c.state == PaymentState.CONFIRMED.value,
            )
            .group_by(payments.c.mode, confirmed_second),
        )
        async with self._engine.connect() as connection:
            for column, query in enumerate(queries):
                for mode, second, count in await connection.execute(query):
                    counts = rates.setdefault(SettlementMode(mode), ({}, {}))
                    counts[column][int(second)] = int(count)
        return rates

    def _whole_second(self, column: sa.Column[float]) -> sa.ColumnElement[int]:
        # SQLite's CAST truncates, which is floor for the positive times here; floor() itself is
        # missing from SQLite builds without the math functions. PostgreSQL's CAST rounds.
        if self.dialect == "sqlite":
            return sa.cast(column, sa.BigInteger)
        return sa.cast(sa.func.floor(column), sa.BigInteger)

    async def recent_latencies(self, since: float, limit: int) -> dict[SettlementMode, list[float]]:
        """Acceptance-to-confirmation seconds of the latest ``limit`` payments confirmed since
        ``since``, per mode."""
        query = (
            sa.select(payments.c.mode, payments.c.confirmed_at - payments.c.accepted_at)
            .where(
                payments.c.state == PaymentState.CONFIRMED.value,
                payments.c.confirmed_at >= since,
            )
            .order_by(payments.c.confirmed_at.desc())
            .limit(limit)
        )
        latencies: dict[SettlementMode, list[float]] = {}
        async with self._engine.connect() as connection:
            for mode, seconds in await connection.execute(query):
                latencies.setdefault(SettlementMode(mode), []).append(float(seconds))
        return latencies

    async def gas_by_mode(self) -> dict[SettlementMode, tuple[int, int]]:
        """Per mode, the gas of its confirmed settlement transactions and the payments they
        settled."""
        query = (
            sa.select(
                submissions.c.mode,
                sa.func.coalesce(sa.func.sum(submissions.c.gas_used), 0),
                sa.func.coalesce(sa.func.sum(submissions.c.settled_count), 0),
            )
            .where(
                submissions.c.state == SubmissionState.CONFIRMED.value,
                # Funding the escrow is not settling: its gas is reported as setup gas.
                submissions.c.escrow_operation.is_(None),
            )
            .group_by(submissions.c.mode)
        )
        async with self._engine.connect() as connection:
            return {
                SettlementMode(mode): (int(gas), int(settled))
                for mode, gas, settled in await connection.execute(query)
            }

    async def recent_transactions(self, limit: int) -> list[SettlementTransaction]:
        """The latest mined settlement transactions, newest first."""
        query = (
            sa.select(submissions)
            .where(submissions.c.mined_tx_hash.is_not(None))
            .order_by(submissions.c.submission_id.desc())
            .limit(limit)
        )
        return await self._transactions(query, with_payments=False)

    async def transaction(self, tx_hash: str) -> SettlementTransaction | None:
        """The settlement transaction ``tx_hash`` (lower case) and the payments it carried."""
        query = sa.select(submissions).where(submissions.c.mined_tx_hash == tx_hash)
        found = await self._transactions(query, with_payments=True)
        return found[0] if found else None

    async def _transactions(
        self, query: sa.Select[Any], *, with_payments: bool
    ) -> list[SettlementTransaction]:
        async with self._engine.connect() as connection:
            rows = list(await connection.execute(query))
            carried: dict[int, list[str]] = {}
            if with_payments and rows:
                ids = [row.submission_id for row in rows]
                listed = await connection.execute(
                    sa.select(payments.c.submission_id, payments.c.payment_id)
                    .where(payments.c.submission_id.in_(ids))
                    .order_by(payments.c.payment_id)
                )
                for submission_id, payment_id in listed:
                    carried.setdefault(submission_id, []).append(payment_id)
        return [
            SettlementTransaction(
                submission_id=row.submission_id,
                mode=SettlementMode(row.mode),
                state=SubmissionState(row.state),
                tx_hash=row.mined_tx_hash,
                block_number=row.block_number,
                gas_used=row.gas_used,
                effective_gas_price_wei=row.effective_gas_price_wei,
                payments_settled=row.settled_count,
                mined_at=row.mined_at,
                payment_ids=carried.get(row.submission_id, []),
            )
            for row in rows
        ]

    async def count_queued(self) -> int:
        query = sa.select(sa.func.count()).where(payments.c.state == PaymentState.QUEUED.value)
        async with self._engine.connect() as connection:
            count: int = (await connection.execute(query)).scalar_one()
            return count

    async def queue_summary(self) -> dict[SettlementMode, tuple[int, float]]:
        """Per mode: how many payments are queued and when the oldest was accepted."""
        query = (
            sa.select(payments.c.mode, sa.func.count(), sa.func.min(payments.c.accepted_at))
            .where(payments.c.state == PaymentState.QUEUED.value)
            .group_by(payments.c.mode)
        )
        async with self._engine.connect() as connection:
            result = await connection.execute(query)
            return {SettlementMode(mode): (count, oldest) for mode, count, oldest in result}

    async def queued_channel_ids(self, limit: int) -> list[str]:
        """The channels (0x-hex ids) with voucher payments still queued, at most ``limit``.

        Read from the channel mode's replay key, ``channel:<channel id>:<cumulative amount>``
        (``settlers.channel``), whose id is the 66 characters after the prefix.
        """
        channel_id = sa.func.substr(payments.c.replay_key, len(CHANNEL_REPLAY_PREFIX) + 1, 66)
        query = (
            sa.select(channel_id)
            .where(
                payments.c.mode == SettlementMode.CHANNEL.value,
                payments.c.state == PaymentState.QUEUED.value,
            )
            .distinct()
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            return [row[0] for row in await connection.execute(query)]

    async def payment_timings(self, mode: SettlementMode) -> list[tuple[float, float | None]]:
        """(accepted_at, confirmed_at) of every payment of ``mode``; confirmed_at is None unless
        the payment is confirmed."""
        confirmed_at = sa.case(
            (payments.c.state == PaymentState.CONFIRMED.value, payments.c.confirmed_at),
            else_=None,
        )
        query = sa.select(payments.c.accepted_at, confirmed_at).where(payments.c.mode == mode.value)
        async with self._engine.connect() as connection:
            return [
                (accepted, confirmed) for accepted, confirmed in await connection.execute(query)
            ]

    async def confirmed_total_base_units(self, mode: SettlementMode) -> int:
        """The value of every confirmed payment of ``mode``: what it has settled."""
        query = sa.select(sa.func.coalesce(sa.func.sum(payments.c.amount_base_units), 0)).where(
            payments.c.mode == mode.value, payments.c.state == PaymentState.CONFIRMED.value
        )
        async with self._engine.connect() as connection:
            total: int = (await connection.execute(query)).scalar_one()
            return int(total)

    async def failure_reasons(self, mode: SettlementMode, limit: int) -> dict[str, int]:
        """How many failed payments of ``mode`` give each reason, the ``limit`` most common."""
        count = sa.func.count().label("count")
        query = (
            sa.select(payments.c.failure_reason, count)
            .where(payments.c.mode == mode.value, payments.c.state == PaymentState.FAILED.value)
            .group_by(payments.c.failure_reason)
            .order_by(count.desc(), payments.c.failure_reason)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = await connection.execute(query)
            return {reason or "unknown": int(total) for reason, total in rows}

    async def count_by_state(self) -> dict[tuple[SettlementMode, PaymentState], int]:
        query = sa.select(payments.c.mode, payments.c.state, sa.func.count()).group_by(
            payments.c.mode, payments.c.state
        )
        async with self._engine.connect() as connection:
            result = await connection.execute(query)
            return {
                (SettlementMode(mode), PaymentState(state)): count for mode, state, count in result
            }

    # ------------------------------------------------------------ settling

    async def lease_queued(
        self, mode: SettlementMode, limit: int, owner: str, lease_s: float
    ) -> list[PaymentRecord]:
        """Take up to ``limit`` queued payments, oldest first, for ``owner`` to settle."""
        now = time.time()
        candidates = (
            sa.select(payments.c.payment_id)
            .where(
                payments.c.mode == mode.value,
                payments.c.state == PaymentState.QUEUED.value,
                sa.or_(payments.c.lease_expires_at.is_(None), payments.c.lease_expires_at < now),
            )
            .order_by(payments.c.accepted_at)
            .limit(limit)
        )
        if self._engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            payments.update()
            .where(payments.c.payment_id.in_(candidates.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=now + lease_s)
            .returning(*payments.c)
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
            records = [_record(row._mapping) for row in result]
        return sorted(records, key=lambda record: record.accepted_at)

    async def record_submissions(
        self, *, mode: SettlementMode, owner: str, entries: Sequence[NewSubmission]
    ) -> list[int]:
        """Record signed transactions and move their payments to SUBMITTED, before any is sent.

        One database transaction for all of them: a crash leaves either every transaction
        recorded (and reconciled on restart) or none (and the payments still queued).
        """
        if not entries:
            return []
        now = time.time()
        async with self._engine.begin() as connection:
            submission_ids = await _insert_submissions(connection, mode, entries, now)
            await connection.execute(
                transaction_attempts.insert(),
                [
                    _attempt_row(submission_id, entry.attempt)
                    for submission_id, entry in zip(submission_ids, entries, strict=True)
                ],
            )
            moved_rows = [
                {"moved_payment_id": payment_id, "moved_submission_id": submission_id}
                for submission_id, entry in zip(submission_ids, entries, strict=True)
                for payment_id in entry.payment_ids
            ]
            if not moved_rows:
                # Escrow operations only: no payment to move.
                return submission_ids
            moved = await connection.execute(
                payments.update()
                .where(
                    payments.c.payment_id == sa.bindparam("moved_payment_id"),
                    payments.c.state == PaymentState.QUEUED.value,
                    payments.c.lease_owner == owner,
                )
                .values(
                    state=PaymentState.SUBMITTED.value,
                    submission_id=sa.bindparam("moved_submission_id"),
                    submitted_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                ),
                moved_rows,
            )
            expected = len(moved_rows)
            assert moved.rowcount == expected, (
                f"{expected - moved.rowcount} payments were no longer leased to {owner}"
            )
        return submission_ids

    async def release_leases_of_earlier_owners(self, owner_prefix: str, current_owner: str) -> int:
        """Give back the queued payments leased by owners named ``owner_prefix``... other than
        ``current_owner``: earlier runs of this service, which a crash stopped mid-round. A
        previous run still alive could not then record them (recording checks the owner)."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                payments.update()
                .where(
                    payments.c.state == PaymentState.QUEUED.value,
                    payments.c.lease_owner.startswith(owner_prefix, autoescape=True),
                    payments.c.lease_owner != current_owner,
                )
                .values(lease_owner=None, lease_expires_at=None)
            )
            return int(result.rowcount or 0)

    async def release_leases(self, payment_ids: Sequence[str], owner: str) -> None:
        """Give back leased payments that were not submitted, so the next round can take them."""
        async with self._engine.begin() as connection:
            await connection.execute(
                payments.update()
                .where(
                    payments.c.payment_id.in_(list(payment_ids)),
                    payments.c.state == PaymentState.QUEUED.value,
                    payments.c.lease_owner == owner,
                )
                .values(lease_owner=None, lease_expires_at=None)
            )

    async def add_attempt(self, submission_id: int, attempt: TransactionAttempt) -> None:
        """Record a replacement transaction (same nonce, higher fees) before sending it."""
        async with self._engine.begin() as connection:
            await connection.execute(
                transaction_attempts.insert(), [_attempt_row(submission_id, attempt)]
            )

    async def complete_submissions(self, completions: Sequence[Completion]) -> None:
        """Submissions reached their confirmation depth: settle or fail each of their payments."""
        if not completions:
            return
        now = time.time()
        async with self._engine.begin() as connection:
            await connection.execute(
                submissions.update()
                .where(
                    submissions.c.submission_id == sa.bindparam("done_submission_id"),
                    submissions.c.state == SubmissionState.PENDING.value,
                )
                .values(
                    state=SubmissionState.CONFIRMED.value,
                    mined_tx_hash=sa.bindparam("done_tx_hash"),
                    block_number=sa.bindparam("done_block_number"),
                    gas_used=sa.bindparam("done_gas_used"),
                    effective_gas_price_wei=sa.bindparam("done_gas_price"),
                    settled_count=sa.bindparam("done_settled_count"),
                    mined_at=sa.bindparam("done_mined_at"),
                    block_hash=sa.bindparam("done_block_hash"),
                    completed_at=now,
                ),
                [_completion_row(completion) for completion in completions],
            )
            await _finish_payments(connection, completions, now)

    async def confirmed_since(self, first_block: int) -> list[MinedBlock]:
        """Where each submission confirmed in block ``first_block`` or later was mined."""
        query = sa.select(
            submissions.c.submission_id, submissions.c.block_number, submissions.c.block_hash
        ).where(
            submissions.c.block_number >= first_block,
            submissions.c.state == SubmissionState.CONFIRMED.value,
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [MinedBlock(row.submission_id, row.block_number, row.block_hash) for row in rows]

    async def reopen_submissions(self, submission_ids: Sequence[int]) -> None:
        """Confirmed submissions whose block a reorganisation removed are pending again, and
        their payments (settled or failed by that block) are back to submitted: reconciliation
        then finds the transaction mined anew, sends the same signed bytes again, or, if its
        nonce went to another transaction, queues the payments for a new one."""
        if not submission_ids:
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                submissions.update()
                .where(
                    submissions.c.submission_id.in_(list(submission_ids)),
                    submissions.c.state == SubmissionState.CONFIRMED.value,
                )
                .values(
                    state=SubmissionState.PENDING.value,
                    mined_tx_hash=None,
                    block_number=None,
                    block_hash=None,
                    gas_used=None,
                    effective_gas_price_wei=None,
                    settled_count=None,
                    mined_at=None,
                    completed_at=None,
                )
            )
            await connection.execute(
                payments.update()
                .where(
                    payments.c.submission_id.in_(list(submission_ids)),
                    payments.c.state.in_([PaymentState.CONFIRMED.value, PaymentState.FAILED.value]),
                )
                .values(state=PaymentState.SUBMITTED.value, failure_reason=None, confirmed_at=None)
            )

    async def abandon_submission(self, submission_id: int, state: SubmissionState) -> None:
        """A submission reverted or was dropped: its payments return to the queue, unharmed."""
        assert state in (SubmissionState.REVERTED, SubmissionState.DROPPED)
        async with self._engine.begin() as connection:
            await connection.execute(
                submissions.update()
                .where(submissions.c.submission_id == submission_id)
                .values(state=state.value, completed_at=time.time())
            )
            await connection.execute(
                payments.update()
                .where(
                    payments.c.submission_id == submission_id,
                    payments.c.state == PaymentState.SUBMITTED.value,
                )
                .values(state=PaymentState.QUEUED.value, submission_id=None, submitted_at=None)
            )

    async def fail_queued(self, payment_ids: Iterable[str], reason: str) -> None:
        """Fail queued payments that can never settle (expired, or spent elsewhere)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                payments.update()
                .where(
                    payments.c.payment_id.in_(list(payment_ids)),
                    payments.c.state == PaymentState.QUEUED.value,
                )
                .values(
                    state=PaymentState.FAILED.value,
                    failure_reason=reason[:500],
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )

    async def settle_leased(self, outcomes: Sequence[PaymentOutcome], owner: str) -> None:
        """Record how payments settled off-chain ended: queued and leased by ``owner`` to
        confirmed, or to failed with the reason."""
        if not outcomes:
            return
        now = time.time()
        rows = [_final_state_row(outcome) for outcome in outcomes]
        async with self._engine.begin() as connection:
            await connection.execute(
                payments.update()
                .where(
                    payments.c.payment_id == sa.bindparam("done_payment_id"),
                    payments.c.state == PaymentState.QUEUED.value,
                    payments.c.lease_owner == owner,
                )
                .values(
                    state=sa.bindparam("done_state"),
                    failure_reason=sa.bindparam("done_reason"),
                    submitted_at=now,
                    confirmed_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                ),
                rows,
            )

    async def pending_submissions(self, sender: str | None = None) -> list[SubmissionRecord]:
        """Submissions that may be on chain but are not yet confirmed, oldest first."""
        query = sa.select(submissions).where(submissions.c.state == SubmissionState.PENDING.value)
        if sender is not None:
            query = query.where(submissions.c.sender == sender)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.order_by(submissions.c.nonce))).all()
            return [await _submission(connection, row._mapping) for row in rows]

    async def pending_submission_ids(self, sender: str) -> set[int]:
        """``sender``'s submissions recorded and not yet confirmed or abandoned."""
        query = sa.select(submissions.c.submission_id).where(
            submissions.c.state == SubmissionState.PENDING.value,
            submissions.c.sender == sender,
        )
        async with self._engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    async def submission(self, submission_id: int) -> SubmissionRecord | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(submissions).where(submissions.c.submission_id == submission_id)
                )
            ).first()
            return None if row is None else await _submission(connection, row._mapping)


async def _rows_where_in(
    connection: AsyncConnection,
    columns: Sequence[sa.ColumnElement[Any]],
    key: sa.ColumnElement[str],
    values: Sequence[str],
) -> Sequence[sa.Row[Any]]:
    """``SELECT columns WHERE key IN values``, skipping the query when there are no values."""
    if not values:
        return []
    return (await connection.execute(sa.select(*columns).where(key.in_(values)))).all()


async def _insert_submissions(
    connection: AsyncConnection,
    mode: SettlementMode,
    entries: Sequence[NewSubmission],
    now: float,
) -> list[int]:
    result = await connection.execute(
        submissions.insert().returning(submissions.c.submission_id, sort_by_parameter_order=True),
        [
            {
                "mode": mode.value,
                "sender": entry.sender,
                "nonce": entry.nonce,
                "state": SubmissionState.PENDING.value,
                "created_at": now,
                "escrow_operation": entry.escrow_operation,
            }
            for entry in entries
        ],
    )
    return list(result.scalars())


def _attempt_row(submission_id: int, attempt: TransactionAttempt) -> dict[str, Any]:
    return {
        "tx_hash": attempt.tx_hash,
        "submission_id": submission_id,
        "raw_transaction": attempt.raw_transaction,
        "max_fee_per_gas_wei": attempt.max_fee_per_gas_wei,
        "max_priority_fee_per_gas_wei": attempt.max_priority_fee_per_gas_wei,
        "created_at": attempt.created_at,
    }


def _completion_row(completion: Completion) -> dict[str, Any]:
    return {
        "done_submission_id": completion.submission_id,
        "done_tx_hash": completion.mined_tx_hash,
        "done_block_number": completion.block_number,
        "done_gas_used": completion.gas_used,
        "done_gas_price": completion.effective_gas_price_wei,
        "done_settled_count": sum(outcome.settled for outcome in completion.outcomes),
        "done_mined_at": completion.mined_at,
        "done_block_hash": completion.block_hash,
    }


async def _finish_payments(
    connection: AsyncConnection, completions: Sequence[Completion], now: float
) -> None:
    rows = [
        _final_state_row(outcome, "failed on chain")
        | {"done_submission_id": completion.submission_id}
        for completion in completions
        for outcome in completion.outcomes
    ]
    if not rows:
        return
    await connection.execute(
        payments.update()
        .where(
            payments.c.payment_id == sa.bindparam("done_payment_id"),
            payments.c.submission_id == sa.bindparam("done_submission_id"),
            payments.c.state == PaymentState.SUBMITTED.value,
        )
        .values(
            state=sa.bindparam("done_state"),
            failure_reason=sa.bindparam("done_reason"),
            confirmed_at=now,
        ),
        rows,
    )


def _final_state_row(outcome: PaymentOutcome, default_reason: str = "") -> dict[str, Any]:
    """Bind parameters moving one payment to its final state, confirmed or failed."""
    return {
        "done_payment_id": outcome.payment_id,
        "done_state": (PaymentState.CONFIRMED if outcome.settled else PaymentState.FAILED).value,
        "done_reason": None
        if outcome.settled
        else (outcome.failure_reason or default_reason)[:500],
    }


async def _submission(connection: AsyncConnection, row: sa.RowMapping) -> SubmissionRecord:
    attempts = await connection.execute(
        sa.select(transaction_attempts)
        .where(transaction_attempts.c.submission_id == row["submission_id"])
        .order_by(transaction_attempts.c.created_at)
    )
    payment_ids = await connection.execute(
        sa.select(payments.c.payment_id).where(payments.c.submission_id == row["submission_id"])
    )
    return SubmissionRecord(
        submission_id=row["submission_id"],
        mode=SettlementMode(row["mode"]),
        sender=row["sender"],
        nonce=row["nonce"],
        state=SubmissionState(row["state"]),
        payment_ids=list(payment_ids.scalars()),
        escrow_operation=row.get("escrow_operation"),
        attempts=[
            TransactionAttempt(
                tx_hash=attempt.tx_hash,
                raw_transaction=attempt.raw_transaction,
                max_fee_per_gas_wei=attempt.max_fee_per_gas_wei,
                max_priority_fee_per_gas_wei=attempt.max_priority_fee_per_gas_wei,
                created_at=attempt.created_at,
            )
            for attempt in attempts
        ],
        mined_tx_hash=row["mined_tx_hash"],
        block_number=row["block_number"],
        gas_used=row["gas_used"],
        effective_gas_price_wei=row["effective_gas_price_wei"],
        settled_count=row["settled_count"],
    )


def _payment_row(payment: NewPayment) -> dict[str, Any]:
    intent = payment.intent
    return {
        "payment_id": payment.payment_id,
        "idempotency_key": intent.idempotency_key,
        "payer": intent.payer,
        "payee": intent.payee,
        "amount_base_units": intent.amount_base_units,
        "purpose": intent.purpose.value,
        "mode": payment.mode.value,
        "replay_key": payment.replay_key,
        "instrument": payment.instrument,
        "fingerprint": payment.fingerprint,
        "state": PaymentState.QUEUED.value,
        "failure_reason": None,
        "submission_id": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "accepted_at": payment.accepted_at,
        "submitted_at": None,
        "confirmed_at": None,
        "verify_cpu_ns": payment.verify_cpu_ns,
    }


def _unique(new_payments: Sequence[NewPayment]) -> list[NewPayment]:
    """The first of each payment id: a retry inside one request is answered from the first."""
    seen: dict[str, NewPayment] = {}
    for payment in new_payments:
        seen.setdefault(payment.payment_id, payment)
    return list(seen.values())


def _queued_record(payment: NewPayment) -> PaymentRecord:
    intent = payment.intent
    return PaymentRecord(
        payment_id=payment.payment_id,
        idempotency_key=intent.idempotency_key,
        payer=intent.payer,
        payee=intent.payee,
        amount_base_units=intent.amount_base_units,
        purpose=intent.purpose,
        mode=payment.mode,
        state=PaymentState.QUEUED,
        failure_reason=None,
        instrument=payment.instrument,
        fingerprint=payment.fingerprint,
        submission_id=None,
        accepted_at=payment.accepted_at,
        submitted_at=None,
        confirmed_at=None,
        verify_cpu_ns=payment.verify_cpu_ns,
    )


def _record(row: sa.RowMapping) -> PaymentRecord:
    return PaymentRecord(
        payment_id=row["payment_id"],
        idempotency_key=row["idempotency_key"],
        payer=row["payer"],
        payee=row["payee"],
        amount_base_units=row["amount_base_units"],
        purpose=Purpose(row["purpose"]),
        mode=SettlementMode(row["mode"]),
        state=PaymentState(row["state"]),
        failure_reason=row["failure_reason"],
        instrument=row["instrument"],
        fingerprint=row["fingerprint"],
        submission_id=row["submission_id"],
        accepted_at=row["accepted_at"],
        submitted_at=row["submitted_at"],
        confirmed_at=row["confirmed_at"],
        verify_cpu_ns=row["verify_cpu_ns"],
    )


def _outcome(
    payment: NewPayment,
    inserted: dict[str, PaymentRecord],
    existing: dict[str, PaymentRecord],
    replay_owners: dict[str, str],
) -> AcceptOutcome:
    payment_id = payment.payment_id
    if payment_id in inserted:
        record = inserted.pop(payment_id)  # a duplicate later in the same request is a retry
        existing[payment_id] = record
        return AcceptOutcome(payment_id, record, created=True)
    if payment_id in existing:
        first = existing[payment_id]
        if first.fingerprint != payment.fingerprint:
            return AcceptOutcome(
                payment_id,
                None,
                rejection="idempotency key already used for a different payment",
                conflict=True,
            )
        return AcceptOutcome(payment_id, first, created=False)
    owner = replay_owners.get(payment.replay_key, "another payment")
    return AcceptOutcome(
        payment_id,
        None,
        rejection=f"{payment.replay_key} is already spent by payment {owner}",
        conflict=True,
    )

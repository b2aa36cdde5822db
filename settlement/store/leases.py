"""Leadership leases in the store: which of several processes performs a duty, until when.

A lease is a row naming a duty (settling for one relayer key), its holder and when it expires.
``acquire`` takes a free or expired lease, or renews one already held, in a single conditional
update: on PostgreSQL the row lock makes a second contender re-read the row after the first
commits, and find it held; on SQLite writers take turns anyway. Expiry uses each process's
clock, so replicas on several machines need clocks within a small part of the lease (NTP keeps
them within milliseconds; leases last seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from settlement.store.schema import leadership


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a duty's lease, where it answers, and until when (seconds since the epoch)."""

    owner: str
    address: str | None
    expires_at: float

    def live(self, now: float) -> bool:
        return self.expires_at > now


class LeadershipLeases:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if postgres else sqlite.insert

    async def acquire(self, name: str, owner: str, ttl_s: float, address: str | None) -> bool:
        """Take or renew ``name``'s lease for ``ttl_s`` seconds; whether ``owner`` holds it now."""
        assert ttl_s > 0, "a lease must last some time"
        now = time.time()
        async with self._engine.begin() as connection:
            renewed_or_taken = await connection.execute(
                leadership.update()
                .where(
                    leadership.c.name == name,
                    sa.or_(leadership.c.owner == owner, leadership.c.expires_at <= now),
                )
                .values(
                    owner=owner,
                    address=address,
                    expires_at=now + ttl_s,
                    # A renewal keeps when the lease was first taken; a takeover starts afresh.
                    acquired_at=sa.case(
                        (leadership.c.owner == owner, leadership.c.acquired_at), else_=now
                    ),
                )
                .returning(leadership.c.owner)
            )
            if renewed_or_taken.first() is not None:
                return True
            inserted = await connection.execute(
                self._insert(leadership)
                .values(
                    name=name, owner=owner, address=address, acquired_at=now, expires_at=now + ttl_s
                )
                .on_conflict_do_nothing()
                # RETURNING says whether this insert wrote the row: psycopg's rowcount for an
                # insert that did nothing is not reliably 0.
                .returning(leadership.c.owner)
            )
            return inserted.first() is not None

    async def release(self, name: str, owner: str) -> None:
        """Give ``name``'s lease up at once (a clean stop), if ``owner`` holds it."""
        async with self._engine.begin() as connection:
            await connection.execute(
                leadership.update()
                .where(leadership.c.name == name, leadership.c.owner == owner)
                .values(expires_at=0.0)
            )

    async def holder(self, name: str) -> LeaseHolder | None:
        """The lease's last holder, live or expired; None if nobody ever held it."""
        query = sa.select(leadership.c.owner, leadership.c.address, leadership.c.expires_at).where(
            leadership.c.name == name
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else LeaseHolder(row.owner, row.address, row.expires_at)

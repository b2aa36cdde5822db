"""Leadership leases on SQLite and PostgreSQL: one holder at a time, renewals keep it, expiry
and release free it, and contenders racing for a free lease get exactly one winner."""

from __future__ import annotations

import asyncio
import time

from settlement.store import SqlPaymentStore

NAME = "settler:0xrelayer"


async def test_a_free_lease_is_taken_and_then_refused_to_others(store: SqlPaymentStore) -> None:
    leases = store.leases()
    assert await leases.holder(NAME) is None
    assert await leases.acquire(NAME, "a", 30, "http://a:8000") is True
    assert await leases.acquire(NAME, "b", 30, "http://b:8000") is False
    holder = await leases.holder(NAME)
    assert holder is not None
    assert (holder.owner, holder.address) == ("a", "http://a:8000")
    assert holder.live(time.time())


async def test_a_renewal_keeps_the_lease_and_moves_its_expiry(store: SqlPaymentStore) -> None:
    leases = store.leases()
    assert await leases.acquire(NAME, "a", 5, None)
    first = await leases.holder(NAME)
    assert await leases.acquire(NAME, "a", 60, None)
    renewed = await leases.holder(NAME)
    assert first is not None
    assert renewed is not None
    assert renewed.owner == "a"
    assert renewed.expires_at > first.expires_at + 50


async def test_an_expired_or_released_lease_goes_to_the_next_contender(
    store: SqlPaymentStore,
) -> None:
    leases = store.leases()
    assert await leases.acquire(NAME, "a", 0.05, None)
    await asyncio.sleep(0.1)
    assert await leases.acquire(NAME, "b", 30, None), "a's lease expired"
    await leases.release(NAME, "a")  # not a's to release any more: changes nothing
    assert await leases.acquire(NAME, "a", 30, None) is False
    await leases.release(NAME, "b")
    assert await leases.acquire(NAME, "a", 30, None), "b gave it up"
    holder = await leases.holder(NAME)
    assert holder is not None
    assert holder.owner == "a"


async def test_contenders_racing_for_a_free_lease_get_exactly_one_winner(
    store: SqlPaymentStore, database_url: str
) -> None:
    # Each contender in its own store (its own connection pool), as separate processes are.
    stores = [await SqlPaymentStore.open(database_url) for _ in range(6)]
    try:
        for _ in range(5):
            won = await asyncio.gather(
                *(s.leases().acquire(NAME, f"c{i}", 30, None) for i, s in enumerate(stores))
            )
            assert sum(won) == 1, won
            holder = await store.leases().holder(NAME)
            assert holder is not None
            assert holder.owner == f"c{won.index(True)}"
            await store.leases().release(NAME, holder.owner)
    finally:
        for each in stores:
            await each.close()

"""Leader election over a real store: one campaigner leads at a time, its duty stops when it
stops or loses the lease, and a follower takes over after a clean stop or a silent death."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from settlement.leadership import Leadership
from settlement.store import SqlPaymentStore

TTL_S = 0.6
NAME = "settler:0xtest"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlPaymentStore]:
    opened = await SqlPaymentStore.open(f"sqlite:///{tmp_path / 'lead.db'}")
    try:
        yield opened
    finally:
        await opened.close()


class Duty:
    """A leader's duty that records when it ran and returns once told it lost the lead."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.ended: list[float] = []

    async def __call__(self, lost: asyncio.Event) -> None:
        self.started.append(time.monotonic())
        await lost.wait()
        self.ended.append(time.monotonic())


async def until(condition: object, within_s: float) -> float:
    """Wait for ``condition()`` to hold; how long it took."""
    began = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - began < within_s, f"not within {within_s} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - began


async def test_one_leads_and_a_clean_stop_hands_over_at_the_next_campaign(
    store: SqlPaymentStore,
) -> None:
    first, second = (Leadership(store.leases(), NAME, owner, ttl_s=TTL_S) for owner in "ab")
    duties = (Duty(), Duty())
    stops = (asyncio.Event(), asyncio.Event())
    campaigns = [
        asyncio.create_task(each.campaign(duty, stop))
        for each, duty, stop in zip((first, second), duties, stops, strict=True)
    ]
    await until(lambda: first.is_leading() or second.is_leading(), 2)
    leader, follower = (first, second) if first.is_leading() else (second, first)
    await asyncio.sleep(3 * TTL_S)  # several renewals: the lead stays where it is
    assert leader.is_leading()
    assert not follower.is_leading()

    leader_index = (first, second).index(leader)
    stops[leader_index].set()
    await campaigns[leader_index]
    assert len(duties[leader_index].ended) == 1, "the leader's duty stopped with it"
    # Released, not left to expire: the follower leads within one campaign interval.
    assert await until(follower.is_leading, 2) <= TTL_S / 3 + 0.3
    assert len(duties[1 - leader_index].started) == 1

    stops[1 - leader_index].set()
    await campaigns[1 - leader_index]
    holder = await store.leases().holder(NAME)
    assert holder is not None
    assert not holder.live(time.time()), "the last leader released the lease on its way out"


async def test_a_leader_that_dies_silently_is_replaced_once_its_lease_expires(
    store: SqlPaymentStore,
) -> None:
    dead = Leadership(store.leases(), NAME, "dead", ttl_s=TTL_S)
    assert await dead.leases.acquire(NAME, "dead", TTL_S, None)  # took it, then never renewed
    taken_at = time.monotonic()
    heir = Leadership(store.leases(), NAME, "heir", ttl_s=TTL_S)
    stop = asyncio.Event()
    campaign = asyncio.create_task(heir.campaign(Duty(), stop))
    await until(heir.is_leading, 3)
    waited = time.monotonic() - taken_at
    assert TTL_S <= waited <= TTL_S + TTL_S / 3 + 0.3, "not before expiry, nor much after"
    stop.set()
    await campaign


async def test_a_leader_whose_lease_is_taken_stops_its_duty(store: SqlPaymentStore) -> None:
    leader = Leadership(store.leases(), NAME, "a", ttl_s=TTL_S)
    duty = Duty()
    stop = asyncio.Event()
    campaign = asyncio.create_task(leader.campaign(duty, stop))
    await until(leader.is_leading, 2)
    # Another process took the lease (this one was frozen past its expiry, say).
    await store.leases().release(NAME, "a")
    assert await store.leases().acquire(NAME, "b", 30, None)
    await until(lambda: bool(duty.ended), 2)
    assert not leader.is_leading()
    stop.set()
    await campaign
    holder = await store.leases().holder(NAME)
    assert holder is not None
    assert holder.owner == "b", "stopping did not release what another holds"

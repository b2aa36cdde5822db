"""Leader election: of the processes sharing one store, exactly one settles for a relayer key.

Every replica and worker process accepts payments. Settling is different: the relayer's key
sends the transactions, and two processes sending from one key would fight over its nonces. So
each process campaigns for a lease in the store (``settlement.store.leases``) named after the
key, and only the holder runs the settlement windows (which reconcile first, so a new leader
finishes whatever the last one left pending). The holder renews the lease every third of its
life; a leader that dies (SIGKILL, a lost machine) stops renewing, and another process takes
over once the lease has expired: within ``LEASE_TTL_S`` plus one campaign interval. A clean stop
releases the lease, so a follower takes over at its next campaign.

A leader that cannot renew (its store unreachable) keeps settling only until a margin before its
lease could expire, then stops: a follower can only take over after expiry, so at no moment do
two processes both believe they lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from settlement.store.leases import LeadershipLeases
from settlement.windows import stop_windows

logger = logging.getLogger(__name__)

LEASE_TTL_S = 6.0
# A leader that has not managed to renew stops this share of the lease before it could expire
# (1 s of 6), leaving the margin for clocks and the round it is finishing.
EXPIRY_MARGIN_SHARE = 1 / 6

Lead = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def settler_lease_name(relayer_address: str) -> str:
    return f"settler:{relayer_address.lower()}"


class Leadership:
    """One process's campaign for one lease, and whether it leads now."""

    def __init__(
        self,
        leases: LeadershipLeases,
        name: str,
        owner: str,
        address: str | None = None,
        ttl_s: float = LEASE_TTL_S,
    ) -> None:
        assert ttl_s > 0, "a lease lasts some time"
        self.leases = leases
        self.name = name
        self.owner = owner
        self.address = address
        self.ttl_s = ttl_s
        self.campaign_interval_s = ttl_s / 3
        # Monotonic time until which this process may act as leader without renewing again.
        self._valid_until = 0.0
        self.terms = 0

    def is_leading(self) -> bool:
        return time.monotonic() < self._valid_until

    async def campaign(self, lead: Lead, stop: asyncio.Event) -> None:
        """Until ``stop``: take the lease whenever it is free, and while holding it run
        ``lead(lost)``, which must return soon after ``lost`` is set."""
        try:
            while not stop.is_set():
                if await self._acquire():
                    await self._lead(lead, stop)
                await _wait(stop, self.campaign_interval_s)
        finally:
            if self.terms:
                with contextlib.suppress(Exception):  # an expired lease frees itself anyway
                    await self.leases.release(self.name, self.owner)

    async def _lead(self, lead: Lead, stop: asyncio.Event) -> None:
        self.terms += 1
        logger.info("%s leads %s (term %d)", self.owner, self.name, self.terms)
        lost = asyncio.Event()
        duty = asyncio.create_task(lead(lost))
        try:
            while not stop.is_set() and not duty.done():
                await _wait(stop, self.campaign_interval_s, duty)
                if stop.is_set() or duty.done():
                    break
                if not await self._acquire() and not self.is_leading():
                    logger.warning(
                        "%s no longer holds %s; it stops settling", self.owner, self.name
                    )
                    break
        finally:
            self._valid_until = 0.0
            await stop_windows(duty, lost)
        if duty.done() and not duty.cancelled() and duty.exception() is not None:
            # Give the duty to whichever process is healthier; this one campaigns again later.
            logger.error("the leader's duty failed: %r", duty.exception())
            with contextlib.suppress(Exception):
                await self.leases.release(self.name, self.owner)

    async def _acquire(self) -> bool:
        """Take or renew the lease; a store error counts as not renewed (logged)."""
        asked_at = time.monotonic()
        try:
            held = await self.leases.acquire(self.name, self.owner, self.ttl_s, self.address)
        except Exception:
            logger.exception("could not reach the store to take or renew %s", self.name)
            return False
        if held:
            self._valid_until = asked_at + self.ttl_s * (1 - EXPIRY_MARGIN_SHARE)
        else:
            self._valid_until = 0.0
        return held


async def _wait(
    stop: asyncio.Event, seconds: float, duty: asyncio.Task[None] | None = None
) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set or ``duty`` ends."""
    stopped = asyncio.create_task(stop.wait())
    waiters: set[asyncio.Task[Any]] = {stopped} if duty is None else {stopped, duty}
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()

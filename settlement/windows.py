"""Closing settlement windows: a mode settles when enough payments wait, or the oldest waited long.

Size bounds how much one transaction carries; time bounds how long a payment waits. Both are
configurable per mode, and a mode may also ask to settle sooner (``Settler.settle_early``:
channel mode claims a channel before a withdrawal its payer requested becomes possible). The loop
polls the store, so several replicas can run it side by side (leases keep them from settling the
same payment).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from settlement.domain.payments import SettlementMode
from settlement.service import RoundReport, SettlementService

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.05
# After a failed round the loop waits before trying that mode again, doubling up to this bound.
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class WindowPolicy:
    """Close a window at ``max_payments`` queued, or when the oldest has waited ``max_wait_s``."""

    max_payments: int = 1_000
    max_wait_s: float = 2.0

    def __post_init__(self) -> None:
        assert self.max_payments >= 1, "a window holds at least one payment"
        assert self.max_wait_s > 0, "a window must close after some time"

    def should_close(self, queued: int, oldest_accepted_at: float, now: float) -> bool:
        return queued >= self.max_payments or (
            queued > 0 and now - oldest_accepted_at >= self.max_wait_s
        )


# The keys under which the loop backs off its recovery and its reorganisation watch, beside
# each mode's rounds.
RECOVERY = "recovery"
REORG_WATCH = "reorg-watch"
# How often the loop checks that the blocks of recent settlements are still the chain's.
REORG_CHECK_INTERVAL_S = 1.0
# How long a stop waits for the round under way before cancelling it. A round can wait up to
# the relayer's limit (600 s) on a chain that stopped mining; cancelling loses nothing, since
# every transaction is recorded before it is sent and the next start reconciles it.
STOP_GRACE_S = 30.0


@dataclass
class _Backoff:
    """When each mode (or the recovery) may be tried again after failing, doubling the wait."""

    retry_at: dict[str, float] = field(default_factory=dict)
    delay_s: dict[str, float] = field(default_factory=dict)

    def ready(self, key: str, now: float) -> bool:
        return now >= self.retry_at.get(key, 0.0)

    def failed(self, key: str) -> float:
        delay = min(self.delay_s.get(key, 0.5) * 2, MAX_BACKOFF_S)
        self.delay_s[key] = delay
        self.retry_at[key] = time.time() + delay
        return delay

    def succeeded(self, key: str) -> None:
        self.delay_s.pop(key, None)
        self.retry_at.pop(key, None)


async def run_windows(
    service: SettlementService,
    policies: Mapping[SettlementMode, WindowPolicy],
    stop: asyncio.Event,
    on_round: Callable[[RoundReport], None] | None = None,
) -> None:
    """Settle each mode's windows as they close, until ``stop`` is set.

    A failed round can leave submissions pending: recorded, perhaps sent, perhaps mined, with
    later nonces waiting behind one that never reached the chain. Until the service has
    reconciled them (completed the mined, sent the rest again, requeued the dropped) it does
    nothing else, so no payment waits for a restart to settle. The loop reconciles once when it
    starts, too: whatever ran before it may have left submissions pending. Once a second it
    checks that recent settlements' blocks are still the chain's; one a reorganisation removed
    is reopened, and reconciled like a failed round's.
    """
    backoff = _Backoff()
    unreconciled = True
    next_reorg_check = 0.0
    while not stop.is_set():
        now = time.time()
        if not unreconciled and now >= next_reorg_check and backoff.ready(REORG_WATCH, now):
            next_reorg_check = now + REORG_CHECK_INTERVAL_S
            unreconciled = await _reorganized(service, backoff)
        if unreconciled and backoff.ready(RECOVERY, now):
            unreconciled = not await _reconcile(service, backoff, on_round)
        if not unreconciled:
            summary = await service.store.queue_summary()
            for mode, (queued, oldest) in summary.items():
                policy = policies.get(mode)
                if policy is None or not backoff.ready(mode.value, now):
                    continue
                if policy.should_close(queued, oldest, now) or await _due(service, mode):
                    report = await _settle(service, mode, backoff)
                    if report is None:
                        unreconciled = True
                        break
                    if on_round is not None:
                        on_round(report)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_INTERVAL_S)


async def stop_windows(
    windows: asyncio.Task[None], stop: asyncio.Event, grace_s: float = STOP_GRACE_S
) -> None:
    """Ask the windows to stop and wait for the round under way, cancelling it after
    ``grace_s``."""
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(windows), grace_s)
    except TimeoutError:
        logger.warning(
            "the settlement round under way did not finish within %.0f s of the stop; it is "
            "cancelled, and what it sent is reconciled at the next start",
            grace_s,
        )
        windows.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await windows


async def _due(service: SettlementService, mode: SettlementMode) -> bool:
    """Whether ``mode`` must settle before its window closes (a channel whose payer asked to
    withdraw); a failed check is logged and the window decides alone until the next one."""
    try:
        return await service.settlement_due(mode)
    except Exception:
        logger.exception("checking whether %s must settle early failed", mode.value)
        return False


async def _settle(
    service: SettlementService, mode: SettlementMode, backoff: _Backoff
) -> RoundReport | None:
    """One round, or None when it failed (logged, and the mode backs off)."""
    try:
        report = await service.settle_round(mode)
    except Exception:
        delay = backoff.failed(mode.value)
        logger.exception("settlement round for %s failed; retrying in %.1f s", mode.value, delay)
        return None
    backoff.succeeded(mode.value)
    return report


async def _reorganized(service: SettlementService, backoff: _Backoff) -> bool:
    """Whether settlements are pending between rounds, which then need reconciling: reopened
    by a reorganisation just now, or by anyone else (an operator's check, another process)."""
    try:
        reopened = await service.reopen_reorganized()
        orphaned = await service.relayer.has_orphaned_submissions()
    except Exception:
        delay = backoff.failed(REORG_WATCH)
        logger.exception("checking for a reorganisation failed; retrying in %.1f s", delay)
        return False
    backoff.succeeded(REORG_WATCH)
    return reopened > 0 or orphaned


async def _reconcile(
    service: SettlementService,
    backoff: _Backoff,
    on_round: Callable[[RoundReport], None] | None,
) -> bool:
    """Finish what failed rounds left pending; whether that worked."""
    try:
        reports = await service.reconcile()
    except Exception:
        delay = backoff.failed(RECOVERY)
        logger.exception("reconciling after a failed round failed; retrying in %.1f s", delay)
        return False
    backoff.succeeded(RECOVERY)
    logger.info("reconciled after a failed round: %s", [(r.mode.value, r.settled) for r in reports])
    if on_round is not None:
        for report in reports:
            on_round(report)
    return True

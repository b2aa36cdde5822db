"""Closing settlement windows: a mode settles when enough payments wait, or the oldest waited long.

Size bounds how much one transaction carries; time bounds how long a payment waits. Both are
configurable per mode; the loop polls the store, so several replicas can run it side by side
(leases keep them from settling the same payment).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

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


async def run_windows(
    service: SettlementService,
    policies: Mapping[SettlementMode, WindowPolicy],
    stop: asyncio.Event,
    on_round: Callable[[RoundReport], None] | None = None,
) -> None:
    """Settle each mode's windows as they close, until ``stop`` is set."""
    retry_at: dict[SettlementMode, float] = {}
    backoff: dict[SettlementMode, float] = {}
    while not stop.is_set():
        summary = await service.store.queue_summary()
        now = time.time()
        for mode, (queued, oldest) in summary.items():
            policy = policies.get(mode)
            if policy is None or now < retry_at.get(mode, 0.0):
                continue
            if policy.should_close(queued, oldest, now):
                report = await _settle(service, mode, retry_at, backoff)
                if report is not None and on_round is not None:
                    on_round(report)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_INTERVAL_S)


async def _settle(
    service: SettlementService,
    mode: SettlementMode,
    retry_at: dict[SettlementMode, float],
    backoff: dict[SettlementMode, float],
) -> RoundReport | None:
    try:
        report = await service.settle_round(mode)
    except Exception:
        # A failed round leaves its payments leased or pending in the store, never lost: the lease
        # expires or reconciliation finishes them. Log, back off, and keep serving.
        delay = min(backoff.get(mode, 0.5) * 2, MAX_BACKOFF_S)
        backoff[mode] = delay
        retry_at[mode] = time.time() + delay
        logger.exception("settlement round for %s failed; retrying in %.1f s", mode.value, delay)
        return None
    backoff.pop(mode, None)
    return report

"""Drive payments through a service while faults are injected, then count what happened.

Every fault test ends the same way: settle on the service's own windows until each accepted
payment is confirmed or failed (or a deadline passes), then count payments submitted, settled,
failed (by reason), lost (accepted but never final) and settled twice (a payee holding more on
chain than its confirmed payments bring it). Lost and settled twice must be zero.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from settlement.domain.payments import PaymentState
from settlement.errors import ChainError
from settlement.service import SettlementService
from settlement.windows import REORG_CHECK_INTERVAL_S, WindowPolicy, run_windows, stop_windows

FINAL = frozenset({PaymentState.CONFIRMED, PaymentState.FAILED})
SETTLE_DEADLINE_S = 90.0
POLL_S = 0.1
WINDOW = WindowPolicy(max_payments=25, max_wait_s=0.2)
STOP_GRACE_S = 10.0
# After the last fault, long enough for the windows' reorganisation watch to have looked twice.
AFTER_FAULTS_S = 2 * REORG_CHECK_INTERVAL_S + 0.5


@dataclass
class FaultTally:
    scenario: str
    faults: int = 0
    submitted: int = 0
    settled: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    settled_twice: int = 0

    def row(self) -> str:
        reasons = "; ".join(f"{n} {reason[:60]}" for reason, n in self.failed.most_common(3))
        return (
            f"{self.scenario:<58} faults {self.faults:>4}  submitted {self.submitted:>4}  "
            f"settled {self.settled:>4}  failed {self.failed.total():>3}  lost {self.lost}  "
            f"twice {self.settled_twice}" + (f"  ({reasons})" if reasons else "")
        )


FAULT_TALLIES: list[FaultTally] = []


async def settle_on_windows(
    service: SettlementService,
    payment_ids: Sequence[str],
    deadline_s: float = SETTLE_DEADLINE_S,
    faults: Awaitable[object] | None = None,
) -> None:
    """Run the service's windows until every payment is final, or the deadline passes.

    ``faults``, if given, runs beside the windows first: a payment that looks final while a
    fault is still to come (or just came) is not yet done with.
    """
    stop = asyncio.Event()
    windows = asyncio.create_task(
        run_windows(service, dict.fromkeys(service.settlers, WINDOW), stop)
    )
    try:
        if faults is not None:
            await faults
            await asyncio.sleep(AFTER_FAULTS_S)
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            records = await service.store.records(list(payment_ids))
            if (
                len(records) == len(payment_ids)
                and all(record.state in FINAL for record in records.values())
                and await still_on_chain(service)
            ):
                return
            await asyncio.sleep(POLL_S)
    finally:
        # A wedged round is cancelled rather than awaited: the count then shows what it left.
        await stop_windows(windows, stop, grace_s=STOP_GRACE_S)


async def still_on_chain(service: SettlementService) -> bool:
    """Whether the service, checking the blocks once more, finds every recent settlement still
    in the chain (the windows' own check may not have come round since the last fault). A
    chain it cannot reach (the connection still breaking) does not answer yes."""
    try:
        return await service.reopen_reorganized() == 0
    except ChainError:
        return False


class Outcome(Protocol):
    """A payment as the store or the API shows it."""

    @property
    def state(self) -> PaymentState: ...
    @property
    def payee(self) -> str: ...
    @property
    def amount_base_units(self) -> int: ...
    @property
    def failure_reason(self) -> str | None: ...


class Holdings(Protocol):
    """Where payees' money is on chain: the stablecoin, or the net settlement's deposits."""

    async def balances(self, accounts: Sequence[str]) -> dict[str, int]: ...


async def count(
    tally: FaultTally,
    service: SettlementService,
    holdings: Holdings,
    payment_ids: Sequence[str],
    expected_payee_start: dict[str, int],
) -> FaultTally:
    """Fill ``tally`` from the store and the chain; payees start from the given balances."""
    records = await service.store.records(list(payment_ids))
    held = await holdings.balances(list(expected_payee_start))
    tally.scenario = f"{service.store.dialect}, {tally.scenario}"
    received = {payee: held[payee] - start for payee, start in expected_payee_start.items()}
    return tally_outcomes(tally, payment_ids, records, received)


def tally_outcomes(
    tally: FaultTally,
    payment_ids: Sequence[str],
    outcomes: Mapping[str, Outcome],
    received: Mapping[str, int],
) -> FaultTally:
    """Count each payment's outcome, check what each payee received on chain against its
    confirmed payments, and record the tally for the run's summary."""
    tally.submitted = len(payment_ids)
    confirmed_to: Counter[str] = Counter()
    for payment_id in payment_ids:
        outcome = outcomes.get(payment_id)
        if outcome is None or outcome.state not in FINAL:
            tally.lost += 1
        elif outcome.state is PaymentState.CONFIRMED:
            tally.settled += 1
            confirmed_to[outcome.payee] += outcome.amount_base_units
        else:
            tally.failed[outcome.failure_reason or "unknown"] += 1
    for payee, amount in received.items():
        # More than its confirmed payments bring: something settled twice. Less: a payment
        # the store calls confirmed never arrived, which is as lost as one never settled.
        tally.settled_twice += amount > confirmed_to[payee]
        tally.lost += amount < confirmed_to[payee]
    FAULT_TALLIES.append(tally)
    return tally

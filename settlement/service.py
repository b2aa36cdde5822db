"""The settlement service: accept verified payments, settle them in rounds, reconcile on restart.

This is the application core the API and CLI drive. It owns no transport: ``submit`` takes domain
submissions and returns one result per payment; ``settle_round`` settles what one mode has queued;
``reconcile`` finishes whatever a previous run left on chain.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from settlement.chain.client import ChainClient
from settlement.chain.relayer import MinedTransaction, Relayer
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.payments import SettlementMode
from settlement.errors import PaymentRejectedError, QueueFullError
from settlement.settlers.base import PaymentSubmission, Settler
from settlement.store import (
    AcceptOutcome,
    Completion,
    NewPayment,
    PaymentOutcome,
    SqlPaymentStore,
    SubmissionState,
)

DEFAULT_MAX_QUEUED = 200_000
QUEUE_FULL_RETRY_AFTER_S = 2
LEASE_S = 300.0
REVERTED_REASON = "settlement transaction reverted on chain"
# Chain time moves in whole seconds; reading it once a second is exact enough for validity checks.
CHAIN_TIME_REFRESH_S = 1.0


@dataclass
class RoundReport:
    """What one settlement round of one mode did."""

    mode: SettlementMode
    transactions: int = 0
    settled: int = 0
    failed: int = 0
    requeued: int = 0
    mined: list[MinedTransaction] = field(default_factory=list)


class SettlementService:
    def __init__(
        self,
        store: SqlPaymentStore,
        client: ChainClient,
        relayer: Relayer,
        settlers: Mapping[SettlementMode, Settler],
        *,
        token: StablecoinContract,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        self.store = store
        self.client = client
        self.token = token
        self.relayer = relayer
        self.settlers = dict(settlers)
        self.max_queued = max_queued
        self.lease_owner = f"settler-{uuid.uuid4().hex[:12]}"
        self._chain_time = 0
        self._chain_time_read_at = 0.0

    async def submit(self, submissions: Sequence[PaymentSubmission]) -> list[AcceptOutcome]:
        """Verify and accept payments; one outcome per submission, in order."""
        await self._refuse_when_full(len(submissions))
        chain_time = await self._current_chain_time()
        verified: list[NewPayment] = []
        outcomes: dict[int, AcceptOutcome] = {}
        for index, submission in enumerate(submissions):
            try:
                verified.append(self._settler(submission.mode).verify(submission, chain_time))
            except PaymentRejectedError as rejection:
                payment_id = "0x" + submission.intent.payment_id.hex()
                outcomes[index] = AcceptOutcome(payment_id, None, rejection=str(rejection))
        stored = iter(await self.store.accept(verified))
        return [
            outcomes[index] if index in outcomes else next(stored)
            for index in range(len(submissions))
        ]

    async def settle_round(self, mode: SettlementMode) -> RoundReport:
        """Lease what ``mode`` has queued, send the transactions that settle it, record results."""
        settler = self._settler(mode)
        leased = await self.store.lease_queued(
            mode, settler.max_payments_per_round, self.lease_owner, LEASE_S
        )
        report = RoundReport(mode)
        if not leased:
            return report
        planned = settler.plan(leased)
        try:
            mined = await self.relayer.submit_many(mode, planned, self.lease_owner)
        except BaseException:
            # Payments the round did not get to record are still queued: free them now rather
            # than when the lease runs out. Recorded ones are pending and reconciled.
            await self.store.release_leases(
                [record.payment_id for record in leased], self.lease_owner
            )
            raise
        await self._record_mined(
            settler,
            [(each.payment_ids, result) for each, result in zip(planned, mined, strict=True)],
            report,
        )
        return report

    async def reconcile(self) -> list[RoundReport]:
        """Complete or requeue every submission a previous run left pending."""
        mined_submissions, _abandoned = await self.relayer.reconcile()
        reports: dict[SettlementMode, RoundReport] = {}
        for submission, mined in mined_submissions:
            report = reports.setdefault(submission.mode, RoundReport(submission.mode))
            await self._record_mined(
                self._settler(submission.mode), [(submission.payment_ids, mined)], report
            )
        return list(reports.values())

    async def _record_mined(
        self,
        settler: Settler,
        results: Sequence[tuple[Sequence[str], MinedTransaction]],
        report: RoundReport,
    ) -> None:
        completions: list[Completion] = []
        for payment_ids, mined in results:
            report.transactions += 1
            report.mined.append(mined)
            if not mined.succeeded and settler.requeue_on_revert:
                # Nothing moved, and nothing was wrong with the payments: queue them again.
                await self.store.abandon_submission(mined.submission_id, SubmissionState.REVERTED)
                report.requeued += len(payment_ids)
                continue
            outcomes = (
                settler.outcomes(payment_ids, mined)
                if mined.succeeded
                else [
                    PaymentOutcome(payment_id, settled=False, failure_reason=REVERTED_REASON)
                    for payment_id in payment_ids
                ]
            )
            completions.append(
                Completion(
                    submission_id=mined.submission_id,
                    mined_tx_hash=mined.tx_hash,
                    block_number=mined.block_number,
                    gas_used=mined.gas_used,
                    effective_gas_price_wei=mined.effective_gas_price_wei,
                    outcomes=outcomes,
                )
            )
            report.settled += sum(outcome.settled for outcome in outcomes)
            report.failed += sum(not outcome.settled for outcome in outcomes)
        await self.store.complete_submissions(completions)

    def _settler(self, mode: SettlementMode) -> Settler:
        settler = self.settlers.get(mode)
        if settler is None:
            raise PaymentRejectedError(f"settlement mode {mode.value!r} is not enabled here")
        return settler

    async def _refuse_when_full(self, incoming: int) -> None:
        queued = await self.store.count_queued()
        if queued + incoming > self.max_queued:
            raise QueueFullError(queued, self.max_queued, QUEUE_FULL_RETRY_AFTER_S)

    async def _current_chain_time(self) -> int:
        if time.monotonic() - self._chain_time_read_at > CHAIN_TIME_REFRESH_S:
            self._chain_time = await self.client.latest_block_timestamp()
            self._chain_time_read_at = time.monotonic()
        # Between reads the chain's clock advances with ours.
        return self._chain_time + int(time.monotonic() - self._chain_time_read_at)

"""The settlement service: accept verified payments, settle them in rounds, reconcile on restart.

This is the application core the API and CLI drive. It owns no transport: ``submit`` takes domain
submissions and returns one result per payment; ``settle_round`` settles what one mode has queued;
``reconcile`` finishes whatever a previous run left on chain.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from settlement.book import Reconciliation, ServiceBook
from settlement.chain.client import ChainClient
from settlement.chain.relayer import MinedTransaction, Relayer
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.holdings import SOURCE, holdings_of_mode
from settlement.domain.payments import SettlementMode
from settlement.errors import (
    ConfigurationError,
    NotYetValidError,
    PaymentRejectedError,
    QueueFullError,
)
from settlement.escrow import escrow_completion
from settlement.grouping import AcceptanceGroups
from settlement.ledger import MAX_BATCH_EVENTS
from settlement.settlers.base import ChainSettler, OffChainSettler, PaymentSubmission, Settler
from settlement.store import (
    AcceptOutcome,
    Completion,
    NewPayment,
    PaymentOutcome,
    PaymentRecord,
    SqlPaymentStore,
    SubmissionRecord,
    SubmissionState,
)

logger = logging.getLogger("settlement.service")

DEFAULT_MAX_QUEUED = 200_000
# One reconciliation reads the chain for at most this many holdings.
MAX_RECONCILED_HOLDINGS = MAX_BATCH_EVENTS  # one ledger lookup
QUEUE_FULL_RETRY_AFTER_S = 2
LEASE_S = 300.0
REVERTED_REASON = "settlement transaction reverted on chain"
# How many of the latest blocks are watched for a reorganisation that removes a confirmed
# settlement; older blocks are taken as final. A rollup's sequencer rarely reorganises at all; 64
# is two epochs of L1 blocks, past which Ethereum finalises.
DEFAULT_FINALITY_BLOCKS = 64
# Chain time moves in whole seconds; reading it once a second is exact enough for validity checks.
CHAIN_TIME_REFRESH_S = 1.0
QUEUE_COUNT_REFRESH_S = 0.5


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
        book: ServiceBook | None = None,
        finality_blocks: int = DEFAULT_FINALITY_BLOCKS,
    ) -> None:
        self.store = store
        self.book = book
        self.client = client
        self.token = token
        self.relayer = relayer
        self.settlers = dict(settlers)
        self.max_queued = max_queued
        self.finality_blocks = finality_blocks
        # Named after the relayer, so a restarted service knows which leases its earlier runs held.
        self.lease_owner = f"{self._lease_prefix()}{uuid.uuid4().hex[:10]}"
        self._chain_time = 0
        self._chain_time_read_at = 0.0
        self._queued_estimate = 0
        self._queue_counted_at = float("-inf")
        self.acceptance = AcceptanceGroups(self._accept_group)

    async def submit(self, submissions: Sequence[PaymentSubmission]) -> list[AcceptOutcome]:
        """Verify and accept payments; one outcome per submission, in order.

        Submissions that arrive while an acceptance pass is under way are accepted together in
        the next one (``settlement.grouping``).
        """
        return await self.acceptance.submit(submissions)

    async def _accept_group(self, submissions: Sequence[PaymentSubmission]) -> list[AcceptOutcome]:
        await self._refuse_when_full(len(submissions))
        verified, rejections = await self._verify(submissions)
        refused: dict[str, str] = {}
        for mode, group in _by_mode(list(verified.values())).items():
            refused.update(await self.settlers[mode].admit(group))
        for index, payment in verified.items():
            if payment.payment_id in refused:
                rejections[index] = refused[payment.payment_id]
        admitted = [p for i, p in verified.items() if i not in rejections]
        # Open the book's holdings before the payments are queued: a window settling one of them
        # first would put its movement in the opening figure, and the book would count it twice.
        await self._write_book("open", self._book_open(admitted))
        accepted = await self.store.accept(admitted)
        await self._write_book(
            "reserve", self._book_reserve([o.record for o in accepted if o.created and o.record])
        )
        stored = iter(accepted)
        return [
            AcceptOutcome(
                "0x" + submission.intent.payment_id.hex(), None, rejection=rejections[index]
            )
            if index in rejections
            else next(stored)
            for index, submission in enumerate(submissions)
        ]

    async def settle_round(self, mode: SettlementMode) -> RoundReport:
        """Lease what ``mode`` has queued, send the transactions that settle it, record results."""
        settler = self._settler(mode)
        leased = await self.store.lease_queued(
            mode, settler.round_lease(), self.lease_owner, LEASE_S
        )
        report = RoundReport(mode)
        if not leased:
            return report
        try:
            prepared = await settler.prepare(leased)
            await self._fail_refused(leased, prepared.refused, report)
            handled = {record.payment_id for record in prepared.ready}
            handled.update(outcome.payment_id for outcome in prepared.refused)
            left_for_later = [r.payment_id for r in leased if r.payment_id not in handled]
            if left_for_later:
                await self.store.release_leases(left_for_later, self.lease_owner)
            if isinstance(settler, OffChainSettler):
                await self._settle_off_chain(settler, prepared.ready, report)
                return report
            assert isinstance(settler, ChainSettler)
            planned = settler.plan(prepared.ready)
            mined = await self.relayer.submit_many(mode, planned, self.lease_owner)
        except BaseException:
            # Payments the round did not get to record are still queued: free them now rather
            # than when the lease runs out. Recorded ones are pending and reconciled.
            await self.store.release_leases(
                [record.payment_id for record in leased], self.lease_owner
            )
            raise
        records = {record.payment_id: record for record in leased}
        await self._record_mined(
            settler,
            [
                ([records[payment_id] for payment_id in each.payment_ids], result)
                for each, result in zip(planned, mined, strict=True)
            ],
            report,
        )
        return report

    async def settlement_due(self, mode: SettlementMode) -> bool:
        """Whether ``mode`` must settle what it has queued now, whatever its window says."""
        return await self._settler(mode).settle_early(await self.chain_time())

    async def reconcile(self) -> list[RoundReport]:
        """Complete or requeue every submission a previous run left pending, and free the
        payments an earlier run of this service had leased when it stopped (otherwise they would
        wait for their leases to run out)."""
        await self.store.release_leases_of_earlier_owners(self._lease_prefix(), self.lease_owner)
        await self.reopen_reorganized()
        mined_submissions, _abandoned = await self.relayer.reconcile()
        reports: dict[SettlementMode, RoundReport] = {}
        for submission, mined in mined_submissions:
            if submission.escrow_operation is not None:
                await self._record_escrow_operation(submission, mined)
                continue
            report = reports.setdefault(submission.mode, RoundReport(submission.mode))
            records = await self.store.records(submission.payment_ids)
            planned = [records[payment_id] for payment_id in submission.payment_ids]
            settler = self._settler(submission.mode)
            assert isinstance(settler, ChainSettler), "only chain settlers leave submissions"
            await self._record_mined(settler, [(planned, mined)], report)
        return list(reports.values())

    async def _record_escrow_operation(
        self, submission: SubmissionRecord, mined: MinedTransaction
    ) -> None:
        """A funding transaction (``EscrowDesk``) sent again after a reorganisation, or left
        pending by a crash, is mined: confirmed, or, reverted, abandoned with nothing to requeue."""
        if mined.succeeded:
            await self.store.complete_submissions([escrow_completion(mined)])
            return
        logger.warning(
            "escrow operation %s (submission %d) reverted when sent again: %s",
            submission.escrow_operation,
            submission.submission_id,
            mined.tx_hash,
        )
        await self.store.abandon_submission(submission.submission_id, SubmissionState.REVERTED)

    async def reopen_reorganized(self) -> int:
        """Reopen the confirmed submissions of the last ``finality_blocks`` blocks whose block
        is gone (a reorganisation, or a chain restored from an older state); how many.

        Their payments are submitted again until ``reconcile`` settles them: the same signed
        transaction sent again, or, if its nonce went elsewhere, a new one. Either way once.
        """
        head = await self.client.w3.eth.block_number
        confirmed = await self.store.confirmed_since(head - self.finality_blocks + 1)
        vanished = await self.relayer.vanished(confirmed)
        if vanished:
            logger.warning(
                "a reorganisation removed %d confirmed settlement transactions; their payments "
                "are reopened and will be settled again, once",
                len(vanished),
            )
            await self.store.reopen_submissions(vanished)
        return len(vanished)

    async def _settle_off_chain(
        self, settler: OffChainSettler, ready: Sequence[PaymentRecord], report: RoundReport
    ) -> None:
        """Let ``settler`` settle the round itself, then record how each payment ended.

        A crash between the two leaves the payments leased; the next round hands them to the
        settler again, which answers ``settled`` for those it already settled.
        """
        outcomes = await settler.settle(ready)
        await self.store.settle_leased(outcomes, self.lease_owner)
        report.settled += sum(outcome.settled for outcome in outcomes)
        report.failed += sum(not outcome.settled for outcome in outcomes)

    async def _record_mined(
        self,
        settler: ChainSettler,
        results: Sequence[tuple[Sequence[PaymentRecord], MinedTransaction]],
        report: RoundReport,
    ) -> None:
        completions: list[Completion] = []
        resolved: list[tuple[Sequence[PaymentRecord], list[PaymentOutcome]]] = []
        for planned, mined in results:
            report.transactions += 1
            report.mined.append(mined)
            if not mined.succeeded and settler.requeue_on_revert:
                # Nothing moved, and nothing was wrong with the payments: queue them again.
                await self.store.abandon_submission(mined.submission_id, SubmissionState.REVERTED)
                report.requeued += len(planned)
                continue
            outcomes = (
                settler.outcomes(planned, mined)
                if mined.succeeded
                else [
                    PaymentOutcome(record.payment_id, settled=False, failure_reason=REVERTED_REASON)
                    for record in planned
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
                    mined_at=mined.mined_at,
                    block_hash=mined.block_hash,
                )
            )
            report.settled += sum(outcome.settled for outcome in outcomes)
            report.failed += sum(not outcome.settled for outcome in outcomes)
            resolved.append((planned, outcomes))
        await self.store.complete_submissions(completions)
        for planned, outcomes in resolved:
            await self._write_book("post or void", self._book_resolve(planned, outcomes))

    async def _fail_refused(
        self,
        leased: Sequence[PaymentRecord],
        refused: Sequence[PaymentOutcome],
        report: RoundReport,
    ) -> None:
        """Fail, each with its reason, the leased payments a settler found can never settle."""
        by_reason: dict[str, list[str]] = {}
        for outcome in refused:
            by_reason.setdefault(outcome.failure_reason or "refused", []).append(outcome.payment_id)
        for reason, payment_ids in by_reason.items():
            await self.store.fail_queued(payment_ids, reason)
        report.failed += len(refused)
        await self._write_book("void", self._book_resolve(leased, refused))

    async def reconcile_book(self, limit: int = MAX_RECONCILED_HOLDINGS) -> Reconciliation:
        """Compare the book with the chain for the holdings of everyone who has paid or been
        paid (the first ``limit`` of them)."""
        if self.book is None:
            raise ConfigurationError("this service keeps no book")
        participants = await self.store.participants(limit)
        holdings = [
            holding
            for mode, payer, payee in participants
            if mode in SOURCE
            for holding in holdings_of_mode(mode, payer, payee)
        ]
        return await self.book.reconcile(list(dict.fromkeys(holdings))[:limit])

    async def _book_open(self, payments: Sequence[NewPayment]) -> None:
        if self.book is not None:
            await self.book.open(
                holding
                for p in payments
                if p.mode in SOURCE
                for holding in holdings_of_mode(p.mode, p.intent.payer, p.intent.payee)
            )

    async def _book_reserve(self, records: Sequence[PaymentRecord]) -> None:
        if self.book is not None and records:
            await self.book.reserve(records)

    async def _book_resolve(
        self, records: Sequence[PaymentRecord], outcomes: Sequence[PaymentOutcome]
    ) -> None:
        if self.book is not None and outcomes:
            await self.book.resolve(records, outcomes)

    async def _write_book(self, what: str, write: Awaitable[None]) -> None:
        """Mirror a settlement step in the book; a failure there is logged, never raised.

        The store and the chain are the truth; the book is checked against them, so a step it
        missed shows up in ``reconcile_book`` instead of stopping payments.
        """
        try:
            await write
        except Exception:
            logger.exception("the book could not %s; reconciliation will show it", what)

    def _lease_prefix(self) -> str:
        return f"settler-{self.relayer.address.lower()}-"

    def _settler(self, mode: SettlementMode) -> Settler:
        settler = self.settlers.get(mode)
        if settler is None:
            raise PaymentRejectedError(f"settlement mode {mode.value!r} is not enabled here")
        return settler

    async def _refuse_when_full(self, incoming: int) -> None:
        """Refuse a pass that would take the queue past ``max_queued``.

        The queue is counted at most every ``QUEUE_COUNT_REFRESH_S``, not per pass (the count
        took a fifth of a busy pass); between counts, what this process accepted is added on.
        Other replicas' acceptances show at the next count: the bound is a guard against a
        store growing without end, not an exact quota.
        """
        if time.monotonic() - self._queue_counted_at > QUEUE_COUNT_REFRESH_S:
            self._queued_estimate = await self.store.count_queued()
            self._queue_counted_at = time.monotonic()
        queued = self._queued_estimate
        if queued + incoming > self.max_queued:
            raise QueueFullError(queued, self.max_queued, QUEUE_FULL_RETRY_AFTER_S)
        self._queued_estimate += incoming

    async def _verify(
        self, submissions: Sequence[PaymentSubmission]
    ) -> tuple[dict[int, NewPayment], dict[int, str]]:
        """Each submission checked on its own: the verified payments and the reasons for the rest.

        The chain time is an estimate between reads, and a chain that mines quickly runs ahead
        of the wall clock; a window that looks not yet open is checked again against a fresh
        read before it is refused.
        """
        verified: dict[int, NewPayment] = {}
        rejections: dict[int, str] = {}

        def check(indices: Iterable[int], chain_time: int, *, last: bool) -> list[int]:
            """Verify these; the ones not yet valid, unless this is the last look."""
            too_early = []
            for index in indices:
                submission = submissions[index]
                try:
                    verified[index] = self._settler(submission.mode).verify(submission, chain_time)
                except PaymentRejectedError as rejection:
                    if isinstance(rejection, NotYetValidError) and not last:
                        too_early.append(index)
                    else:
                        rejections[index] = str(rejection)
            return too_early

        too_early = check(range(len(submissions)), await self.chain_time(), last=False)
        if too_early:
            check(too_early, await self._read_chain_time(), last=True)
        return verified, rejections

    async def _read_chain_time(self) -> int:
        self._chain_time = await self.client.latest_block_timestamp()
        self._chain_time_read_at = time.monotonic()
        return self._chain_time

    async def chain_time(self) -> int:
        """The chain's clock as acceptance sees it: read at most once a second, estimated
        between reads."""
        if time.monotonic() - self._chain_time_read_at > CHAIN_TIME_REFRESH_S:
            return await self._read_chain_time()
        # Between reads the chain's clock advances with ours.
        return self._chain_time + int(time.monotonic() - self._chain_time_read_at)


def _by_mode(payments: Sequence[NewPayment]) -> dict[SettlementMode, list[NewPayment]]:
    groups: dict[SettlementMode, list[NewPayment]] = {}
    for payment in payments:
        groups.setdefault(payment.mode, []).append(payment)
    return groups

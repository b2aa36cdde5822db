"""The relayer: sends settlement transactions so that none is lost or doubled.

Every transaction of a round is signed, recorded in the store with its hash (all in one database
transaction), and only then broadcast, in JSON-RPC batches. Receipts are polled in batches too,
until each transaction has the configured confirmation depth. A transaction the relayer signed that
sits unmined past ``stuck_after_s`` is replaced: the same nonce, fees raised by at least the 10%
nodes demand, the new attempt recorded before it is sent. Whichever attempt is mined settles the
payments; the nonce guarantees that at most one can be. A payer's own pre-signed transaction
(direct mode) cannot be re-signed, so it is only rebroadcast.

After a crash, ``reconcile`` looks at every submission still pending in the store: mined ones are
completed, unmined ones are broadcast again (the same signed bytes, so they cannot settle twice),
and ones whose nonce was spent by something else are abandoned and their payments requeued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_account.types import AccessList
from eth_typing import ChecksumAddress, HexStr

from settlement.chain.client import ChainClient, Fees
from settlement.domain.payments import SettlementMode
from settlement.errors import ChainError, ChainReorganizedError, TransactionTimeoutError
from settlement.store import (
    MinedBlock,
    NewSubmission,
    SqlPaymentStore,
    SubmissionRecord,
    SubmissionState,
    TransactionAttempt,
)

logger = logging.getLogger("settlement.relayer")

# Nodes refuse a replacement unless both fee caps rise by at least 10%; 12.5% clears it safely.
FEE_BUMP_NUMERATOR = 1125
FEE_BUMP_DENOMINATOR = 1000
MAX_REPLACEMENTS = 5
RECEIPT_POLL_INTERVAL_S = 0.02
# While waiting, how often to check that our transactions can still be mined (no nonce below
# them missing, theirs not used by another); otherwise they would wait out ``wait_limit_s``.
UNMINABLE_CHECK_S = 2.0
# How long a transaction whose nonce the chain counts as used may go without a receipt before it
# is taken for lost: long enough for a node to store the block it was mined in.
RECEIPT_GRACE_S = 1.0
# Answers that mean the node has, or had, this transaction: confirmation finds out which.
HARMLESS_BROADCAST_ERRORS = ("already known", "already imported", "nonce too low")
GAS_MARGIN_PERCENT = 20
# Post-Osaka chains cap one transaction at 2**24 gas (EIP-7825).
MAX_TRANSACTION_GAS = 2**24


@dataclass(frozen=True)
class PresignedTransaction:
    """A transaction signed by someone else (a payer), relayed as it is."""

    raw: bytes
    sender: ChecksumAddress
    nonce: int
    tx_hash: str


@dataclass(frozen=True)
class PlannedTransaction:
    """A transaction that settles ``payment_ids`` once mined."""

    to: ChecksumAddress
    data: HexStr
    # None: ask the node (eth_estimateGas plus a margin), for transactions whose cost depends on
    # state, such as a batch touching accounts for the first time.
    gas: int | None
    payment_ids: list[str]
    presigned: PresignedTransaction | None = None
    # An escrow operation (a channel opening, a top-up, a net deposit) settles no payment but is
    # tracked, and sent again after a reorganisation, the same way; this names it.
    escrow_operation: str | None = None


@dataclass(frozen=True)
class EventLog:
    """One log of a mined transaction: the emitting contract, its topics and its data."""

    address: str
    topics: list[bytes]
    data: bytes


@dataclass(frozen=True)
class MinedTransaction:
    """A settlement transaction with its receipt, at the confirmation depth."""

    submission_id: int
    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    effective_gas_price_wei: int
    succeeded: bool
    logs: list[EventLog]
    mined_at: float


# Records mined transactions in the store (see ``Relayer.submit_many``).
Completer = Callable[[list["MinedTransaction"]], Awaitable[None]]


@dataclass
class _InFlight:
    """A recorded submission being watched until one of its attempts is mined."""

    submission_id: int
    nonce: int
    attempts: list[TransactionAttempt]
    planned: PlannedTransaction | None
    replace_at: float = field(default=0.0)
    sender: str = ""

    @property
    def replaceable(self) -> bool:
        return self.planned is not None and self.planned.presigned is None


class Relayer:
    """Sends settlement transactions from one operator key, recording each before it is sent."""

    def __init__(
        self,
        client: ChainClient,
        account: LocalAccount,
        store: SqlPaymentStore,
        *,
        confirmations: int = 1,
        stuck_after_s: float = 30.0,
        wait_limit_s: float = 600.0,
    ) -> None:
        assert confirmations >= 1, "a transaction needs at least its own block"
        self.client = client
        self.account = account
        self.store = store
        self.confirmations = confirmations
        self.stuck_after_s = stuck_after_s
        self.wait_limit_s = wait_limit_s
        # What this process is sending and watching now (a round, or an escrow operation an API
        # request relays meanwhile): reconciliation leaves these alone, and their nonces are not
        # gaps to fill, or it would fill a live transaction's nonce with a no-op.
        self._in_flight_ids: set[int] = set()
        self._in_flight_nonces: set[int] = set()

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    async def submit(
        self,
        mode: SettlementMode,
        planned: PlannedTransaction,
        lease_owner: str,
        complete: Completer | None = None,
    ) -> MinedTransaction:
        """Record, send and confirm one transaction."""
        (mined,) = await self.submit_many(mode, [planned], lease_owner, complete)
        return mined

    async def submit_many(
        self,
        mode: SettlementMode,
        planned: Sequence[PlannedTransaction],
        lease_owner: str,
        complete: Completer | None = None,
    ) -> list[MinedTransaction]:
        """Record, send and confirm a round's transactions; results in the order given.

        ``complete``, when given, records the mined transactions in the store while they are
        still this relayer's in flight: a caller running beside the windows loop (an escrow
        operation) completes them before the loop could take them for orphans."""
        if not planned:
            return []
        fees = await self.client.fees()
        entries: list[NewSubmission] = []
        submission_ids: list[int] = []
        try:
            for each in planned:
                entries.append(await self._prepare(each, fees))
                self._in_flight_nonces.update(self._own_nonces(entries[-1:]))
            submission_ids = await self.store.record_submissions(
                mode=mode, owner=lease_owner, entries=entries
            )
            self._in_flight_ids.update(submission_ids)
        except BaseException:
            # Nothing was sent, so the nonces allocated for this round are unused: forget the
            # local count, and the next round starts again from the chain's, leaving no gap.
            self._in_flight_nonces.difference_update(self._own_nonces(entries))
            self._forget_nonces()
            raise
        try:
            await self._broadcast([entry.attempt for entry in entries])
            in_flight = [
                _InFlight(submission_id, entry.nonce, [entry.attempt], each, sender=entry.sender)
                for submission_id, entry, each in zip(submission_ids, entries, planned, strict=True)
            ]
            mined = await self._confirm(in_flight)
            if complete is not None:
                await complete(mined)
            return mined
        finally:
            self._in_flight_ids.difference_update(submission_ids)
            self._in_flight_nonces.difference_update(self._own_nonces(entries))

    def _own_nonces(self, entries: Sequence[NewSubmission]) -> list[int]:
        """The operator's nonces among ``entries``: a direct payer's presigned transaction
        carries the payer's nonce, which is not this relayer's to count."""
        return [entry.nonce for entry in entries if entry.sender == self.address]

    def _forget_nonces(self) -> None:
        """Let the next nonce come from the chain's count again, unless transactions of this
        process are allocated and perhaps not yet sent: the node's count would not include
        them, and their nonces would be handed out twice. A gap left then is filled when
        reconciliation next runs."""
        if self._in_flight_nonces:
            logger.info("keeping the local nonce count: %d in flight", len(self._in_flight_nonces))
            return
        self.client.nonces.forget(self.address)

    async def has_orphaned_submissions(self) -> bool:
        """Whether the store holds pending submissions of ours that nothing here is watching:
        left by a failed round, another process, or a reorganisation, and so to reconcile."""
        pending = await self.store.pending_submission_ids(self.address)
        return bool(pending - self._in_flight_ids)

    async def reconcile(self) -> tuple[list[tuple[SubmissionRecord, MinedTransaction]], list[int]]:
        """After a restart: (mined submissions to complete, submission ids abandoned)."""
        pending = [
            each
            for each in await self.store.pending_submissions()
            if each.submission_id not in self._in_flight_ids
        ]
        # Nonces first, receipts second: a transaction mined between the two reads is then found
        # mined. The other way round it would look like a nonce spent by a stranger, and its
        # payments would be queued again; a net window, which no on-chain nonce guards, would
        # then be paid twice.
        mined_nonces = await self._mined_nonces({s.sender for s in pending})
        mined_now = await self._find_mined(
            [_InFlight(s.submission_id, s.nonce, list(s.attempts), None) for s in pending]
        )
        unmined = [s for s in pending if s.submission_id not in mined_now]
        abandoned: list[int] = []
        to_watch: list[_InFlight] = []
        for submission in unmined:
            if submission.nonce < mined_nonces[submission.sender]:
                # The nonce was spent by a transaction this store never recorded.
                await self.store.abandon_submission(
                    submission.submission_id, SubmissionState.DROPPED
                )
                abandoned.append(submission.submission_id)
            else:
                to_watch.append(
                    _InFlight(
                        submission.submission_id,
                        submission.nonce,
                        submission.attempts,
                        None,
                        sender=submission.sender,
                    )
                )
        await self._fill_nonce_gaps(
            {w.nonce for w in to_watch if w.sender == self.address} | self._in_flight_nonces
        )
        logger.info(
            "reconciling: %d mined, %d abandoned, %d sent again (nonces %s)",
            len(mined_now),
            len(abandoned),
            len(to_watch),
            _ranges([w.nonce for w in to_watch]),
        )
        await self._broadcast([watched.attempts[-1] for watched in to_watch])
        watched_mined = {m.submission_id: m for m in await self._confirm(to_watch)}
        await self._wait_for_depth(list(mined_now.values()))
        by_id = {**mined_now, **watched_mined}
        self._forget_nonces()
        return [
            (submission, by_id[submission.submission_id])
            for submission in pending
            if submission.submission_id in by_id
        ], abandoned

    async def vanished(self, confirmed: Sequence[MinedBlock]) -> list[int]:
        """The submissions among ``confirmed`` whose block the chain no longer has at that
        height: a reorganisation (or a chain restored from an older state) removed it."""
        known = [each for each in confirmed if each.block_hash is not None]
        heights = sorted({each.block_number for each in known})
        if not heights:
            return []
        responses = await self.client.batch_request(
            [("eth_getBlockByNumber", [hex(height), False]) for height in heights]
        )
        current = {
            height: (response.get("result") or {}).get("hash")
            for height, response in zip(heights, responses, strict=True)
        }
        return [
            each.submission_id for each in known if current[each.block_number] != each.block_hash
        ]

    async def _fill_nonce_gaps(self, waiting: set[int]) -> None:
        """Make every nonce below the highest one we wait on usable, so that ours can be mined.

        A nonce the relayer used for something the store does not track (an operator call) and
        that a reorganisation removed, or one allocated for a send that never happened, would
        hold back every later transaction for good. Each such nonce gets a transaction that
        does nothing: a zero-value transfer to ourselves.
        """
        if not waiting:
            return
        node_next, _mined = await self._own_counts()
        gaps = [n for n in range(node_next, max(waiting)) if n not in waiting]
        if not gaps:
            return
        logger.warning(
            "filling nonce gaps %s of %s with no-op transactions", _ranges(gaps), self.address
        )
        fees = await self.client.fees()
        fillers = [self._sign_no_op(nonce, fees) for nonce in gaps]
        await self._broadcast(fillers)

    def _sign_no_op(self, nonce: int, fees: Fees) -> TransactionAttempt:
        no_op = PlannedTransaction(to=self.address, data=HexStr("0x"), gas=21_000, payment_ids=[])
        return self._sign(no_op, nonce, fees)

    async def _prepare(self, planned: PlannedTransaction, fees: Fees) -> NewSubmission:
        presigned = planned.presigned
        if presigned is not None:
            attempt = TransactionAttempt(presigned.tx_hash, presigned.raw, 0, 0, time.time())
            return NewSubmission(presigned.sender, presigned.nonce, attempt, planned.payment_ids)
        if planned.gas is None:
            planned = replace(planned, gas=await self._estimate_gas(planned))
        nonce = await self.client.nonces.allocate(self.address)
        attempt = self._sign(planned, nonce, fees)
        return NewSubmission(
            self.address, nonce, attempt, planned.payment_ids, planned.escrow_operation
        )

    async def _estimate_gas(self, planned: PlannedTransaction) -> int:
        estimate = await self.client.estimate_gas(self.address, planned.to, planned.data)
        return min(estimate + estimate * GAS_MARGIN_PERCENT // 100, MAX_TRANSACTION_GAS)

    def _sign(self, planned: PlannedTransaction, nonce: int, fees: Fees) -> TransactionAttempt:
        assert planned.gas is not None, "gas is estimated before signing"
        transaction: dict[str, AccessList | bytes | HexStr | int] = {
            "type": 2,
            "chainId": self.client.chain_id,
            "nonce": nonce,
            "to": HexStr(planned.to),
            "data": planned.data,
            "value": 0,
            "gas": planned.gas,
            "maxFeePerGas": fees.max_fee_per_gas_wei,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas_wei,
        }
        signed = self.account.sign_transaction(transaction)
        return TransactionAttempt(
            tx_hash=signed.hash.to_0x_hex(),
            raw_transaction=bytes(signed.raw_transaction),
            max_fee_per_gas_wei=fees.max_fee_per_gas_wei,
            max_priority_fee_per_gas_wei=fees.max_priority_fee_per_gas_wei,
            created_at=time.time(),
        )

    async def _broadcast(self, attempts: Sequence[TransactionAttempt]) -> None:
        """Send signed bytes in batches; a node that has or had them is not an error."""
        responses = await self.client.batch_request(
            [
                ("eth_sendRawTransaction", ["0x" + attempt.raw_transaction.hex()])
                for attempt in attempts
            ]
        )
        for attempt, response in zip(attempts, responses, strict=True):
            error = response.get("error")
            if error is None:
                continue
            message = str(error.get("message", error)).lower()
            if not any(harmless in message for harmless in HARMLESS_BROADCAST_ERRORS):
                raise ChainError(f"node refused transaction {attempt.tx_hash}: {message}")

    async def _confirm(self, in_flight: list[_InFlight]) -> list[MinedTransaction]:
        """Watch until every submission is mined at depth, replacing the stuck; order kept.

        Rather than asking for every pending receipt on every poll (which, with thousands in
        flight, slows the node that is mining them), the relayer reads each new block's receipts
        once, with ``eth_getBlockReceipts``, and picks out its own transactions.
        """
        now = time.monotonic()
        deadline = now + self.wait_limit_s
        next_unminable_check = now + UNMINABLE_CHECK_S
        for watched in in_flight:
            watched.replace_at = now + self.stuck_after_s
        # The block number is read before the receipts, so that a transaction mined in between is
        # in a block the scan below still reads.
        scanned = int(await self.client.w3.eth.block_number)
        mined = await self._find_mined(in_flight)
        while len(mined) < len(in_flight):
            waiting = {
                attempt.tx_hash: watched
                for watched in in_flight
                if watched.submission_id not in mined
                for attempt in watched.attempts
            }
            latest = int(await self.client.w3.eth.block_number)
            if latest < scanned:
                raise ChainReorganizedError(
                    f"the chain went back from block {scanned} to {latest} while "
                    f"{len(in_flight) - len(mined)} settlement transactions awaited mining"
                )
            if latest > scanned:
                mined.update(await self._scan_blocks(scanned + 1, latest, waiting))
                scanned = latest
                continue
            if time.monotonic() >= deadline:
                raise TransactionTimeoutError(
                    f"{len(in_flight) - len(mined)} settlement transactions were not mined within "
                    f"{self.wait_limit_s:.0f} s; they stay pending and are reconciled on restart"
                )
            unmined = [w for w in in_flight if w.submission_id not in mined]
            if time.monotonic() >= next_unminable_check:
                next_unminable_check = time.monotonic() + UNMINABLE_CHECK_S
                await self._check_unmined(unmined)
            await self._replace_stuck(unmined)
            await asyncio.sleep(RECEIPT_POLL_INTERVAL_S)
        results = [mined[watched.submission_id] for watched in in_flight]
        await self._wait_for_depth(results)
        return results

    async def _scan_blocks(
        self, first: int, last: int, waiting: dict[str, _InFlight]
    ) -> dict[int, MinedTransaction]:
        """Our transactions among the receipts of blocks ``first``..``last``."""
        responses = await self.client.batch_request(
            [("eth_getBlockReceipts", [hex(block)]) for block in range(first, last + 1)]
        )
        mined: dict[int, MinedTransaction] = {}
        for response in responses:
            for receipt in response.get("result") or []:
                watched = waiting.get(receipt["transactionHash"])
                if watched is not None:
                    mined[watched.submission_id] = _mined(
                        watched.submission_id, receipt["transactionHash"], receipt
                    )
        return mined

    async def _replace_stuck(self, waiting: Sequence[_InFlight]) -> None:
        now = time.monotonic()
        for watched in [w for w in waiting if w.replaceable and now >= w.replace_at]:
            if len(watched.attempts) > MAX_REPLACEMENTS:
                continue
            assert watched.planned is not None
            replacement = self._sign(
                watched.planned, watched.nonce, await self._bumped_fees(watched.attempts[-1])
            )
            await self.store.add_attempt(watched.submission_id, replacement)
            await self._broadcast([replacement])
            watched.attempts.append(replacement)
            watched.replace_at = now + self.stuck_after_s

    async def _check_unmined(self, unmined: Sequence[_InFlight]) -> None:
        """Give up on what can never be mined; send the rest again.

        A rewound chain (or a node restarted without its pool) forgets transactions without a
        trace: the nonce is free and nothing waits in the pool. The same signed bytes again cost
        nothing where the node still has them, and cannot settle twice.
        """
        found = await self._refuse_unminable([w for w in unmined if w.sender == self.address])
        await self._broadcast([w.attempts[-1] for w in unmined if w.submission_id not in found])

    async def _refuse_unminable(self, ours: Sequence[_InFlight]) -> dict[int, MinedTransaction]:
        """Stop waiting for transactions of ours that can never be mined; no replacement can
        help, only reconciliation (which then fills a gap, or drops a transaction whose nonce
        went elsewhere and queues its payments again). Two ways it happens, after a
        reorganisation or a lost send: a nonce below ours is missing from the chain and the
        node, or our nonce is already used, by a transaction other than the one we wait on."""
        if not ours:
            return {}
        lowest_waiting = min(w.nonce for w in ours)
        node_next, mined_count = await self._own_counts()
        if node_next < lowest_waiting:
            raise ChainReorganizedError(
                f"nonce {node_next} of {self.address} is missing from the chain and the node, so "
                f"nonce {lowest_waiting} and after cannot be mined"
            )
        spent = [w for w in ours if w.nonce < mined_count]
        # Mined since the last look, perhaps: only those still without a receipt are lost.
        found = await self._find_mined(spent) if spent else {}
        lost = [w for w in spent if w.submission_id not in found]
        deadline = time.monotonic() + RECEIPT_GRACE_S
        while lost and time.monotonic() < deadline:
            # A node can count a new block's transactions before it serves their receipts
            # (Anvil does while it stores a block of large batches): look again before calling
            # one lost.
            await asyncio.sleep(RECEIPT_POLL_INTERVAL_S)
            found.update(await self._find_mined(lost))
            lost = [w for w in lost if w.submission_id not in found]
        if lost:
            raise ChainReorganizedError(
                f"nonce {lost[0].nonce} of {self.address} was used by another transaction; "
                f"{len(lost)} settlement transactions can no longer be mined"
            )
        return found

    async def _own_counts(self) -> tuple[int, int]:
        """The relayer's next nonce as the node sees it ("pending": what it holds without a gap,
        mined or not) and its count of mined transactions."""
        pending, latest = await self.client.batch_request(
            [
                ("eth_getTransactionCount", [self.address, "pending"]),
                ("eth_getTransactionCount", [self.address, "latest"]),
            ]
        )
        return int(pending["result"], 16), int(latest["result"], 16)

    async def _bumped_fees(self, stuck: TransactionAttempt) -> Fees:
        current = await self.client.fees()
        return Fees(
            max_fee_per_gas_wei=max(
                current.max_fee_per_gas_wei, _bumped(stuck.max_fee_per_gas_wei)
            ),
            max_priority_fee_per_gas_wei=max(
                current.max_priority_fee_per_gas_wei, _bumped(stuck.max_priority_fee_per_gas_wei)
            ),
        )

    async def _find_mined(self, in_flight: Sequence[_InFlight]) -> dict[int, MinedTransaction]:
        """Submission id -> mined transaction, for those with any attempt mined."""
        lookups = [(watched, attempt) for watched in in_flight for attempt in watched.attempts]
        responses = await self.client.batch_request(
            [("eth_getTransactionReceipt", [attempt.tx_hash]) for _, attempt in lookups]
        )
        mined: dict[int, MinedTransaction] = {}
        for (watched, attempt), response in zip(lookups, responses, strict=True):
            receipt = response.get("result")
            if receipt is None or receipt.get("blockNumber") is None:
                continue
            mined[watched.submission_id] = _mined(watched.submission_id, attempt.tx_hash, receipt)
        return mined

    async def _wait_for_depth(self, mined: Sequence[MinedTransaction]) -> None:
        """Wait until every block is ``confirmations`` deep, its own block counted."""
        if not mined:
            return
        highest = max(each.block_number for each in mined)
        target = highest + self.confirmations - 1
        deadline = time.monotonic() + self.wait_limit_s
        while (head := int(await self.client.w3.eth.block_number)) < target:
            if head < highest:
                # No new block will ever bring these transactions back to this height.
                raise ChainReorganizedError(
                    f"the chain went back to block {head}, below block {highest} that held "
                    "settlement transactions"
                )
            if time.monotonic() >= deadline:
                raise TransactionTimeoutError(
                    f"block {highest} did not reach {self.confirmations} confirmations within "
                    f"{self.wait_limit_s:.0f} s; its transactions are reconciled later"
                )
            await asyncio.sleep(RECEIPT_POLL_INTERVAL_S)
        # The chain may have gone back and forward again since the receipts were read: a block
        # replaced at its height would be recorded as settling what it no longer holds.
        gone = await self.vanished(
            [MinedBlock(m.submission_id, m.block_number, m.block_hash) for m in mined]
        )
        if gone:
            raise ChainReorganizedError(
                f"{len(gone)} settlement transactions were mined in blocks the chain has since "
                "replaced"
            )

    async def _mined_nonces(self, senders: set[str]) -> dict[str, int]:
        """Each sender's count of mined transactions, in one JSON-RPC batch."""
        if not senders:
            return {}
        ordered = sorted(senders)
        responses = await self.client.batch_request(
            [("eth_getTransactionCount", [sender, "latest"]) for sender in ordered]
        )
        return {
            sender: int(response["result"], 16)
            for sender, response in zip(ordered, responses, strict=True)
        }


def _mined(submission_id: int, tx_hash: str, receipt: dict[str, Any]) -> MinedTransaction:
    return MinedTransaction(
        submission_id=submission_id,
        tx_hash=tx_hash,
        block_number=int(receipt["blockNumber"], 16),
        block_hash=receipt["blockHash"],
        gas_used=int(receipt["gasUsed"], 16),
        effective_gas_price_wei=int(receipt["effectiveGasPrice"], 16),
        succeeded=int(receipt["status"], 16) == 1,
        logs=[
            EventLog(
                address=log["address"],
                topics=[bytes.fromhex(topic[2:]) for topic in log["topics"]],
                data=bytes.fromhex(log["data"][2:]),
            )
            for log in receipt["logs"]
        ],
        mined_at=time.time(),
    )


def _ranges(numbers: Sequence[int]) -> str:
    """``1-3,7`` for 1, 2, 3 and 7: nonces as a log line can carry them."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ",".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def _bumped(fee_wei: int) -> int:
    return -(-fee_wei * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR)

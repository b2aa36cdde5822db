"""The relayer: sends the service's settlement transactions so that none is lost or doubled.

Each transaction is signed, recorded in the store with its hash, and only then broadcast. It is
then watched until it has the configured confirmation depth. A transaction that sits unmined past
``stuck_after_s`` is replaced: the same nonce, fees raised by at least the 10% nodes demand, the
new attempt recorded before it is sent. Whichever attempt is mined settles the payments; the nonce
guarantees that at most one can be. A mined transaction that reverted is reported as such, and its
payments go back to the queue.

After a crash, ``reconcile`` looks at every submission still pending in the store: mined ones are
completed, unmined ones are broadcast again (the same signed bytes, so they cannot settle twice),
and ones whose nonce was spent by something else are abandoned and their payments requeued.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_account.types import AccessList
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound, Web3RPCError

from settlement.chain.client import ChainClient, Fees
from settlement.domain.payments import SettlementMode
from settlement.errors import TransactionTimeoutError
from settlement.store import (
    SqlPaymentStore,
    SubmissionRecord,
    SubmissionState,
    TransactionAttempt,
)

# Nodes refuse a replacement unless both fee caps rise by at least 10%; 12.5% clears it safely.
FEE_BUMP_NUMERATOR = 1125
FEE_BUMP_DENOMINATOR = 1000
MAX_REPLACEMENTS = 5
RECEIPT_POLL_INTERVAL_S = 0.02


@dataclass(frozen=True)
class PlannedTransaction:
    """A transaction that settles ``payment_ids`` once mined."""

    to: ChecksumAddress
    data: HexStr
    gas: int
    payment_ids: list[str]


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
    gas_used: int
    effective_gas_price_wei: int
    succeeded: bool
    logs: list[EventLog]
    mined_at: float


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

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    async def submit(
        self, mode: SettlementMode, planned: PlannedTransaction, lease_owner: str
    ) -> MinedTransaction:
        """Record, send and confirm one transaction settling its planned payments."""
        nonce = await self.client.nonces.allocate(self.address)
        fees = await self.client.fees()
        attempt = self._sign(planned, nonce, fees)
        submission_id = await self.store.record_submission(
            mode=mode,
            sender=self.address,
            nonce=nonce,
            attempt=attempt,
            payment_ids=planned.payment_ids,
            owner=lease_owner,
        )
        await self._broadcast(attempt)
        return await self._confirm(submission_id, nonce, [attempt], planned)

    async def reconcile(self) -> tuple[list[tuple[SubmissionRecord, MinedTransaction]], list[int]]:
        """After a restart: (mined submissions to complete, submission ids abandoned)."""
        mined: list[tuple[SubmissionRecord, MinedTransaction]] = []
        abandoned: list[int] = []
        chain_nonce = await self.client.w3.eth.get_transaction_count(self.address, "latest")
        for submission in await self.store.pending_submissions(self.address):
            found = await self._find_mined(submission.submission_id, submission.attempts)
            if found is not None:
                mined.append((submission, await self._at_depth(found)))
            elif submission.nonce < chain_nonce:
                # The nonce was spent by a transaction this store never recorded.
                await self.store.abandon_submission(
                    submission.submission_id, SubmissionState.DROPPED
                )
                abandoned.append(submission.submission_id)
            else:
                mined.append((submission, await self._rebroadcast_and_confirm(submission)))
        self.client.nonces.forget(self.address)
        return mined, abandoned

    async def _rebroadcast_and_confirm(self, submission: SubmissionRecord) -> MinedTransaction:
        latest = submission.attempts[-1]
        await self._broadcast(latest)
        return await self._confirm(submission.submission_id, submission.nonce, submission.attempts)

    def _sign(self, planned: PlannedTransaction, nonce: int, fees: Fees) -> TransactionAttempt:
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

    async def _broadcast(self, attempt: TransactionAttempt) -> None:
        """Send the signed bytes; a node that already has them, or mined them, is not an error."""
        try:
            await self.client.w3.eth.send_raw_transaction(attempt.raw_transaction)
        except Web3RPCError as error:
            message = str(error).lower()
            if "already known" in message or "nonce too low" in message:
                return  # in the pool already, or mined: _confirm finds out which
            raise

    async def _confirm(
        self,
        submission_id: int,
        nonce: int,
        attempts: list[TransactionAttempt],
        rebuild: PlannedTransaction | None = None,
    ) -> MinedTransaction:
        deadline = time.monotonic() + self.wait_limit_s
        replace_at = time.monotonic() + self.stuck_after_s
        while time.monotonic() < deadline:
            found = await self._find_mined(submission_id, attempts)
            if found is not None:
                return await self._at_depth(found)
            if rebuild is not None and time.monotonic() >= replace_at:
                if len(attempts) > MAX_REPLACEMENTS:
                    break
                attempts.append(await self._replace(submission_id, nonce, attempts[-1], rebuild))
                replace_at = time.monotonic() + self.stuck_after_s
            await asyncio.sleep(RECEIPT_POLL_INTERVAL_S)
        raise TransactionTimeoutError(
            f"submission {submission_id} (nonce {nonce}) was not mined within "
            f"{self.wait_limit_s:.0f} s; it stays pending and is reconciled on restart"
        )

    async def _replace(
        self,
        submission_id: int,
        nonce: int,
        stuck: TransactionAttempt,
        rebuild: PlannedTransaction,
    ) -> TransactionAttempt:
        current = await self.client.fees()
        fees = Fees(
            max_fee_per_gas_wei=max(
                current.max_fee_per_gas_wei, _bumped(stuck.max_fee_per_gas_wei)
            ),
            max_priority_fee_per_gas_wei=max(
                current.max_priority_fee_per_gas_wei, _bumped(stuck.max_priority_fee_per_gas_wei)
            ),
        )
        replacement = self._sign(rebuild, nonce, fees)
        await self.store.add_attempt(submission_id, replacement)
        await self._broadcast(replacement)
        return replacement

    async def _find_mined(
        self, submission_id: int, attempts: Sequence[TransactionAttempt]
    ) -> MinedTransaction | None:
        for attempt in attempts:
            try:
                receipt = await self.client.w3.eth.get_transaction_receipt(
                    HexBytes(attempt.tx_hash)
                )
            except TransactionNotFound:
                continue
            if receipt is None or receipt.get("blockNumber") is None:
                continue
            return MinedTransaction(
                submission_id=submission_id,
                tx_hash=attempt.tx_hash,
                block_number=receipt["blockNumber"],
                gas_used=receipt["gasUsed"],
                effective_gas_price_wei=receipt["effectiveGasPrice"],
                succeeded=receipt["status"] == 1,
                logs=[
                    EventLog(
                        address=str(log["address"]),
                        topics=[bytes(topic) for topic in log["topics"]],
                        data=bytes(log["data"]),
                    )
                    for log in receipt["logs"]
                ],
                mined_at=time.time(),
            )
        return None

    async def _at_depth(self, mined: MinedTransaction) -> MinedTransaction:
        """Wait until the transaction's block is ``confirmations`` deep, its own block counted."""
        target = mined.block_number + self.confirmations - 1
        while await self.client.w3.eth.block_number < target:  # noqa: ASYNC110 - polls the chain
            await asyncio.sleep(RECEIPT_POLL_INTERVAL_S)
        return mined


def _bumped(fee_wei: int) -> int:
    return -(-fee_wei * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR)

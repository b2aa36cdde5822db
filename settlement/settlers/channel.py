"""Channel mode: payments are cumulative vouchers on escrowed channels, claimed in batches.

A payer opens a channel to a payee once (its deposit moved by EIP-3009), then pays by signing a
voucher for the running total. A payment is the step from one voucher to the next, so the store
accepts a voucher only if it follows on from the last one accepted (see ``store.channel_book``).
Settling claims each channel's latest voucher: one claim pays every payment of that channel so
far, and one transaction claims up to 256 channels.

A payer may ask to withdraw its channel (``requestWithdrawal``); after the challenge period it can
take back whatever is unclaimed, vouchers the service accepted included. So the settler watches
for those requests (``WithdrawalWatch``) and claims the channels that have vouchers queued at
least ``claim_margin_s`` before their withdrawal becomes possible, however long their window.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from eth_abi.abi import encode
from eth_typing import HexStr
from eth_utils.abi import function_signature_to_4byte_selector

from settlement.chain.payment_channels import ChannelState, PaymentChannelsContract
from settlement.chain.relayer import MinedTransaction
from settlement.domain.eip712 import compact_signature, keccak256
from settlement.domain.messages import SignedMessage, Voucher
from settlement.domain.payments import SettlementMode
from settlement.errors import PaymentRejectedError
from settlement.settlers.acceptance import TokenGate, new_payments
from settlement.settlers.base import (
    ChainSettler,
    PaymentSubmission,
    PlannedTransaction,
    Preparation,
    Verified,
    hex_bytes,
    instrument_field,
    settled_but_skipped,
    skipped_in_call,
)
from settlement.store import (
    ChannelRecord,
    ChannelStep,
    NewPayment,
    PaymentOutcome,
    PaymentRecord,
    SqlPaymentStore,
)

CLAIM = function_signature_to_4byte_selector("claim((bytes32,uint256,bytes32,bytes32)[])")
CLAIMED_TOPIC = keccak256(b"VoucherClaimed(bytes32,address,uint256,uint256)")
SKIPPED_TOPIC = keccak256(b"ClaimSkipped(uint256,bytes32,uint8)")
# IPaymentChannels.ClaimSkipReason, in order. A payee on the token's blocklist is skipped too,
# so that one refused payee cannot revert the claims of every other channel in the transaction.
SKIP_REASONS = (
    "UnknownChannel",
    "InvalidSignature",
    "NotAboveClaimed",
    "ExceedsDeposit",
    "PayeeBlocklisted",
)
NOT_ABOVE_CLAIMED = SKIP_REASONS[2]
MAX_CLAIMS_PER_TRANSACTION = 256
# A channel whose payer requested a withdrawal is claimed this long before the withdrawal becomes
# possible: time for the watch to notice (WITHDRAWAL_CHECK_INTERVAL_S), the claim round to be
# mined, and a stuck claim to be replaced a few times (the relayer's 30 s each), with room to spare.
DEFAULT_CLAIM_MARGIN_S = 300
WITHDRAWAL_CHECK_INTERVAL_S = 2.0
# At most this many channels with queued vouchers are watched (a round leases no more payments).
MAX_WATCHED_CHANNELS = 20_000
# The log scan overlaps the blocks it already read, so a request a reorganisation moved into a
# later block is still seen; and reads at most this many blocks per call, as public nodes demand.
RESCAN_BLOCKS = 64
MAX_LOG_RANGE_BLOCKS = 5_000
# The gas limit comes from the node's estimate. A worst-case bound (a payee's first balance slot
# and a transfer for every claim: about 50k a channel) left a claim of 256 channels at 12.9M gas
# against about 5.8M used; Anvil then fitted two such transactions to a 30M block and left a third
# waiting until the relayer replaced it 30 s later. Estimating costs about 0.6 s per transaction.


def voucher_from(payer: str, instrument: Mapping[str, Any]) -> SignedMessage[Voucher]:
    cumulative = instrument_field(instrument, "cumulative_amount", int)
    if not 0 < cumulative < 2**96:
        raise PaymentRejectedError("instrument.cumulative_amount must be in 1..2**96-1")
    message = Voucher(payer, hex_bytes(instrument, "channel_id", 32), cumulative)
    return SignedMessage(message, hex_bytes(instrument, "signature", 65))


def channel_key(channel_id: bytes) -> str:
    return "0x" + channel_id.hex()


class ChannelSettler(ChainSettler):
    mode: ClassVar[SettlementMode] = SettlementMode.CHANNEL
    max_payments_per_round: ClassVar[int] = 20_000
    # A reverted claim pays nothing and its vouchers stay claimable: queue them again.
    requeue_on_revert: ClassVar[bool] = True

    def __init__(
        self,
        channels: PaymentChannelsContract,
        store: SqlPaymentStore,
        claim_margin_s: int = DEFAULT_CLAIM_MARGIN_S,
        gate: TokenGate | None = None,
    ) -> None:
        """``gate``, when given, refuses at acceptance a voucher whose payee the token
        blocklists now: its claim would be skipped, and the voucher would stay claimable."""
        self.channels = channels
        self.store = store
        self.gate = gate
        self.withdrawals = WithdrawalWatch(channels, store, claim_margin_s)

    async def settle_early(self, chain_time: int) -> bool:
        """Whether a channel with queued vouchers must be claimed now, ahead of its window: its
        payer requested a withdrawal that is less than the claim margin away."""
        return await self.withdrawals.claim_due(chain_time)

    def check(self, submission: PaymentSubmission, chain_time: int) -> Verified:
        intent = submission.intent
        signed = voucher_from(intent.payer, submission.instrument)
        if signed.message.cumulative_base_units < intent.amount_base_units:
            raise PaymentRejectedError("a voucher's cumulative amount includes the payment")
        signed.verify(self.channels.voucher_domain)
        channel_id = channel_key(signed.message.channel_id)
        cumulative = signed.message.cumulative_base_units
        return Verified(f"channel:{channel_id}:{cumulative}", ChannelStep(channel_id, cumulative))

    async def admit(self, verified: Sequence[NewPayment]) -> dict[str, str]:
        """Book channels the store has not seen, or whose deposit a voucher outgrows, from chain.

        The store then accepts or refuses each voucher against the booked state; an unknown
        channel is refused there with its id.
        """
        steps = [p.channel_step for p in verified if p.channel_step is not None]
        booked = await self.store.channels(sorted({step.channel_id for step in steps}))
        stale = {
            step.channel_id
            for step in steps
            if step.channel_id not in booked
            or step.cumulative_base_units > booked[step.channel_id].deposit_base_units
        }
        for channel_id in sorted(stale):
            state = await self.channels.channel(bytes.fromhex(channel_id[2:]))
            if state.exists:
                await self.store.book_channel(booked_from_chain(state))
        return await self._refuse_blocklisted_payees(verified)

    async def _refuse_blocklisted_payees(self, verified: Sequence[NewPayment]) -> dict[str, str]:
        """A voucher to a payee the token blocklists would be accepted, skipped at its claim
        and left claimable on chain, so that a later claim, once the payee is cleared, would
        pay what the store had failed: it is refused here instead (repeats answer as before)."""
        if self.gate is None:
            return {}
        fresh = await new_payments(self.store, verified)
        blocked = await self.gate.blocklisted([payment.intent.payee for payment in fresh])
        return {
            payment.payment_id: f"the payee {payment.intent.payee} is blocklisted by the token"
            for payment in fresh
            if payment.intent.payee in blocked
        }

    async def prepare(self, payments: Sequence[PaymentRecord]) -> Preparation:
        """Holds in the queue the vouchers whose payee the token blocklists now.

        A voucher is a bearer instrument: failing its payment would not stop a later claim (by
        the service once the payee is cleared, or by the payee) from paying it, so the store
        would call failed a payment that moved. Held, it is claimed in the first round after
        the payee is cleared. A payee blocklisted between this read and the claim's block is
        still skipped by the contract, and those payments fail with ``PayeeBlocklisted``.
        """
        if self.gate is None or not payments:
            return Preparation(list(payments))
        blocked = await self.gate.blocklisted([record.payee for record in payments])
        return Preparation([record for record in payments if record.payee not in blocked])

    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        by_channel: dict[str, list[PaymentRecord]] = {}
        for record in payments:
            by_channel.setdefault(record.instrument["channel_id"].lower(), []).append(record)
        # Claims to one payee side by side pay it in one token transfer (the contract pays each
        # run of same-payee claims at once), which is most of a claim's cost.
        channel_ids = sorted(by_channel, key=lambda channel_id: by_channel[channel_id][0].payee)
        return [
            self._plan_claims({cid: by_channel[cid] for cid in channel_ids[start:end]})
            for start, end in _chunks(len(channel_ids), MAX_CLAIMS_PER_TRANSACTION)
        ]

    def _plan_claims(self, by_channel: Mapping[str, Sequence[PaymentRecord]]) -> PlannedTransaction:
        claims = []
        for records in by_channel.values():
            latest = max(records, key=lambda record: record.instrument["cumulative_amount"])
            signed = voucher_from(latest.payer, latest.instrument)
            r, vs = compact_signature(signed.signature)
            claims.append((signed.message.channel_id, signed.message.cumulative_base_units, r, vs))
        arguments = encode(["(bytes32,uint256,bytes32,bytes32)[]"], [claims])
        return PlannedTransaction(
            to=self.channels.address,
            data=HexStr("0x" + (CLAIM + arguments).hex()),
            gas=None,
            payment_ids=[r.payment_id for records in by_channel.values() for r in records],
        )

    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        return settled_but_skipped(
            planned, claim_failures(mined, self.channels.address), keyed_by=channel_number
        )


class WithdrawalWatch:
    """Which channels with queued vouchers have a withdrawal requested, and when it is possible.

    A channel is read from chain once when it first shows queued vouchers (a request made before
    the watch started, or before the vouchers came, is in its state); later requests come from the
    ``WithdrawalRequested`` logs, scanned from the last block read. Only channels with queued
    vouchers are remembered, so the watch stays as small as the queue.
    """

    def __init__(
        self, channels: PaymentChannelsContract, store: SqlPaymentStore, claim_margin_s: int
    ) -> None:
        assert claim_margin_s >= 0, "a claim cannot be due after the withdrawal"
        self.channels = channels
        self.store = store
        self.claim_margin_s = claim_margin_s
        # Channel id -> withdrawableAt (0: none requested), for the channels with queued vouchers.
        self.withdrawable_at: dict[str, int] = {}
        self._scanned_to: int | None = None
        self._checked_at = float("-inf")
        self._earliest: int | None = None

    async def claim_due(self, chain_time: int) -> bool:
        """Whether the earliest requested withdrawal among queued channels is within the claim
        margin; the chain and store are read at most every WITHDRAWAL_CHECK_INTERVAL_S."""
        if time.monotonic() - self._checked_at >= WITHDRAWAL_CHECK_INTERVAL_S:
            # Set first: a failed read waits for the next interval rather than retrying at once.
            self._checked_at = time.monotonic()
            self._earliest = await self._earliest_withdrawal()
        return self._earliest is not None and chain_time + self.claim_margin_s >= self._earliest

    async def _earliest_withdrawal(self) -> int | None:
        queued = set(await self.store.queued_channel_ids(MAX_WATCHED_CHANNELS))
        head = await self.channels.client.w3.eth.block_number
        if self._scanned_to is not None:
            await self._scan(max(0, self._scanned_to - RESCAN_BLOCKS), head, queued)
        self._scanned_to = head
        self.withdrawable_at = {k: v for k, v in self.withdrawable_at.items() if k in queued}
        unread = sorted(queued - self.withdrawable_at.keys())
        if unread:
            states = await self.channels.channels([bytes.fromhex(k[2:]) for k in unread])
            self.withdrawable_at.update(
                (channel_key(state.channel_id), state.withdrawable_at) for state in states
            )
        requested = [at for at in self.withdrawable_at.values() if at != 0]
        return min(requested) if requested else None

    async def _scan(self, from_block: int, to_block: int, queued: set[str]) -> None:
        for start in range(from_block, to_block + 1, MAX_LOG_RANGE_BLOCKS):
            end = min(start + MAX_LOG_RANGE_BLOCKS - 1, to_block)
            for channel_id, at in (await self.channels.withdrawal_requests(start, end)).items():
                if channel_key(channel_id) in queued:
                    self.withdrawable_at[channel_key(channel_id)] = at


def booked_from_chain(state: ChannelState) -> ChannelRecord:
    """A channel as the store first books it: vouchers up to what is claimed are already paid."""
    assert state.payer is not None, "only an open channel is booked"
    assert state.payee is not None, "an open channel has a payee"
    return ChannelRecord(
        channel_id=channel_key(state.channel_id),
        payer=state.payer,
        payee=state.payee,
        deposit_base_units=state.deposit_base_units,
        accepted_cumulative_base_units=state.claimed_base_units,
    )


def claim_failures(mined: MinedTransaction, channels_address: str) -> dict[int, str]:
    """Channel id (as a number, see ``channel_number``) -> reason, for claims the contract
    skipped; their payments fail with the reason (``PayeeBlocklisted``, say) and the rest of the
    transaction's claims settle.

    ``NotAboveClaimed`` is not a failure: a later voucher of the same channel, claimed first (by
    another round, or by the payee directly), already paid these payments.
    """
    skipped = skipped_in_call(mined, channels_address, SKIPPED_TOPIC, SKIP_REASONS)
    return {key: reason for key, reason in skipped.items() if reason != NOT_ABOVE_CLAIMED}


def channel_number(record: PaymentRecord) -> int:
    """A voucher payment's channel id as the number ``skipped_in_call`` keys its skips by."""
    return int(record.instrument["channel_id"], 16)


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, total)) for start in range(0, total, size)]

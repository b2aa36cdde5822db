"""Net mode: the operator verifies signed payments off-chain and settles a window's net changes.

Payers and payees keep deposits in the NetSettlement contract. A window of payments becomes one
``settleWindow`` transaction: each account's net change (they sum to zero) and the Merkle root of
the window's payments, so anyone holding a payment can prove on chain that it was included. The
cost on chain grows with the number of accounts, not of payments.

A payment is admitted only while its payer's deposit covers it and everything the payer already
has queued; ``prepare`` checks again against fresh balances, so a window never overdraws even if a
payer withdrew in between (such a payment fails with the reason instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from eth_abi.abi import encode
from eth_typing import HexStr
from eth_utils.abi import function_signature_to_4byte_selector

from settlement.chain.net_settlement import NetSettlementContract
from settlement.chain.relayer import MinedTransaction
from settlement.domain.eip712 import Eip712Domain
from settlement.domain.merkle import MerkleTree, payment_leaf
from settlement.domain.messages import NetPayment, SignedMessage
from settlement.domain.netting import Transfer, net_changes, sorted_for_chain
from settlement.domain.payments import SettlementMode
from settlement.settlers.acceptance import new_payments, shortfall, uncovered
from settlement.settlers.base import (
    ChainSettler,
    PaymentSubmission,
    PlannedTransaction,
    Preparation,
    Verified,
    all_settled,
    hex_bytes,
    instrument_field,
    require_time_to_settle,
)
from settlement.store import NewPayment, PaymentOutcome, PaymentRecord, SqlPaymentStore

SETTLE_WINDOW = function_signature_to_4byte_selector(
    "settleWindow(uint64,bytes32,uint32,address[],int256[])"
)
# The worst case per account is a balance slot written from zero (22.1k) plus its calldata; the
# contract takes up to 1,024 accounts, but a window is cut so its worst case fits 2**24 gas.
WINDOW_GAS_BASE = 100_000
WINDOW_GAS_PER_ACCOUNT = 25_000
MAX_WINDOW_ACCOUNTS = 600
MAX_WINDOWS_PER_ROUND = 16
EXPIRED_REASON = "expired before a window could settle it"


def net_payment_from(
    payment_id: bytes, payer: str, payee: str, amount: int, instrument: Mapping[str, Any]
) -> SignedMessage[NetPayment]:
    message = NetPayment(
        payment_id=payment_id,
        payer=payer,
        payee=payee,
        value_base_units=amount,
        valid_before=instrument_field(instrument, "valid_before", int),
    )
    return SignedMessage(message, hex_bytes(instrument, "signature", 65))


def check_signed_payment(
    submission: PaymentSubmission, chain_time: int, domain: Eip712Domain
) -> None:
    """A ``NetPayment`` over the submitted payment, valid long enough and signed by the payer
    under ``domain``: net mode's check, and the ledger baseline's under its own domain."""
    intent = submission.intent
    signed = net_payment_from(
        intent.payment_id,
        intent.payer,
        intent.payee,
        intent.amount_base_units,
        submission.instrument,
    )
    require_time_to_settle("payment", signed.message.valid_before, chain_time)
    signed.verify(domain)


DEPOSIT = "net-settlement deposit"


class NetSettler(ChainSettler):
    mode: ClassVar[SettlementMode] = SettlementMode.NET
    max_payments_per_round: ClassVar[int] = 50_000
    # A reverted window moves nothing (another operator took its id, say): queue it again, and
    # the next round reads the window id and balances afresh.
    requeue_on_revert: ClassVar[bool] = True

    def __init__(self, net: NetSettlementContract, store: SqlPaymentStore) -> None:
        self.net = net
        self.store = store
        self._window_id: int | None = None
        # Which of the round's windows each prepared payment went into.
        self._window_of: dict[str, int] = {}

    def check(self, submission: PaymentSubmission, chain_time: int) -> Verified:
        check_signed_payment(submission, chain_time, self.net.payment_domain)
        return Verified(f"net:0x{submission.intent.payment_id.hex()}")

    async def admit(self, verified: Sequence[NewPayment]) -> dict[str, str]:
        """Refuse payments their payer's deposit cannot cover beside what it already owes.

        A retry of a stored payment is left to the store, which answers it with the first result.
        """
        fresh = await new_payments(self.store, verified)
        payers = sorted({payment.intent.payer for payment in fresh})
        balances = await self.net.balances(payers)
        committed = await self.store.pending_outgoing_by_payer(payers, [SettlementMode.NET])
        refused: dict[str, str] = {}
        for payment in fresh:
            payer = payment.intent.payer
            reason = uncovered(
                DEPOSIT, payer, payment.intent.amount_base_units, balances[payer], committed
            )
            if reason is not None:
                refused[payment.payment_id] = reason
        return refused

    async def prepare(self, payments: Sequence[PaymentRecord]) -> Preparation:
        """This round's windows: payments the fresh balances cover, each window within the
        account limit, up to ``MAX_WINDOWS_PER_ROUND`` of them.

        Many accounts paying once each fill a window's accounts with few payments; one window a
        round then left most of a busy queue leased, read and released again every round.
        """
        chain_time = await self.net.client.latest_block_timestamp()
        self._window_id = await self.net.next_window_id()
        balances = await self.net.balances(sorted({record.payer for record in payments}))
        windows: list[dict[str, int]] = [{}]
        self._window_of = {}
        ready: list[PaymentRecord] = []
        refused: list[PaymentOutcome] = []
        for record in payments:
            if record.instrument["valid_before"] <= chain_time:
                refused.append(PaymentOutcome(record.payment_id, False, EXPIRED_REASON))
                continue
            changes = windows[-1]
            if len(changes) + len({record.payer, record.payee} - changes.keys()) > (
                MAX_WINDOW_ACCOUNTS
            ):
                if len(windows) == MAX_WINDOWS_PER_ROUND:
                    continue  # the next round takes it
                _apply(balances, changes)
                changes = {}
                windows.append(changes)
            payer, amount = record.payer, record.amount_base_units
            # Only payments already in this window (and the windows before it, which the chain
            # applies first) count as income, so every prefix leaves each balance at or above
            # zero.
            if balances[payer] + changes.get(payer, 0) < amount:
                reason = shortfall(DEPOSIT, payer, amount, balances[payer], -changes.get(payer, 0))
                refused.append(PaymentOutcome(record.payment_id, False, reason))
                continue
            changes[payer] = changes.get(payer, 0) - amount
            changes[record.payee] = changes.get(record.payee, 0) + amount
            self._window_of[record.payment_id] = len(windows) - 1
            ready.append(record)
        return Preparation(ready, refused)

    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        """One ``settleWindow`` per window ``prepare`` made, in window-id order: one relayer
        sends them with consecutive nonces, so the chain applies them in that order."""
        assert self._window_id is not None, "prepare reads the window id before planning"
        windows: dict[int, list[PaymentRecord]] = {}
        for record in payments:
            windows.setdefault(self._window_of[record.payment_id], []).append(record)
        return [
            self._settle_window(self._window_id + offset, windows[index])
            for offset, index in enumerate(sorted(windows))
        ]

    def _settle_window(
        self, window_id: int, payments: Sequence[PaymentRecord]
    ) -> PlannedTransaction:
        window = sorted(payments, key=lambda record: record.payment_id)
        changes = net_changes(
            Transfer(record.payer, record.payee, record.amount_base_units) for record in window
        )
        accounts, deltas = sorted_for_chain(changes)
        arguments = encode(
            ["uint64", "bytes32", "uint32", "address[]", "int256[]"],
            [window_id, window_tree(window).root, len(window), accounts, deltas],
        )
        return PlannedTransaction(
            to=self.net.address,
            data=HexStr("0x" + (SETTLE_WINDOW + arguments).hex()),
            gas=WINDOW_GAS_BASE + WINDOW_GAS_PER_ACCOUNT * len(accounts),
            payment_ids=[record.payment_id for record in window],
        )

    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        return all_settled(planned)


def _apply(balances: dict[str, int], changes: dict[str, int]) -> None:
    for account, change in changes.items():
        balances[account] = balances.get(account, 0) + change


def window_tree(window: Sequence[PaymentRecord]) -> MerkleTree:
    """The Merkle tree of a window's payments, leaves in payment-id order."""
    return MerkleTree(
        [
            payment_leaf(
                bytes.fromhex(record.payment_id[2:]),
                record.payer,
                record.payee,
                record.amount_base_units,
            )
            for record in sorted(window, key=lambda record: record.payment_id)
        ]
    )

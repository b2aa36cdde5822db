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

from settlement.chain.net_settlement import (
    SETTLE_WINDOW_SIGNATURE,
    NetSettlementContract,
    pack_window_changes,
)
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

SETTLE_WINDOW = function_signature_to_4byte_selector(SETTLE_WINDOW_SIGNATURE)
# A window's gas bound: per account, a state word written from zero (22.1k) plus its calldata
# for an account never open, and a cold read and write of a non-zero word (about 5.7k measured,
# 6.2k with its 32 bytes of calldata) for one that holds a deposit. An account open without a
# deposit costs what a held one does, but the round reads balances only, so it is bounded as
# new: the bound is an upper bound, never the gas paid. The contract takes up to 1,024
# accounts; a window is cut at 600, so even its worst case fits 2**24 gas.
WINDOW_GAS_BASE = 100_000
WINDOW_GAS_PER_NEW_ACCOUNT = 25_000
WINDOW_GAS_PER_HELD_ACCOUNT = 9_000
MAX_WINDOW_ACCOUNTS = 600
MAX_WINDOWS_PER_ROUND = 16
# A round's windows go out together, so their bounds together stay under one 30M-gas block:
# Anvil's automine packs what is pending into a block when a transaction arrives, and one left
# over would wait for the next arrival (or the relayer's replacement, tens of seconds later).
ROUND_GAS_BUDGET = 28_000_000
MIN_ROUND_LEASE = 2_000
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
        self._windows = RoundWindows({})
        self._lease = self.max_payments_per_round

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
        account limit, up to ``MAX_WINDOWS_PER_ROUND`` of them and ``ROUND_GAS_BUDGET`` in all.

        Many accounts paying once each fill a window's accounts with few payments; one window a
        round then left most of a busy queue leased, read and released again every round.
        """
        chain_time = await self.net.client.latest_block_timestamp()
        self._window_id = await self.net.next_window_id()
        accounts = {record.payer for record in payments} | {record.payee for record in payments}
        windows = RoundWindows(await self.net.balances(sorted(accounts)))
        ready: list[PaymentRecord] = []
        refused: list[PaymentOutcome] = []
        for record in payments:
            if record.instrument["valid_before"] <= chain_time:
                refused.append(PaymentOutcome(record.payment_id, False, EXPIRED_REASON))
                continue
            if not windows.make_room(record.payer, record.payee):
                continue  # the next round takes it
            payer, amount = record.payer, record.amount_base_units
            # Only payments already in this window (and the round's windows before it, which
            # the chain applies first) count as income, so every prefix leaves each balance at
            # or above zero.
            balance, change = windows.balance_before(payer), windows.change(payer)
            if balance + change < amount:
                reason = shortfall(DEPOSIT, payer, amount, balance, -change)
                refused.append(PaymentOutcome(record.payment_id, False, reason))
                continue
            windows.add(record.payment_id, payer, record.payee, amount)
            ready.append(record)
        self._windows = windows
        # Lease about twice what this round could take: a round bound by its windows' gas
        # leaves the rest queued, and leasing, reading and releasing it every round was most
        # of a busy round's time. A round that took everything doubles the next lease.
        self._lease = max(
            MIN_ROUND_LEASE, min(2 * (len(ready) + len(refused)), self.max_payments_per_round)
        )
        return Preparation(ready, refused)

    def round_lease(self) -> int:
        return self._lease

    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        """One ``settleWindow`` per window ``prepare`` made, in window-id order: one relayer
        sends them with consecutive nonces, so the chain applies them in that order."""
        assert self._window_id is not None, "prepare reads the window id before planning"
        windows: dict[int, list[PaymentRecord]] = {}
        for record in payments:
            windows.setdefault(self._windows.window_of[record.payment_id], []).append(record)
        return [
            self._settle_window(
                self._window_id + offset, windows[index], self._windows.gas_bounds[index]
            )
            for offset, index in enumerate(sorted(windows))
        ]

    def _settle_window(
        self, window_id: int, payments: Sequence[PaymentRecord], gas: int
    ) -> PlannedTransaction:
        window = sorted(payments, key=lambda record: record.payment_id)
        changes = net_changes(
            Transfer(record.payer, record.payee, record.amount_base_units) for record in window
        )
        accounts, deltas = sorted_for_chain(changes)
        arguments = encode(
            ["uint64", "bytes32", "uint32", "bytes32[]"],
            [
                window_id,
                window_tree(window).root,
                len(window),
                pack_window_changes(accounts, deltas),
            ],
        )
        return PlannedTransaction(
            to=self.net.address,
            data=HexStr("0x" + (SETTLE_WINDOW + arguments).hex()),
            gas=gas,
            payment_ids=[record.payment_id for record in window],
        )

    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        return all_settled(planned)


class RoundWindows:
    """A round's windows as they fill: each one's net changes and gas bound, and which window
    each payment went into. ``held`` is every account's deposit at the start of the round."""

    def __init__(self, held: dict[str, int]) -> None:
        self._held = held
        self._before = dict(held)
        self._changes: dict[str, int] = {}
        self.gas_bounds = [WINDOW_GAS_BASE]
        self.window_of: dict[str, int] = {}

    def make_room(self, payer: str, payee: str) -> bool:
        """Whether a payment between these two fits the open window, or else a new one (which
        it then opens); False when the round has no room left for it."""
        new = [account for account in (payer, payee) if account not in self._changes]
        if len(self._changes) + len(new) <= MAX_WINDOW_ACCOUNTS:
            return sum(self.gas_bounds) + self._accounts_gas(new) <= ROUND_GAS_BUDGET
        opened = WINDOW_GAS_BASE + self._accounts_gas([payer, payee])
        if len(self.gas_bounds) == MAX_WINDOWS_PER_ROUND:
            return False
        if sum(self.gas_bounds) + opened > ROUND_GAS_BUDGET:
            return False
        for account, change in self._changes.items():
            self._before[account] = self._before.get(account, 0) + change
        self._changes = {}
        self.gas_bounds.append(WINDOW_GAS_BASE)
        return True

    def balance_before(self, account: str) -> int:
        """The account's deposit once the round's earlier windows are applied."""
        return self._before.get(account, 0)

    def change(self, account: str) -> int:
        """The account's net change in the open window so far."""
        return self._changes.get(account, 0)

    def add(self, payment_id: str, payer: str, payee: str, amount: int) -> None:
        new = [account for account in (payer, payee) if account not in self._changes]
        self.gas_bounds[-1] += self._accounts_gas(new)
        self._changes[payer] = self._changes.get(payer, 0) - amount
        self._changes[payee] = self._changes.get(payee, 0) + amount
        self.window_of[payment_id] = len(self.gas_bounds) - 1

    def _accounts_gas(self, accounts: Sequence[str]) -> int:
        # From the deposit at the start of the round: an account first credited earlier in the
        # round is still charged as new, which only overstates the bound.
        return sum(
            WINDOW_GAS_PER_HELD_ACCOUNT
            if self._held.get(account, 0) > 0
            else WINDOW_GAS_PER_NEW_ACCOUNT
            for account in accounts
        )


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

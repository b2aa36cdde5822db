"""The service's own book of the money it moves, in the double-entry ledger, checked against chain.

Every address has up to three *holdings*, each a book account on ``BOOK_LEDGER`` that mirrors one
on-chain figure: its token balance (``WALLET``), what its payment channels still hold
(``CHANNEL_ESCROW``: deposits less claims), and its net-settlement deposit (``NET_DEPOSIT``). An
account opens with the chain's figure at the moment the book first sees it (an opening transfer
from the book's issuer account); from then on only the service's own moves change it:

- an accepted payment is a pending transfer from the payer's holding to the payee's;
- a confirmed payment posts it, a failed one voids it;
- a channel opening or top-up, or a net deposit, posts a transfer from the payer's wallet to the
  escrow holding.

``reconcile`` compares each holding's posted book balance with the chain's figure now. A payment
whose transaction is mined but not yet recorded shows as a difference the pending amounts
explain (*in flight*); anything else (a transfer the service never saw, a withdrawal, a bug) is
*unexplained* and reported with its size. A failed book write never stops settlement: it is
logged, and reconciliation shows what it left out.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from settlement.domain.holdings import (
    DESTINATION,
    SOURCE,
    Holding,
    HoldingKey,
    holdings_of_mode,
)
from settlement.ledger import (
    MAX_BATCH_EVENTS,
    Account,
    CreateTransferResult,
    Ledger,
    Transfer,
    TransferFlags,
)
from settlement.ledger.engine import MAX_LOOKUP
from settlement.ledger.mapping import (
    BOOK_LEDGER,
    PURPOSE_CODES,
    AccountCode,
    TransferCode,
    book_pending_id,
    book_resolution_id,
    issuer_account_id,
    tagged_id,
)
from settlement.store import PaymentOutcome, PaymentRecord

logger = logging.getLogger("settlement.book")


class ChainFigures(Protocol):
    """Reads what the chain says each holding holds now."""

    async def amounts(self, holdings: Sequence[HoldingKey]) -> dict[HoldingKey, int]: ...


@functools.lru_cache(maxsize=65_536)
def holding_account_id(holding: Holding, address: str) -> int:
    # Cached: every payment needs two, and a fleet has far fewer holdings than payments.
    return tagged_id(f"holding:{holding.value}:".encode(), bytes.fromhex(address[2:]))


@dataclass(frozen=True)
class HoldingDifference:
    """One holding whose book balance and chain figure differ."""

    holding: Holding
    address: str
    book_base_units: int
    chain_base_units: int
    # The pending transfers that could explain it: money out and money in, not yet resolved.
    pending_out_base_units: int
    pending_in_base_units: int

    @property
    def difference_base_units(self) -> int:
        return self.chain_base_units - self.book_base_units

    @property
    def explained_by_pending(self) -> bool:
        """Whether payments mined but not yet recorded could account for the difference."""
        return (
            -self.pending_out_base_units
            <= self.difference_base_units
            <= (self.pending_in_base_units)
        )


@dataclass(frozen=True)
class Reconciliation:
    holdings_checked: int
    differences: list[HoldingDifference]

    @property
    def unexplained(self) -> list[HoldingDifference]:
        return [d for d in self.differences if not d.explained_by_pending]


# Answers meaning the move is in the book already: a retry, or a payment resolved before.
_ALREADY_BOOKED = (
    CreateTransferResult.OK,
    CreateTransferResult.EXISTS,
    CreateTransferResult.PENDING_TRANSFER_ALREADY_POSTED,
    CreateTransferResult.PENDING_TRANSFER_ALREADY_VOIDED,
)


class ServiceBook:
    def __init__(self, ledger: Ledger, figures: ChainFigures) -> None:
        self.ledger = ledger
        self.figures = figures
        # Holdings known to have their book account, so most payments need no lookup.
        self._opened: set[HoldingKey] = set()

    async def reserve(self, payments: Sequence[PaymentRecord]) -> None:
        """Accepted payments become pending transfers (again harmlessly, for a retry)."""
        booked = [p for p in payments if p.mode in SOURCE]
        if not booked:
            return
        await self.open(_holdings_of(booked))
        await self._create([_pending(p) for p in booked], "reserve")

    async def resolve(
        self, payments: Sequence[PaymentRecord], outcomes: Sequence[PaymentOutcome]
    ) -> None:
        """Post the settled payments' pending transfers and void the failed ones'."""
        by_id = {p.payment_id: p for p in payments if p.mode in SOURCE}
        resolved = [(by_id[o.payment_id], o.settled) for o in outcomes if o.payment_id in by_id]
        if not resolved:
            return
        results = await self._create(
            [_resolution(payment, settled) for payment, settled in resolved],
            "resolve",
            tolerated=(
                CreateTransferResult.PENDING_TRANSFER_NOT_FOUND,
                CreateTransferResult.EXISTS_WITH_DIFFERENT_FLAGS,
            ),
        )
        overturned = [
            _correction(payment, settled)
            for (payment, settled), result in zip(resolved, results, strict=True)
            if result == CreateTransferResult.EXISTS_WITH_DIFFERENT_FLAGS
        ]
        if overturned:
            # Resolved the other way before: a reorganisation removed the block that settled (or
            # failed) these payments and the chain has now decided otherwise. A resolution is
            # final, so a correcting transfer moves the money back (or on).
            await self._create(overturned, "correct")
        lost = [
            (payment, settled)
            for (payment, settled), result in zip(resolved, results, strict=True)
            if result == CreateTransferResult.PENDING_TRANSFER_NOT_FOUND
        ]
        if lost:
            # A crash between acceptance and the book lost these reservations: make them now.
            await self.reserve([payment for payment, _settled in lost])
            await self._create([_resolution(p, settled) for p, settled in lost], "resolve")

    async def record_funding(
        self, holding: Holding, payer: str, amount_base_units: int, reference: bytes
    ) -> None:
        """Money moved from ``payer``'s wallet into an escrow holding (opened beforehand)."""
        transfer = Transfer(
            id=tagged_id(b"funding:", reference),
            debit_account_id=holding_account_id(Holding.WALLET, payer),
            credit_account_id=holding_account_id(holding, payer),
            amount=amount_base_units,
            ledger=BOOK_LEDGER,
            code=TransferCode.ESCROW_FUNDING,
        )
        await self._create([transfer], "fund")

    async def open(self, holdings: Iterable[HoldingKey]) -> None:
        """Open the book accounts of holdings seen for the first time, at the chain's figures."""
        unseen = [h for h in dict.fromkeys(holdings) if h not in self._opened]
        for start in range(0, len(unseen), MAX_BATCH_EVENTS - 1):
            chunk = unseen[start : start + MAX_BATCH_EVENTS - 1]
            ids = [holding_account_id(*holding) for holding in chunk]
            existing = {a.id for a in await asyncio.to_thread(self.ledger.lookup_accounts, ids)}
            fresh = [h for h, i in zip(chunk, ids, strict=True) if i not in existing]
            if fresh:
                await self._open_fresh(fresh)
            self._opened.update(chunk)

    async def _open_fresh(self, fresh: Sequence[HoldingKey]) -> None:
        """Open at most a batch less one of accounts (the issuer's comes with them)."""
        figures = await self.figures.amounts(fresh)
        accounts = [_issuer()] + [
            Account(id=holding_account_id(*h), ledger=BOOK_LEDGER, code=AccountCode.WALLET)
            for h in fresh
        ]
        await asyncio.to_thread(self.ledger.create_accounts, accounts)
        openings = [
            Transfer(
                id=tagged_id(b"book-opening:", holding.value.encode() + bytes.fromhex(address[2:])),
                debit_account_id=issuer_account_id(BOOK_LEDGER),
                credit_account_id=holding_account_id(holding, address),
                amount=figures[(holding, address)],
                ledger=BOOK_LEDGER,
                code=TransferCode.BOOK_OPENING,
            )
            for holding, address in fresh
            if figures[(holding, address)] > 0
        ]
        await self._create(openings, "open")

    async def reconcile(self, holdings: Sequence[HoldingKey]) -> Reconciliation:
        """Compare the book with the chain for ``holdings`` (at most 8,190 at a time)."""
        assert len(holdings) <= MAX_LOOKUP
        ids = [holding_account_id(*holding) for holding in holdings]
        accounts = {a.id: a for a in await asyncio.to_thread(self.ledger.lookup_accounts, ids)}
        figures = await self.figures.amounts(holdings)
        differences = []
        for (holding, address), account_id in zip(holdings, ids, strict=True):
            account = accounts.get(account_id)
            book = account.balance if account else 0
            if figures[(holding, address)] != book:
                differences.append(
                    HoldingDifference(
                        holding,
                        address,
                        book,
                        figures[(holding, address)],
                        account.debits_pending if account else 0,
                        account.credits_pending if account else 0,
                    )
                )
        return Reconciliation(len(holdings), differences)

    async def _create(
        self,
        transfers: Sequence[Transfer],
        what: str,
        tolerated: tuple[CreateTransferResult, ...] = (),
    ) -> list[CreateTransferResult]:
        """Create ``transfers`` in ledger batches; log what the ledger refused, bar ``tolerated``
        (which the caller handles) and answers that mean the move is already booked."""
        results: list[CreateTransferResult] = []
        for start in range(0, len(transfers), MAX_BATCH_EVENTS):
            batch = transfers[start : start + MAX_BATCH_EVENTS]
            results += await asyncio.to_thread(self.ledger.create_transfers, batch)
        refused = [
            (t.id, str(r))
            for t, r in zip(transfers, results, strict=True)
            if r not in _ALREADY_BOOKED + tolerated
        ]
        if refused:
            # Not raised: the book mirrors settlement, it does not gate it. Reconciliation
            # reports what this leaves out.
            logger.error("book %s refused %d transfers, first %s", what, len(refused), refused[:3])
        return results


def _holdings_of(payments: Sequence[PaymentRecord]) -> list[HoldingKey]:
    return [h for p in payments for h in holdings_of_mode(p.mode, p.payer, p.payee)]


def _issuer() -> Account:
    return Account(id=issuer_account_id(BOOK_LEDGER), ledger=BOOK_LEDGER, code=AccountCode.ISSUER)


def _pending(payment: PaymentRecord) -> Transfer:
    return Transfer(
        id=book_pending_id(bytes.fromhex(payment.payment_id[2:])),
        debit_account_id=holding_account_id(SOURCE[payment.mode], payment.payer),
        credit_account_id=holding_account_id(DESTINATION[payment.mode], payment.payee),
        amount=payment.amount_base_units,
        ledger=BOOK_LEDGER,
        code=PURPOSE_CODES[payment.purpose],
        flags=TransferFlags.PENDING,
    )


def _correction(payment: PaymentRecord, settled: bool) -> Transfer:
    """A posted transfer that turns a payment's earlier resolution into the opposite one."""
    payer = holding_account_id(SOURCE[payment.mode], payment.payer)
    payee = holding_account_id(DESTINATION[payment.mode], payment.payee)
    return Transfer(
        id=tagged_id(b"book-correction:%d:" % settled, bytes.fromhex(payment.payment_id[2:])),
        debit_account_id=payer if settled else payee,
        credit_account_id=payee if settled else payer,
        amount=payment.amount_base_units,
        ledger=BOOK_LEDGER,
        code=PURPOSE_CODES[payment.purpose],
    )


def _resolution(payment: PaymentRecord, settled: bool) -> Transfer:
    flag = TransferFlags.POST_PENDING_TRANSFER if settled else TransferFlags.VOID_PENDING_TRANSFER
    return Transfer(
        id=book_resolution_id(bytes.fromhex(payment.payment_id[2:])),
        debit_account_id=0,
        credit_account_id=0,
        amount=0,
        ledger=0,
        code=0,
        flags=flag,
        pending_id=book_pending_id(bytes.fromhex(payment.payment_id[2:])),
    )

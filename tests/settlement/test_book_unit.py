"""The book's rules without a chain: chain figures from a table, the ledger in memory."""

from __future__ import annotations

from collections.abc import Sequence

from eth_account import Account

from settlement.book import ServiceBook, holding_account_id
from settlement.domain.holdings import Holding, HoldingKey
from settlement.domain.payments import Purpose, SettlementMode
from settlement.ledger import MAX_BATCH_EVENTS, MemoryLedger
from settlement.store import PaymentOutcome, PaymentRecord
from tests.settlement.records import queued_record

PAYER = Account.from_key(b"\x31" * 32).address
PAYEE = Account.from_key(b"\x32" * 32).address


class TableFigures:
    """Chain figures the test sets by hand."""

    def __init__(self, figures: dict[HoldingKey, int]) -> None:
        self.figures = figures

    async def amounts(self, holdings: Sequence[HoldingKey]) -> dict[HoldingKey, int]:
        return {holding: self.figures.get(holding, 0) for holding in holdings}


def record(index: int, amount: int = 1, mode: SettlementMode = SettlementMode.NET) -> PaymentRecord:
    return queued_record(index, PAYER, PAYEE, amount, mode, purpose=Purpose.ENERGY)


def balance(ledger: MemoryLedger, holding: Holding, address: str) -> tuple[int, int]:
    (account,) = ledger.lookup_accounts([holding_account_id(holding, address)])
    return account.balance, account.debits_pending


async def test_a_window_larger_than_a_ledger_batch_is_booked_whole() -> None:
    payments = [record(i) for i in range(MAX_BATCH_EVENTS + 1_000)]
    ledger = MemoryLedger()
    figures = TableFigures({(Holding.NET_DEPOSIT, PAYER): 20_000})
    book = ServiceBook(ledger, figures)

    await book.reserve(payments)
    await book.resolve(payments, [PaymentOutcome(p.payment_id, True) for p in payments])

    assert balance(ledger, Holding.NET_DEPOSIT, PAYER) == (20_000 - len(payments), 0)
    figures.figures = {
        (Holding.NET_DEPOSIT, PAYER): 20_000 - len(payments),
        (Holding.NET_DEPOSIT, PAYEE): len(payments),
    }
    reconciliation = await book.reconcile([(Holding.NET_DEPOSIT, a) for a in (PAYER, PAYEE)])
    assert reconciliation.differences == []


async def test_resolving_without_a_reservation_still_books_the_payment_once() -> None:
    """A crash can lose the reservation; resolving makes it first, then posts it."""
    ledger = MemoryLedger()
    book = ServiceBook(ledger, TableFigures({(Holding.WALLET, PAYER): 50}))
    payment = record(1, amount=20, mode=SettlementMode.BATCH)

    for _ in range(2):
        await book.resolve([payment], [PaymentOutcome(payment.payment_id, True)])

    assert balance(ledger, Holding.WALLET, PAYER) == (30, 0)
    assert balance(ledger, Holding.WALLET, PAYEE) == (20, 0)


async def test_ledger_mode_payments_are_not_booked() -> None:
    ledger = MemoryLedger()
    book = ServiceBook(ledger, TableFigures({}))

    await book.reserve([record(1, mode=SettlementMode.LEDGER)])

    assert ledger.totals() == []

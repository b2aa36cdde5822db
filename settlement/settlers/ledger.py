"""Ledger mode: the traditional baseline, the same payments posted to a double-entry ledger.

Nothing touches the chain. A payer signs the same ``NetPayment`` fields as in net mode, under the
ledger's own EIP-712 domain, so a signature for one can never be replayed as the other and the
check costs the same CPU as a chain mode's. Settling a round is one ``create_transfers`` batch on
``BASELINE_LEDGER``: a transfer from the payer's wallet account to the payee's, whose id comes
from the payment id, so handing the same payment over twice (after a crash) answers ``exists``
and moves nothing. Wallets may not overdraw; money enters them by deposits from the issuer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from settlement.domain.eip712 import Eip712Domain
from settlement.domain.payments import Purpose, SettlementMode
from settlement.ledger import (
    MAX_BATCH_EVENTS,
    Account,
    AccountFlags,
    CreateTransferResult,
    Ledger,
    Transfer,
)
from settlement.ledger.mapping import (
    BASELINE_LEDGER,
    PURPOSE_CODES,
    AccountCode,
    TransferCode,
    baseline_transfer_id,
    issuer_account_id,
    opening_transfer_id,
    wallet_account_id,
)
from settlement.settlers.acceptance import new_payments, uncovered
from settlement.settlers.base import OffChainSettler, PaymentSubmission, Verified
from settlement.settlers.net import check_signed_payment
from settlement.store import NewPayment, PaymentOutcome, PaymentRecord, SqlPaymentStore

LEDGER_DOMAIN_NAME = "Robot Ledger"
LEDGER_DOMAIN_VERSION = "1"
_SETTLED = (CreateTransferResult.OK, CreateTransferResult.EXISTS)
_REASONS = {
    CreateTransferResult.EXCEEDS_CREDITS: "insufficient ledger balance",
    CreateTransferResult.DEBIT_ACCOUNT_NOT_FOUND: "the payer has no ledger account",
}


def ledger_domain(chain_id: int, token_address: str) -> Eip712Domain:
    """The domain ledger payments are signed under: bound to the service's chain and token."""
    return Eip712Domain(LEDGER_DOMAIN_NAME, LEDGER_DOMAIN_VERSION, chain_id, token_address)


def wallet_account(address: str) -> Account:
    return Account(
        id=wallet_account_id(address, BASELINE_LEDGER),
        ledger=BASELINE_LEDGER,
        code=AccountCode.WALLET,
        flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    )


def issuer_account() -> Account:
    return Account(
        id=issuer_account_id(BASELINE_LEDGER), ledger=BASELINE_LEDGER, code=AccountCode.ISSUER
    )


def baseline_transfer(
    payment_id: bytes, payer: str, payee: str, amount: int, purpose: Purpose
) -> Transfer:
    return Transfer(
        id=baseline_transfer_id(payment_id),
        debit_account_id=wallet_account_id(payer, BASELINE_LEDGER),
        credit_account_id=wallet_account_id(payee, BASELINE_LEDGER),
        amount=amount,
        ledger=BASELINE_LEDGER,
        code=PURPOSE_CODES[purpose],
    )


def open_wallets(ledger: Ledger, addresses: Sequence[str]) -> None:
    """Make sure each address has its wallet account (creating one that exists is a no-op)."""
    accounts = [wallet_account(address) for address in dict.fromkeys(addresses)]
    for start in range(0, len(accounts), MAX_BATCH_EVENTS):
        results = ledger.create_accounts(accounts[start : start + MAX_BATCH_EVENTS])
        assert set(results) <= {"ok", "exists"}, results


def deposit_transfer(address: str, amount: int, reference: bytes) -> Transfer:
    """Money from the issuer into ``address``'s wallet; ``reference`` is the deposit's
    idempotency key (the same reference twice deposits once)."""
    return Transfer(
        id=opening_transfer_id(address, BASELINE_LEDGER, reference),
        debit_account_id=issuer_account_id(BASELINE_LEDGER),
        credit_account_id=wallet_account_id(address, BASELINE_LEDGER),
        amount=amount,
        ledger=BASELINE_LEDGER,
        code=TransferCode.DEPOSIT,
    )


def deposit(ledger: Ledger, address: str, amount: int, reference: bytes) -> CreateTransferResult:
    """Credit ``address``'s wallet from the issuer, opening the accounts it needs."""
    open_wallets(ledger, [address])
    ledger.create_accounts([issuer_account()])
    (result,) = ledger.create_transfers([deposit_transfer(address, amount, reference)])
    return result


def wallet_balance(ledger: Ledger, address: str) -> Account | None:
    found = ledger.lookup_accounts([wallet_account_id(address, BASELINE_LEDGER)])
    return found[0] if found else None


class LedgerSettler(OffChainSettler):
    mode: ClassVar[SettlementMode] = SettlementMode.LEDGER
    max_payments_per_round: ClassVar[int] = MAX_BATCH_EVENTS

    def __init__(
        self, ledger: Ledger, domain: Eip712Domain, store: SqlPaymentStore | None = None
    ) -> None:
        """With ``store``, a payment its payer's wallet cannot cover is refused at acceptance."""
        self.ledger = ledger
        self.domain = domain
        self.store = store

    def check(self, submission: PaymentSubmission, chain_time: int) -> Verified:
        check_signed_payment(submission, chain_time, self.domain)
        return Verified(f"ledger:0x{submission.intent.payment_id.hex()}")

    async def admit(self, verified: Sequence[NewPayment]) -> dict[str, str]:
        """Refuse payments the payer's wallet cannot cover beside what it already has queued.

        Settling checks again (a wallet never overdraws); this only spares a payment that could
        not settle from being accepted.
        """
        if self.store is None:
            return {}
        fresh = await new_payments(self.store, verified)
        payers = sorted({payment.intent.payer for payment in fresh})
        balances = await asyncio.to_thread(self._wallet_balances, payers)
        committed = await self.store.pending_outgoing_by_payer(payers, [SettlementMode.LEDGER])
        refused: dict[str, str] = {}
        for payment in fresh:
            payer = payment.intent.payer
            reason = uncovered(
                "ledger balance",
                payer,
                payment.intent.amount_base_units,
                balances.get(payer, 0),
                committed,
            )
            if reason is not None:
                refused[payment.payment_id] = reason
        return refused

    def _wallet_balances(self, payers: Sequence[str]) -> dict[str, int]:
        """Each payer's wallet balance; payers without a wallet are left out."""
        ids = {wallet_account_id(payer, BASELINE_LEDGER): payer for payer in payers}
        balances: dict[str, int] = {}
        for start in range(0, len(payers), MAX_BATCH_EVENTS):
            chunk = list(ids)[start : start + MAX_BATCH_EVENTS]
            for account in self.ledger.lookup_accounts(chunk):
                balances[ids[account.id]] = account.balance
        return balances

    async def settle(self, payments: Sequence[PaymentRecord]) -> list[PaymentOutcome]:
        # The ledger's engines are synchronous; a thread keeps the event loop answering.
        return await asyncio.to_thread(self._settle, payments)

    def _settle(self, payments: Sequence[PaymentRecord]) -> list[PaymentOutcome]:
        assert len(payments) <= MAX_BATCH_EVENTS
        if not payments:
            return []
        open_wallets(self.ledger, [address for p in payments for address in (p.payer, p.payee)])
        transfers = [
            baseline_transfer(
                bytes.fromhex(p.payment_id[2:]), p.payer, p.payee, p.amount_base_units, p.purpose
            )
            for p in payments
        ]
        results = self.ledger.create_transfers(transfers)
        return [
            PaymentOutcome(record.payment_id, settled=True)
            if result in _SETTLED
            else PaymentOutcome(record.payment_id, False, _REASONS.get(result, f"ledger: {result}"))
            for record, result in zip(payments, results, strict=True)
        ]

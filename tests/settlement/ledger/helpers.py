"""Short constructors for ledger tests: accounts on ledger 1, transfers between them."""

from __future__ import annotations

from typing import Any

from settlement.ledger import Account, AccountFlags, Ledger, Transfer

LEDGER = 1
CODE = 7


def open_accounts(
    ledger: Ledger, *ids: int, flags: int = AccountFlags.NONE, on_ledger: int = LEDGER
) -> None:
    results = ledger.create_accounts(
        [Account(id=i, ledger=on_ledger, code=CODE, flags=flags) for i in ids]
    )
    assert set(results) == {"ok"}, results


def transfer(transfer_id: int, debit: int, credit: int, amount: int, **fields: Any) -> Transfer:
    return Transfer(
        id=transfer_id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        ledger=fields.pop("ledger", LEDGER),
        code=fields.pop("code", CODE),
        **fields,
    )


def balances(ledger: Ledger, account_id: int) -> tuple[int, int, int, int]:
    """(debits_pending, debits_posted, credits_pending, credits_posted) of one account."""
    (account,) = ledger.lookup_accounts([account_id])
    return (
        account.debits_pending,
        account.debits_posted,
        account.credits_pending,
        account.credits_posted,
    )

"""Netting a window of payments into one balance change per account.

Within a window each account's payments in and out cancel down to a single signed change. The
changes always sum to zero (money moves, it is not made), and an account's change can never take
its deposit below zero: the operator checks that before accepting a payment, and the contract
checks it again before applying a window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Transfer:
    payer: str
    payee: str
    amount_base_units: int


def net_changes(transfers: Iterable[Transfer]) -> dict[str, int]:
    """Each account's net change, zero changes left out."""
    changes: dict[str, int] = {}
    for transfer in transfers:
        assert transfer.amount_base_units > 0, "a transfer moves a positive amount"
        changes[transfer.payer] = changes.get(transfer.payer, 0) - transfer.amount_base_units
        changes[transfer.payee] = changes.get(transfer.payee, 0) + transfer.amount_base_units
    netted = {account: change for account, change in changes.items() if change != 0}
    assert sum(netted.values()) == 0, "net changes must sum to zero"
    return netted


def sorted_for_chain(changes: Mapping[str, int]) -> tuple[list[str], list[int]]:
    """Accounts in ascending numeric order, as NetSettlement requires, with their changes."""
    accounts = sorted(changes, key=lambda account: int(account, 16))
    return accounts, [changes[account] for account in accounts]


def overdrawn_accounts(changes: Mapping[str, int], deposits: Mapping[str, int]) -> list[str]:
    """Accounts whose change would take their deposit below zero (should always be empty)."""
    return [account for account, change in changes.items() if deposits.get(account, 0) + change < 0]

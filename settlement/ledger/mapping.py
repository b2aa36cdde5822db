"""How payments become ledger accounts and transfers: one mapping for the baseline and the book.

The ledger names everything with 128-bit ids; payments are named by 32-byte payment ids and
addresses of 20 bytes. Ids are therefore the first 16 bytes of a keccak256 hash, tagged with what
the id is for, so that the same payment can appear once as a baseline transfer and once in the
service's book (as a pending transfer and then its post or void) without two ids colliding. A
collision of two 128-bit hashes needs about 2**64 ids: far beyond any run.

Two ledgers (currencies, in TigerBeetle's terms) share one database:

- ``BOOK_LEDGER``: the service's own book of the on-chain stablecoin, kept beside the chain;
- ``BASELINE_LEDGER``: the traditional-ledger baseline, where payments settle on the ledger alone.
"""

from __future__ import annotations

from enum import IntEnum

from settlement.domain.eip712 import keccak256
from settlement.domain.payments import Purpose

BOOK_LEDGER = 1
BASELINE_LEDGER = 2


class AccountCode(IntEnum):
    """What an account is for (TigerBeetle's account ``code``)."""

    # A robot's (or any payer's or payee's) own money.
    WALLET = 1
    # Where money enters the ledger: the issuer's side of every opening balance.
    ISSUER = 2


# A transfer's code says what the payment bought; zero is reserved by the ledger.
PURPOSE_CODES = {purpose: index for index, purpose in enumerate(Purpose, start=1)}


class TransferCode(IntEnum):
    """Codes of transfers that are not purchases, well clear of the purposes' codes."""

    # Money entering the baseline from outside it, like cash paid into a bank.
    DEPOSIT = 100
    # A book account opening at the chain's figure.
    BOOK_OPENING = 101
    # Money moving from a wallet into a channel or a net-settlement deposit.
    ESCROW_FUNDING = 102


def tagged_id(tag: bytes, subject: bytes) -> int:
    """A 128-bit id for ``subject``, distinct for each ``tag``."""
    return int.from_bytes(keccak256(tag + subject)[:16], "big")


def wallet_account_id(address: str, ledger: int) -> int:
    """The account holding ``address``'s money on ``ledger``."""
    return tagged_id(b"wallet:%d:" % ledger, bytes.fromhex(address.removeprefix("0x")))


def issuer_account_id(ledger: int) -> int:
    return tagged_id(b"issuer:%d" % ledger, b"")


def opening_transfer_id(address: str, ledger: int, reference: bytes) -> int:
    """The transfer funding ``address``'s wallet; ``reference`` makes each funding distinct."""
    return tagged_id(b"opening:%d:" % ledger, bytes.fromhex(address.removeprefix("0x")) + reference)


def baseline_transfer_id(payment_id: bytes) -> int:
    """A payment settled on the baseline ledger."""
    return tagged_id(b"baseline:", payment_id)


def book_pending_id(payment_id: bytes) -> int:
    """The service book's pending transfer for an accepted payment."""
    return tagged_id(b"book-pending:", payment_id)


def book_resolution_id(payment_id: bytes) -> int:
    """The post (settled) or void (failed) of that pending transfer: one id for either, so a
    payment can only ever be resolved once."""
    return tagged_id(b"book-resolution:", payment_id)

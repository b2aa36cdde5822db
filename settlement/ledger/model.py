"""The ledger's vocabulary: accounts, transfers, their flags, and one result code per event.

Modelled on TigerBeetle. An account lives on one ledger (one currency) and keeps four running
sums: debits and credits, each pending (reserved by a two-phase transfer) and posted. A transfer
moves an amount from its debit account to its credit account on the same ledger; its id is its
idempotency key, so creating it twice applies it once. Every request is a batch of events, and
every event gets its own result code: a batch is never refused as a whole for one bad event.

Ids and user data are unsigned 128-bit integers, as in TigerBeetle. Amounts and balances are
signed 64-bit (``MAX_AMOUNT``) rather than TigerBeetle's 128 bits, because that is what both
storage engines hold natively; at six decimals it is 9.2 trillion dollars per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag, StrEnum

MAX_AMOUNT = 2**63 - 1
MAX_ID = 2**128 - 1  # reserved, as in TigerBeetle: a valid id is below it
MAX_LEDGER = 2**32 - 1
MAX_CODE = 2**16 - 1
MAX_TIMEOUT_S = 2**32 - 1
# One request creates at most this many events, TigerBeetle's batch size.
MAX_BATCH_EVENTS = 8_190
NANOSECONDS_PER_SECOND = 1_000_000_000


class AccountFlags(IntFlag):
    NONE = 0
    # This event and the next succeed or fail together.
    LINKED = 1
    # The account may never owe more than it holds: a robot's wallet.
    DEBITS_MUST_NOT_EXCEED_CREDITS = 2
    # The account may never be owed more than it paid in.
    CREDITS_MUST_NOT_EXCEED_DEBITS = 4
    # Keep the balances after every transfer, for ``account_balances``.
    HISTORY = 8


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1
    # Reserve the amount now; a later event posts it (in full or in part) or voids it.
    PENDING = 2
    POST_PENDING_TRANSFER = 4
    VOID_PENDING_TRANSFER = 8


ACCOUNT_FLAGS_KNOWN = max(AccountFlags) * 2 - 1
TRANSFER_FLAGS_KNOWN = max(TransferFlags) * 2 - 1


class PendingStatus(IntEnum):
    """Where a two-phase transfer stands. Single-phase transfers, posts and voids are ``NONE``."""

    NONE = 0
    PENDING = 1
    POSTED = 2
    VOIDED = 3
    EXPIRED = 4


class CreateAccountResult(StrEnum):
    OK = "ok"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    TIMESTAMP_MUST_BE_ZERO = "timestamp_must_be_zero"
    RESERVED_FLAG = "reserved_flag"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    ID_MUST_NOT_BE_INT_MAX = "id_must_not_be_int_max"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    DEBITS_PENDING_MUST_BE_ZERO = "debits_pending_must_be_zero"
    DEBITS_POSTED_MUST_BE_ZERO = "debits_posted_must_be_zero"
    CREDITS_PENDING_MUST_BE_ZERO = "credits_pending_must_be_zero"
    CREDITS_POSTED_MUST_BE_ZERO = "credits_posted_must_be_zero"
    LEDGER_MUST_NOT_BE_ZERO = "ledger_must_not_be_zero"
    CODE_MUST_NOT_BE_ZERO = "code_must_not_be_zero"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_USER_DATA = "exists_with_different_user_data"
    EXISTS_WITH_DIFFERENT_LEDGER = "exists_with_different_ledger"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS = "exists"


class CreateTransferResult(StrEnum):
    OK = "ok"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    TIMESTAMP_MUST_BE_ZERO = "timestamp_must_be_zero"
    RESERVED_FLAG = "reserved_flag"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    ID_MUST_NOT_BE_INT_MAX = "id_must_not_be_int_max"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "debit_account_id_must_not_be_zero"
    CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "credit_account_id_must_not_be_zero"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    PENDING_ID_MUST_BE_ZERO = "pending_id_must_be_zero"
    PENDING_ID_MUST_NOT_BE_ZERO = "pending_id_must_not_be_zero"
    PENDING_ID_MUST_BE_DIFFERENT = "pending_id_must_be_different"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    LEDGER_MUST_NOT_BE_ZERO = "ledger_must_not_be_zero"
    CODE_MUST_NOT_BE_ZERO = "code_must_not_be_zero"
    AMOUNT_MUST_NOT_BE_ZERO = "amount_must_not_be_zero"
    AMOUNT_MUST_NOT_BE_NEGATIVE = "amount_must_not_be_negative"
    AMOUNT_OVERFLOWS = "amount_overflows"
    DEBIT_ACCOUNT_NOT_FOUND = "debit_account_not_found"
    CREDIT_ACCOUNT_NOT_FOUND = "credit_account_not_found"
    ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER = "accounts_must_have_the_same_ledger"
    TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS = (
        "transfer_must_have_the_same_ledger_as_accounts"
    )
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID = (
        "pending_transfer_has_different_debit_account_id"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID = (
        "pending_transfer_has_different_credit_account_id"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_LEDGER = "pending_transfer_has_different_ledger"
    PENDING_TRANSFER_HAS_DIFFERENT_CODE = "pending_transfer_has_different_code"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_PENDING_ID = "exists_with_different_pending_id"
    EXISTS_WITH_DIFFERENT_TIMEOUT = "exists_with_different_timeout"
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = "exists_with_different_debit_account_id"
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = "exists_with_different_credit_account_id"
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_USER_DATA = "exists_with_different_user_data"
    EXISTS_WITH_DIFFERENT_LEDGER = "exists_with_different_ledger"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS = "exists"
    OVERFLOWS_DEBITS_PENDING = "overflows_debits_pending"
    OVERFLOWS_CREDITS_PENDING = "overflows_credits_pending"
    OVERFLOWS_DEBITS_POSTED = "overflows_debits_posted"
    OVERFLOWS_CREDITS_POSTED = "overflows_credits_posted"
    OVERFLOWS_DEBITS = "overflows_debits"
    OVERFLOWS_CREDITS = "overflows_credits"
    OVERFLOWS_TIMEOUT = "overflows_timeout"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"


class BatchTooLargeError(ValueError):
    """A request carried more events than one batch may hold; nothing of it was applied."""

    def __init__(self, events: int) -> None:
        super().__init__(f"{events} events in one request; at most {MAX_BATCH_EVENTS} allowed")


MAX_FLAGS = 2**16 - 1


def _require_unsigned(owner: object, name: str, maximum: int) -> None:
    """Refuse a field its fixed-width encoding cannot hold: a caller's bug, not a ledger event.

    Amounts are not checked here: an amount out of range is an event with a result code.
    """
    value = getattr(owner, name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer in [0, {maximum}], got {value!r}")


def _plain_flags(owner: object) -> None:
    # Flags are kept as plain ints: IntFlag arithmetic in the hot loop costs a microsecond each.
    object.__setattr__(owner, "flags", int(getattr(owner, "flags")))  # noqa: B009


_ACCOUNT_FIELD_LIMITS = (
    ("id", MAX_ID),
    ("ledger", MAX_LEDGER),
    ("code", MAX_CODE),
    ("flags", MAX_FLAGS),
    ("user_data", MAX_ID),
)
_TRANSFER_FIELD_LIMITS = (
    ("id", MAX_ID),
    ("debit_account_id", MAX_ID),
    ("credit_account_id", MAX_ID),
    ("ledger", MAX_LEDGER),
    ("code", MAX_CODE),
    ("flags", MAX_FLAGS),
    ("pending_id", MAX_ID),
    ("timeout", MAX_TIMEOUT_S),
    ("user_data", MAX_ID),
)


@dataclass(frozen=True, slots=True)
class Account:
    """An account as created (balances zero) or as looked up (balances and timestamp filled)."""

    id: int
    ledger: int
    code: int
    flags: int = AccountFlags.NONE
    user_data: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    timestamp: int = 0

    def __post_init__(self) -> None:
        for name, maximum in _ACCOUNT_FIELD_LIMITS:
            _require_unsigned(self, name, maximum)
        _plain_flags(self)

    @property
    def balance(self) -> int:
        """Posted credits less posted debits: what an asset-holding account owns."""
        return self.credits_posted - self.debits_posted


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer as submitted (timestamp zero) or as looked up (timestamp filled).

    A post or void names the pending transfer in ``pending_id``; its debit and credit accounts,
    ledger and code may be left zero, meaning "the pending transfer's", and a post's amount of
    zero posts the full pending amount. A pending transfer's ``timeout`` is in seconds; zero
    means it never expires.
    """

    id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    ledger: int
    code: int
    flags: int = TransferFlags.NONE
    pending_id: int = 0
    timeout: int = 0
    user_data: int = 0
    timestamp: int = 0

    def __post_init__(self) -> None:
        for name, maximum in _TRANSFER_FIELD_LIMITS:
            _require_unsigned(self, name, maximum)
        _plain_flags(self)


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's balances right after one transfer (or expiry) touched it."""

    account_id: int
    transfer_id: int
    timestamp: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """The four sums over every account of one ledger; debits equal credits in a sound one."""

    ledger: int
    accounts: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def balanced(self) -> bool:
        return (
            self.debits_pending == self.credits_pending
            and self.debits_posted == self.credits_posted
        )

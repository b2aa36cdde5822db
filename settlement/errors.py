"""Every operating error the settlement package raises, in one tree.

Catch ``SettlementError`` to handle them all, or a branch to handle one kind::

    SettlementError
    ├── ConfigurationError          a setting is missing or wrong; the message says which
    │   ├── ToolNotFoundError       a binary such as anvil is not installed (run `make setup`)
    │   ├── ContractsNotBuiltError  forge artifacts are missing (run `make setup`)
    │   └── FeeProfileError         a fee-profile or mode-cost file is malformed (file and key)
    │       └── UnknownProfileError no fee profile has the requested name
    ├── PolicyInputError            the auto policy's inputs are out of range, or no mode fits
    ├── PaymentRejectedError        a payment is invalid and was not accepted; the reason says why
    │   └── SignatureError          a signature is malformed or not by the expected signer
    ├── QueueFullError              too many payments wait for settlement; retry after a pause
    ├── SettlementStalledError      settling rounds stopped with payments still queued, or ran
    │                               past their bound
    └── ChainError                  talking to the EVM chain failed
        ├── ChainUnavailableError   the RPC endpoint does not answer, or Anvil did not start
        ├── ContractRevertedError   the node refused a call or transaction that would revert;
        │                           ``error_name`` and ``arguments`` carry the decoded custom error
        ├── TransactionRevertedError  a mined transaction reverted (status 0)
        └── TransactionTimeoutError   no receipt arrived within the wait limit

Programmer errors (a broken invariant inside the package) are ``AssertionError`` and are never
caught here: they mean a bug, not an operating condition.
"""

from __future__ import annotations


class SettlementError(Exception):
    """The root of every operating error raised by this package."""


class ConfigurationError(SettlementError):
    """A setting is missing or invalid."""


class ToolNotFoundError(ConfigurationError):
    """A required external program is not installed."""


class ContractsNotBuiltError(ConfigurationError):
    """The compiled contract artifacts are missing or unreadable."""


class FeeProfileError(ConfigurationError):
    """A fee profile or mode cost file is malformed; the message names the file and the key."""


class UnknownProfileError(FeeProfileError):
    """No fee profile has the requested name."""


class PolicyInputError(SettlementError):
    """The policy's inputs are out of range, or no mode can meet the latency bound."""


class PaymentRejectedError(SettlementError):
    """A payment failed validation and was not accepted; nothing was stored or sent."""


class NotYetValidError(PaymentRejectedError):
    """An authorization's window opens after the chain time the check was made against."""


class SignatureError(PaymentRejectedError):
    """A signature is malformed, or recovers to someone other than the expected signer."""


class QueueFullError(SettlementError):
    """The settlement queue is at its bound; the caller should retry after ``retry_after_s``."""

    def __init__(self, queued: int, limit: int, retry_after_s: int) -> None:
        self.queued = queued
        self.limit = limit
        self.retry_after_s = retry_after_s
        super().__init__(
            f"{queued} payments are queued (limit {limit}); retry in {retry_after_s} s"
        )


class SettlementStalledError(SettlementError):
    """Settling rounds made no more progress, or took more rounds than their bound, while
    payments were still queued."""


class ChainError(SettlementError):
    """Talking to the EVM chain failed."""


class ChainUnavailableError(ChainError):
    """The chain's RPC endpoint did not answer."""


class ContractRevertedError(ChainError):
    """A call or transaction would revert, so nothing was sent; carries the decoded reason."""

    def __init__(self, error_name: str, arguments: tuple[object, ...] = ()) -> None:
        self.error_name = error_name
        self.arguments = arguments
        rendered = ", ".join(str(argument) for argument in arguments)
        super().__init__(f"reverted with {error_name}({rendered})")


class TransactionRevertedError(ChainError):
    """A transaction was mined but reverted."""

    def __init__(self, tx_hash: str, gas_used: int, reason: str | None = None) -> None:
        self.tx_hash = tx_hash
        self.gas_used = gas_used
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"transaction {tx_hash} reverted after {gas_used} gas{detail}")


class TransactionTimeoutError(ChainError):
    """No receipt for a transaction arrived in time."""


class ChainReorganizedError(ChainError):
    """The chain dropped blocks the relayer had seen, or our nonces no longer follow on from the
    chain's: what was sent must be reconciled before anything else is."""

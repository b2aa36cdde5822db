"""Settle robot micro-payments in an ERC-20 stablecoin and measure what each payment costs."""

from __future__ import annotations

from settlement.errors import (
    ChainError,
    ChainUnavailableError,
    ConfigurationError,
    ContractRevertedError,
    ContractsNotBuiltError,
    SettlementError,
    SignatureError,
    ToolNotFoundError,
    TransactionRevertedError,
    TransactionTimeoutError,
)

__version__ = "0.1.0"

__all__ = [
    "ChainError",
    "ChainUnavailableError",
    "ConfigurationError",
    "ContractRevertedError",
    "ContractsNotBuiltError",
    "SettlementError",
    "SignatureError",
    "ToolNotFoundError",
    "TransactionRevertedError",
    "TransactionTimeoutError",
    "__version__",
]

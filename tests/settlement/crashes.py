"""Relayers that stand for the process dying at the two moments that matter for exactly-once."""

from __future__ import annotations

from collections.abc import Sequence

from settlement.chain.relayer import Relayer
from settlement.store import TransactionAttempt


class SimulatedCrashBeforeSendError(Exception):
    """Stands for the process dying between recording a transaction and sending it."""


class SimulatedCrashAfterSendError(Exception):
    """Stands for the process dying after sending, before it saw the receipt."""


class CrashBeforeSendRelayer(Relayer):
    async def _broadcast(self, attempts: Sequence[TransactionAttempt]) -> None:
        raise SimulatedCrashBeforeSendError(attempts[0].tx_hash)


class CrashAfterSendRelayer(Relayer):
    async def _broadcast(self, attempts: Sequence[TransactionAttempt]) -> None:
        await super()._broadcast(attempts)
        raise SimulatedCrashAfterSendError(attempts[0].tx_hash)

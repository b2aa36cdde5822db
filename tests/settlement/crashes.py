"""Relayers that stand for the process dying at the two moments that matter for exactly-once."""

from __future__ import annotations

from collections.abc import Sequence

from hexbytes import HexBytes

from settlement.chain.client import ChainClient
from settlement.chain.relayer import Relayer
from settlement.store import TransactionAttempt


class SimulatedCrashBeforeSendError(Exception):
    """Stands for the process dying between recording a transaction and sending it."""


class SimulatedCrashAfterSendError(Exception):
    """Stands for the process dying after sending, before it saw the receipt."""

    @property
    def tx_hash(self) -> str:
        return str(self.args[0])


async def mined(chain: ChainClient, crash: SimulatedCrashAfterSendError) -> None:
    """Wait until the transaction sent before the crash is mined: Anvil's automine answers the
    send a moment before the block exists, and a busy machine widens that moment."""
    await chain.wait_for_receipt(HexBytes(crash.tx_hash))


class CrashBeforeSendRelayer(Relayer):
    async def _broadcast(self, attempts: Sequence[TransactionAttempt]) -> None:
        raise SimulatedCrashBeforeSendError(attempts[0].tx_hash)


class CrashAfterSendRelayer(Relayer):
    async def _broadcast(self, attempts: Sequence[TransactionAttempt]) -> None:
        await super()._broadcast(attempts)
        raise SimulatedCrashAfterSendError(attempts[0].tx_hash)

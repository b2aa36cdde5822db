"""A fleet run's payment stream: every payment the economy made, replayable through any mode.

Participants (solar farms, robots, compute providers, consumers) are numbered; each one's key is
derived from the run's seed, so the same file always means the same signed payments. Payments
are kept as numpy columns, because a day of a large fleet makes millions of them; ``save`` and
``load`` use one compressed ``.npz`` file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from settlement.domain.eip712 import keccak256
from settlement.domain.payments import Purpose

STREAM_FORMAT_VERSION = 1
PURPOSES = list(Purpose)
# Bounded: a stream beyond this is sampled before it is settled (see the fleet's report).
MAX_STREAM_PAYMENTS = 200_000_000

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class StreamPayment:
    """One payment of the stream, as plain values."""

    index: int
    step: int
    payer: int
    payee: int
    amount_base_units: int
    purpose: Purpose

    @property
    def idempotency_key(self) -> str:
        """Unique per payer within a run: the payment's place in the stream."""
        return f"s{self.index}"


@dataclass(frozen=True)
class PaymentStream:
    """Columns of equal length: the step each payment was made in, who paid whom, how much."""

    seed: int
    participant_count: int
    steps: IntArray
    payers: IntArray
    payees: IntArray
    amounts_base_units: IntArray
    purposes: IntArray  # indices into ``PURPOSES``

    def __post_init__(self) -> None:
        columns = (self.steps, self.payers, self.payees, self.amounts_base_units, self.purposes)
        if len({len(column) for column in columns}) != 1:
            raise ValueError("every column of a payment stream must have the same length")
        if len(self.steps) > MAX_STREAM_PAYMENTS:
            raise ValueError(f"{len(self.steps)} payments; at most {MAX_STREAM_PAYMENTS:,}")
        if len(self.steps) and (
            self.payers.min() < 0
            or max(self.payers.max(), self.payees.max()) >= self.participant_count
            or self.payees.min() < 0
        ):
            raise ValueError("a payment names a participant outside the stream")
        if np.any(self.payers == self.payees):
            raise ValueError("a payment pays its own payer")
        if len(self.steps) and self.amounts_base_units.min() <= 0:
            raise ValueError("a payment has a non-positive amount")

    def __len__(self) -> int:
        return len(self.steps)

    def participant_key(self, index: int, tag: str = "") -> bytes:
        """Participant ``index``'s private key (a local test key, funded only on a local chain).

        A ``tag`` gives the participants fresh keys, for settling on a service that may already
        know the untagged ones (their nonces spent, their idempotency keys taken).
        """
        return participant_key(self.seed, index, tag)

    def payments(self) -> Iterator[StreamPayment]:
        for index in range(len(self)):
            yield self.payment(index)

    def payment(self, index: int) -> StreamPayment:
        return StreamPayment(
            index,
            int(self.steps[index]),
            int(self.payers[index]),
            int(self.payees[index]),
            int(self.amounts_base_units[index]),
            PURPOSES[int(self.purposes[index])],
        )

    def total_base_units(self) -> int:
        return int(self.amounts_base_units.sum())

    def save(self, path: Path) -> None:
        with path.open("wb") as file:
            np.savez_compressed(
                file,
                format_version=np.int64(STREAM_FORMAT_VERSION),
                seed=np.int64(self.seed),
                participant_count=np.int64(self.participant_count),
                steps=self.steps,
                payers=self.payers,
                payees=self.payees,
                amounts_base_units=self.amounts_base_units,
                purposes=self.purposes,
            )

    @classmethod
    def load(cls, path: Path) -> PaymentStream:
        try:
            with np.load(path) as data:
                version = int(data["format_version"])
                if version != STREAM_FORMAT_VERSION:
                    raise ValueError(
                        f"{path}: stream format {version}, expected {STREAM_FORMAT_VERSION}"
                    )
                return cls(
                    seed=int(data["seed"]),
                    participant_count=int(data["participant_count"]),
                    steps=data["steps"].astype(np.int64),
                    payers=data["payers"].astype(np.int64),
                    payees=data["payees"].astype(np.int64),
                    amounts_base_units=data["amounts_base_units"].astype(np.int64),
                    purposes=data["purposes"].astype(np.int64),
                )
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{path} is not a payment stream: {error}") from None


def participant_key(seed: int, index: int, tag: str = "") -> bytes:
    """The key of participant ``index`` in the fleet run with ``seed`` (see
    ``PaymentStream.participant_key``); for a signing process that holds no stream."""
    tagged = f" {tag}" if tag else ""
    return keccak256(f"robot-settlement fleet {seed} participant {index}{tagged}".encode())

"""Settle a fleet's payment stream through the settlement service, in any mode.

The stream replays like for like: each payment keeps its payer's derived key and its idempotency
key, so it has the same payment id in every mode. A large fleet's stream may be settled for a
declared sample of its participants: only the payments whose payer and payee are both in the
sample are settled, and only those participants are funded and sign, so the figures describe the
sample and say how much of the stream it covered.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from robots.stream import PaymentStream
from settlement.client import DEFAULT_CONCURRENCY, SettlementClient
from settlement.config import Settings
from settlement.domain.payments import SettlementMode
from settlement.domain.timeline import Timeline
from settlement.remote_replay import ready_to_replay, replay_over_http
from settlement.replay import (
    ProgressCallback,
    Replay,
    ReplayOutcome,
    ReplayPayment,
    replay_payments,
)
from settlement.runtime import running_service

MAX_FAILURE_REASONS = 20

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class StreamSettlement:
    """What settling a stream (or the sample's share of it) in one mode did and cost."""

    mode: SettlementMode
    payments_in_stream: int
    # The payments between sampled participants: all of the stream when it was not sampled.
    payments_settled_attempted: int
    settled: int
    # Refused at acceptance or failed in settlement.
    failed: int
    # Reason -> payments, the ``MAX_FAILURE_REASONS`` most common.
    failure_reasons: dict[str, int]
    transactions: int
    gas_total: int
    # Channel openings or net deposits made before the clock started.
    setup_gas: int
    accepted_per_s: float
    settled_per_s: float
    end_to_end_per_s: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    service_cpu_ns_per_payment: int
    timeline: Timeline
    value_settled_base_units: int
    sampled: bool
    # Where it was settled: "embedded" (a service of its own) or the URL of a running service.
    settled_by: str = "embedded"
    # Over HTTP: the tag that gave the participants keys of their own for this settlement, the
    # requests resent after a failure, and the payments those answered as already accepted.
    participant_key_tag: str = ""
    requests_resent: int = 0
    already_accepted: int = 0


@dataclass(frozen=True)
class RemoteService:
    """A running settlement service to send the payments to, and how hard to push it.

    One service settles every mode and outlives a run, so each settlement's participants get
    keys of their own, tagged with ``run_tag`` and the mode: their nonces and idempotency keys
    are then fresh however many runs of the same seed the service has seen.
    """

    url: str
    api_key: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    run_tag: str = field(default_factory=lambda: secrets.token_hex(4))


async def settle_stream(
    stream: PaymentStream,
    mode: SettlementMode,
    settings: Settings,
    *,
    participants: Collection[int] | None = None,
    on_progress: ProgressCallback | None = None,
) -> StreamSettlement:
    """Fund, sign, submit and settle the stream's payments (among ``participants`` only, when
    given) on a service of its own: an embedded Anvil when ``settings.rpc_url`` is None.

    ``on_progress(phase, done, total)`` hears of each phase ("funding", "signing", "accepting",
    "settling") at most a few times a second. The value settled and the failure reasons are read
    from the service's store, so a ``settings.database_url`` must name an empty database.
    """
    selected = payments_among(stream, participants)
    replay = stream_replay(stream, selected)
    async with running_service(settings, [mode]) as runtime:
        outcome = await replay_payments(runtime, mode, replay, on_progress)
        value_settled_base_units = await runtime.store.confirmed_total_base_units(mode)
        settle_failures = await runtime.store.failure_reasons(mode, MAX_FAILURE_REASONS)
    return stream_settlement(
        mode,
        stream,
        outcome,
        Counter(settle_failures) + Counter(outcome.refusals),
        value_settled_base_units,
        sampled=participants is not None,
    )


async def settle_stream_over_http(
    stream: PaymentStream,
    mode: SettlementMode,
    service: RemoteService,
    *,
    participants: Collection[int] | None = None,
    on_progress: ProgressCallback | None = None,
) -> StreamSettlement:
    """As ``settle_stream``, through a running service at ``service.url``: funded through its
    faucet, settled by its own windows, measured from what it reports."""
    key_tag = f"{service.run_tag} {mode.value}"
    replay = stream_replay(stream, payments_among(stream, participants), key_tag)
    async with SettlementClient(
        service.url, api_key=service.api_key, concurrency=service.concurrency
    ) as client:
        remote = await replay_over_http(client, mode, replay, on_progress)
    settlement = stream_settlement(
        mode,
        stream,
        remote.outcome,
        Counter(remote.settle_failures) + Counter(remote.outcome.refusals),
        remote.value_settled_base_units,
        sampled=participants is not None,
    )
    return replace(
        settlement,
        settled_by=service.url,
        participant_key_tag=key_tag,
        requests_resent=remote.requests_resent,
        already_accepted=remote.already_accepted,
    )


async def check_service(service: RemoteService, modes: Sequence[SettlementMode]) -> None:
    """Fail now, not after a long simulation, when the service cannot settle the run."""
    async with SettlementClient(service.url, api_key=service.api_key) as client:
        await ready_to_replay(client, modes)


def payments_among(stream: PaymentStream, participants: Collection[int] | None) -> BoolArray:
    """Which of the stream's payments have both their payer and their payee among
    ``participants`` (all of them when there is no sample)."""
    if participants is None:
        return np.ones(len(stream), dtype=np.bool_)
    sample = np.fromiter(participants, dtype=np.int64, count=len(participants))
    if len(sample) and (sample.min() < 0 or sample.max() >= stream.participant_count):
        raise ValueError(f"a sampled participant is outside 0..{stream.participant_count - 1}")
    return np.isin(stream.payers, sample) & np.isin(stream.payees, sample)


def stream_replay(stream: PaymentStream, selected: BoolArray, key_tag: str = "") -> Replay:
    """The selected payments, between only the participants they name: a sample of a large
    fleet funds and signs for no one else. ``key_tag`` gives the participants fresh keys."""
    indices = np.flatnonzero(selected)
    if len(indices) == 0:
        raise ValueError("no payment of the stream is between two sampled participants")
    ends = np.concatenate([stream.payers[indices], stream.payees[indices]])
    members, positions = np.unique(ends, return_inverse=True)
    payments = []
    for index, payer, payee in zip(
        indices, positions[: len(indices)], positions[len(indices) :], strict=True
    ):
        payment = stream.payment(int(index))
        payments.append(
            ReplayPayment(
                int(payer),
                int(payee),
                payment.amount_base_units,
                payment.purpose,
                payment.idempotency_key,
            )
        )
    return Replay([stream.participant_key(int(member), key_tag) for member in members], payments)


def stream_settlement(
    mode: SettlementMode,
    stream: PaymentStream,
    outcome: ReplayOutcome,
    failure_reasons: Counter[str],
    value_settled_base_units: int,
    *,
    sampled: bool,
) -> StreamSettlement:
    measurement = outcome.measurement
    return StreamSettlement(
        mode=mode,
        payments_in_stream=len(stream),
        payments_settled_attempted=measurement.payments,
        settled=measurement.settled,
        failed=measurement.failed + sum(outcome.refusals.values()),
        failure_reasons=dict(failure_reasons.most_common(MAX_FAILURE_REASONS)),
        transactions=measurement.transactions,
        gas_total=measurement.gas_total,
        setup_gas=measurement.setup_gas,
        accepted_per_s=measurement.accepted_per_s,
        settled_per_s=measurement.settled_per_s,
        end_to_end_per_s=measurement.end_to_end_per_s,
        latency_ms_p50=measurement.latency_ms_p50,
        latency_ms_p95=measurement.latency_ms_p95,
        latency_ms_p99=measurement.latency_ms_p99,
        timeline=measurement.timeline,
        service_cpu_ns_per_payment=measurement.cpu_ns_per_payment,
        value_settled_base_units=value_settled_base_units,
        sampled=sampled,
    )

"""Replay signed payments through a running service over HTTP: the ``docker compose`` path.

The same replay as ``settlement.replay``, but the service is elsewhere and settles on its own
windows, so the figures come from what the service reports:

1. the participants are funded through the service: its dev-chain faucet (operator key) for
   tokens and the direct payers' ether, the ledger's deposit route in ledger mode, and the
   escrow routes for channels and net deposits, whose gas the service returns;
2. every payer signs under the terms ``GET /v1/terms`` gives;
3. payments go out in chunks over a bounded number of lanes, each payer's always in one lane and
   in order (a channel's vouchers and a payer's transaction nonces must arrive in sequence);
4. their outcomes are read back with ``POST /v1/payments/lookup`` until every one is confirmed
   or failed. Times come from the service's own clock, gas from the transactions that settled
   them (a transaction's gas shared equally among the payments it confirmed), CPU from the
   service's process counter before and after.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from settlement.api.models import DomainOut, PaymentOut, SettledPaymentOut, TermsOut
from settlement.client import ServiceRequestError, SettlementClient
from settlement.domain.eip712 import Eip712Domain
from settlement.domain.payments import PaymentState, SettlementMode
from settlement.domain.timeline import Timeline
from settlement.errors import SettlementStalledError
from settlement.replay import (
    ACCEPT_CHUNK,
    ProgressCallback,
    Replay,
    ReplayMeasurement,
    ReplayOutcome,
    ThrottledProgress,
    funding_grants,
    sign_all,
)
from settlement.settlers.base import PaymentSubmission
from settlement.wallet import ChainTerms, PayerWallet

LOOKUP_CHUNK = 1_000
FAUCET_CHUNK = 1_000
POLL_INTERVAL_S = 0.5
# No payment reaching a final state for this long means the service has stopped settling.
STALL_LIMIT_S = 180.0
FINAL_STATES = frozenset({PaymentState.CONFIRMED, PaymentState.FAILED})


@dataclass(frozen=True)
class RemoteReplayOutcome:
    outcome: ReplayOutcome
    value_settled_base_units: int
    # Payments the service failed after accepting them, by reason.
    settle_failures: dict[str, int]
    # Answered as already accepted: a resent request the service had finished, or an earlier
    # replay with the same keys (their figures are then those of the first acceptance).
    already_accepted: int
    requests_resent: int


@dataclass
class Outcomes:
    """The final state of each payment, as the lookups found them."""

    final: dict[str, SettledPaymentOut] = field(default_factory=dict)

    def settled(self) -> list[SettledPaymentOut]:
        return [p for p in self.final.values() if p.payment.state is PaymentState.CONFIRMED]

    def failures(self) -> Counter[str]:
        return Counter(
            p.payment.failure_reason or "unknown"
            for p in self.final.values()
            if p.payment.state is PaymentState.FAILED
        )


async def replay_over_http(
    client: SettlementClient,
    mode: SettlementMode,
    replay: Replay,
    on_progress: ProgressCallback | None = None,
) -> RemoteReplayOutcome:
    """Fund, sign, submit and await every payment of ``replay`` in ``mode`` on the service."""
    progress = ThrottledProgress(on_progress)
    offered = await ready_to_replay(client, [mode])
    terms = chain_terms(offered)
    wallets = [PayerWallet(key) for key in replay.participant_keys]
    progress.report("funding", 0, 2)
    await fund_participants(client, replay, mode, wallets)
    progress.report("funding", 1, 2)
    setup_gas = await fund_escrow(client, replay, mode, wallets, terms)
    progress.report("funding", 2, 2)
    started = time.perf_counter()
    submissions = sign_all(mode, replay, wallets, terms, progress)
    sign_s = time.perf_counter() - started
    cpu_before = (await client.stats()).process_cpu_s
    accept_started = time.perf_counter()
    accepted, refusals, already = await submit_in_lanes(client, submissions, progress)
    accept_s = time.perf_counter() - accept_started
    outcomes = await await_outcomes(client, accepted, progress, refused=refusals.total())
    cpu_s = (await client.stats()).process_cpu_s - cpu_before
    measurement = measure(mode, len(submissions), outcomes, sign_s, accept_s, setup_gas, cpu_s)
    return RemoteReplayOutcome(
        outcome=ReplayOutcome(measurement, dict(refusals)),
        value_settled_base_units=sum(p.payment.amount_base_units for p in outcomes.settled()),
        settle_failures=dict(outcomes.failures()),
        already_accepted=already,
        requests_resent=client.retries,
    )


async def ready_to_replay(client: SettlementClient, modes: Sequence[SettlementMode]) -> TermsOut:
    """The service's terms, once it is known to answer, to settle ``modes`` and to let this
    client fund a fleet; else ``ServiceRequestError`` says what is missing."""
    if not client.has_operator_key:
        raise ServiceRequestError(
            "funding a fleet through the service needs its operator key (SETTLEMENT_API_KEY)"
        )
    offered = await client.terms()
    missing = [mode.value for mode in modes if mode not in offered.modes]
    if missing:
        served = ", ".join(mode.value for mode in offered.modes)
        raise ServiceRequestError(
            f"{client.base_url} does not settle {', '.join(missing)} (only {served})"
        )
    if not offered.faucet and any(mode is not SettlementMode.LEDGER for mode in modes):
        raise ServiceRequestError(
            f"{client.base_url} has no faucet (not a dev chain) to fund the fleet's accounts"
        )
    return offered


def chain_terms(offered: TermsOut) -> ChainTerms:
    return ChainTerms(
        chain_id=offered.chain_id,
        token=offered.token,
        token_domain=_domain(offered.token_domain),
        chain_time=offered.chain_time,
        max_fee_per_gas_wei=offered.max_fee_per_gas_wei,
        max_priority_fee_per_gas_wei=offered.max_priority_fee_per_gas_wei,
        channels_domain=_domain(offered.channels_domain) if offered.channels_domain else None,
        net_domain=_domain(offered.net_domain) if offered.net_domain else None,
        ledger_domain=_domain(offered.ledger_domain),
    )


def _domain(domain: DomainOut) -> Eip712Domain:
    return Eip712Domain(domain.name, domain.version, domain.chain_id, domain.verifying_contract)


async def fund_participants(
    client: SettlementClient,
    replay: Replay,
    mode: SettlementMode,
    wallets: list[PayerWallet],
) -> None:
    """Give every participant what it pays, in the form ``mode`` spends."""
    owed = replay.owed_per_payer()
    if mode is SettlementMode.LEDGER:
        # The reference makes the deposit idempotent: a resent one deposits once.
        await asyncio.gather(
            *(
                client.ledger_deposit(
                    wallets[payer].address, amount, f"fleet:{wallets[payer].address}:{amount}"
                )
                for payer, amount in owed.items()
            )
        )
        return
    grants = [grant.__dict__ for grant in funding_grants(replay, mode, wallets)]
    await asyncio.gather(
        *(
            client.faucet(grants[start : start + FAUCET_CHUNK])
            for start in range(0, len(grants), FAUCET_CHUNK)
        )
    )


async def fund_escrow(
    client: SettlementClient,
    replay: Replay,
    mode: SettlementMode,
    wallets: list[PayerWallet],
    terms: ChainTerms,
) -> int:
    """Open a channel per payer and payee pair, or a net deposit per payer; the gas it took."""
    if mode is SettlementMode.CHANNEL:
        openings = []
        for (payer, payee), amount in replay.owed_per_pair().items():
            payee_address = wallets[payee].address
            salt, funding = wallets[payer].channel_funding(payee_address, amount, terms)
            body = {"payee": payee_address, "salt": "0x" + salt.hex(), "funding": funding.as_json()}
            openings.append(client.open_channel(body))
        return sum(opened.funding_gas_used or 0 for opened in await asyncio.gather(*openings))
    if mode is SettlementMode.NET:
        deposits = []
        for payer, amount in replay.owed_per_payer().items():
            funding = wallets[payer].net_deposit(amount, terms)
            body = {"nonce": "0x" + funding.nonce.hex(), "funding": funding.as_json()}
            deposits.append(client.net_deposit(body))
        return sum(made.funding_gas_used or 0 for made in await asyncio.gather(*deposits))
    return 0


def payment_body(submission: PaymentSubmission) -> dict[str, Any]:
    """A signed payment in the API's ``PaymentIn`` shape."""
    intent = submission.intent
    return {
        "idempotency_key": intent.idempotency_key,
        "payer": intent.payer,
        "payee": intent.payee,
        "amount_base_units": intent.amount_base_units,
        "purpose": intent.purpose.value,
        "instrument": {"mode": submission.mode.value, **submission.instrument},
    }


def lanes_by_payer(submissions: Sequence[PaymentSubmission], lanes: int) -> list[list[int]]:
    """Indices of the submissions split into ``lanes`` lists; a payer's are all in one list, in
    their order, and payers are dealt round-robin in the order they first pay."""
    lane_of: dict[str, int] = {}
    split: list[list[int]] = [[] for _ in range(lanes)]
    for index, submission in enumerate(submissions):
        payer = submission.intent.payer
        lane = lane_of.setdefault(payer, len(lane_of) % lanes)
        split[lane].append(index)
    return [lane for lane in split if lane]


async def submit_in_lanes(
    client: SettlementClient,
    submissions: Sequence[PaymentSubmission],
    progress: ThrottledProgress,
) -> tuple[list[str], Counter[str], int]:
    """Submit every payment; the ids accepted, refusals by reason, and how many were already
    accepted before."""
    bodies = [payment_body(submission) for submission in submissions]
    accepted: list[str] = []
    refusals = Counter[str]()
    already = 0

    async def run_lane(indices: list[int]) -> None:
        nonlocal already
        for start in range(0, len(indices), ACCEPT_CHUNK):
            chunk = [bodies[i] for i in indices[start : start + ACCEPT_CHUNK]]
            for result in (await client.submit_payments(chunk)).results:
                if result.payment is None:
                    refusals[result.rejection or f"status {result.status}"] += 1
                else:
                    accepted.append(result.payment_id)
                    already += not result.created
            progress.report("accepting", len(accepted) + refusals.total(), len(bodies))

    lanes = lanes_by_payer(submissions, client.concurrency)
    await asyncio.gather(*(run_lane(lane) for lane in lanes))
    return accepted, refusals, already


async def await_outcomes(
    client: SettlementClient, payment_ids: list[str], progress: ThrottledProgress, refused: int
) -> Outcomes:
    """Look the payments up until each is confirmed or failed; refused ones count as done."""
    outcomes, waiting = Outcomes(), list(payment_ids)
    total = len(payment_ids) + refused
    last_progress = time.monotonic()
    while waiting:
        found = await asyncio.gather(
            *(
                client.lookup_payments(waiting[start : start + LOOKUP_CHUNK])
                for start in range(0, len(waiting), LOOKUP_CHUNK)
            )
        )
        lost = [payment_id for lookup in found for payment_id in lookup.unknown]
        assert not lost, f"the service forgot accepted payments: {lost[:3]}"
        for lookup in found:
            for settled in lookup.payments:
                if settled.payment.state in FINAL_STATES:
                    outcomes.final[settled.payment.payment_id] = settled
        before = len(waiting)
        waiting = [payment_id for payment_id in waiting if payment_id not in outcomes.final]
        progress.report("settling", refused + len(outcomes.final), total)
        if len(waiting) < before:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > STALL_LIMIT_S:
            raise SettlementStalledError(
                f"{len(waiting):,} payments not settled after {STALL_LIMIT_S:g} s without progress"
            )
        if waiting:
            await asyncio.sleep(POLL_INTERVAL_S)
    return outcomes


def measure(
    mode: SettlementMode,
    payments: int,
    outcomes: Outcomes,
    sign_s: float,
    accept_s: float,
    setup_gas: int,
    service_cpu_s: float,
) -> ReplayMeasurement:
    """The replay's figures, timed on the service's clock from acceptance to confirmation."""
    settled = outcomes.settled()
    records: list[PaymentOut] = [p.payment for p in outcomes.final.values()]
    first_accepted = min((r.accepted_at for r in records), default=0.0)
    last_final = max((r.confirmed_at or r.accepted_at for r in records), default=0.0)
    timeline = Timeline.of(
        [r.accepted_at for r in records],
        [r.confirmed_at if r.state is PaymentState.CONFIRMED else None for r in records],
    )
    gas_shares = [(p.transaction_gas_used or 0) / (p.payments_in_transaction or 1) for p in settled]
    return ReplayMeasurement(
        mode=mode.value,
        payments=payments,
        settled=len(settled),
        failed=len(records) - len(settled),
        transactions=len({p.tx_hash for p in settled if p.tx_hash}),
        sign_s=sign_s,
        accept_s=accept_s,
        # Windows settle while later payments still arrive, so settling runs from the first
        # acceptance to the last confirmation: settled/s is the end-to-end rate.
        settle_s=max(last_final - first_accepted, 1e-9),
        end_to_end_s=max(last_final - first_accepted, 1e-9),
        gas_total=round(sum(gas_shares)),
        setup_gas=setup_gas,
        latency_ms_p50=timeline.latency_ms(50),
        latency_ms_p95=timeline.latency_ms(95),
        latency_ms_p99=timeline.latency_ms(99),
        service_cpu_s=service_cpu_s,
        timeline=timeline,
    )

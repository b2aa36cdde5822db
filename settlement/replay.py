"""Replay signed payments through a running service in one mode, and measure what that took.

A replay names its participants by private key and lists the payments between them by index, so
the bench's recorded workload (``workload_replay``) and a fleet's payment stream
(``robots.settle``) both feed it. Replaying one:

1. funds every participant for what it pays: tokens on chain (at least one base unit each, so a
   payee's first credit is not the write that creates its balance, as in steady state), ether for
   direct payers, a deposit on the baseline ledger in ledger mode, and in the escrowed modes a
   channel per payer and payee pair or a net-settlement deposit per payer (and an open
   net-settlement account per payee, as in steady state), whose gas is reported apart as setup
   gas;
2. signs every payment as its payer (direct transactions in parallel processes);
3. submits the payments in chunks and settles rounds until nothing is queued, in waves no larger
   than the service's queue;
4. measures acceptance, settlement, confirmation latency, gas and the service's CPU time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from settlement.chain.operator_calls import send_operator_calls
from settlement.domain.payments import Purpose, SettlementMode
from settlement.domain.timeline import Timeline
from settlement.errors import SettlementStalledError
from settlement.faucet import Grant
from settlement.runtime import Runtime
from settlement.service import RoundReport, SettlementService
from settlement.settlers.base import PaymentSubmission
from settlement.settlers.ledger import deposit
from settlement.terms import signing_terms
from settlement.wallet import ChainTerms, PayerWallet
from settlement.workload import Workload, workload_idempotency_key

ACCEPT_CHUNK = 1_000
ETH_FOR_DIRECT_PAYERS_WEI = 10 * 10**18
# A round settles up to its settler's round limit, 2,000 payments or more, so this many rounds
# settle any wave the service's queue can hold; needing more means settling has stalled.
MAX_SETTLE_ROUNDS_PER_WAVE = 10_000
# Progress is passed on at most this often, so a caller may redraw on every report.
PROGRESS_INTERVAL_S = 0.25
LEDGER_FUNDING_REFERENCE = b"replay funding"
# Payee accounts opened per openAccounts transaction: about 23k gas each, so a call stays far
# below a 30M-gas block.
NET_ACCOUNTS_OPENED_PER_CALL = 500

# (phase, done, total); the phases are "funding", "signing", "accepting" and "settling".
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReplayPayment:
    """One payment, its payer and payee as indices into the replay's participants."""

    payer: int
    payee: int
    amount_base_units: int
    purpose: Purpose
    idempotency_key: str


@dataclass(frozen=True)
class Replay:
    """Participants (private keys of local test accounts) and the payments between them, in the
    order they are signed and submitted."""

    participant_keys: list[bytes]
    payments: list[ReplayPayment]

    def __post_init__(self) -> None:
        count = len(self.participant_keys)
        assert self.payments, "a replay holds at least one payment"
        assert all(0 <= p.payer < count and 0 <= p.payee < count for p in self.payments)

    def owed_per_payer(self) -> dict[int, int]:
        """What each payer pays in all, payers in the order of their first payment."""
        owed: dict[int, int] = {}
        for payment in self.payments:
            owed[payment.payer] = owed.get(payment.payer, 0) + payment.amount_base_units
        return owed

    def owed_per_pair(self) -> dict[tuple[int, int], int]:
        """What each payer pays each payee in all, in the order of their first payment."""
        owed: dict[tuple[int, int], int] = {}
        for payment in self.payments:
            pair = (payment.payer, payment.payee)
            owed[pair] = owed.get(pair, 0) + payment.amount_base_units
        return owed


def workload_replay(workload: Workload) -> Replay:
    """The workload's payers, then its payees, as one list of participants."""
    keys = [workload.payer_key(index) for index in range(workload.payer_count)]
    keys += [workload.payee_key(index) for index in range(workload.payee_count)]
    payments = [
        ReplayPayment(
            payment.payer,
            workload.payer_count + payment.payee,
            payment.amount_base_units,
            payment.purpose,
            workload_idempotency_key(index),
        )
        for index, payment in enumerate(workload.payments)
    ]
    return Replay(keys, payments)


@dataclass(frozen=True)
class ReplayMeasurement:
    """The figures of one replay, as the bench records them (times in seconds)."""

    mode: str
    payments: int
    settled: int
    failed: int
    transactions: int
    sign_s: float
    accept_s: float
    settle_s: float
    end_to_end_s: float
    gas_total: int
    setup_gas: int
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    # This process's CPU time (verification, store, book, relaying), not Anvil's.
    service_cpu_s: float
    # Acceptances and confirmations over time, and the latency distribution.
    timeline: Timeline

    @property
    def accepted_per_s(self) -> float:
        return self.payments / self.accept_s

    @property
    def settled_per_s(self) -> float:
        return self.settled / self.settle_s

    @property
    def end_to_end_per_s(self) -> float:
        return self.settled / self.end_to_end_s

    @property
    def gas_per_payment(self) -> float:
        return self.gas_total / max(self.settled, 1)

    @property
    def cpu_ns_per_payment(self) -> int:
        return round(self.service_cpu_s * 1e9 / max(self.settled, 1))

    @property
    def all_in_gas_per_payment(self) -> float:
        return (self.gas_total + self.setup_gas) / max(self.settled, 1)


@dataclass(frozen=True)
class ReplayOutcome:
    """The measurement, and the payments the service would not accept."""

    measurement: ReplayMeasurement
    # Payments the service refused at acceptance, by reason; they are in no other figure.
    refusals: dict[str, int]


class ThrottledProgress:
    """Passes progress on at most every ``PROGRESS_INTERVAL_S``, but always a phase's first and
    last report."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._phase = ""
        self._reported_at = 0.0

    def report(self, phase: str, done: int, total: int) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if phase == self._phase and done < total and now - self._reported_at < PROGRESS_INTERVAL_S:
            return
        self._phase, self._reported_at = phase, now
        self._callback(phase, done, total)


@dataclass
class SettleTally:
    """What the rounds of a replay settled so far."""

    settled: int = 0
    failed: int = 0
    transactions: int = 0
    gas_total: int = 0

    def add(self, report: RoundReport) -> None:
        self.settled += report.settled
        self.failed += report.failed
        self.transactions += report.transactions
        self.gas_total += sum(mined.gas_used for mined in report.mined)


async def replay_payments(
    runtime: Runtime,
    mode: SettlementMode,
    replay: Replay,
    on_progress: ProgressCallback | None = None,
) -> ReplayOutcome:
    """Fund, sign, submit and settle every payment of ``replay`` in ``mode``; the figures."""
    progress = ThrottledProgress(on_progress)
    # Funding is two steps: the participants' own money, then what the escrowed modes lock up.
    progress.report("funding", 0, 2)
    wallets = await fund_participants(runtime, replay, mode)
    progress.report("funding", 1, 2)
    terms = await chain_terms(runtime)
    setup_gas = await fund_escrow(runtime, replay, mode, wallets, terms)
    progress.report("funding", 2, 2)
    started = time.perf_counter()
    submissions = sign_all(mode, replay, wallets, terms, progress)
    sign_s = time.perf_counter() - started
    return await submit_and_settle(runtime, mode, submissions, sign_s, setup_gas, progress)


async def fund_participants(
    runtime: Runtime, replay: Replay, mode: SettlementMode
) -> list[PayerWallet]:
    """Give every participant what it pays, in the form ``mode`` spends; its wallet."""
    wallets = [PayerWallet(key) for key in replay.participant_keys]
    owed = replay.owed_per_payer()
    if mode is SettlementMode.LEDGER:
        # The baseline's money is a deposit on the ledger, not tokens on chain.
        for payer, amount in owed.items():
            result = deposit(
                runtime.ledger, wallets[payer].address, amount, LEDGER_FUNDING_REFERENCE
            )
            assert result == "ok", f"funding {wallets[payer].address} on the ledger: {result}"
        return wallets
    await runtime.faucet.top_up(funding_grants(replay, mode, wallets))
    return wallets


def funding_grants(
    replay: Replay, mode: SettlementMode, wallets: Sequence[PayerWallet]
) -> list[Grant]:
    """Tokens for all each participant pays, ether for direct payers' gas."""
    owed = replay.owed_per_payer()
    pays_gas = mode is SettlementMode.DIRECT
    return [
        Grant(
            wallet.address,
            # At least one base unit each, so a payee's first credit is not the write that
            # creates its balance, as in steady state.
            max(owed.get(index, 0), 1),
            ETH_FOR_DIRECT_PAYERS_WEI if pays_gas and index in owed else 0,
        )
        for index, wallet in enumerate(wallets)
    ]


async def send_all(runtime: Runtime, calls: Sequence[tuple[str, str]]) -> int:
    return await send_operator_calls(runtime.session.client, runtime.session.operator, calls)


async def fund_escrow(
    runtime: Runtime,
    replay: Replay,
    mode: SettlementMode,
    wallets: list[PayerWallet],
    terms: ChainTerms,
) -> int:
    """Open the channels or make the deposits the replay needs; the gas that took."""
    if mode is SettlementMode.CHANNEL:
        return await open_channels(runtime, replay, wallets, terms)
    if mode is SettlementMode.NET:
        return await deposit_for_net(runtime, replay, wallets, terms)
    return 0


async def open_channels(
    runtime: Runtime, replay: Replay, wallets: list[PayerWallet], terms: ChainTerms
) -> int:
    """One channel per payer and payee pair, holding all the payer pays the payee."""
    channels = runtime.contracts.channels
    assert channels is not None, "channel mode needs the channel contract"
    calls = []
    for (payer, payee), amount in replay.owed_per_pair().items():
        payee_address = wallets[payee].address
        salt, funding = wallets[payer].channel_funding(payee_address, amount, terms)
        arguments = (funding.valid_after, funding.valid_before, funding.signature)
        calls.append(
            (
                channels.address,
                channels.encode("open", funding.payer, payee_address, salt, amount, *arguments),
            )
        )
    gas = await send_all(runtime, calls)
    for wallet in wallets:  # booked now, so acceptance does not read the chain
        for channel in wallet.channels.values():
            await runtime.escrow.channel(channel.channel_id)
    return gas


async def deposit_for_net(
    runtime: Runtime, replay: Replay, wallets: list[PayerWallet], terms: ChainTerms
) -> int:
    """One net-settlement deposit per payer, of all it pays, and every other payee's account
    opened: in steady state a payee has been paid before, so its first credit in the replay is
    not the write that creates its state (as with the tokens each participant holds)."""
    net = runtime.contracts.net
    assert net is not None, "net mode needs the net-settlement contract"
    calls = []
    owed = replay.owed_per_payer()
    for payer, amount in owed.items():
        funding = wallets[payer].net_deposit(amount, terms)
        arguments = (funding.valid_after, funding.valid_before, funding.nonce, funding.signature)
        calls.append((net.address, net.encode("deposit", funding.payer, amount, *arguments)))
    gas = await send_all(runtime, calls)
    payees = list(dict.fromkeys(p.payee for p in replay.payments if p.payee not in owed))
    for start in range(0, len(payees), NET_ACCOUNTS_OPENED_PER_CALL):
        chunk = payees[start : start + NET_ACCOUNTS_OPENED_PER_CALL]
        receipt = await net.open_accounts(
            runtime.session.operator, [wallets[index].address for index in chunk]
        )
        gas += receipt.gas_used
    return gas


async def chain_terms(runtime: Runtime) -> ChainTerms:
    contracts = runtime.contracts
    return await signing_terms(
        runtime.session.client, runtime.token, contracts.channels, contracts.net
    )


def sign_all(
    mode: SettlementMode,
    replay: Replay,
    wallets: list[PayerWallet],
    terms: ChainTerms,
    progress: ThrottledProgress,
) -> list[PaymentSubmission]:
    """Every payer signs its payments, in the replay's order."""
    if mode is SettlementMode.DIRECT:
        return sign_direct_in_parallel(replay, wallets, terms, progress)
    submissions = []
    for payment in replay.payments:
        submissions.append(
            wallets[payment.payer].submission(
                mode,
                payment.idempotency_key,
                wallets[payment.payee].address,
                payment.amount_base_units,
                payment.purpose,
                terms,
            )
        )
        progress.report("signing", len(submissions), len(replay.payments))
    return submissions


# A direct payment to sign in a worker process: its place in the replay, the payee's address.
DirectOrder = tuple[int, str, ReplayPayment]


def sign_direct_in_parallel(
    replay: Replay, wallets: list[PayerWallet], terms: ChainTerms, progress: ThrottledProgress
) -> list[PaymentSubmission]:
    """Each payer's transactions in nonce order, payers spread over processes (signing an
    EIP-1559 transaction is the slowest of the instruments)."""
    by_payer: dict[int, list[DirectOrder]] = {}
    for index, payment in enumerate(replay.payments):
        order = (index, wallets[payment.payee].address, payment)
        by_payer.setdefault(payment.payer, []).append(order)
    signed: list[tuple[int, PaymentSubmission]] = []
    with ProcessPoolExecutor() as pool:
        chunks = pool.map(
            sign_direct_chunk,
            [replay.participant_keys[payer] for payer in by_payer],
            list(by_payer.values()),
            [terms] * len(by_payer),
        )
        for chunk in chunks:
            signed.extend(chunk)
            progress.report("signing", len(signed), len(replay.payments))
    return [submission for _, submission in sorted(signed, key=lambda item: item[0])]


def sign_direct_chunk(
    private_key: bytes, orders: list[DirectOrder], terms: ChainTerms
) -> list[tuple[int, PaymentSubmission]]:
    wallet = PayerWallet(private_key)
    return [
        (
            index,
            wallet.submission(
                SettlementMode.DIRECT,
                payment.idempotency_key,
                payee,
                payment.amount_base_units,
                payment.purpose,
                terms,
            ),
        )
        for index, payee, payment in orders
    ]


async def submit_and_settle(
    runtime: Runtime,
    mode: SettlementMode,
    submissions: list[PaymentSubmission],
    sign_s: float,
    setup_gas: int,
    progress: ThrottledProgress,
) -> ReplayOutcome:
    """Submit the payments in waves the service's queue can hold, settling each wave before the
    next (one wave for the bench, so settling starts once every payment is accepted)."""
    service, total = runtime.service, len(submissions)
    tally, refusals = SettleTally(), Counter[str]()
    accept_s = settle_s = 0.0
    first_submitted = time.perf_counter()
    cpu_started = time.process_time()
    for wave_start in range(0, total, service.max_queued):
        wave_end = min(wave_start + service.max_queued, total)
        accept_started = time.perf_counter()
        refusals += await accept_wave(service, submissions, wave_start, wave_end, progress)
        settle_started = time.perf_counter()
        accept_s += settle_started - accept_started
        await settle_wave(service, mode, tally, progress, refusals.total(), total)
        settle_s += time.perf_counter() - settle_started
    finished = time.perf_counter()
    service_cpu_s = time.process_time() - cpu_started
    timings = await runtime.store.payment_timings(mode)
    timeline = Timeline.of([a for a, _ in timings], [c for _, c in timings])
    measurement = ReplayMeasurement(
        mode=mode.value,
        payments=total,
        settled=tally.settled,
        failed=tally.failed,
        transactions=tally.transactions,
        sign_s=sign_s,
        accept_s=accept_s,
        settle_s=settle_s,
        end_to_end_s=finished - first_submitted,
        gas_total=tally.gas_total,
        setup_gas=setup_gas,
        latency_ms_p50=timeline.latency_ms(50),
        latency_ms_p95=timeline.latency_ms(95),
        latency_ms_p99=timeline.latency_ms(99),
        service_cpu_s=service_cpu_s,
        timeline=timeline,
    )
    return ReplayOutcome(measurement, dict(refusals))


async def accept_wave(
    service: SettlementService,
    submissions: list[PaymentSubmission],
    wave_start: int,
    wave_end: int,
    progress: ThrottledProgress,
) -> Counter[str]:
    """Submit ``submissions[wave_start:wave_end]`` in chunks; how many were refused, by reason."""
    refusals = Counter[str]()
    for start in range(wave_start, wave_end, ACCEPT_CHUNK):
        outcomes = await service.submit(submissions[start : min(start + ACCEPT_CHUNK, wave_end)])
        refusals.update(outcome.rejection for outcome in outcomes if outcome.rejection)
        progress.report("accepting", min(start + ACCEPT_CHUNK, wave_end), len(submissions))
    return refusals


async def settle_wave(
    service: SettlementService,
    mode: SettlementMode,
    tally: SettleTally,
    progress: ThrottledProgress,
    refused: int,
    total: int,
) -> None:
    """Settle rounds until nothing is queued; ``refused`` payments count as done for progress."""
    for _ in range(MAX_SETTLE_ROUNDS_PER_WAVE):
        report = await service.settle_round(mode)
        if report.transactions == 0 and report.settled + report.failed == 0:
            # Nothing was left to lease (the ledger settles without transactions), unless a
            # settler kept putting payments back for later.
            queued = await service.store.count_queued()
            if queued:
                raise SettlementStalledError(f"{mode.value}: {queued:,} payments stay queued")
            return
        tally.add(report)
        progress.report("settling", refused + tally.settled + tally.failed, total)
    raise SettlementStalledError(
        f"{mode.value}: payments still queued after {MAX_SETTLE_ROUNDS_PER_WAVE:,} rounds"
    )

"""Replay the billionth economy's busiest hour through `settlement serve` over HTTP, in real time.

    python bench/realtime_billionth.py                    # its first 2 minutes, at 1x and at 10x
    python bench/realtime_billionth.py --minutes 60 --speeds 1 --workers 2
    python bench/realtime_billionth.py --stream runs/billionth     # a day `robots simulate` wrote

Does the service keep up with the economy it settles? For each speed, on a fresh chain and store:

1. the billionth scenario's day runs (or is read from ``--stream``) and its busiest hour is found;
   the replay takes that hour's first ``--minutes`` minutes, with every robot, farm and consumer
   that pays or is paid in them (not a sample);
2. Anvil starts, then ``settlement serve --mode net --workers N`` on it (``--database-url``, or
   SQLite in a temporary folder);
3. every participant's net deposit is funded: the deposits' sum is minted to the NetSettlement
   contract through the service's faucet, then each account's deposit is written into the
   contract's storage through Anvil (``anvil_setStorageAt``) and read back with ``balanceOf``.
   Hundreds of thousands of deposit transactions would take most of an hour on Anvil; funding is
   set-up, not what is measured;
4. every payer signs its payments before the clock starts, in a process pool: robots sign on
   their own hardware, so the fleet's signing is kept off the service's cores;
5. payments are offered at the rate they happened: each simulated minute's payments spread
   evenly over it (divided by the speed), gathered every ``--tick-ms`` into batch requests
   (``POST /v1/payments/batch``, up to 1,000 each) as a fleet's gateway would send them. The load
   is open loop, at most ``--concurrency`` requests in flight;
6. every second ``GET /v1/stats`` gives the queue's depth and the payments confirmed so far;
7. the offer stops early once the oldest payment due but not yet answered has waited more than
   ``--max-lag-s``: the service has fallen behind, and more load would only measure the backlog;
8. then the script waits up to ``--drain-timeout`` s for the queue to empty and looks every
   accepted payment up: acceptance-to-confirmation percentiles come from the service's clock, and
   a payment neither confirmed nor failed counts as lost.

The service kept up at a speed when the whole span was offered, every payment was accepted with
the lag within bounds, and settling matched accepting (confirmed within ``--p99-bound-s`` at the
99th percentile). Figures go to ``--out``/realtime_results.json; the exit code is 0 when nothing
was lost (keeping up or not is the finding, not an error).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import uvloop
from lean_http import LeanAnswer, LeanHttpError, LeanHttpPool
from load_test import (
    LoadTestError,
    SpawnedService,
    cpu_seconds,
    distribution_ms,
    rss_bytes,
    spawned_service,
)
from rich.console import Console
from rich.table import Table

from robots.run import read_run, simulate, write_run
from robots.scenario import load_scenario
from robots.stream import PURPOSES, PaymentStream, participant_key
from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
from settlement.chain.client import ChainClient
from settlement.client import SettlementClient
from settlement.domain.eip712 import keccak256
from settlement.domain.payments import PaymentState, SettlementMode
from settlement.remote_replay import chain_terms, payment_body
from settlement.wallet import ChainTerms, PayerWallet

DEFAULT_SCENARIO = "billionth"
BATCH_LIMIT = 1_000
LOOKUP_CHUNK = 1_000
STORAGE_WRITES_PER_CALL = 2_000
# NetSettlement's storage: AccessControl's roles take slot 0, the accounts mapping slot 1, and an
# account's balance is the first word of its struct. Checked by reading balanceOf back.
ACCOUNTS_MAPPING_SLOT = 1
BALANCE_OF = bytes.fromhex("70a08231")
PROGRESS_EVERY_S = 5.0
STATS_EVERY_S = 1.0
CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
console = Console(width=110)


class RealtimeError(Exception):
    """The benchmark could not be set up or run; one line says why."""


# ---------------------------------------------------------------- the busiest hour


@dataclass(frozen=True)
class Span:
    """The replayed payments: rows of the day's stream, and when each is due in simulated
    seconds from the span's start."""

    stream: PaymentStream
    rows: np.ndarray
    due_s: np.ndarray
    hour: int
    hour_payments: int
    minutes: int

    @cached_property
    def participants(self) -> np.ndarray:
        """Everyone who pays or is paid in the span (a sort of every payment's two parties,
        kept: every speed's run asks)."""
        return np.unique(
            np.concatenate([self.stream.payers[self.rows], self.stream.payees[self.rows]])
        )

    @property
    def offered_per_s(self) -> float:
        return len(self.rows) / (self.minutes * 60)


def day_stream(name: str, stream_folder: Path | None, seed: int, keep: Path) -> PaymentStream:
    """The scenario's day of payments: read from a folder ``robots simulate`` wrote, or
    simulated now (about two minutes for billionth) and kept in ``keep`` for the next run."""
    for folder in (stream_folder, keep):
        if folder is not None and (folder / "stream.npz").exists():
            scenario, found_seed, stream = read_run(folder)
            if folder is stream_folder or (scenario.name == name and found_seed == seed):
                console.print(f"the day's {len(stream):,} payments read from {folder}")
                return stream
    if stream_folder is not None:
        raise RealtimeError(f"{stream_folder} holds no stream.npz: run robots simulate --out there")
    console.print(f"simulating the {name} day (seed {seed}) ...")
    scenario = load_scenario(name, {})
    model, summary = simulate(scenario, seed)
    stream = write_run(keep, model, summary)
    console.print(f"{len(stream):,} payments in {summary.wall_s:.0f} s, kept in {keep}")
    return stream


def busiest_span(stream: PaymentStream, minutes: int, steps_per_hour: int) -> Span:
    """The first ``minutes`` of the hour with the most payments, each payment due at an even
    spread through the step it was made in."""
    hours = stream.steps // steps_per_hour
    per_hour = np.bincount(hours)
    hour = int(per_hour.argmax())
    first_step = hour * steps_per_hour
    step_s = 3600 / steps_per_hour
    last_step = first_step + int(minutes * 60 / step_s)
    rows = np.flatnonzero((stream.steps >= first_step) & (stream.steps < last_step))
    steps = stream.steps[rows] - first_step
    # Position of each payment within its step, in stream order: 0, 1/n, 2/n, ...
    starts = np.searchsorted(steps, np.arange(steps.max() + 1))
    counts = np.bincount(steps)
    within = (np.arange(len(rows)) - starts[steps]) / counts[steps]
    due = (steps + within) * step_s
    return Span(stream, rows, due, hour, int(per_hour[hour]), minutes)


# ---------------------------------------------------------------- signing in a process pool


@dataclass(frozen=True)
class SigningJob:
    seed: int
    tag: str
    terms: ChainTerms
    # (payer index, payee address, amount, purpose index, idempotency key, due s)
    payments: list[tuple[int, str, int, int, str, float]]


def sign_job(job: SigningJob) -> list[bytes]:
    """One worker's share: each payment signed by its payer, as the JSON the batch route takes.

    A payment's validity runs from when it is due, so a long span's last payments are as fresh
    as its first."""
    wallets: dict[int, PayerWallet] = {}
    signed = []
    for payer, payee, amount, purpose, key, due_s in job.payments:
        wallet = wallets.get(payer)
        if wallet is None:
            wallet = wallets[payer] = PayerWallet(participant_key(job.seed, payer, job.tag))
        terms = replace(job.terms, chain_time=job.terms.chain_time + int(due_s))
        submission = wallet.submission(
            SettlementMode.NET, key, payee, amount, PURPOSES[purpose], terms
        )
        signed.append(json.dumps(payment_body(submission), separators=(",", ":")).encode())
    return signed


def addresses_job(seed: int, tag: str, indices: list[int]) -> list[str]:
    return [PayerWallet(participant_key(seed, i, tag)).address for i in indices]


def participant_addresses(
    pool: ProcessPoolExecutor, span: Span, tag: str, processes: int
) -> dict[int, str]:
    members = [int(m) for m in span.participants]
    shares = [members[i::processes] for i in range(processes)]
    found = pool.map(addresses_job, [span.stream.seed] * processes, [tag] * processes, shares)
    return {
        index: address
        for share, got in zip(shares, found, strict=True)
        for index, address in zip(share, got, strict=True)
    }


def sign_span(
    pool: ProcessPoolExecutor,
    span: Span,
    tag: str,
    terms: ChainTerms,
    addresses: dict[int, str],
    processes: int,
    speed: float,
) -> list[bytes]:
    """Every payment of the span signed, in due order; each payer's in one process, so its
    wallet is made once."""
    stream = span.stream
    jobs: list[list[tuple[int, str, int, int, str, float]]] = [[] for _ in range(processes)]
    where: list[tuple[int, int]] = []
    for n, row in enumerate(span.rows):
        payer = int(stream.payers[row])
        lane = payer % processes
        where.append((lane, len(jobs[lane])))
        jobs[lane].append(
            (
                payer,
                addresses[int(stream.payees[row])],
                int(stream.amounts_base_units[row]),
                int(stream.purposes[row]),
                f"rt-{tag}-{n}",
                float(span.due_s[n]) / speed,
            )
        )
    signed = list(pool.map(sign_job, [SigningJob(stream.seed, tag, terms, job) for job in jobs]))
    return [signed[lane][position] for lane, position in where]


# ---------------------------------------------------------------- funding


def balance_slot(account: str) -> str:
    word = bytes(12) + bytes.fromhex(account[2:]) + ACCOUNTS_MAPPING_SLOT.to_bytes(32, "big")
    return "0x" + keccak256(word).hex()


async def fund_deposits(
    service: SettlementClient, rpc_url: str, net: str, deposits: dict[str, int]
) -> None:
    """Each account's deposit in the NetSettlement contract, the tokens behind them minted to it."""
    await service.faucet([{"address": net, "token_base_units": sum(deposits.values())}])
    async with await ChainClient.connect(rpc_url) as chain:
        writes = [
            ("anvil_setStorageAt", [net, balance_slot(a), "0x" + amount.to_bytes(32, "big").hex()])
            for a, amount in deposits.items()
        ]
        for start in range(0, len(writes), STORAGE_WRITES_PER_CALL):
            answers = await chain.batch_request(writes[start : start + STORAGE_WRITES_PER_CALL])
            refused = [answer["error"] for answer in answers if "error" in answer]
            if refused:
                raise RealtimeError(f"Anvil refused a deposit write: {refused[0]}")
        accounts = list(deposits)
        sample = accounts[:: max(1, len(accounts) // 50)]
        calls = [
            (
                "eth_call",
                [
                    {
                        "to": net,
                        "data": "0x" + (BALANCE_OF + bytes(12) + bytes.fromhex(a[2:])).hex(),
                    },
                    "latest",
                ],
            )
            for a in sample
        ]
        for account, answer in zip(sample, await chain.batch_request(calls), strict=True):
            held = int(answer["result"], 16)
            if held != deposits[account]:
                raise RealtimeError(
                    "NetSettlement's storage layout is not the one this script writes: "
                    f"balanceOf({account}) reads {held}, not {deposits[account]}"
                )


def deposits_owed(span: Span, addresses: dict[int, str]) -> dict[str, int]:
    """What each participant pays in the span, and at least one base unit each, so a payee's
    first credit is not the write that creates its balance, as in steady state."""
    stream = span.stream
    owed = np.zeros(stream.participant_count, dtype=np.int64)
    np.add.at(owed, stream.payers[span.rows], stream.amounts_base_units[span.rows])
    return {address: max(int(owed[index]), 1) for index, address in addresses.items()}


# ---------------------------------------------------------------- the offer


@dataclass
class Offer:
    """What the fleet sent and what the service answered, as the run went."""

    due: int = 0
    answered: int = 0
    accepted_ids: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    request_s: list[float] = field(default_factory=list)
    unsent: int = 0
    stopped_early: str | None = None
    offered_s: float = 0.0
    outstanding: dict[int, float] = field(default_factory=dict)

    def lag_s(self, now: float) -> float:
        return now - min(self.outstanding.values()) if self.outstanding else 0.0


@dataclass
class StatsSample:
    at_s: float
    queued: int
    confirmed: int
    failed: int
    answered: int
    lag_s: float


async def offer_span(
    http: LeanHttpPool,
    bodies: Sequence[bytes],
    due_s: np.ndarray,
    arguments: argparse.Namespace,
    offer: Offer,
    started: float,
) -> None:
    """Send each tick's due payments as batch requests, open loop, until all are answered or
    the oldest unanswered one is more than ``--max-lag-s`` late; then what was not yet sent
    stays unsent."""
    in_flight: set[asyncio.Task[None]] = set()
    gate = asyncio.Semaphore(arguments.concurrency)
    sent = number = 0
    tick_s = arguments.tick_ms / 1000
    while (sent < len(bodies) or in_flight) and not offer.stopped_early:
        now = time.monotonic() - started
        if offer.lag_s(now) > arguments.max_lag_s:
            offer.stopped_early = (
                f"at {now:.0f} s: payments due {offer.lag_s(now):.0f} s before still unanswered"
            )
            break
        upto = int(np.searchsorted(due_s, now, side="right"))
        for start in range(sent, upto, BATCH_LIMIT):
            chunk = bodies[start : min(upto, start + BATCH_LIMIT)]
            number += 1
            offer.outstanding[number] = float(due_s[start])
            offer.due += len(chunk)
            body = b'{"payments":[' + b",".join(chunk) + b"]}"
            request = http.post_request("/v1/payments/batch", body)
            task = asyncio.create_task(send_batch(http, gate, request, len(chunk), number, offer))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        sent = max(sent, upto)
        offer.offered_s = time.monotonic() - started
        await asyncio.sleep(tick_s)
    if in_flight:
        await asyncio.gather(*in_flight)


async def send_batch(
    http: LeanHttpPool,
    gate: asyncio.Semaphore,
    request: bytes,
    count: int,
    number: int,
    offer: Offer,
) -> None:
    """One batch request once a slot is free; not sent at all once the offer has stopped."""
    async with gate:
        if offer.stopped_early:
            offer.unsent += count
            offer.outstanding.pop(number, None)
            return
        began = time.monotonic()
        try:
            answer = await http.send(request)
        except LeanHttpError as error:
            offer.refused[f"no answer: {error}"] += count
        else:
            record_answer(answer, count, offer)
        offer.request_s.append(time.monotonic() - began)
    offer.answered += count
    offer.outstanding.pop(number, None)


def record_answer(answer: LeanAnswer, count: int, offer: Offer) -> None:
    if answer.status != 200:
        offer.refused[f"HTTP {answer.status}"] += count
        return
    for result in answer.json()["results"]:
        if result["payment"] is None:
            offer.refused[result.get("rejection") or f"status {result['status']}"] += 1
        else:
            offer.accepted_ids.append(result["payment_id"])


async def watch_stats(
    client: SettlementClient,
    offer: Offer,
    started: float,
    samples: list[StatsSample],
    stop: asyncio.Event,
) -> None:
    next_progress = PROGRESS_EVERY_S
    while not stop.is_set():
        stats = await client.stats()
        now = time.monotonic() - started
        counts = next((m.counts for m in stats.modes if m.mode is SettlementMode.NET), {})
        samples.append(
            StatsSample(
                round(now, 2),
                stats.queued,
                counts.get(PaymentState.CONFIRMED, 0),
                counts.get(PaymentState.FAILED, 0),
                offer.answered,
                round(offer.lag_s(now), 2),
            )
        )
        if now >= next_progress:
            next_progress += PROGRESS_EVERY_S
            last = samples[-1]
            console.print(
                f"  {now:5.0f} s  due {offer.due:>9,}  answered {last.answered:>9,}  "
                f"queued {last.queued:>8,}  confirmed {last.confirmed:>9,}  lag {last.lag_s:5.1f} s"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STATS_EVERY_S)


# ---------------------------------------------------------------- after the offer


async def settled_figures(
    client: SettlementClient, ids: Sequence[str], timeout_s: float
) -> dict[str, Any]:
    """Wait for every accepted payment to be final; acceptance-to-confirmation times from the
    service's clock, failures by reason, and what was lost."""
    deadline = time.monotonic() + timeout_s
    final: dict[str, tuple[PaymentState, float | None, str | None]] = {}
    accepted_at: dict[str, float] = {}
    waiting = list(ids)
    while waiting and time.monotonic() < deadline:
        for start in range(0, len(waiting), LOOKUP_CHUNK):
            found = await client.lookup_payments(waiting[start : start + LOOKUP_CHUNK])
            for settled in found.payments:
                payment = settled.payment
                accepted_at[payment.payment_id] = payment.accepted_at
                if payment.state in (PaymentState.CONFIRMED, PaymentState.FAILED):
                    final[payment.payment_id] = (
                        payment.state,
                        payment.confirmed_at,
                        payment.failure_reason,
                    )
        waiting = [p for p in waiting if p not in final]
        if waiting:
            await asyncio.sleep(1.0)
    confirmed = [
        (accepted_at[p], c) for p, (s, c, _) in final.items() if s is PaymentState.CONFIRMED and c
    ]
    failures = Counter(
        reason or "no reason" for s, _, reason in final.values() if s is PaymentState.FAILED
    )
    latency = sorted(c - a for a, c in confirmed)
    first = min((a for a, _ in confirmed), default=0.0)
    last = max((c for _, c in confirmed), default=0.0)
    return {
        "confirmed": len(confirmed),
        "failed": dict(failures),
        "lost": len(waiting),
        "acceptance_to_confirmation_ms": distribution_ms(latency),
        "first_accepted_to_last_confirmed_s": round(last - first, 2),
        "end_to_end_per_s": round(len(confirmed) / (last - first), 1) if last > first else 0.0,
    }


def rates_from(samples: Sequence[StatsSample], offered_s: float) -> dict[str, Any]:
    """Settled per second while the fleet offered, and the deepest queue."""
    during = [s for s in samples if s.at_s <= offered_s] or list(samples)
    if len(during) < 2:
        return {
            "settled_per_s_during_offer": 0.0,
            "max_queued": max((s.queued for s in samples), default=0),
        }
    span_s = during[-1].at_s - during[0].at_s
    return {
        "settled_per_s_during_offer": round(
            (during[-1].confirmed - during[0].confirmed) / span_s, 1
        ),
        "max_queued": max(s.queued for s in samples),
        "queued_at_end_of_offer": during[-1].queued,
    }


# ---------------------------------------------------------------- one speed


@contextmanager
def service_on_anvil(
    folder: Path, arguments: argparse.Namespace
) -> Iterator[tuple[SpawnedService, str]]:
    anvil = EmbeddedAnvil(find_anvil_binary(CONTRACTS_DIR))
    rpc_url = anvil.start()
    try:
        with spawned_service(
            SettlementMode.NET,
            folder,
            folder / "serve.log",
            workers=arguments.workers,
            rpc_url=rpc_url,
            database_url=arguments.database_url,
        ) as service:
            yield service, rpc_url
    finally:
        anvil.stop()


async def run_speed(
    span: Span, speed: float, arguments: argparse.Namespace, pool: ProcessPoolExecutor, folder: Path
) -> dict[str, Any]:
    tag = f"{speed:g}x-{os.getpid()}"
    console.print(
        f"\n[bold]{speed:g}x[/bold]: {len(span.rows):,} payments in "
        f"{span.minutes * 60 / speed:,.0f} s, "
        f"{span.offered_per_s * speed:,.0f}/s offered, {len(span.participants):,} participants"
    )
    with service_on_anvil(folder, arguments) as (service, rpc_url):
        async with SettlementClient(service.url, api_key=service.api_key, attempts=3) as client:
            terms = chain_terms(await client.terms())
            assert terms.net_domain is not None
            began = time.perf_counter()
            addresses = participant_addresses(pool, span, tag, arguments.processes)
            await fund_deposits(
                client, rpc_url, terms.net_domain.verifying_contract, deposits_owed(span, addresses)
            )
            funded_s = time.perf_counter() - began
            console.print(f"  funded {len(addresses):,} deposits in {funded_s:.0f} s; signing ...")
            began = time.perf_counter()
            bodies = sign_span(pool, span, tag, terms, addresses, arguments.processes, speed)
            signed_s = time.perf_counter() - began
            console.print(
                f"  signed {len(bodies):,} payments in {signed_s:.0f} s "
                f"({len(bodies) / signed_s:,.0f}/s on {arguments.processes} processes); "
                "offering ..."
            )
            http = LeanHttpPool(service.url, arguments.concurrency, arguments.request_timeout)
            offer, samples, stop = Offer(), list[StatsSample](), asyncio.Event()
            cpu_before = cpu_seconds(service.pid)
            started = time.monotonic()
            watcher = asyncio.create_task(watch_stats(client, offer, started, samples, stop))
            await offer_span(http, bodies, span.due_s / speed, arguments, offer, started)
            answered_s = time.monotonic() - started
            cpu_s = cpu_seconds(service.pid) - cpu_before
            console.print(
                f"  offer ended at {answered_s:.0f} s "
                f"({offer.stopped_early or 'the whole span'}); draining ..."
            )
            settled = await settled_figures(client, offer.accepted_ids, arguments.drain_timeout)
            stop.set()
            await watcher
            rss_mib = rss_bytes(service.pid) / 2**20
    rates = rates_from(samples, offer.offered_s)
    accepted = len(offer.accepted_ids)
    document = {
        "speed": speed,
        "offered_per_s": round(span.offered_per_s * speed, 1),
        "span_payments": len(bodies),
        "sent": offer.due - offer.unsent,
        "unsent": offer.unsent + len(bodies) - offer.due,
        "accepted": accepted,
        "refused": dict(offer.refused),
        "offered_s": round(offer.offered_s, 2),
        "stopped_early": offer.stopped_early,
        "accepted_per_s": round(accepted / answered_s, 1),
        **rates,
        **settled,
        "request_ms": distribution_ms(sorted(offer.request_s)),
        "service_cpu_cores": round(cpu_s / answered_s, 2),
        "service_rss_mib_at_end": round(rss_mib, 1),
        "funding_s": round(funded_s, 1),
        "signing_per_s": round(len(bodies) / signed_s, 1),
        "timeline": [asdict(s) for s in samples],
    }
    document["kept_up"], document["why_not"] = verdict(document, arguments.p99_bound_s)
    return document


def verdict(document: dict[str, Any], p99_bound_s: float) -> tuple[bool, str | None]:
    if document["stopped_early"]:
        return False, f"fell behind {document['stopped_early']}"
    if document["refused"]:
        return False, f"{sum(document['refused'].values()):,} payments refused"
    if document["lost"]:
        return False, f"{document['lost']:,} payments not final after the drain"
    p99_s = document["acceptance_to_confirmation_ms"]["p99"] / 1000
    if p99_s > p99_bound_s:
        return False, f"p99 acceptance to confirmation {p99_s:.1f} s > {p99_bound_s:g} s"
    return True, None


# ---------------------------------------------------------------- the command


def print_results(results: dict[str, Any]) -> None:
    table = Table(
        title=f"The {results['scenario']} economy's busiest hour (hour {results['hour']}: "
        f"{results['hour_payments']:,} payments), its first {results['minutes']} min, "
        "over HTTP in net mode"
    )
    rows = [
        ("offered payments/s", "offered_per_s", "{:,.0f}"),
        ("accepted payments/s", "accepted_per_s", "{:,.0f}"),
        ("settled payments/s while offered", "settled_per_s_during_offer", "{:,.0f}"),
        ("end to end payments/s", "end_to_end_per_s", "{:,.0f}"),
        ("deepest queue", "max_queued", "{:,}"),
        ("service CPU, cores", "service_cpu_cores", "{:.2f}"),
    ]
    table.add_column("")
    for run in results["runs"]:
        table.add_column(f"{run['speed']:g}x", justify="right")
    for label, key, form in rows:
        table.add_row(label, *(form.format(run.get(key, 0)) for run in results["runs"]))
    table.add_row(
        "p99 acceptance to confirmation",
        *(f"{r['acceptance_to_confirmation_ms']['p99'] / 1000:,.1f} s" for r in results["runs"]),
    )
    table.add_row(
        "accepted / sent / lost",
        *(f"{r['accepted']:,} / {r['sent']:,} / {r['lost']:,}" for r in results["runs"]),
    )
    table.add_row("kept up", *("yes" if r["kept_up"] else "no" for r in results["runs"]))
    console.print(table)
    for run in results["runs"]:
        if not run["kept_up"]:
            console.print(f"{run['speed']:g}x: {run['why_not']}")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--minutes", type=int, default=2, help="how much of the busiest hour (1-60)"
    )
    parser.add_argument("--speeds", default="1,10", help="comma-separated multiples of real time")
    parser.add_argument("--workers", type=int, default=2, help="settlement serve --workers")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="signing processes"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at most")
    parser.add_argument(
        "--tick-ms", type=float, default=100.0, help="how often due payments go out"
    )
    parser.add_argument(
        "--max-lag-s", type=float, default=10.0, help="stop offering once this far behind"
    )
    parser.add_argument(
        "--p99-bound-s", type=float, default=30.0, help="acceptance to confirmation"
    )
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO, help="a preset or TOML file")
    parser.add_argument(
        "--stream", type=Path, help="a folder robots simulate wrote for this scenario"
    )
    parser.add_argument(
        "--database-url", help="the service's store; SQLite in a temporary folder if not given"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/realtime"))
    arguments = parser.parse_args(argv)
    problems = [
        *(["--minutes must be in 1..60"] if not 1 <= arguments.minutes <= 60 else []),
        *(
            ["--workers, --processes and --concurrency must be at least 1"]
            if min(arguments.workers, arguments.processes, arguments.concurrency) < 1
            else []
        ),
        *(
            ["--tick-ms, --max-lag-s and --p99-bound-s must be positive"]
            if min(arguments.tick_ms, arguments.max_lag_s, arguments.p99_bound_s) <= 0
            else []
        ),
    ]
    try:
        arguments.speed_list = [float(s) for s in arguments.speeds.split(",")]
    except ValueError:
        problems.append(f"--speeds must be numbers separated by commas, not {arguments.speeds!r}")
    else:
        if any(s <= 0 for s in arguments.speed_list):
            problems.append("every speed must be positive")
    if problems:
        parser.error("; ".join(problems))
    return arguments


async def run(arguments: argparse.Namespace) -> dict[str, Any]:
    arguments.out.mkdir(parents=True, exist_ok=True)
    scenario = load_scenario(arguments.scenario, {})
    stream = day_stream(arguments.scenario, arguments.stream, arguments.seed, arguments.out / "day")
    span = busiest_span(stream, arguments.minutes, round(60 / scenario.step_minutes))
    console.print(
        f"busiest hour: hour {span.hour} with {span.hour_payments:,} payments "
        f"({span.hour_payments / 3600:,.0f}/s); replaying its first {span.minutes} min"
    )
    runs = []
    with ProcessPoolExecutor(arguments.processes) as pool, tempfile.TemporaryDirectory() as scratch:
        for speed in arguments.speed_list:
            folder = Path(scratch) / f"{speed:g}x"
            folder.mkdir()
            runs.append(await run_speed(span, speed, arguments, pool, folder))
    return {
        "scenario": arguments.scenario,
        "seed": arguments.seed,
        "hour": span.hour,
        "hour_payments": span.hour_payments,
        "day_payments": len(stream),
        "minutes": span.minutes,
        "participants": len(span.participants),
        "workers": arguments.workers,
        "command": "python bench/realtime_billionth.py " + " ".join(sys.argv[1:]),
        "runs": runs,
    }


def main(argv: Sequence[str]) -> int:
    arguments = parse_arguments(argv)
    try:
        results = uvloop.run(run(arguments))
    except (RealtimeError, LoadTestError) as error:
        print(f"realtime_billionth: {error}", file=sys.stderr)
        return 1
    (arguments.out / "realtime_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_results(results)
    console.print(f"figures in {arguments.out / 'realtime_results.json'}")
    return 1 if any(run["lost"] for run in results["runs"]) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

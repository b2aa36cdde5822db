"""Hold a steady rate of payments against a running service; print latency, errors and memory.

    python bench/load_test.py                            # 60 s at the default rate, batch mode
    python bench/load_test.py --rate 50 --duration 10 --mode authorization
    python bench/load_test.py --url http://127.0.0.1:8000 --pid 4242   # a service already running

Without ``--url`` the script starts ``settlement serve`` itself on 127.0.0.1 (embedded Anvil,
SQLite store in a temporary folder, only ``--mode`` enabled, a fresh operator key) and stops it
at the end. With ``--url`` it drives that service, which must listen on a loopback address and
have its operator key in ``SETTLEMENT_API_KEY`` (the faucet funds the payers); its process is
``--pid``, or the one this user runs that listens on the URL's port.

How the load is made:

1. fresh payers and payees are funded through the service (``POST /v1/faucet``, and the escrow or
   ledger routes in those modes; each payer gets twice what it pays) and every payment is signed
   before the clock starts, under the terms ``GET /v1/terms`` gives, as the remote fleet does
   (``settlement.remote_replay``);
2. each request is one ``POST /v1/payments`` carrying one payment: a robot paying as it goes,
   the most demanding shape for the API (the fleet's bulk route carries up to 1,000 per request);
3. the load is open-loop: request ``i`` is due at ``t0 + i / rate`` whatever the answers before
   it took, so a slow service does not lower the offered rate. At most ``--concurrency`` requests
   are in flight, and each payer is a robot paying one payment at a time, in order (channel
   vouchers and direct-mode nonces must arrive in sequence); payers take turns round-robin.
   Latency runs from the moment a request was due, so time spent waiting for a free slot or for
   the payer's previous answer counts (no coordinated omission); the service's own share (send to
   answer) is reported beside it;
4. the first ``--warmup`` seconds are left out of every figure but the settlement check, and the
   service's resident memory is read then ("start"), every second, and when the last answer is in
   ("end");
5. afterwards the script waits for the queue to drain (``GET /v1/stats``) and looks every accepted
   payment up (``POST /v1/payments/lookup``): each must have reached ``confirmed``.

Bounded in time and count: the plan is ``rate x (warmup + duration)`` requests, never more than
``--max-requests``; each request times out after ``--request-timeout`` seconds; draining gives up
after ``--drain-timeout`` seconds. The exit code is 0 only when every request was accepted, every
accepted payment settled, the memory grew by at most ``--max-rss-growth-mib`` and this client
offered at least 95% of ``--rate``; otherwise one line says why. A service answering slower than
that is a warning ("kept_up": false), its latency the measure. The figures go to
``--out``/load_results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import uvloop
from eth_account import Account
from lean_http import LeanAnswer, LeanHttpError, LeanHttpPool
from rich.console import Console
from rich.table import Table

from settlement.chain.anvil import free_loopback_port, holds_any, listening_sockets
from settlement.client import ServiceRequestError, SettlementClient
from settlement.domain.payments import PaymentState, Purpose, SettlementMode
from settlement.errors import SettlementError
from settlement.remote_replay import (
    chain_terms,
    fund_escrow,
    fund_participants,
    payment_body,
    ready_to_replay,
)
from settlement.replay import Replay, ReplayPayment, ThrottledProgress, sign_all
from settlement.runtime import SUPPORTED_MODES
from settlement.wallet import VALIDITY_S, PayerWallet

# The default stays the rate every earlier run was measured at, so figures compare over time.
# Before grouped acceptance a request cost the service 12-31 ms of CPU and 40/s was what it kept
# up with; now it answers several hundred a second (--saturate finds where it stops).
DEFAULT_RATE_PER_S = 40.0
DEFAULT_DURATION_S = 60.0
DEFAULT_WARMUP_S = 5.0
DEFAULT_CONCURRENCY = 32
DEFAULT_MAX_REQUESTS = 100_000
DEFAULT_PAYERS = 50
DEFAULT_PAYEES = 50
# Each payer pays this many regular suppliers, as the bench's workload does: a channel per pair.
PAYEES_PER_PAYER = 2
MAX_AMOUNT_BASE_UNITS = 10_000
# Payers hold twice what they pay, as a robot keeps a float. With exactly enough, the service
# refuses some payments as uncovered: it reads the balance at the latest block, where a mined
# settlement has already taken the money, and still counts those payments as owed until it has
# recorded their receipt (25 of 2,400 requests at 40/s were refused so).
FUNDING_HEADROOM = 2
# The service keeps no Python object per payment: payments live in the store, the dashboard's
# history covers a fixed few minutes. Its resident memory still creeps while SQLite's page caches
# (store and ledger, one per pooled connection, each capped) and the WAL fill: 4 to 10 MiB in the
# 30-60 s runs measured here, 23 MiB over 12,000 requests, with the Python heap growing by 3 MiB
# of that (tracemalloc). 24 MiB is two and a half times the worst 60 s seen, and still catches a
# leak of 10 KiB a request over a default run's 2,400; a smaller leak needs a longer --duration.
DEFAULT_MAX_RSS_GROWTH_MIB = 24.0
DEFAULT_REQUEST_TIMEOUT_S = 10.0
# The bar for a rate held: p99 acceptance latency within 100 ms.
DEFAULT_P99_BOUND_MS = 100.0
DEFAULT_DRAIN_TIMEOUT_S = 120.0
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
RSS_INTERVAL_S = 1.0
DRAIN_POLL_S = 0.5
LOOKUP_CHUNK = 1_000
# A request starting this much after it was due shows the client could not keep the schedule.
LATE_START_MS = 100.0
# Below this share of --rate, the offered rate was not held and the run says so.
MIN_OFFERED_SHARE = 0.95
MIB = 2**20
RESULTS_FILE = "load_results.json"
PROGRAM = "load_test"

console = Console(width=120)


class LoadTestError(Exception):
    """An operating error: the run cannot go on, and one line says why."""


# ---------------------------------------------------------------- the service's process


def loopback_refusal(url: str) -> str | None:
    """Why ``url`` may not be load-tested (not http, or not a loopback host); None if it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--url {url!r} is not an http:// URL"
    host = parts.hostname
    if host == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return f"--url {url} is not a loopback address: the load test only drives a local service"
    return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a ``--workers`` service is a parent and its children),
    leaving out the embedded Anvil: the chain is not the service."""
    parents: dict[int, list[int]] = {}
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            stat = (process / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        # The command name (field 2) may hold spaces; the fields after its parenthesis don't.
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if name == "anvil":
            continue
        parent = int(rest.split()[1])
        parents.setdefault(parent, []).append(int(process.name))
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for each in frontier for child in parents.get(each, [])]
        tree += frontier
    return tree


def rss_bytes(pid: int) -> int:
    """The resident set size of the process and its descendants, from /proc."""
    return sum(_own_rss_bytes(each) for each in process_tree(pid))


def _own_rss_bytes(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0  # exited between listing and reading
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no resident memory


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process and its descendants have used so far."""
    return sum(_own_cpu_seconds(each) for each in process_tree(pid))


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15
    return ticks / os.sysconf("SC_CLK_TCK")


def listening_pid(port: int) -> int | None:
    """The process of this user that listens on TCP ``port``, found through /proc."""
    sockets = listening_sockets(port) or set()
    for process in Path("/proc").iterdir():
        if process.name.isdigit() and holds_any(int(process.name), sockets):
            return int(process.name)
    return None


@dataclass
class SpawnedService:
    url: str
    pid: int
    api_key: str
    process: subprocess.Popen[bytes]


@contextmanager
def spawned_service(
    mode: SettlementMode,
    folder: Path,
    log_path: Path,
    workers: int = 1,
    rpc_url: str | None = None,
    database_url: str | None = None,
    serve_args: Sequence[str] = (),
    settings_env: Mapping[str, str] | None = None,
) -> Iterator[SpawnedService]:
    """``settlement serve`` on a free loopback port, stopped with SIGINT (as a user would) when
    the block ends: on its own embedded Anvil and a SQLite file in ``folder`` unless given a
    chain and a store."""
    port = free_loopback_port()
    api_key = secrets.token_hex(16)
    # Only the operator key from here: a SETTLEMENT_RPC_URL or contract address in the caller's
    # environment would attach the service to some other chain.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SETTLEMENT_")}
    environment["SETTLEMENT_API_KEY"] = api_key
    # The whole load comes from one address, where a fleet has one per robot: the per-client
    # limit (500/s by default) would measure itself rather than the service.
    environment["SETTLEMENT_RATE_LIMIT_PER_S"] = "0"
    environment.update(settings_env or {})
    command = [
        *(sys.executable, "-c", "from settlement.cli import main; main()", "serve"),
        *("--port", str(port), "--mode", mode.value, "--workers", str(workers)),
        *("--database-url", database_url or f"sqlite:///{folder / 'load.db'}"),
        *serve_args,
    ]
    if rpc_url is not None:
        environment["SETTLEMENT_RPC_URL"] = rpc_url
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - a fixed argument list, no shell
            command, stdout=log, stderr=subprocess.STDOUT, env=environment
        )
    service = SpawnedService(f"http://127.0.0.1:{port}", process.pid, api_key, process)
    try:
        wait_until_healthy(service, log_path)
        yield service
    finally:
        stop_service(process)


def wait_until_healthy(service: SpawnedService, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
            raise LoadTestError(f"settlement serve exited during startup: {' '.join(tail)}")
        try:
            if httpx.get(f"{service.url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise LoadTestError(f"settlement serve did not answer within {STARTUP_TIMEOUT_S:.0f} s")


def stop_service(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- the plan and its payments


@dataclass(frozen=True)
class Plan:
    mode: SettlementMode
    rate_per_s: float
    warmup_requests: int
    measured_requests: int
    payers: int
    payees: int
    concurrency: int
    seed: int
    # 1: each request is one POST /v1/payments; more: POST /v1/payments/batch with this many.
    payments_per_request: int = 1

    @property
    def total_requests(self) -> int:
        return self.warmup_requests + self.measured_requests

    @property
    def total_payments(self) -> int:
        return self.total_requests * self.payments_per_request


def make_plan(arguments: argparse.Namespace, rate_per_s: float | None = None) -> Plan:
    """Requests for the warm-up and the measured run at ``rate_per_s`` (default ``--rate``),
    cut to ``--max-requests`` in all."""
    rate = arguments.rate if rate_per_s is None else rate_per_s
    warmup = min(round(rate * arguments.warmup), arguments.max_requests // 10)
    measured = min(round(rate * arguments.duration), arguments.max_requests - warmup)
    return Plan(
        mode=SettlementMode(arguments.mode),
        rate_per_s=rate,
        warmup_requests=warmup,
        measured_requests=max(measured, 1),
        payers=arguments.payers,
        payees=arguments.payees,
        concurrency=arguments.concurrency,
        seed=arguments.seed,
        payments_per_request=arguments.per_request,
    )


def load_replay(plan: Plan) -> Replay:
    """Fresh participants (so a rerun against the same service reuses no key) and the planned
    payments: payers round-robin, each paying its regular suppliers, seeded amounts."""
    keys = [bytes(Account.create().key) for _ in range(plan.payers + plan.payees)]
    amounts = np.random.default_rng(plan.seed).integers(
        1, MAX_AMOUNT_BASE_UNITS, size=plan.total_payments, endpoint=True
    )
    run = secrets.token_hex(4)
    payments = []
    for index in range(plan.total_payments):
        payer, turn = index % plan.payers, index // plan.payers
        payee = (payer + turn % PAYEES_PER_PAYER) % plan.payees
        payments.append(
            ReplayPayment(
                payer,
                plan.payers + payee,
                int(amounts[index]),
                Purpose.ENERGY,
                f"load-{run}-{index}",
            )
        )
    return Replay(keys, payments)


async def prepare_bodies(client: SettlementClient, plan: Plan) -> list[dict[str, Any]]:
    """Fund the participants through the service and sign every payment; the request bodies."""
    replay = load_replay(plan)
    terms = chain_terms(await ready_to_replay(client, [plan.mode]))
    wallets = [PayerWallet(key) for key in replay.participant_keys]
    funding = Replay(
        replay.participant_keys,
        [
            replace(payment, amount_base_units=payment.amount_base_units * FUNDING_HEADROOM)
            for payment in replay.payments
        ],
    )
    await fund_participants(client, funding, plan.mode, wallets)
    await fund_escrow(client, funding, plan.mode, wallets, terms)
    submissions = sign_all(plan.mode, replay, wallets, terms, ThrottledProgress(None))
    return [payment_body(submission) for submission in submissions]


# ---------------------------------------------------------------- the load


@dataclass(frozen=True)
class Answer:
    """One request: when it was due, offered, started and answered (seconds from t0), and how."""

    index: int
    due_s: float
    offered_s: float
    started_s: float
    answered_s: float
    # 0: no HTTP answer (timeout, refused connection). A batch request counts as accepted (its
    # route's 200) only when every payment in it was, else it takes the first refusal's status.
    status: int
    payment_ids: tuple[str, ...]
    detail: str | None


@dataclass
class MemoryWatch:
    """The service's RSS every second, and at the two moments that bound the measurement."""

    pid: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    start_bytes: int = 0
    end_bytes: int = 0
    cpu_start_s: float = 0.0
    cpu_end_s: float = 0.0
    client_cpu_start_s: float = 0.0
    client_cpu_end_s: float = 0.0

    def sample(self, at_s: float) -> int:
        rss = rss_bytes(self.pid)
        self.samples.append((round(at_s, 3), rss))
        return rss

    def mark_start(self, at_s: float) -> None:
        self.start_bytes = self.sample(at_s)
        self.cpu_start_s = cpu_seconds(self.pid)
        self.client_cpu_start_s = time.process_time()

    def mark_end(self, at_s: float) -> None:
        self.end_bytes = self.sample(at_s)
        self.cpu_end_s = cpu_seconds(self.pid)
        self.client_cpu_end_s = time.process_time()

    async def run(self, t0: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.sample(loop.time() - t0)
            await asyncio.sleep(RSS_INTERVAL_S)


async def send_one(
    http: LeanHttpPool,
    request: bytes,
    index: int,
    due_s: float,
    offered_s: float,
    t0: float,
    after: Sequence[asyncio.Task[Answer]],
) -> Answer:
    """Send one request once its payers' previous ones are answered and a connection is free."""
    loop = asyncio.get_running_loop()
    if after:
        await asyncio.wait(after)
    try:
        response = await http.send(request)
    except LeanHttpError as error:
        answered = loop.time() - t0
        return Answer(index, due_s, offered_s, answered, answered, 0, (), str(error)[:120])
    answered = loop.time() - t0
    started = response.sent_at - t0
    status, payment_ids, detail = _outcome(response)
    return Answer(index, due_s, offered_s, started, answered, status, payment_ids, detail)


def _outcome(response: LeanAnswer) -> tuple[int, tuple[str, ...], str | None]:
    """A request's status, the payments it got accepted, and why not, if it did not."""
    if response.status not in (200, 201):
        return response.status, (), _detail(response)
    answer = response.json()
    if "results" not in answer:  # one payment's answer
        return response.status, (answer["payment_id"],), None
    results = answer["results"]
    accepted = tuple(r["payment_id"] for r in results if r["status"] in (200, 201))
    refused = [r for r in results if r["status"] not in (200, 201)]
    if not refused:
        return response.status, accepted, None
    return refused[0]["status"], accepted, f"{len(refused)} refused: {refused[0]['rejection']}"


def _detail(response: LeanAnswer) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail)[:120] if detail is not None else f"HTTP {response.status}"


async def offer_load(
    http: LeanHttpPool, bodies: Sequence[dict[str, Any]], plan: Plan, memory: MemoryWatch
) -> tuple[list[Answer], float]:
    """Offer every request on its schedule; the answers and when the measured part ended."""
    loop = asyncio.get_running_loop()
    chunks = [
        bodies[start : start + plan.payments_per_request]
        for start in range(0, len(bodies), plan.payments_per_request)
    ]
    # Serialised before the clock starts, so the client's own CPU stays off the measurement.
    requests = [_request_bytes(http, chunk) for chunk in chunks]
    last_of_payer: dict[str, asyncio.Task[Answer]] = {}
    tasks: list[asyncio.Task[Answer]] = []
    t0 = loop.time()
    sampler = asyncio.create_task(memory.run(t0))
    for index, chunk in enumerate(chunks):
        due_s = index / plan.rate_per_s
        await asyncio.sleep(max(0.0, t0 + due_s - loop.time()))
        if index == plan.warmup_requests:
            memory.mark_start(loop.time() - t0)
        payers = {body["payer"] for body in chunk}
        after = list({id(t): t for p in payers if (t := last_of_payer.get(p))}.values())
        offered_s = loop.time() - t0
        task = asyncio.create_task(
            send_one(http, requests[index], index, due_s, offered_s, t0, after)
        )
        for payer in payers:
            last_of_payer[payer] = task
        tasks.append(task)
    answers = list(await asyncio.gather(*tasks))
    ended_s = loop.time() - t0
    memory.mark_end(ended_s)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    return answers, ended_s


def _request_bytes(http: LeanHttpPool, chunk: Sequence[dict[str, Any]]) -> bytes:
    if len(chunk) == 1:
        return http.post_request("/v1/payments", json.dumps(chunk[0]).encode())
    return http.post_request("/v1/payments/batch", json.dumps({"payments": list(chunk)}).encode())


# ---------------------------------------------------------------- draining and settlement


@dataclass
class Settlement:
    accepted: int
    settled: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    unknown: int = 0
    drain_s: float = 0.0
    queue_drained: bool = False


async def drain_and_check(
    client: SettlementClient, payment_ids: Sequence[str], timeout_s: float
) -> Settlement:
    """Wait for the service's queue to empty, then look every accepted payment up until each
    is confirmed or failed; whatever is neither by the deadline counts as lost."""
    started = time.monotonic()
    deadline = started + timeout_s
    settlement = Settlement(accepted=len(payment_ids))
    settlement.queue_drained = await wait_for_empty_queue(client, deadline)
    final: dict[str, PaymentState] = {}
    failures = Counter[str]()
    unknown: set[str] = set()
    waiting = list(payment_ids)
    while waiting:
        for start in range(0, len(waiting), LOOKUP_CHUNK):
            found = await client.lookup_payments(waiting[start : start + LOOKUP_CHUNK])
            unknown.update(found.unknown)
            for settled in found.payments:
                payment = settled.payment
                if payment.state in (PaymentState.CONFIRMED, PaymentState.FAILED):
                    final[payment.payment_id] = payment.state
                    if payment.state is PaymentState.FAILED:
                        failures[payment.failure_reason or "no reason"] += 1
        waiting = [p for p in waiting if p not in final and p not in unknown]
        if not waiting or time.monotonic() > deadline:
            break
        await asyncio.sleep(DRAIN_POLL_S)
    settlement.settled = sum(state is PaymentState.CONFIRMED for state in final.values())
    settlement.failed = dict(failures)
    settlement.unknown = len(unknown)
    settlement.lost = len(waiting) + len(unknown)
    settlement.drain_s = time.monotonic() - started
    return settlement


async def wait_for_empty_queue(client: SettlementClient, deadline: float) -> bool:
    """True once nothing is queued or awaiting its receipt, false at the deadline."""
    while time.monotonic() < deadline:
        stats = await client.stats()
        in_flight = sum(mode.counts.get(PaymentState.SUBMITTED, 0) for mode in stats.modes)
        if stats.queued == 0 and in_flight == 0:
            return True
        await asyncio.sleep(DRAIN_POLL_S)
    return False


# ---------------------------------------------------------------- figures


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(share / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def distribution_ms(seconds: Sequence[float]) -> dict[str, float]:
    ordered = sorted(value * 1000 for value in seconds)
    figures = {f"p{share}": percentile(ordered, share) for share in (50, 95, 99)}
    return {key: round(value, 3) for key, value in (figures | {"max": ordered[-1]}).items()}


def load_figures(answers: Sequence[Answer], plan: Plan, ended_s: float) -> dict[str, Any]:
    """Rates, latencies and counts of the measured requests (the warm-up left out)."""
    measured = [a for a in answers if a.index >= plan.warmup_requests]
    began_s = measured[0].due_s
    by_status = Counter(str(a.status) for a in measured)
    errors = [a for a in measured if a.status not in (200, 201)]
    start_lags = [a.started_s - a.due_s for a in measured]
    # Each rate counts one interval per request: n requests due 1/rate apart span n/rate.
    interval_s = 1 / plan.rate_per_s
    offered_span_s = measured[-1].offered_s - measured[0].offered_s + interval_s
    started_span_s = max(a.started_s for a in measured) - began_s + interval_s
    return {
        "requests": len(measured),
        "offered_per_s": round(len(measured) / offered_span_s, 2),
        "started_per_s": round(len(measured) / started_span_s, 2),
        "achieved_per_s": round((len(measured) - len(errors)) / (ended_s - began_s), 2),
        "accepted_payments_per_s": round(
            sum(len(a.payment_ids) for a in measured) / (ended_s - began_s), 1
        ),
        "latency_ms": distribution_ms([a.answered_s - a.due_s for a in measured]),
        "service_latency_ms": distribution_ms([a.answered_s - a.started_s for a in measured]),
        "start_lag_ms": distribution_ms(start_lags),
        "late_starts": sum(lag * 1000 > LATE_START_MS for lag in start_lags),
        "by_status": dict(sorted(by_status.items())),
        "errors": len(errors),
        "error_reasons": dict(Counter(f"{a.status} {a.detail}" for a in errors).most_common(5)),
        "measured_s": round(ended_s - began_s, 3),
        "per_second": per_second(measured, began_s),
    }


def per_second(measured: Sequence[Answer], began_s: float) -> list[dict[str, Any]]:
    """Each second of the run by due time: requests, accepted, and their latency."""
    seconds: dict[int, list[Answer]] = {}
    for answer in measured:
        seconds.setdefault(int(answer.due_s - began_s), []).append(answer)
    timeline = []
    for second, answers in sorted(seconds.items()):
        latencies = distribution_ms([a.answered_s - a.due_s for a in answers])
        timeline.append(
            {
                "second": second,
                "requests": len(answers),
                "accepted": sum(a.status in (200, 201) for a in answers),
                "latency_ms_p50": latencies["p50"],
                "latency_ms_max": latencies["max"],
            }
        )
    return timeline


def memory_figures(
    memory: MemoryWatch, requests: int, measured_s: float, bound_mib: float
) -> dict[str, Any]:
    """The service's memory and CPU over the measured run, and this client's CPU beside."""
    growth_mib = (memory.end_bytes - memory.start_bytes) / MIB
    peak = max(rss for _, rss in memory.samples)
    cpu_s = memory.cpu_end_s - memory.cpu_start_s
    client_cpu_s = memory.client_cpu_end_s - memory.client_cpu_start_s
    return {
        "pid": memory.pid,
        "source": "/proc/PID/status VmRSS, the process and its children",
        "rss_start_mib": round(memory.start_bytes / MIB, 2),
        "rss_end_mib": round(memory.end_bytes / MIB, 2),
        "rss_peak_mib": round(peak / MIB, 2),
        "rss_growth_mib": round(growth_mib, 2),
        "max_rss_growth_mib": bound_mib,
        "within_bound": growth_mib <= bound_mib,
        "cpu_s": round(cpu_s, 3),
        "cpu_cores": round(cpu_s / measured_s, 3),
        "cpu_us_per_request": round(cpu_s * 1e6 / max(requests, 1), 1),
        "client_cpu_us_per_request": round(client_cpu_s * 1e6 / max(requests, 1), 1),
        "rss_samples_mib": [(at, round(rss / MIB, 2)) for at, rss in memory.samples],
    }


def failure_line(document: dict[str, Any]) -> str | None:
    """Why the run failed, in one line, or None when it passed."""
    load, memory, settled = document["load"], document["memory"], document["settlement"]
    if load["errors"]:
        reasons = "; ".join(f"{k}: {v}" for k, v in load["error_reasons"].items())
        return f"{load['errors']} of {load['requests']} requests were not accepted ({reasons})"
    if not memory["within_bound"]:
        return (
            f"the service's memory grew {memory['rss_growth_mib']:.1f} MiB, over the bound of "
            f"{memory['max_rss_growth_mib']:g} MiB"
        )
    if settled["lost"] or settled["failed"] or settled["settled"] != settled["accepted"]:
        failed = settled["failed"]
        reasons = "".join(f"; {reason}: {count}" for reason, count in failed.items())
        return (
            f"{settled['settled']} of {settled['accepted']} accepted payments settled "
            f"({settled['lost']} lost, {sum(failed.values())} failed{reasons})"
        )
    rate = document["plan"]["rate_per_s"]
    if load["offered_per_s"] < MIN_OFFERED_SHARE * rate:
        return f"the client offered only {load['offered_per_s']:.1f} of {rate:g} requests/s"
    return None


def falling_behind(document: dict[str, Any]) -> str | None:
    """A warning when the service answered slower than it was asked, else None.

    Not a failure: one settlement window's pause at the end of a short run lowers the answered
    rate as much as a service that cannot keep up, and the latency figures tell them apart.
    """
    load = document["load"]
    if load["achieved_per_s"] >= MIN_OFFERED_SHARE * load["offered_per_s"]:
        return None
    return (
        f"the service answered {load['achieved_per_s']:.1f} of the {load['offered_per_s']:.1f} "
        "requests/s offered: it fell behind (see the latency)"
    )


def print_figures(document: dict[str, Any]) -> None:
    plan, load, memory = document["plan"], document["load"], document["memory"]
    settlement = document["settlement"]
    table = Table(
        title=f"{load['requests']:,} requests over {load['measured_s']:.1f} s, {plan['mode']} "
        f"mode, {_shape(plan)}, at most {plan['concurrency']} in flight"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("offered requests/s", f"{load['offered_per_s']:,.1f} (target {plan['rate_per_s']:g})"),
        ("achieved requests/s (accepted)", f"{load['achieved_per_s']:,.1f}"),
        ("accepted payments/s", f"{load['accepted_payments_per_s']:,.1f}"),
        ("settled payments/s, first send to last confirmed", _end_to_end(load)),
        *_latency_rows("latency from due time, ms", load["latency_ms"]),
        *_latency_rows("service share (send to answer), ms", load["service_latency_ms"]),
        ("late starts (> 100 ms after due)", f"{load['late_starts']:,}"),
        ("answers by status", ", ".join(f"{k}: {v:,}" for k, v in load["by_status"].items())),
        ("errors", f"{load['errors']:,}"),
        ("service RSS start / end / peak, MiB", _rss(memory)),
        (
            "RSS growth, MiB",
            f"{memory['rss_growth_mib']:+.2f} (bound {memory['max_rss_growth_mib']:g})",
        ),
        (
            "service CPU per request (cores busy)",
            f"{memory['cpu_us_per_request']:,.0f} µs ({memory['cpu_cores']:.2f})",
        ),
        (
            "settled / accepted (warm-up included)",
            f"{settlement['settled']:,} / {settlement['accepted']:,}, lost {settlement['lost']}, "
            f"failed {sum(settlement['failed'].values())}",
        ),
        ("queue drained in", f"{settlement['drain_s']:.1f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _shape(plan: dict[str, Any]) -> str:
    per_request = plan.get("payments_per_request", 1)
    if per_request == 1:
        return "one payment per POST /v1/payments"
    return f"{per_request:,} payments per POST /v1/payments/batch"


def _end_to_end(load: dict[str, Any]) -> str:
    return f"{load.get('end_to_end_settled_per_s', 0):,.1f}"


def _latency_rows(label: str, figures: dict[str, float]) -> list[tuple[str, str]]:
    values = " / ".join(f"{figures[key]:,.1f}" for key in ("p50", "p95", "p99", "max"))
    return [(f"{label} p50 / p95 / p99 / max", values)]


def _rss(memory: dict[str, Any]) -> str:
    figures = (memory[f"rss_{moment}_mib"] for moment in ("start", "end", "peak"))
    return " / ".join(f"{figure:,.1f}" for figure in figures)


# ---------------------------------------------------------------- the run


async def run_against(
    url: str, api_key: str | None, pid: int, plan: Plan, arguments: argparse.Namespace
) -> dict[str, Any]:
    """Prepare, load, drain and check one service; every figure of the run, or of each step of
    a saturation search (``--saturate``)."""
    async with SettlementClient(url, api_key=api_key, concurrency=8) as client:
        if arguments.saturate is None:
            return await run_step(client, url, pid, plan, arguments)
        return await search_saturation(client, url, pid, arguments)


async def run_step(
    client: SettlementClient, url: str, pid: int, plan: Plan, arguments: argparse.Namespace
) -> dict[str, Any]:
    """One run at ``plan``'s rate against an open service: load, drain, check."""
    console.print(f"funding {plan.payers} payers and signing {plan.total_payments:,} payments")
    bodies = await prepare_bodies(client, plan)
    console.print(
        f"offering {plan.rate_per_s:g} requests/s: {plan.warmup_requests:,} warm-up, "
        f"{plan.measured_requests:,} measured"
    )
    memory = MemoryWatch(pid)
    async with LeanHttpPool(url, plan.concurrency, arguments.request_timeout) as http:
        answers, ended_s = await offer_load(http, bodies, plan, memory)
    accepted = [payment_id for a in answers for payment_id in a.payment_ids]
    console.print(f"draining: {len(accepted):,} accepted payments to settle")
    settlement = await drain_and_check(client, accepted, arguments.drain_timeout)
    load = load_figures(answers, plan, ended_s)
    # First request sent (warm-up included) to the last payment found final: the whole pipe.
    end_to_end_s = ended_s + settlement.drain_s
    load["end_to_end_settled_per_s"] = round(settlement.settled / end_to_end_s, 1)
    return {
        "plan": asdict(plan) | {"mode": plan.mode.value},
        "load": load,
        "memory": memory_figures(
            memory, load["requests"], load["measured_s"], arguments.max_rss_growth_mib
        ),
        "settlement": asdict(settlement),
    }


def held(step: dict[str, Any], p99_bound_ms: float) -> str | None:
    """Why a step did not hold its rate (errors, p99 over the bound, answers behind the offer,
    payments not settled), or None when it held."""
    load = step["load"]
    if load["errors"]:
        return f"{load['errors']} errors"
    if load["latency_ms"]["p99"] > p99_bound_ms:
        return f"p99 {load['latency_ms']['p99']:,.0f} ms > {p99_bound_ms:g} ms"
    return fell_behind(step)


def fell_behind(step: dict[str, Any]) -> str | None:
    """Why a step's answers did not keep up with its offer, or None: errors, answers below the
    offered rate, accepted payments not settled. Latency aside."""
    load, settled = step["load"], step["settlement"]
    if load["errors"]:
        return f"{load['errors']} errors"
    if load["achieved_per_s"] < MIN_OFFERED_SHARE * load["offered_per_s"]:
        return f"answered {load['achieved_per_s']:,.0f}/s of {load['offered_per_s']:,.0f}/s"
    if settled["settled"] != settled["accepted"]:
        return f"{settled['accepted'] - settled['settled']} accepted payments not settled"
    return None


async def search_saturation(
    client: SettlementClient, url: str, pid: int, arguments: argparse.Namespace
) -> dict[str, Any]:
    """Step the offered rate up through ``--saturate``: the highest rate held with p99 within
    ``--p99-bound-ms``, and the highest answered at all (a step whose only fault is its p99
    goes on to the next); every step's figures. The search ends at the first step that falls
    behind or errs."""
    steps: list[dict[str, Any]] = []
    highest_held: float | None = None
    highest_answered: float | None = None
    for rate in arguments.saturate:
        step = await run_step(client, url, pid, make_plan(arguments, rate), arguments)
        step["broke"] = held(step, arguments.p99_bound_ms)
        steps.append(step)
        console.print(f"step {rate:g}/s: {step['broke'] or 'held'}")
        if step["broke"] is None:
            highest_held = rate
        if fell_behind(step) is not None:
            break
        highest_answered = rate
    last = steps[-1]
    return {
        **last,
        "saturation": {
            "p99_bound_ms": arguments.p99_bound_ms,
            "highest_rate_held_per_s": highest_held,
            "highest_rate_answered_per_s": highest_answered,
            "fell_behind_at_per_s": last["plan"]["rate_per_s"] if fell_behind(last) else None,
            "steps": [step_row(step) for step in steps],
        },
    }


def step_row(step: dict[str, Any]) -> dict[str, Any]:
    load, memory = step["load"], step["memory"]
    return {
        "offered_per_s": load["offered_per_s"],
        "achieved_per_s": load["achieved_per_s"],
        "accepted_payments_per_s": load["accepted_payments_per_s"],
        "end_to_end_settled_per_s": load.get("end_to_end_settled_per_s", 0.0),
        "latency_ms_p50": load["latency_ms"]["p50"],
        "latency_ms_p99": load["latency_ms"]["p99"],
        "errors": load["errors"],
        "cpu_us_per_request": memory["cpu_us_per_request"],
        "cpu_cores": memory["cpu_cores"],
        "client_cpu_us_per_request": memory["client_cpu_us_per_request"],
        "rss_growth_mib": memory["rss_growth_mib"],
        "broke": step["broke"],
    }


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """The run against ``--url``, or against a service started for it and stopped after."""
    plan = make_plan(arguments)
    if arguments.url is not None:
        pid = arguments.pid or listening_pid(urlsplit(arguments.url).port or 80)
        if pid is None:
            raise LoadTestError(f"no process of this user listens at {arguments.url}: pass --pid")
        return uvloop.run(run_against(arguments.url, arguments.api_key, pid, plan, arguments))
    with tempfile.TemporaryDirectory(prefix="load-") as folder:
        log_path = arguments.out / "serve.log"
        with spawned_service(plan.mode, Path(folder), log_path, arguments.workers) as service:
            console.print(f"settlement serve at {service.url} (pid {service.pid}), log {log_path}")
            document = uvloop.run(
                run_against(service.url, service.api_key, service.pid, plan, arguments)
            )
        document["service_exit_code"] = service.process.returncode
        document["workers"] = arguments.workers
    return document


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", help="a running service on a loopback address (default: start one)"
    )
    parser.add_argument("--pid", type=int, help="the --url service's process id, for its memory")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("SETTLEMENT_API_KEY"),
        help="the --url service's operator key (default: $SETTLEMENT_API_KEY)",
    )
    modes = [mode.value for mode in SUPPORTED_MODES]
    parser.add_argument("--mode", choices=modes, default=SettlementMode.BATCH.value)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE_PER_S, help="requests/s")
    parser.add_argument(
        "--per-request",
        type=int,
        default=1,
        help="payments per request: 1 sends POST /v1/payments, more POST /v1/payments/batch",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes of the service this script starts (serve --workers)",
    )
    parser.add_argument(
        "--saturate",
        type=_rates,
        help="find the saturation point: step through these rates (e.g. 250,500,1000,2000) "
        "until one does not hold (errors, p99 over --p99-bound-ms, answers behind the offer)",
    )
    parser.add_argument(
        "--p99-bound-ms",
        type=float,
        default=DEFAULT_P99_BOUND_MS,
        help="the p99 latency a --saturate step must stay within to count as held",
    )
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_S, help="seconds")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S, help="seconds")
    parser.add_argument("--max-requests", type=int, default=DEFAULT_MAX_REQUESTS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--payers", type=int, default=DEFAULT_PAYERS)
    parser.add_argument("--payees", type=int, default=DEFAULT_PAYEES)
    parser.add_argument("--seed", type=int, default=42, help="seeds the payment amounts")
    parser.add_argument("--max-rss-growth-mib", type=float, default=DEFAULT_MAX_RSS_GROWTH_MIB)
    parser.add_argument("--request-timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT_S)
    parser.add_argument("--drain-timeout", type=float, default=DEFAULT_DRAIN_TIMEOUT_S)
    parser.add_argument("--out", type=Path, default=Path("runs") / f"load-{int(time.time())}")
    arguments = parser.parse_args(argv)
    if arguments.saturate is not None:
        arguments.rate = max(arguments.saturate)
    for problem in bounds_problems(arguments):
        parser.error(problem)
    return arguments


def _rates(text: str) -> list[float]:
    """``--saturate``'s comma-separated rates, ascending."""
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of rates: {text!r}") from None
    if not rates or rates != sorted(rates) or rates[0] <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive and ascending: {text!r}")
    return rates


def bounds_problems(arguments: argparse.Namespace) -> Iterator[str]:
    """Every bound an argument breaks, as the message argparse prints."""
    ranges: dict[str, tuple[float, float]] = {
        "rate": (0.1, 5_000),
        # Payments are signed before the clock starts and stay valid for an hour (VALIDITY_S).
        "duration": (1, VALIDITY_S / 2),
        "warmup": (0, 600),
        # Every body is signed and held in memory up front: about 1 KiB each.
        "max_requests": (1, 200_000),
        "concurrency": (1, 1_000),
        "workers": (1, 64),
        "per_request": (1, 1_000),
        "payers": (1, 10_000),
        "payees": (PAYEES_PER_PAYER, 10_000),
        "max_rss_growth_mib": (0, 100_000),
        "request_timeout": (0.1, 600),
        "drain_timeout": (1, 3_600),
        "p99_bound_ms": (1, 600_000),
    }
    for name, (low, high) in ranges.items():
        value = getattr(arguments, name)
        if not low <= value <= high:
            yield f"--{name.replace('_', '-')} must be between {low:g} and {high:g}, not {value:g}"


def main(argv: Sequence[str]) -> int:
    arguments = parse_arguments(argv)
    if arguments.url is not None:
        refusal = loopback_refusal(arguments.url)
        if refusal is not None:
            print(f"{PROGRAM}: error: {refusal}", file=sys.stderr)
            return 2
    arguments.out.mkdir(parents=True, exist_ok=True)
    started, load_average_before = time.time(), os.getloadavg()
    try:
        document = run(arguments)
    except (LoadTestError, SettlementError, ServiceRequestError, OSError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 1
    document |= {
        "command": " ".join(["python", "bench/load_test.py", *argv]),
        "started_at": started,
        # The machine may be shared: its load beside the figures says how much they can be trusted.
        "load_average_before": load_average_before,
        "load_average_after": os.getloadavg(),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }
    print_figures(document)
    if "saturation" in document:
        return finish_saturation(document, arguments.out)
    failure, warning = failure_line(document), falling_behind(document)
    document["passed"] = failure is None
    document["kept_up"] = warning is None
    if warning is not None:
        print(f"{PROGRAM}: warning: {warning}", file=sys.stderr)
    (arguments.out / RESULTS_FILE).write_text(json.dumps(document, indent=2))
    console.print(f"figures in {arguments.out / RESULTS_FILE}")
    if failure is not None:
        print(f"{PROGRAM}: FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


def finish_saturation(document: dict[str, Any], out: Path) -> int:
    """Print and write the search's steps. A step that breaks is the search's answer, not a
    failure; a payment lost or settled wrongly in any step is."""
    saturation = document["saturation"]
    table = Table(
        title=f"saturation, {document['plan']['mode']} mode: a step holds with 0 errors, "
        f"p99 <= {saturation['p99_bound_ms']:g} ms and answers keeping up"
    )
    columns = ("offered/s", "answered/s", "p50 ms", "p99 ms", "errors", "CPU µs/req", "result")
    for column in columns:
        table.add_column(column, justify="left" if column == "result" else "right")
    for row in saturation["steps"]:
        table.add_row(
            f"{row['offered_per_s']:,.0f}",
            f"{row['achieved_per_s']:,.0f}",
            f"{row['latency_ms_p50']:,.0f}",
            f"{row['latency_ms_p99']:,.0f}",
            f"{row['errors']:,}",
            f"{row['cpu_us_per_request']:,.0f}",
            row["broke"] or "held",
        )
    console.print(table)
    highest, answered = (
        saturation["highest_rate_held_per_s"],
        saturation["highest_rate_answered_per_s"],
    )
    console.print(
        f"highest rate held with p99 <= {saturation['p99_bound_ms']:g} ms: "
        + (f"{highest:g} requests/s" if highest else "none of the steps")
    )
    console.print(
        "highest rate answered in full: "
        + (f"{answered:g} requests/s" if answered else "none of the steps")
    )
    (out / RESULTS_FILE).write_text(json.dumps(document, indent=2))
    console.print(f"figures in {out / RESULTS_FILE}")
    settlement = document["settlement"]
    if settlement["lost"]:
        print(f"{PROGRAM}: FAILED: {settlement['lost']} accepted payments lost", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Replay the reference workload through the double-entry ledger on each engine; print the figures.

    python bench/ledger_bench.py                                   # SQLite, PostgreSQL, memory
    python bench/ledger_bench.py --out runs/x --workload runs/x/workload.json
    python bench/ledger_bench.py --engines sqlite --single-requests 500

Every payer and payee gets a wallet account on the baseline ledger that may not go below zero;
one issuer account funds each payer with one opening transfer covering all its payments. That
setup is not timed. Each payment then becomes one transfer whose id is derived from the same
payment id the chain bench's payment carries (same payer address, same idempotency key).

Three shapes per engine: "batched" sends the whole workload in requests of 8,190 transfers (the
ledger's batch limit); "single" sends one transfer per request on a fresh ledger; "replay" sends
the batched requests again, where every transfer must answer "exists". Every request is one
durable commit: SQLite runs in WAL mode with synchronous=FULL, so each request waits for an
fsync, and PostgreSQL commits with its configured synchronous_commit. SQLite's file lives in a
temporary folder inside --out, on the disk the results go to. PostgreSQL runs in a private
schema that the bench creates and drops.

CPU time is this process's (time.process_time). PostgreSQL does part of its work in its own
server process, so for it the bench also reads that backend's CPU time from /proc when the
server runs on this machine ("server CPU", in clock ticks of 10 ms, so about 1 µs per transfer
over 10,000; the WAL writer's and checkpointer's work is not in it); it is left out when it
cannot be read. Before each timed shape the bench runs a full garbage collection, so that one
over the bench's own setup objects does not land inside a 0.1 s measurement.

When --out already holds the chain bench's results.json, a second table puts each chain mode's
settled/s and end-to-end/s beside each engine's batched transfers/s, as ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from settlement.domain.payments import PaymentIntent
from settlement.ledger import (
    MAX_BATCH_EVENTS,
    Account,
    CreateAccountResult,
    CreateTransferResult,
    Ledger,
    MemoryLedger,
    SqliteLedger,
    Transfer,
    open_ledger,
)
from settlement.settlers.ledger import (
    baseline_transfer,
    deposit_transfer,
    issuer_account,
    wallet_account,
)
from settlement.wallet import PayerWallet
from settlement.workload import Workload, reference_workload, workload_idempotency_key

ENGINES = ("sqlite", "postgresql", "memory")
DEFAULT_POSTGRES_URL = os.environ.get(
    "SETTLEMENT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
POSTGRES_CONNECT_TIMEOUT_S = 5
# Each SQLite request is a commit with synchronous=FULL, so it waits for one fsync. On this
# machine a request takes about 0.35 ms (fsync 0.14 ms), so 10,000 take about 4 s; on a disk
# whose fsync really flushes (2 ms) they would take about 20 s, so larger workloads stop here.
SQLITE_SINGLE_REQUESTS_DEFAULT = 10_000
FSYNC_PROBES = 200
# A batched run of the reference workload takes about 0.1 s, so one run is at the mercy of
# whatever else the machine does in that moment: report the median of several.
DEFAULT_REPEATS = 5
MAX_REPEATS = 50
MAX_PAYMENTS = 1_000_000
# The targets for this machine, in transfers per second.
TARGETS_TRANSFERS_PER_S = {("sqlite", "batched"): 100_000, ("postgresql", "batched"): 20_000}
SHAPES = ("batched", "single", "replay")
RESULTS_FILE = "ledger_results.json"
WORKLOAD_FILE = "workload.json"
CHAIN_RESULTS_FILE = "results.json"
console = Console(width=170)


class UnexpectedResultError(Exception):
    """An engine answered something other than the result every event of a shape must get."""


# The workload as ledger events ------------------------------------------------------------


@dataclass(frozen=True)
class LedgerPlan:
    """The events one run sends: accounts and funding (untimed), then one transfer per payment."""

    accounts: list[Account]
    openings: list[Transfer]
    payments: list[Transfer]


def ledger_plan(workload: Workload) -> LedgerPlan:
    payers = [PayerWallet(workload.payer_key(i)).address for i in range(workload.payer_count)]
    payees = [PayerWallet(workload.payee_key(i)).address for i in range(workload.payee_count)]
    accounts = [issuer_account()] + [wallet_account(a) for a in dict.fromkeys(payers + payees)]
    return LedgerPlan(
        accounts, opening_transfers(workload, payers), payment_transfers(workload, payers, payees)
    )


def opening_transfers(workload: Workload, payers: list[str]) -> list[Transfer]:
    """One deposit per payer, of everything that payer pays in the workload."""
    owed = [0] * workload.payer_count
    for payment in workload.payments:
        owed[payment.payer] += payment.amount_base_units
    reference = b"ledger bench seed %d" % workload.seed
    # A payer with nothing to pay still gets a unit, as in the chain bench's mint.
    return [
        deposit_transfer(address, max(amount, 1), reference)
        for address, amount in zip(payers, owed, strict=True)
    ]


def payment_transfers(workload: Workload, payers: list[str], payees: list[str]) -> list[Transfer]:
    """One baseline transfer per payment, named by the same payment id as the chain bench's."""
    transfers = []
    for index, payment in enumerate(workload.payments):
        payer, payee = payers[payment.payer], payees[payment.payee]
        intent = PaymentIntent(
            workload_idempotency_key(index), payer, payee, payment.amount_base_units
        )
        transfers.append(
            baseline_transfer(
                intent.payment_id, payer, payee, payment.amount_base_units, payment.purpose
            )
        )
    return transfers


def in_batches(events: Sequence[Any], size: int = MAX_BATCH_EVENTS) -> list[list[Any]]:
    return [list(events[start : start + size]) for start in range(0, len(events), size)]


def set_up(ledger: Ledger, plan: LedgerPlan) -> None:
    """Create the accounts and fund the payers; refuse to go on if any of it failed."""
    for batch in in_batches(plan.accounts):
        require_all(ledger.create_accounts(batch), CreateAccountResult.OK, "account setup")
    for batch in in_batches(plan.openings):
        require_all(ledger.create_transfers(batch), CreateTransferResult.OK, "opening transfers")


def require_all(results: Sequence[str], expected: str, what: str) -> None:
    wrong = [(index, result) for index, result in enumerate(results) if result != expected]
    if wrong:
        raise UnexpectedResultError(
            f"{what}: {len(wrong):,} of {len(results):,} events did not answer {expected!r}; "
            f"first (index, result): {wrong[:5]}"
        )


# Engines ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedLedger:
    """A fresh, empty ledger, and a reading of its server's CPU seconds (None: no server, or
    it cannot be read from here)."""

    ledger: Ledger
    server_cpu_s: Callable[[], float | None]


def no_server_cpu() -> float | None:
    return None


# A context manager yielding a fresh ledger; its argument names the shape it is for.
LedgerFactory = Callable[[str], AbstractContextManager[OpenedLedger]]


def sqlite_factory(folder: Path) -> LedgerFactory:
    @contextmanager
    def fresh(shape: str) -> Iterator[OpenedLedger]:
        path = folder / f"ledger-{shape}-{uuid.uuid4().hex[:8]}.db"
        ledger = SqliteLedger(path)
        try:
            yield OpenedLedger(ledger, no_server_cpu)
        finally:
            ledger.close()
            # A fresh file per run; the last ones are removed with the scratch folder.
            for leftover in folder.glob(f"{path.name}*"):
                leftover.unlink()

    return fresh


@contextmanager
def memory_ledger(_shape: str) -> Iterator[OpenedLedger]:
    yield OpenedLedger(MemoryLedger(), no_server_cpu)


def postgres_factory(admin: psycopg.Connection[Any], url: str) -> LedgerFactory:
    @contextmanager
    def fresh(shape: str) -> Iterator[OpenedLedger]:
        schema = f"ledger_bench_{uuid.uuid4().hex[:12]}"
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            ledger = open_ledger(
                with_query(url, f"application_name={schema}&options=-csearch_path%3D{schema}")
            )
            try:
                yield OpenedLedger(ledger, backend_cpu_reader(admin, schema))
            finally:
                ledger.close()
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    return fresh


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def backend_cpu_reader(
    admin: psycopg.Connection[Any], application_name: str
) -> Callable[[], float | None]:
    """Reads the CPU seconds of the server process serving ``application_name``'s connection,
    from /proc: possible only when PostgreSQL runs on this machine and /proc shows it."""
    row = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
    ).fetchone()
    stat_file = Path(f"/proc/{row[0]}/stat") if row else None

    def read() -> float | None:
        if stat_file is None:
            return None
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime and stime, fields 14 and 15 of proc(5), counted from the state (field 3).
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return read


# Measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    engine: str
    shape: str
    batch_events: int
    transfers: int
    requests: int
    elapsed_s: float
    cpu_s: float
    server_cpu_s: float | None
    latency_ms_p50: float
    latency_ms_p99: float
    expected_result: str
    # SQLite's only: the fsync every commit waits for, measured on the same disk.
    disk_fsync_ms_p50: float | None = None
    # transfers/s of every repeat of this shape; the measurement itself is the median one.
    repeats_transfers_per_s: tuple[float, ...] = ()

    @property
    def transfers_per_s(self) -> float:
        return self.transfers / self.elapsed_s

    @property
    def cpu_us_per_transfer(self) -> float:
        return self.cpu_s / self.transfers * 1e6

    @property
    def server_cpu_us_per_transfer(self) -> float | None:
        return None if self.server_cpu_s is None else self.server_cpu_s / self.transfers * 1e6

    @property
    def cpu_ns_per_transfer(self) -> int | None:
        """All the CPU one transfer took, for the energy model: this process's and the
        server's. None for a server engine whose CPU could not be read."""
        if self.engine == "postgresql" and self.server_cpu_s is None:
            return None
        return round((self.cpu_s + (self.server_cpu_s or 0.0)) / self.transfers * 1e9)

    @property
    def target_transfers_per_s(self) -> int | None:
        return TARGETS_TRANSFERS_PER_S.get((self.engine, self.shape))

    def record(self) -> dict[str, object]:
        target = self.target_transfers_per_s
        return asdict(self) | {
            "transfers_per_s": self.transfers_per_s,
            "cpu_us_per_transfer": self.cpu_us_per_transfer,
            "server_cpu_us_per_transfer": self.server_cpu_us_per_transfer,
            "cpu_ns_per_transfer": self.cpu_ns_per_transfer,
            "target_transfers_per_s": target,
            "target_met": None if target is None else self.transfers_per_s >= target,
        }


def measure(
    engine: str,
    shape: str,
    opened: OpenedLedger,
    requests: list[list[Transfer]],
    expected: CreateTransferResult,
) -> Measurement:
    """Send ``requests`` one after another; every event must answer ``expected``."""
    ledger, latencies_ms, answers = opened.ledger, [], []
    # A full collection walks every object the bench holds (about 150,000 for the reference
    # workload) and takes ~40 ms, as long as half a batched run; started clean, the window pays
    # for the collections its own allocations cause, not for the bench's setup.
    gc.collect()
    server_started = opened.server_cpu_s()
    cpu_started, started = time.process_time(), time.perf_counter()
    for request in requests:
        request_started = time.perf_counter()
        answers.append(ledger.create_transfers(request))
        latencies_ms.append((time.perf_counter() - request_started) * 1000)
    elapsed_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    server_finished = opened.server_cpu_s()
    # Checked after the clock stops, so checking costs the measurement nothing.
    require_all([a for answer in answers for a in answer], expected, f"{engine} {shape}")
    return Measurement(
        engine=engine,
        shape=shape,
        batch_events=max(len(request) for request in requests),
        transfers=sum(len(request) for request in requests),
        requests=len(requests),
        elapsed_s=elapsed_s,
        cpu_s=cpu_s,
        server_cpu_s=None
        if server_started is None or server_finished is None
        else server_finished - server_started,
        latency_ms_p50=percentile(latencies_ms, 50),
        latency_ms_p99=percentile(latencies_ms, 99),
        expected_result=str(expected),
    )


def percentile(values: list[float], rank: int) -> float:
    # statistics.quantiles needs two values; a run of one request has its one latency.
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[rank - 1]


def bench_engine(
    engine: str, fresh: LedgerFactory, plan: LedgerPlan, single_requests: int, repeats: int
) -> list[Measurement]:
    """Batched then replayed on fresh ledgers ``repeats`` times (the median run is reported,
    the spread beside it), and one per request once on another."""
    batches = in_batches(plan.payments)
    runs = []
    for _ in range(repeats):
        with fresh("batched") as opened:
            set_up(opened.ledger, plan)
            batched = measure(engine, "batched", opened, batches, CreateTransferResult.OK)
            replay = measure(engine, "replay", opened, batches, CreateTransferResult.EXISTS)
            runs.append((batched, replay))
    with fresh("single") as opened:
        set_up(opened.ledger, plan)
        singles = [[transfer] for transfer in plan.payments[:single_requests]]
        single = measure(engine, "single", opened, singles, CreateTransferResult.OK)
    return [median_of([b for b, _ in runs]), single, median_of([r for _, r in runs])]


def median_of(runs: list[Measurement]) -> Measurement:
    """The run with the median rate (the lower middle one of an even count), and every rate."""
    ranked = sorted(runs, key=lambda m: m.transfers_per_s)
    rates = tuple(m.transfers_per_s for m in runs)
    return replace(ranked[(len(ranked) - 1) // 2], repeats_transfers_per_s=rates)


# Reporting ----------------------------------------------------------------------------------


def results_table(measurements: list[Measurement], workload: Workload) -> Table:
    table = Table(
        title=f"Ledger: {len(workload.payments):,} payments, {workload.payer_count} payers, "
        f"{workload.payee_count} payees (seed {workload.seed}), one durable commit per request"
    )
    columns = [
        "engine",
        "shape",
        "transfers",
        "requests",
        "transfers/s",
        "min-max /s",
        "p50 ms",
        "p99 ms",
        "CPU µs/transfer",
        "server CPU µs/transfer",
        "target",
    ]
    for column in columns:
        table.add_column(column, justify="left" if column in ("engine", "shape") else "right")
    for index, m in enumerate(measurements):
        last_of_engine = (
            index == len(measurements) - 1 or measurements[index + 1].engine != m.engine
        )
        table.add_row(
            m.engine,
            m.shape,
            f"{m.transfers:,}",
            f"{m.requests:,}",
            f"{m.transfers_per_s:,.0f}",
            spread_cell(m),
            f"{m.latency_ms_p50:,.3f}",
            f"{m.latency_ms_p99:,.3f}",
            f"{m.cpu_us_per_transfer:,.1f}",
            "-" if m.server_cpu_us_per_transfer is None else f"{m.server_cpu_us_per_transfer:,.1f}",
            target_cell(m),
            end_section=last_of_engine,
        )
    return table


def spread_cell(m: Measurement) -> str:
    rates = m.repeats_transfers_per_s
    if len(rates) < 2:
        return ""
    return f"{min(rates):,.0f}-{max(rates):,.0f}"


def target_cell(m: Measurement) -> str:
    target = m.target_transfers_per_s
    if target is None:
        return ""
    return f"≥ {target:,}: {'met' if m.transfers_per_s >= target else 'MISSED'}"


def target_lines(measurements: list[Measurement]) -> list[str]:
    lines = []
    for (engine, shape), target in TARGETS_TRANSFERS_PER_S.items():
        found = [m for m in measurements if (m.engine, m.shape) == (engine, shape)]
        if not found:
            lines.append(f"Target {engine} {shape} ≥ {target:,} transfers/s: not measured")
            continue
        rate = found[0].transfers_per_s
        verdict = "met" if rate >= target else "missed"
        lines.append(f"Target {engine} {shape} ≥ {target:,} transfers/s: {verdict} ({rate:,.0f}/s)")
    return lines


def ratio_table(chain_results: list[dict[str, Any]], measurements: list[Measurement]) -> Table:
    table = Table(title="The ledger beside the chain modes: batched transfers/s over payments/s")
    columns = [
        "chain mode",
        "settled/s",
        "end to end/s",
        "ledger engine",
        "ledger transfers/s",
        "ledger / settled",
        "ledger / end to end",
    ]
    for column in columns:
        table.add_column(
            column, justify="left" if column in columns[:1] + columns[3:4] else "right"
        )
    batched = [m for m in measurements if m.shape == "batched"]
    for entry in chain_results:
        settled_per_s = float(entry["settled_per_s"])
        end_to_end_per_s = float(entry["end_to_end_per_s"])
        for index, m in enumerate(batched):
            table.add_row(
                str(entry["mode"]) if index == 0 else "",
                f"{settled_per_s:,.0f}" if index == 0 else "",
                f"{end_to_end_per_s:,.0f}" if index == 0 else "",
                m.engine,
                f"{m.transfers_per_s:,.0f}",
                ratio(m.transfers_per_s, settled_per_s),
                ratio(m.transfers_per_s, end_to_end_per_s),
                end_section=index == len(batched) - 1,
            )
    return table


def ratio(ledger_per_s: float, chain_per_s: float) -> str:
    return f"{ledger_per_s / chain_per_s:,.0f}x" if chain_per_s > 0 else "-"


def chain_results_in(out: Path) -> list[dict[str, Any]] | None:
    """The chain bench's per-mode results in ``out``, when it ran there."""
    results_file = out / CHAIN_RESULTS_FILE
    if not results_file.is_file():
        return None
    entries: list[dict[str, Any]] = json.loads(results_file.read_text())
    return entries


def claim_run_folder(out: Path, workload: Workload) -> bool:
    """Record the workload in ``out``; False when ``out`` already holds a different one, whose
    chain results the ledger's must not be set beside."""
    out.mkdir(parents=True, exist_ok=True)
    workload_file = out / WORKLOAD_FILE
    if not workload_file.exists():
        workload.save(workload_file)
        return True
    return Workload.load(workload_file) == workload


# Running ------------------------------------------------------------------------------------


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--payers", type=int, default=100)
    parser.add_argument("--payees", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workload", type=Path, help="replay a recorded workload file instead")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a database the bench may create and drop schemas in (default: "
        "$SETTLEMENT_TEST_POSTGRES_URL, else the tests' postgresql://postgres@127.0.0.1:5432/test)",
    )
    parser.add_argument(
        "--single-requests",
        type=int,
        help="how many payments to send one per request (default: all of them; at most "
        f"{SQLITE_SINGLE_REQUESTS_DEFAULT:,} on SQLite, where each request waits for an fsync)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help="batched and replayed runs per engine, each on a fresh ledger; the median is "
        "reported with the spread beside it",
    )
    parser.add_argument("--out", type=Path, default=Path("runs") / f"ledger-{int(time.time())}")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.repeats <= MAX_REPEATS:
        parser.error(f"--repeats must be between 1 and {MAX_REPEATS}")
    if not 1 <= arguments.payments <= MAX_PAYMENTS:
        parser.error(f"--payments must be between 1 and {MAX_PAYMENTS:,}")
    unknown = set(arguments.engines.split(",")) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; known: {', '.join(ENGINES)}")
    if arguments.single_requests is not None and arguments.single_requests < 1:
        parser.error("--single-requests must be at least 1")
    return arguments


def single_requests_for(engine: str, asked: int | None, payments: int) -> int:
    if asked is not None:
        return min(asked, payments)
    if engine == "sqlite":
        return min(SQLITE_SINGLE_REQUESTS_DEFAULT, payments)
    return payments


def run_engine(
    engine: str, arguments: argparse.Namespace, plan: LedgerPlan, scratch: Path
) -> list[Measurement]:
    """One engine's measurements; PostgreSQL out of reach is skipped with one line."""
    single = single_requests_for(engine, arguments.single_requests, len(plan.payments))
    if single < len(plan.payments):
        console.print(f"  one per request: the first {single:,} of {len(plan.payments):,} only")
    if engine == "sqlite":
        fsync_ms = fsync_latency_ms_p50(scratch)
        console.print(
            f"  one fsync per commit (synchronous=FULL), p50 {fsync_ms:.3f} ms on this disk; "
            f"at most {SQLITE_SINGLE_REQUESTS_DEFAULT:,} one-transfer requests by default"
        )
        repeats = arguments.repeats
        measurements = bench_engine(engine, sqlite_factory(scratch), plan, single, repeats)
        return [replace(m, disk_fsync_ms_p50=fsync_ms) for m in measurements]
    if engine == "memory":
        return bench_engine(engine, memory_ledger, plan, single, arguments.repeats)
    return run_postgres(arguments.postgres_url, plan, single, arguments.repeats)


def fsync_latency_ms_p50(folder: Path) -> float:
    """What one fsync of a small append costs in ``folder``: the floor under a durable commit."""
    probe = folder / "fsync-probe"
    latencies_ms = []
    with probe.open("ab", buffering=0) as file:
        for _ in range(FSYNC_PROBES):
            file.write(b"x" * 100)
            started = time.perf_counter()
            os.fsync(file.fileno())
            latencies_ms.append((time.perf_counter() - started) * 1000)
    probe.unlink()
    return statistics.median(latencies_ms)


def run_postgres(
    url: str, plan: LedgerPlan, single_requests: int, repeats: int
) -> list[Measurement]:
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as error:
        reason = (str(error).strip().splitlines() or ["no reason given"])[0]
        console.print(f"[bold]postgresql[/bold]: skipped, not reachable at {url}: {reason}")
        return []
    with admin:
        fresh = postgres_factory(admin, url)
        return bench_engine("postgresql", fresh, plan, single_requests, repeats)


def load_workload(arguments: argparse.Namespace) -> Workload:
    if arguments.workload:
        return Workload.load(arguments.workload)
    return reference_workload(
        arguments.seed, arguments.payments, arguments.payers, arguments.payees
    )


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    workload = load_workload(arguments)
    if not claim_run_folder(arguments.out, workload):
        console.print(
            f"{arguments.out / WORKLOAD_FILE} is another workload: pass it with --workload, "
            "or choose another --out"
        )
        return 2
    plan = ledger_plan(workload)
    measurements: list[Measurement] = []
    failed = False
    with tempfile.TemporaryDirectory(dir=arguments.out, prefix="ledger-") as scratch:
        for engine in arguments.engines.split(","):
            console.print(f"[bold]{engine}[/bold]: {len(plan.payments):,} transfers")
            try:
                measurements += run_engine(engine, arguments, plan, Path(scratch))
            except UnexpectedResultError as error:
                console.print(f"[bold red]{engine} failed[/bold red]: {error}")
                failed = True
    report(measurements, workload, arguments.out)
    return 1 if failed else 0


def report(measurements: list[Measurement], workload: Workload, out: Path) -> None:
    console.print(results_table(measurements, workload))
    for line in target_lines(measurements):
        console.print(line)
    chain_results = chain_results_in(out)
    if chain_results is None:
        console.print(
            f"No chain results.json in {out}, so no ratios (make bench runs the chain bench first)"
        )
    elif measurements:
        console.print(ratio_table(chain_results, measurements))
    document = [m.record() | workload_record(workload) for m in measurements]
    (out / RESULTS_FILE).write_text(json.dumps(document, indent=2))
    console.print(f"ledger results in {out / RESULTS_FILE}")


def workload_record(workload: Workload) -> dict[str, object]:
    return {
        "seed": workload.seed,
        "payments": len(workload.payments),
        "payers": workload.payer_count,
        "payees": workload.payee_count,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

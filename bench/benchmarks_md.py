"""Write BENCHMARKS.md from one `make bench` folder: every figure, the command, the machine.

    python bench/benchmarks_md.py runs/bench-1795862780            # writes ./BENCHMARKS.md
    python bench/benchmarks_md.py runs/bench-1795862780 --out X.md

It reads what the benches wrote there: results.json (the service, every mode), ledger_results.json
(the ledger engines), fleet_results.json (the economy's speed) and report_results.json (a large
run's report), and puts each mode beside the direct peer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from settlement import __version__

DEFAULT_OUT = Path("BENCHMARKS.md")
# The gas tests' figures, written by one `forge test` run and checked current by `make test`.
GAS_SNAPSHOTS = Path(__file__).resolve().parents[1] / "contracts" / "snapshots"
# The reference workload's shape (settlement/workload.py): what a claim and an account carry.
REFERENCE_PAYMENTS, REFERENCE_PAIRS, REFERENCE_ACCOUNTS = 10_000, 1_430, 200
COMMAND = "make bench"
# Issue 15's targets for the API.
SINGLE_PAYMENT_TARGET_PER_S = 2_000
BULK_TARGET_PER_S = 20_000
END_TO_END_TARGET_PER_S = 10_000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="the folder `make bench` wrote")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    arguments = parser.parse_args(argv)
    chain = _read(arguments.run / "results.json")
    if chain is None:
        parser.error(f"{arguments.run} has no results.json: run `make bench` first")
    text = render(
        arguments.run,
        chain,
        _read(arguments.run / "ledger_results.json") or [],
        _read(arguments.run / "fleet_results.json") or [],
        report=_read(arguments.run / "report_results.json"),
        load=_read(arguments.run / "load_results.json"),
        bulk=_read(arguments.run / "load-bulk" / "load_results.json"),
        realtime=_read(arguments.run / "realtime_results.json"),
        x402=[
            found
            for found in (
                _read(arguments.run / "x402_results.json"),
                _read(arguments.run / "x402-batched" / "x402_results.json"),
            )
            if found is not None
        ],
    )
    arguments.out.write_text(text)
    (arguments.run / "BENCHMARKS.md").write_text(text)
    print(f"wrote {arguments.out} and {arguments.run / 'BENCHMARKS.md'}")
    return 0


def render(
    run: Path,
    chain: list[dict[str, Any]],
    ledger: list[dict[str, Any]],
    fleet: list[dict[str, Any]],
    *,
    report: dict[str, Any] | None = None,
    load: dict[str, Any] | None = None,
    bulk: dict[str, Any] | None = None,
    realtime: dict[str, Any] | None = None,
    x402: list[dict[str, Any]] | None = None,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{COMMAND}` from `{run}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"robot-settlement {__version__}. Reproduce with `{COMMAND}` (about 40 minutes; it "
        "needs the PostgreSQL the tests use).",
        "",
        f"Machine: {machine()}.",
        "",
        "## Settlement through the service, every mode",
        "",
        workload_sentence(chain, ledger),
        "",
        *chain_table(chain),
        "",
        "*Ratios* put each mode beside the direct peer: all-in gas per payment (channel openings "
        "and net deposits included; lower is cheaper) and settled/s (higher is faster).",
        "",
        *peer_section(GAS_SNAPSHOTS),
    ]
    if ledger:
        lines += [
            "## The ledger engines alone",
            "",
            "Each payment is one transfer on a double-entry ledger; *batched* requests carry "
            "8,190 transfers, *single* one, *replay* sends the batches again (every answer "
            "`exists`). Every request is one durable commit. Medians of five runs where a spread "
            "is shown.",
            "",
            *ledger_table(ledger, chain),
            "",
        ]
    if fleet:
        lines += ["## The fleet economy, without settlement", "", *fleet_table(fleet), ""]
    if report is not None:
        lines += [
            "## Reports",
            "",
            f"Writing report.json, report.md and report.html for a run of "
            f"{report['payments']:,} payments: {report['median_s']:.2f} s (median of "
            f"{report['repeats']}; target under 30 s for 1,000,000).",
            "",
        ]
    if load is not None:
        table = saturation_table(load) if "saturation" in load else load_table(load)
        lines += ["## A steady load through the API", "", *table, ""]
    if bulk is not None:
        lines += ["### The bulk route", "", *bulk_lines(bulk), ""]
    if realtime is not None:
        lines += ["## The billionth economy in real time", "", *realtime_table(realtime), ""]
    if x402:
        lines += ["## x402: robots paying per request", "", *x402_lines(x402), ""]
    return "\n".join(lines)


def peer_section(snapshots: Path) -> list[str]:
    """One payment the peers' ways and this project's, from the gas tests of one forge run."""
    peers = _read(snapshots / "PeerComparisonGasTest.json")
    batch = _read(snapshots / "StablecoinBatchGasTest.json")
    channel = _read(snapshots / "PaymentChannelsGasTest.json")
    net = _read(snapshots / "NetSettlementGasTest.json")
    if None in (peers, batch, channel, net):
        return []
    plain = int(peers["openZeppelinTransferTransactionGas"])
    per_claim = int(channel["transactionGasPerClaim_sorted_by_payee"])
    per_account = int(net["transactionGasPerAccount_funded_accounts"])
    rows = [
        ("OpenZeppelin ERC-20 `transfer`", "one payment", plain),
        (
            "this token's `transfer` (direct)",
            "one payment",
            int(peers["stablecoinTransferTransactionGas"]),
        ),
        (
            "USDC-style `transferWithAuthorization`, relayed (authorization)",
            "one payment",
            int(peers["transferWithAuthorizationTransactionGas"]),
        ),
        (
            "`settleBatch` (batch)",
            "1,000 payments among 100 payers and 100 payees",
            int(batch["transactionGasPerPayment_1000Payments"]),
        ),
        (
            "`settleBatch` (batch)",
            "2,000 payments among the same accounts",
            int(batch["transactionGasPerPayment_2000Payments"]),
        ),
        (
            "`settleBatch` (batch)",
            "2,000 payments of 20 payers to 100 payees, whole payers as the service plans them",
            int(batch["transactionGasPerPayment_2000PaymentsFrom20Payers"]),
        ),
        (
            "`claim` (channel)",
            f"100 claims to 10 payees; {REFERENCE_PAYMENTS / REFERENCE_PAIRS:.1f} payments a "
            "claim, as in the reference workload",
            round(per_claim * REFERENCE_PAIRS / REFERENCE_PAYMENTS),
        ),
        (
            "`settleWindow` (net)",
            f"200 accounts; {REFERENCE_PAYMENTS // REFERENCE_ACCOUNTS} payments an account, as in "
            "the reference workload",
            round(per_account * REFERENCE_ACCOUNTS / REFERENCE_PAYMENTS),
        ),
    ]
    table = [
        "| way to pay | one transaction carries | gas per payment | vs OpenZeppelin transfer |",
        "|---|---|---:|---:|",
        *(f"| {way} | {carries} | {gas:,} | {gas / plain:.3f}x |" for way, carries, gas in rows),
    ]
    return [
        "## One payment, the peers' ways and this project's",
        "",
        "From the gas tests of one `forge test` run (`contracts/snapshots/*.json`, checked current "
        "by `make test`): whole-transaction gas as a receipt's gasUsed (the 21,000 base, calldata "
        "and execution with every slot cold), between accounts that already hold tokens. Channel "
        f"and net figures are per claim ({per_claim:,}) and per account ({per_account:,}) spread "
        "over the payments each carries in the reference workload, without the openings and "
        "deposits made once (the service table above has them all-in).",
        "",
        *table,
        "",
    ]


def saturation_table(load_run: dict[str, Any]) -> list[str]:
    """The saturation search: each step's offered and answered rate, latency and CPU."""
    plan, saturation = load_run["plan"], load_run["saturation"]
    held, answered = (
        saturation["highest_rate_held_per_s"],
        saturation["highest_rate_answered_per_s"],
    )
    rows = [
        f"| {row['offered_per_s']:,.0f} | {row['achieved_per_s']:,.0f} | "
        f"{row['latency_ms_p50']:,.0f} | {row['latency_ms_p99']:,.0f} | {row['errors']:,} | "
        f"{row['cpu_us_per_request']:,.0f} | {row['cpu_cores']:.2f} | "
        f"{row['rss_growth_mib']:+,.1f} | {row['broke'] or 'held'} |"
        for row in saturation["steps"]
    ]
    return [
        f"`{load_run['command']}`: {plan['mode']} mode, `settlement serve --workers "
        f"{load_run.get('workers', 1)}`, one payment per `POST /v1/payments`, open loop, each "
        f"step {plan['measured_requests'] / plan['rate_per_s']:g} s after a warm-up, at most "
        f"{plan['concurrency']} in flight; "
        "latency from each request's due time. The search stops at the first step that falls "
        "behind.",
        "",
        "| offered /s | answered /s | p50 ms | p99 ms | errors | CPU µs/request | "
        "service cores | RSS growth MiB | result |",
        "|" + "---:|" * 8 + "---|",
        *rows,
        "",
        f"Highest rate held with p99 ≤ {saturation['p99_bound_ms']:g} ms: "
        + (f"{held:,.0f} requests/s" if held else "none of the steps")
        + "; highest answered in full: "
        + (f"{answered:,.0f} requests/s" if answered else "none of the steps")
        + f" (target: {SINGLE_PAYMENT_TARGET_PER_S:,} held for 60 s: "
        + ("met" if held and held >= SINGLE_PAYMENT_TARGET_PER_S else "missed")
        + ").",
    ]


def bulk_lines(bulk: dict[str, Any]) -> list[str]:
    """The bulk route's saturation steps: payments accepted per second, and end to end."""
    plan, saturation = bulk["plan"], bulk["saturation"]
    rows = [
        f"| {row['offered_per_s'] * plan['payments_per_request']:,.0f} | "
        f"{row['accepted_payments_per_s']:,.0f} | {row['end_to_end_settled_per_s']:,.0f} | "
        f"{row['latency_ms_p99']:,.0f} | {row['errors']:,} | {row['cpu_cores']:.2f} | "
        f"{row['broke'] or 'held'} |"
        for row in saturation["steps"]
    ]
    held = [r for r in saturation["steps"] if r["broke"] is None]
    best = max(held, key=lambda r: r["accepted_payments_per_s"]) if held else None
    accepted = best["accepted_payments_per_s"] if best else 0.0
    end_to_end = max((r["end_to_end_settled_per_s"] for r in saturation["steps"]), default=0.0)
    return [
        f"`{bulk['command']}`: {plan['mode']} mode, {plan['payments_per_request']:,} payments "
        "per `POST /v1/payments/batch`, stepped up until a step falls behind or its p99 passes "
        f"{saturation['p99_bound_ms']:,.0f} ms.",
        "",
        "| offered payments/s | accepted/s | first send to last confirmed /s | p99 ms | errors | "
        "service cores | result |",
        "|" + "---:|" * 6 + "---|",
        *rows,
        "",
        f"Best held: {accepted:,.0f} payments/s accepted (target ≥ {BULK_TARGET_PER_S:,}: "
        f"{'met' if accepted >= BULK_TARGET_PER_S else 'missed'}); end to end at most "
        f"{end_to_end:,.0f} payments/s (target ≥ {END_TO_END_TARGET_PER_S:,}: "
        f"{'met' if end_to_end >= END_TO_END_TARGET_PER_S else 'missed'}).",
    ]


def x402_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Paid requests through the x402 handshake, the service as the facilitator; one payment a
    transaction and, when run, many."""
    first = runs[0]
    rows = [
        f"| {'many a transaction' if run.get('batched') else 'one a transaction'} | "
        f"{run['paid_requests']:,} | {run['paid_per_s']:,.1f} | {run['latency_ms']['p50']:,.0f} | "
        f"{run['latency_ms']['p99']:,.0f} | {run['transactions']:,} | {run['gas_per_payment']:,} | "
        f"{run['service_cpu_us_per_payment']:,} |"
        for run in runs
    ]
    return [
        f"`{first['command']}` (and with `--batched`): {first['robots']} robots buying "
        f"{first['bundles_per_robot']} bundles of inference each from a compute provider behind "
        "the x402 SDK's FastAPI middleware, paying with the SDK's client (`exact`, EIP-3009), the "
        "service verifying and settling (`serve --mode authorization --window-seconds "
        f"{first['window_seconds']:g}`; `--batched` sets `SETTLEMENT_AUTHORIZATIONS_BATCHED`).",
        "",
        "| settled | paid requests | paid /s | p50 ms | p99 ms | transactions | gas/payment | "
        "service CPU µs/payment |",
        "|---|" + "---:|" * 7,
        *rows,
        "",
        "Latency is the whole handshake: the 402, signing, verify, the bundle, and settle, which "
        "answers once the payment's transaction is mined. Each robot buys one bundle after "
        "another, so the rate is bound by that latency, not by the service.",
    ]


def realtime_table(realtime: dict[str, Any]) -> list[str]:
    """Each speed's replay of the busiest hour: offered against accepted and settled."""
    runs = realtime["runs"]
    header = "| | " + " | ".join(f"{run['speed']:g}x" for run in runs) + " |"

    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    return [
        f"`{realtime['command']}`: the {realtime['scenario']} day's busiest hour (hour "
        f"{realtime['hour']}, {realtime['hour_payments']:,} payments, "
        f"{realtime['hour_payments'] / 3600:,.0f}/s on average), its first "
        f"{realtime['minutes']} minutes with all {realtime['participants']:,} participants, "
        f"through `settlement serve --mode net --workers {realtime['workers']}` over HTTP, "
        "batched per 100 ms as a fleet gateway would send them. Signing happens before the "
        "clock starts; the offer stops once payments wait more than the lag bound.",
        "",
        header,
        "|---|" + "---:|" * len(runs),
        row("offered payments/s", [f"{r['offered_per_s']:,.0f}" for r in runs]),
        row("accepted payments/s", [f"{r['accepted_per_s']:,.0f}" for r in runs]),
        row(
            "settled payments/s while offered",
            [f"{r['settled_per_s_during_offer']:,.0f}" for r in runs],
        ),
        row("end to end payments/s", [f"{r['end_to_end_per_s']:,.0f}" for r in runs]),
        row("deepest queue", [f"{r['max_queued']:,}" for r in runs]),
        row(
            "p99 acceptance to confirmation",
            [f"{r['acceptance_to_confirmation_ms']['p99'] / 1000:,.1f} s" for r in runs],
        ),
        row("service CPU, cores", [f"{r['service_cpu_cores']:.2f}" for r in runs]),
        row(
            "sent / accepted / lost",
            [f"{r['sent']:,} / {r['accepted']:,} / {r['lost']:,}" for r in runs],
        ),
        row("kept up", ["yes" if r["kept_up"] else f"no: {r['why_not']}" for r in runs]),
    ]


def load_table(load_run: dict[str, Any]) -> list[str]:
    """The load test's figures: rates, latency, errors, memory and what settled."""
    plan, load, memory = load_run["plan"], load_run["load"], load_run["memory"]
    settled, latency = load_run["settlement"], load["latency_ms"]
    return [
        f"`{load_run['command']}`: {plan['mode']} mode, one payment per `POST /v1/payments`, "
        f"open-loop at {plan['rate_per_s']:g} requests/s for {load['requests']:,} requests "
        f"after a warm-up, at most {plan['concurrency']} in flight. Latency runs from each "
        "request's due time. Load average before and after: "
        f"{load_run['load_average_before'][0]:.1f}, {load_run['load_average_after'][0]:.1f}.",
        "",
        "| offered /s | answered /s | p50 ms | p99 ms | max ms | errors | RSS start MiB | "
        "RSS end MiB | growth MiB (bound) | CPU µs/request | settled / accepted |",
        "|" + "---:|" * 11,
        f"| {load['offered_per_s']:,.1f} | {load['achieved_per_s']:,.1f} | "
        f"{latency['p50']:,.0f} | {latency['p99']:,.0f} | {latency['max']:,.0f} | "
        f"{load['errors']:,} | {memory['rss_start_mib']:,.1f} | {memory['rss_end_mib']:,.1f} | "
        f"{memory['rss_growth_mib']:+,.1f} ({memory['max_rss_growth_mib']:g}) | "
        f"{memory['cpu_us_per_request']:,.0f} | {settled['settled']:,} / {settled['accepted']:,} |",
    ]


def machine() -> str:
    memory = ""
    try:
        memory = f", {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return (
        f"{platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs{memory}, "
        f"Python {platform.python_version()}"
    )


def workload_sentence(chain: list[dict[str, Any]], ledger: list[dict[str, Any]]) -> str:
    payments = chain[0]["payments"] if chain else 0
    seed = ledger[0].get("seed") if ledger else None
    seeded = f" (seed {seed})" if seed is not None else ""
    return (
        f"One recorded workload of {payments:,} payments{seeded}, replayed through the service "
        "in each mode, each on a fresh Anvil mining a block a second. Latency is acceptance to "
        "confirmation with every payment accepted before settling starts, so it is mostly "
        "queueing."
    )


def chain_table(chain: list[dict[str, Any]]) -> list[str]:
    direct = next((r for r in chain if r["mode"] == "direct"), None)
    header = (
        "| mode | settled | txs | gas/payment | all-in gas/payment | accepted/s | settled/s | "
        "p50 ms | p99 ms | CPU µs/payment | all-in gas vs direct | settled/s vs direct |"
    )
    lines = [header, "|---|" + "---:|" * 11]
    for r in chain:
        gas_ratio = (
            f"{r['all_in_gas_per_payment'] / direct['gas_per_payment']:.3f}x"
            if direct and r["mode"] != "ledger"
            else "-"
        )
        speed_ratio = f"{r['settled_per_s'] / direct['settled_per_s']:.1f}x" if direct else "-"
        lines.append(
            f"| {r['mode']} | {r['settled']:,} | {r['transactions']:,} | "
            f"{r['gas_per_payment']:,.0f} | {r['all_in_gas_per_payment']:,.0f} | "
            f"{r['accepted_per_s']:,.0f} | {r['settled_per_s']:,.0f} | "
            f"{r['latency_ms_p50']:,.0f} | {r['latency_ms_p99']:,.0f} | "
            f"{r['cpu_ns_per_payment'] / 1000:,.0f} | {gas_ratio} | {speed_ratio} |"
        )
    return lines


def ledger_table(ledger: list[dict[str, Any]], chain: list[dict[str, Any]]) -> list[str]:
    direct = next((r for r in chain if r["mode"] == "direct"), None)
    lines = [
        "| engine | shape | transfers/s | min-max /s | p50 ms | p99 ms | CPU µs/transfer | "
        "target | vs direct settled/s |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for m in ledger:
        repeats = m.get("repeats_transfers_per_s") or []
        spread = f"{min(repeats):,.0f}-{max(repeats):,.0f}" if len(repeats) > 1 else ""
        target = m.get("target_transfers_per_s")
        verdict = (
            "" if target is None else f"≥ {target:,}: {'met' if m['target_met'] else 'MISSED'}"
        )
        ratio = f"{m['transfers_per_s'] / direct['settled_per_s']:,.0f}x" if direct else "-"
        lines.append(
            f"| {m['engine']} | {m['shape']} | {m['transfers_per_s']:,.0f} | {spread} | "
            f"{m['latency_ms_p50']:,.3g} | {m['latency_ms_p99']:,.3g} | "
            f"{m['cpu_us_per_transfer']:,.1f} | {verdict} | {ratio} |"
        )
    return lines


def fleet_table(fleet: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| scenario | robots | steps | wall s | robot-steps/s | payments | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in fleet:
        met = s["robot_steps_per_s"] >= 1_000_000
        target = f"≥ 1,000,000 robot-steps/s: {'met' if met else 'MISSED'}"
        if s["scenario"] == "billionth" and s["simulated_hours"] >= 24:
            target += f"; 24 h in < 600 s: {'met' if s['wall_s'] < 600 else 'MISSED'}"
        lines.append(
            f"| {s['scenario']} | {s['robots']:,} | {s['steps']:,} | {s['wall_s']:,.1f} | "
            f"{s['robot_steps_per_s']:,.0f} | {s['payments']:,} | {target} |"
        )
    return lines


def _read(path: Path) -> Any:
    if not path.exists():
        return None
    return json.loads(path.read_text())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

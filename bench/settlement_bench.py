"""Replay one recorded workload through each settlement mode on a fresh Anvil; print the figures.

    python bench/settlement_bench.py                       # the reference workload, every mode
    python bench/settlement_bench.py --modes batch --payments 2000

Each mode gets its own Anvil and its own store, so no mode inherits another's warm state.
Anvil mines a block every ``--block-time`` seconds (1 by default, like a fast L2). Its default,
one block per transaction as it arrives, slows to about 40 transactions/s once thousands are
pending, which would measure Anvil's mempool rather than settlement; ``--block-time 0`` keeps it.
Payers and payees hold tokens before the run (steady state). Channel mode opens one channel per
payer and payee pair of the workload, and net mode deposits each payer's total, before the clock
starts; that funding is on-chain work the other modes do not need, so its gas is reported apart
("setup gas") and in the all-in figure.
Signing is the robots' work and is timed apart; "accepted/s" is the service verifying and storing
payments; "settled/s" runs from the first settlement round to the last confirmation; "end to end"
from the first submission to the last confirmation.
The replay itself (funding, signing, submitting, settling, measuring) is ``settlement.replay``;
this script runs it once per mode on its own Anvil and prints and records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
from settlement.config import Settings
from settlement.domain.payments import SettlementMode
from settlement.replay import ReplayMeasurement, replay_payments, workload_replay
from settlement.runtime import SUPPORTED_MODES, running_service
from settlement.workload import Workload, reference_workload

console = Console(width=170)


async def bench_mode(
    mode: SettlementMode, workload: Workload, anvil_bin: Path, block_time_s: int
) -> ReplayMeasurement:
    mining = ["--block-time", str(block_time_s)] if block_time_s > 0 else []
    with EmbeddedAnvil(anvil_bin, extra_args=mining) as rpc_url:
        settings = Settings(rpc_url=rpc_url, window_max_payments=1_000)
        async with running_service(settings, [mode]) as runtime:
            outcome = await replay_payments(runtime, mode, workload_replay(workload))
    assert not outcome.refusals, f"the workload must be accepted whole: {outcome.refusals}"
    return outcome.measurement


def print_results(results: list[ReplayMeasurement], workload: Workload, block_time_s: int) -> None:
    direct = next((r for r in results if r.mode == SettlementMode.DIRECT.value), None)
    table = Table(
        title=f"{len(workload.payments):,} payments, {workload.payer_count} payers, "
        f"{workload.payee_count} payees (seed {workload.seed}), Anvil block time {block_time_s} s"
    )
    columns = [
        "mode",
        "settled",
        "txs",
        "gas/payment",
        "all-in gas/payment",
        "accepted/s",
        "settled/s",
        "end to end/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "CPU µs/pay",
        "gas vs direct",
        "speed vs direct",
    ]
    for column in columns:
        table.add_column(column, justify="left" if column == "mode" else "right")
    for result in results:
        gas_ratio = f"{result.gas_per_payment / direct.gas_per_payment:.3f}x" if direct else "-"
        speed_ratio = f"{result.end_to_end_per_s / direct.end_to_end_per_s:.1f}x" if direct else "-"
        table.add_row(
            result.mode,
            f"{result.settled:,}",
            f"{result.transactions:,}",
            f"{result.gas_per_payment:,.0f}",
            f"{result.all_in_gas_per_payment:,.0f}",
            f"{result.accepted_per_s:,.0f}",
            f"{result.settled_per_s:,.0f}",
            f"{result.end_to_end_per_s:,.0f}",
            f"{result.latency_ms_p50:,.0f}",
            f"{result.latency_ms_p95:,.0f}",
            f"{result.latency_ms_p99:,.0f}",
            f"{result.cpu_ns_per_payment / 1000:,.0f}",
            gas_ratio,
            speed_ratio,
        )
    console.print(table)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--payers", type=int, default=100)
    parser.add_argument("--payees", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workload", type=Path, help="replay a recorded workload file instead")
    parser.add_argument("--modes", default=",".join(mode.value for mode in SUPPORTED_MODES))
    parser.add_argument(
        "--block-time", type=int, default=1, help="seconds; 0 mines per transaction"
    )
    parser.add_argument("--out", type=Path, default=Path("runs") / f"bench-{int(time.time())}")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.payments <= 1_000_000:
        parser.error("--payments must be between 1 and 1,000,000")
    return arguments


async def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    workload = (
        Workload.load(arguments.workload)
        if arguments.workload
        else reference_workload(
            arguments.seed, arguments.payments, arguments.payers, arguments.payees
        )
    )
    modes = [SettlementMode(mode) for mode in arguments.modes.split(",")]
    arguments.out.mkdir(parents=True, exist_ok=True)
    workload.save(arguments.out / "workload.json")
    anvil_bin = find_anvil_binary(Settings().contracts_dir)
    results = []
    for mode in modes:
        console.print(f"[bold]{mode.value}[/bold]: replaying {len(workload.payments):,} payments")
        result = await bench_mode(mode, workload, anvil_bin, arguments.block_time)
        console.print(
            f"  {result.settled:,} settled, {result.failed} failed in {result.end_to_end_s:.1f} s"
        )
        results.append(result)
    print_results(results, workload, arguments.block_time)
    document = [
        asdict(result)
        | {
            "gas_per_payment": result.gas_per_payment,
            "all_in_gas_per_payment": result.all_in_gas_per_payment,
            "accepted_per_s": result.accepted_per_s,
            "settled_per_s": result.settled_per_s,
            "end_to_end_per_s": result.end_to_end_per_s,
            "cpu_ns_per_payment": result.cpu_ns_per_payment,
        }
        for result in results
    ]
    (arguments.out / "results.json").write_text(json.dumps(document, indent=2))
    console.print(f"workload and results in {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))

"""How long a fleet run's report takes for a run of a million payments or more.

    python bench/report_bench.py                     # city, enough steps for 1,000,000 payments
    python bench/report_bench.py --payments 3000000 --out runs/report-bench

The run is simulated first (not timed), with a made-up settlement.json beside it in every mode,
shaped as a real one (full timelines and prices), so the report does all its work: read the
stream, count pairs and sizes, price rails, run the policy per profile, render Markdown and HTML.
Target from issue 6, on this machine: under 30 seconds for 1,000,000 payments.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from robots.run import STEPS_FILE, simulate, write_run
from robots.scenario import load_scenario
from settlement.domain.payments import SettlementMode
from settlement.domain.timeline import CDF_POINTS, MAX_BINS
from settlement.report import write_report

TARGET_S = 30.0
# A city day makes about 2.8 million payments in 1,440 steps.
CITY_PAYMENTS_PER_STEP = 1_900
REPEATS = 3
console = Console(width=120)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="keep the run and its report in this folder")
    parser.add_argument(
        "--results", type=Path, help="write report_results.json into this folder (make bench)"
    )
    arguments = parser.parse_args(argv)
    if not 1_000 <= arguments.payments <= 20_000_000:
        parser.error("--payments must be between 1,000 and 20,000,000")
    return arguments


def simulate_run(folder: Path, payments: int, seed: int) -> int:
    """A city run of at least ``payments`` payments in ``folder``; how many it made."""
    steps = min(1_440, payments // CITY_PAYMENTS_PER_STEP + 1)
    model, summary = simulate(load_scenario("city", {"steps": str(steps)}), seed)
    write_run(folder, model, summary)
    write_settlement_like(folder, summary.payments, summary.value_base_units, steps)
    return summary.payments


def write_settlement_like(folder: Path, payments: int, value: int, steps: int) -> None:
    """A settlement.json of the real shape, every mode at full size: the report's largest input
    besides the stream."""
    prices = {
        name: {"profile": name, "usd_per_payment": "0.0001", "share_of_value_settled": "0.01",
               "energy_wh_per_payment": "0.000001"}
        for name in ("anvil-local", "base", "optimism", "arbitrum-one", "ethereum-l1")
    }  # fmt: skip
    modes = []
    for mode in SettlementMode:
        modes.append(
            {
                "mode": mode.value, "payments_in_stream": payments,
                "payments_settled_attempted": payments, "settled": payments, "failed": 0,
                "failure_reasons": {}, "transactions": payments // 1_000, "gas_total": payments,
                "setup_gas": 0, "accepted_per_s": 1.0, "settled_per_s": 1.0,
                "end_to_end_per_s": 1.0, "latency_ms_p50": 1.0, "latency_ms_p95": 2.0,
                "latency_ms_p99": 3.0, "service_cpu_ns_per_payment": 1_000,
                "value_settled_base_units": value, "sampled": False,
                "mean_payment_base_units": max(value // max(payments, 1), 1),
                "timeline": {
                    "start_at": 0.0, "bin_s": 1.0, "accepted": [payments // MAX_BINS] * MAX_BINS,
                    "settled": [payments // MAX_BINS] * MAX_BINS,
                    "latency_ms_percentiles": [float(i) for i in range(CDF_POINTS)],
                },
                "prices": prices,
            }
        )  # fmt: skip
    document = {"profile": "base", "sampled_participants": None, "modes": modes}
    (folder / "settlement.json").write_text(json.dumps(document))
    step_file = folder / STEPS_FILE
    rows = json.loads(step_file.read_text())
    for row in rows:
        row["settlement_cost_share"] = {mode.value: 0.01 for mode in SettlementMode}
    step_file.write_text(json.dumps(rows))
    assert len(rows) == steps


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    with tempfile.TemporaryDirectory(prefix="report-bench-") as scratch:
        folder = arguments.out or Path(scratch) / "run"
        console.print(f"simulating a city run of at least {arguments.payments:,} payments")
        payments = simulate_run(folder, arguments.payments, arguments.seed)
        timings = []
        for repeat in range(REPEATS):
            started = time.perf_counter()
            written = write_report(folder)
            timings.append(time.perf_counter() - started)
            console.print(f"  report {repeat + 1}/{REPEATS}: {timings[-1]:.2f} s")
        median = statistics.median(timings)
        table = Table(title="Writing a fleet run's report (report.json, .md, .html)")
        for column in ("payments", "median s", "min-max s", "html KiB", "target", "verdict"):
            table.add_column(column, justify="right")
        table.add_row(
            f"{payments:,}",
            f"{median:.2f}",
            f"{min(timings):.2f}-{max(timings):.2f}",
            f"{written.html_path.stat().st_size / 1024:,.0f}",
            f"< {TARGET_S:.0f} s for 1,000,000",
            "met" if median * 1_000_000 / payments < TARGET_S else "MISSED",
        )
        console.print(table)
    if arguments.results:
        record = {"payments": payments, "median_s": median, "repeats": REPEATS}
        (arguments.results / "report_results.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

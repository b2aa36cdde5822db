"""Terminal views of a fleet run: the summary table ``robots simulate`` ends with."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.table import Table

from robots.pricing import SettlementCost
from robots.run import RunSummary
from robots.sweep import SweepRun
from robots.x402_fleet import X402Settlement
from settlement.domain.fees import PaymentPrice, format_share, format_usd
from settlement.domain.money import format_dollars
from settlement.terminal_table import fitted_table


def summary_table(summary: RunSummary) -> Table:
    table = Table(title=f"Fleet run: scenario {summary.scenario}, seed {summary.seed}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("robots / participants", f"{summary.robots:,} / {summary.participants:,}"),
        ("simulated", f"{summary.steps:,} steps, {summary.simulated_hours:g} h"),
        ("wall time", f"{summary.wall_s:.2f} s ({summary.robot_steps_per_s:,.0f} robot-steps/s)"),
        (
            "energy harvested / spent on goods",
            f"{summary.harvested_kwh:,.1f} / {summary.spent_kwh:,.1f} kWh",
        ),
        ("energy unaccounted", f"{summary.unaccounted_wh:.3g} Wh"),
        ("goods made / sold", f"{summary.goods_made:,} / {summary.goods_sold:,}"),
        ("payments", f"{summary.payments:,}"),
        ("value paid", format_dollars(summary.value_base_units)),
        ("mean payment", format_dollars(round(summary.mean_payment_base_units))),
        ("robots' wealth Gini at the end", f"{summary.robot_wealth_gini_end:.3f}"),
    ]
    rows += [
        (f"payments for {purpose}", f"{n:,}") for purpose, n in summary.payments_by_purpose.items()
    ]
    for row in rows:
        table.add_row(*row)
    return table


SETTLEMENT_HEADER = (
    "mode",
    "settled",
    "failed",
    "share of stream",
    "all-in gas/payment",
    "USD/payment",
    "cost / value settled",
    "settled/s",
)


def settlement_table(
    costs: Sequence[SettlementCost], stream_payments: int, profile: str, width: int
) -> RenderableType:
    """Each mode's settlement of the run, as one table or, in a terminal narrower than
    ``width`` needs, as several that repeat the mode column."""
    rows = []
    for cost in costs:
        s = cost.settlement
        settled = max(s.settled, 1)
        rows.append(
            [
                s.mode.value,
                f"{s.settled:,}",
                f"{s.failed:,}",
                f"{s.payments_settled_attempted / max(stream_payments, 1):.1%}",
                f"{(s.gas_total + s.setup_gas) / settled:,.0f}",
                format_usd(cost.price.usd_per_payment),
                format_share(cost.share_of_value_settled),
                f"{s.settled_per_s:,.0f}",
            ]
        )
    title = f"Settling the run's payments, priced on {profile}"
    return fitted_table(title, SETTLEMENT_HEADER, rows, width)


def sweep_table(runs: Sequence[SweepRun], names: Sequence[str]) -> Table:
    table = Table(title=f"Sweep: {len(runs)} runs")
    columns = [*names, "seed", "payments", "value paid", "mean payment", "goods sold", "Gini"]
    for column in columns:
        table.add_column(column, justify="right")
    for run in runs:
        s = run.summary
        table.add_row(
            *(run.values[name] for name in names),
            str(run.seed),
            f"{s.payments:,}",
            format_dollars(s.value_base_units),
            format_dollars(round(s.mean_payment_base_units)),
            f"{s.goods_sold:,}",
            f"{s.robot_wealth_gini_end:.3f}",
        )
    return table


def x402_summary(x402: X402Settlement, prices: dict[str, PaymentPrice], profile: str) -> str:
    """One paragraph: the compute payments paid over x402, their cost, and whether the providers
    received exactly what was paid."""
    price = prices.get(profile)
    cost = (
        f"{x402.gas_per_payment:,.0f} gas per payment in {x402.transactions:,} transactions, "
        f"{format_usd(price.usd_per_payment)} each on {profile}"
        if price is not None
        else "nothing settled"
    )
    refused = ", ".join(f"{reason} x{n:,}" for reason, n in x402.refusal_reasons.items())
    received = (
        "the providers received exactly that"
        if x402.received_what_was_paid
        else f"the providers' balances rose by {format_dollars(x402.value_received_base_units)}"
    )
    return (
        f"x402: {x402.paid:,} of {x402.attempted:,} compute payments paid over HTTP 402 "
        f"({x402.paid_per_s:,.1f}/s, p50 {x402.latency_ms_p50:,.0f} ms, p99 "
        f"{x402.latency_ms_p99:,.0f} ms, settlement included); {cost}; "
        f"{format_dollars(x402.value_paid_base_units)} paid and {received}"
        + (f"; refused: {refused}" if refused else "")
    )

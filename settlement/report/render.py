"""A report as Markdown (tables) and as one self-contained HTML page (tables and inline charts)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from html import escape
from typing import Any

from settlement.domain.fees import format_duration
from settlement.report.svg import Axis, bar_chart, line_chart, series_chart

Row = Sequence[str]


TERMINAL_COLUMNS = (0, 1, 2, 3, 4, 5, 7, 9)  # mode .. cost / value, settled/s, p99


def summary_rows(
    report: dict[str, Any], *, compact: bool = False
) -> tuple[list[str], list[list[str]]]:
    """The per-mode table every rendering leads with; ``compact`` keeps the columns that fit a
    terminal."""
    header, rows = _summary_rows(report)
    if not compact:
        return header, rows
    kept = [[row[i] for i in TERMINAL_COLUMNS] for row in rows]
    return [header[i] for i in TERMINAL_COLUMNS], kept


def _summary_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    profile = report["settlement"]["profile"]
    header = [
        "mode",
        "settled",
        "failed",
        "all-in gas/payment",
        f"USD/payment ({profile})",
        "cost / value",
        "accepted/s",
        "settled/s",
        "p50 ms",
        "p99 ms",
        "CPU µs/payment",
    ]
    rows = []
    for mode in report["settlement"]["modes"]:
        rows.append(
            [
                mode["mode"],
                f"{mode['settled']:,}",
                f"{mode['failed']:,}",
                f"{mode['all_in_gas_per_payment']:,.0f}",
                _usd(mode["usd_per_payment"].get(profile)),
                _share(mode["share_of_value_on_profile"]),
                f"{mode['accepted_per_s']:,.0f}",
                f"{mode['settled_per_s']:,.0f}",
                _ms(mode["latency_ms"]["p50"]),
                _ms(mode["latency_ms"]["p99"]),
                f"{mode['cpu_us_per_payment']:,.0f}",
            ]
        )
    return header, rows


def render_markdown(report: dict[str, Any]) -> str:
    run, economy = report["run"], report["economy"]
    lines = [
        f"# Fleet run {run['folder']}",
        "",
        f"Scenario `{run['scenario'].get('name')}`, seed {run['seed']}, {run['steps']} steps "
        f"({run['simulated_hours']:g} simulated hours). Report schema "
        f"`{report['schema']}` version {report['version']}, generated {report['generated_at']}.",
        "",
        *_answer_markdown(report),
        "## Economy",
        "",
        *_markdown_table(["figure", "value"], economy_rows(economy)),
        "",
        "## Settlement",
        "",
        *_sample_note(report),
        *_modes_markdown(report),
        *_x402_markdown(report),
        *_whole_run_markdown(report),
        "### USD per payment on each chain profile, beside the rails",
        "",
        *_markdown_table(*price_rows(report)),
        "",
        "### Break-even: the smallest payment whose cost is at most 1% of it",
        "",
        *_markdown_table(["way to pay", "break-even payment"], break_even_rows(report)),
        "",
        "### Energy",
        "",
        *_markdown_table(["what", "Wh"], energy_rows(report)),
        "",
        "### The auto policy's choice for this run's payments",
        "",
        _policy_sentence(report),
        "",
        *_markdown_table(["profile", "mode", "USD/payment", "latency s"], policy_rows(report)),
        "",
        "## Parameters, versions and machine",
        "",
        *_markdown_table(["name", "value"], parameter_rows(report)),
        "",
    ]
    return "\n".join(lines)


def render_html(report: dict[str, Any]) -> str:
    run = report["run"]
    title = f"Fleet run {run['folder']}"
    sections = [
        f"<h1>{escape(title)}</h1>",
        f"<p>Scenario <code>{escape(str(run['scenario'].get('name')))}</code>, seed "
        f"{run['seed']}, {run['steps']} steps ({run['simulated_hours']:g} simulated hours). "
        f"Schema <code>{escape(report['schema'])}</code> v{report['version']}, generated "
        f"{escape(report['generated_at'])}.</p>",
        *_answer_html(report),
        "<h2>Settlement</h2>",
        *[f"<p>{escape(line)}</p>" for line in _sample_note(report) if line],
        *([_html_table(*summary_rows(report))] if report["settlement"]["modes"] else []),
        *_x402_html(report),
        *_whole_run_html(report),
        '<div class="charts">',
        *charts(report),
        "</div>",
        "<h2>USD per payment on each chain profile, beside the rails</h2>",
        _html_table(*price_rows(report)),
        "<h2>Break-even (cost at most 1% of the payment)</h2>",
        _html_table(["way to pay", "break-even payment"], break_even_rows(report)),
        "<h2>Economy</h2>",
        _html_table(["figure", "value"], economy_rows(report["economy"])),
        "<h2>Energy</h2>",
        _html_table(["what", "Wh"], energy_rows(report)),
        "<h2>The auto policy's choice</h2>",
        f"<p>{escape(_policy_sentence(report))}</p>",
        _html_table(["profile", "mode", "USD/payment", "latency s"], policy_rows(report)),
        "<h2>Parameters, versions and machine</h2>",
        _html_table(["name", "value"], parameter_rows(report)),
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )


ANSWER_HEADER = [
    "way",
    "settles the run's payments?",
    "smallest payment at ≤ 1%",
    "share of value",
    "latency",
    "hours",
    "Wh/payment",
]
LEVER_LABELS = {
    "eth_usd": "ETH price (USD)",
    "gas_price_gwei": "gas price (gwei)",
    "l2_data_fee_wei_per_byte": "L2 data fee (wei per byte)",
}


def answer_sentences(report: dict[str, Any]) -> list[str]:
    """The answer in plain sentences, for every rendering and the terminal."""
    answer = report.get("answer")
    if not answer:
        return ["This run made no payments, so there is nothing to settle."]
    return list(answer["sentences"])


def answer_rows(answer: dict[str, Any]) -> list[list[str]]:
    return [
        [
            way["way"],
            "yes" if way["settles"] else "no: " + "; ".join(way["reasons"]),
            "never" if way["smallest_payment_usd"] is None else _usd(way["smallest_payment_usd"]),
            _share(way["share_of_value"]),
            "n/a" if way["latency_s"] is None else format_duration(Decimal(str(way["latency_s"]))),
            way["availability"],
            _number(way["energy_wh_per_payment"]),
        ]
        for way in answer["ways"]
    ]


def _answer_note(answer: dict[str, Any]) -> str:
    costs = {
        "measured": f"Chain costs are this run's measured gas on {answer['profile']}, latency "
        "its measured p99 on the local chain",
        "whole run": "Chain costs are every payment of the run counted into each mode's "
        "transactions and priced from the modes' measured gas and bytes on "
        f"{answer['profile']} (the whole-run table below), not a settled sample; latency each "
        "interval's length",
    }.get(
        answer["chain_costs"],
        f"The run was not settled: chain costs are the cost model's on {answer['profile']}",
    )
    energy = _number(answer["energy_per_good_wh"])
    return (
        f"{costs}. Share of value: the cost of all the run's payments settled that way over their "
        "value (a rail: of the payments it can take). Wh/payment is the settlement service's "
        f"CPU energy, beside {energy} Wh to make one good."
    )


def sensitivity_rows(answer: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per way, each lever's value at which its share of value crosses 1%."""
    levers = answer["sensitivity"]["levers"]
    header = ["way"] + [
        f"{LEVER_LABELS[lever['lever']]}, now {_lever_value(lever['profile_value'])}"
        for lever in levers
    ]
    ways = list(levers[0]["flips"]) if levers else []
    rows = [[way, *(_flip_cell(lever["flips"][way]) for lever in levers)] for way in ways]
    return header, rows


def _flip_cell(flip: dict[str, Any]) -> str:
    if flip["unaffected"]:
        return "not affected"
    if flip["at"] == 0:
        return "over 1% at any value"
    return f"under 1% at ≤ {_lever_value(flip['at'])}"


def _lever_value(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.4g}"


def sensitivity_charts(answer: dict[str, Any]) -> list[str]:
    return [
        line_chart(
            f"Share of the run's value against the {LEVER_LABELS[lever['lever']]} "
            f"on {answer['profile']}",
            lever["values"],
            lever["shares"],
            Axis(LEVER_LABELS[lever["lever"]], log=True),
            Axis("cost / value", log=True),
            guide_y=answer["share_line"],
        )
        for lever in answer["sensitivity"]["levers"]
    ]


SENSITIVITY_TITLE = "How the answer moves with ETH price, gas price and L2 data fee"
SENSITIVITY_LEAD = (
    "Each cell: the figure at which the way's share of the run's value reaches 1%, the other "
    "two as on the profile; below it the way stays under 1%."
)


def _answer_markdown(report: dict[str, Any]) -> list[str]:
    answer = report.get("answer")
    lines = ["## Answer", "", " ".join(answer_sentences(report)), ""]
    if not answer:
        return lines
    lines += [*_markdown_table(ANSWER_HEADER, answer_rows(answer)), "", _answer_note(answer), ""]
    if answer["sensitivity"]["levers"]:
        lines += [
            f"### {SENSITIVITY_TITLE}",
            "",
            SENSITIVITY_LEAD,
            "",
            *_markdown_table(*sensitivity_rows(answer)),
            "",
            " ".join(answer["sensitivity"]["sentences"]),
            "",
        ]
    return lines


def _answer_html(report: dict[str, Any]) -> list[str]:
    answer = report.get("answer")
    parts = ["<h2>Answer</h2>", *(f"<p>{escape(s)}</p>" for s in answer_sentences(report))]
    if not answer:
        return parts
    parts += [
        _html_table(ANSWER_HEADER, answer_rows(answer)),
        f"<p>{escape(_answer_note(answer))}</p>",
    ]
    if answer["sensitivity"]["levers"]:
        parts += [
            f"<h3>{SENSITIVITY_TITLE}</h3>",
            f"<p>{escape(SENSITIVITY_LEAD)}</p>",
            _html_table(*sensitivity_rows(answer)),
            *(f"<p>{escape(sentence)}</p>" for sentence in answer["sensitivity"]["sentences"]),
            '<div class="charts">',
            *(f'<figure class="chart">{svg}</figure>' for svg in sensitivity_charts(answer)),
            "</div>",
        ]
    return parts


def charts(report: dict[str, Any]) -> list[str]:
    modes = report["settlement"]["modes"]
    profile = report["settlement"]["profile"]
    rendered = [
        throughput_chart(modes, "accepted"),
        throughput_chart(modes, "settled"),
        latency_cdf_chart(modes),
    ]
    rendered.append(
        bar_chart(
            "All-in gas per payment",
            [m["mode"] for m in modes],
            [m["all_in_gas_per_payment"] for m in modes],
            Axis("gas", log=True),
        )
    )
    rails = report["rails"]
    rendered.append(
        bar_chart(
            f"USD per mean payment: modes on {profile}, and the rails",
            [m["mode"] for m in modes] + [_rail_bar_label(r) for r in rails],
            [m["usd_per_payment"].get(profile) or 0.0 for m in modes]
            + [r["usd_per_payment"] or 0.0 for r in rails],
            Axis("USD", log=True),
        )
    )
    curve = report["break_even"]
    rendered.append(
        line_chart(
            "Cost as a share of value, by payment size",
            curve["amounts_usd"],
            curve["curves"],
            Axis("payment (USD)", log=True),
            Axis("cost / value", log=True),
            guide_y=curve["share_line"],
        )
    )
    steps = report["steps"]
    rendered.append(
        line_chart(
            f"Settlement cost share of each step's value ({profile})",
            list(range(len(steps["payments"]))),
            steps["settlement_cost_share"],
            Axis("step"),
            Axis("cost / value", log=True),
        )
    )
    energy = report["energy"]
    per_payment = energy["service_cpu_wh_per_payment"]
    rendered.append(
        bar_chart(
            "Energy: one good made, against the service's CPU per payment",
            ["one good", *per_payment],
            [energy["per_good_wh"] or 0.0, *(v or 0.0 for v in per_payment.values())],
            Axis("Wh", log=True),
        )
    )
    sizes = report["payment_sizes"]
    if sizes is not None:
        rendered.append(
            bar_chart(
                "Payments by size",
                [f"≥${edge:g}" for edge in sizes["decades_usd"]],
                [float(count) for count in sizes["payments"]],
                Axis("payments", log=True),
            )
        )
    return [f'<figure class="chart">{svg}</figure>' for svg in rendered]


def throughput_chart(modes: list[dict[str, Any]], kind: str) -> str:
    """Each mode's ``kind`` ("accepted" or "settled") payments per second, from its first
    acceptance.

    Each interval is drawn as a flat step across its own width, at the mode's own interval
    width, so a run of one or two intervals still reads as a rate over time rather than a dot,
    and modes whose timelines were cut into different widths line up in seconds.
    """
    series = {
        mode["mode"]: rate_steps(mode["throughput"][kind], mode["throughput"]["bin_s"])
        for mode in modes
        if mode["throughput"][kind]
    }
    return series_chart(
        f"{kind.capitalize()} payments per second over the run",
        series,
        Axis("seconds since the first acceptance"),
        Axis(f"{kind}/s"),
    )


def rate_steps(counts: Sequence[int], bin_s: float) -> list[tuple[float, float | None]]:
    """Counts per interval of ``bin_s`` seconds as a step line of payments per second: each
    interval's rate from its start to its end."""
    assert bin_s > 0, "an interval must have a width"
    points: list[tuple[float, float | None]] = []
    for index, count in enumerate(counts):
        rate = count / bin_s
        points += [(index * bin_s, rate), ((index + 1) * bin_s, rate)]
    return points


def latency_cdf_chart(modes: list[dict[str, Any]]) -> str:
    """Percentile against latency: the share of payments confirmed within each time."""
    percentiles = list(range(101))
    series: dict[str, list[float]] = {}
    for mode in modes:
        cdf = mode["latency_cdf_ms"]
        if cdf:
            series[mode["mode"]] = list(cdf)
    if not series:
        return line_chart("Latency", [], {}, Axis("ms"), Axis("%"))
    # Plot latency on x: one line per mode over its own x values, so draw each as (ms, %).
    all_ms = sorted({ms for values in series.values() for ms in values if ms and ms > 0})
    lines: dict[str, list[float | None]] = {}
    for name, cdf in series.items():
        lines[name] = [_share_within(cdf, ms, percentiles) for ms in all_ms]
    return line_chart(
        "Latency, acceptance to confirmation (CDF)",
        all_ms,
        lines,
        Axis("ms", log=True),
        Axis("% of payments confirmed within"),
    )


def _share_within(cdf: list[float], ms: float, percentiles: list[int]) -> float:
    within = [p for p, value in zip(percentiles, cdf, strict=True) if value <= ms]
    return float(max(within)) if within else 0.0


def economy_rows(economy: dict[str, Any]) -> list[list[str]]:
    return [
        ["robots / participants", f"{economy['robots']:,} / {economy['participants']:,}"],
        ["payments", f"{economy['payments']:,}"],
        ["value paid", f"${economy['value_usd']:,.6f}"],
        ["mean payment", f"${economy['mean_payment_usd']:.6f}"],
        [
            "payments by purpose",
            ", ".join(f"{k} {v:,}" for k, v in economy["payments_by_purpose"].items()),
        ],
        ["energy harvested / spent", f"{economy['harvested_kwh']:,.2f} / "
         f"{economy['spent_kwh']:,.2f} kWh"],
        ["goods made / sold", f"{economy['goods_made']:,} / {economy['goods_sold']:,}"],
        ["robots' wealth Gini at the end", f"{economy['robot_wealth_gini_end']:.3f}"],
        ["simulation speed", f"{economy['robot_steps_per_s']:,.0f} robot-steps/s"],
    ]  # fmt: skip


def price_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    modes = report["settlement"]["modes"]
    profiles = sorted({name for mode in modes for name in mode["usd_per_payment"]})
    header = ["mode", *profiles]
    rows = [
        [mode["mode"], *(_usd(mode["usd_per_payment"].get(name)) for name in profiles)]
        for mode in modes
    ]
    for rail in report["rails"]:
        # The minimum beside the name says why a cell reads "not possible".
        label = f"{rail['rail']} (rail, minimum {_usd(rail['minimum_charge_usd'])})"
        rows.append([label, *([_rail_usd(rail)] * len(profiles))])
    return header, rows


def _rail_usd(rail: dict[str, Any]) -> str:
    return "not possible" if rail["not_possible"] else _usd(rail["usd_per_payment"])


def _rail_bar_label(rail: dict[str, Any]) -> str:
    # A rail with no price draws no bar; its label says why the bar is missing.
    return rail["rail"] if rail["usd_per_payment"] is not None else f"{rail['rail']}: none"


X402_TITLE = "Compute payments over x402"


def _modes_markdown(report: dict[str, Any]) -> list[str]:
    if not report["settlement"]["modes"]:
        return []
    return [*_markdown_table(*summary_rows(report)), ""]


def _x402_markdown(report: dict[str, Any]) -> list[str]:
    x402 = report.get("x402")
    if not x402:
        return []
    table = _markdown_table(["figure", "value"], x402_rows(report))
    return [f"### {X402_TITLE}", "", x402_sentence(x402), "", *table, ""]


def _x402_html(report: dict[str, Any]) -> list[str]:
    x402 = report.get("x402")
    if not x402:
        return []
    return [
        f"<h3>{X402_TITLE}</h3>",
        f"<p>{escape(x402_sentence(x402))}</p>",
        _html_table(["figure", "value"], x402_rows(report)),
    ]


def x402_sentence(x402: dict[str, Any]) -> str:
    received = (
        "the providers received exactly that"
        if math.isclose(x402["value_received_usd"], x402["value_paid_usd"], abs_tol=1e-9)
        else f"the providers' balances rose by {_usd(x402['value_received_usd'])}"
    )
    return (
        f"{x402['paid']:,} of {x402['payments_attempted']:,} compute payments were paid over "
        "HTTP 402: each robot bought its bundles from its provider, an x402 resource server "
        "(the official SDK's middleware), with the SDK's client; the settlement service at "
        f"{x402['settled_by']} verified and settled them as the facilitator. "
        f"{_usd(x402['value_paid_usd'])} was paid and {received}. Latency runs from the "
        "first request to the paid answer, the settlement's transaction mined in between."
    )


def x402_rows(report: dict[str, Any]) -> list[list[str]]:
    x402, profile = report["x402"], report["settlement"]["profile"]
    latency = x402["latency_ms"]
    refusals = ", ".join(f"{reason} ({n:,})" for reason, n in x402["refusal_reasons"].items())
    return [
        ["paid / refused", f"{x402['paid']:,} / {x402['refused']:,}"],
        ["refusals", refusals or "none"],
        ["paid requests/s", f"{x402['paid_per_s']:,.1f}"],
        ["latency p50 / p95 / p99 ms", " / ".join(_ms(latency[p]) for p in ("p50", "p95", "p99"))],
        ["transactions", f"{x402['transactions']:,}"],
        ["gas per payment", f"{x402['gas_per_payment']:,.0f}"],
        [f"USD per payment ({profile})", _usd(x402["usd_per_payment"].get(profile))],
        ["cost / value paid", _share(x402["share_of_value"].get(profile))],
        ["service CPU µs/payment", f"{x402['cpu_us_per_payment']:,.0f}"],
    ]


WHOLE_RUN_TITLE = "Every payment of the run, priced from the modes' cost shapes"


def _whole_run_markdown(report: dict[str, Any]) -> list[str]:
    if not report.get("whole_run"):
        return []
    table = _markdown_table(*whole_run_rows(report))
    return [f"### {WHOLE_RUN_TITLE}", "", whole_run_sentence(report), "", *table, ""]


def _whole_run_html(report: dict[str, Any]) -> list[str]:
    if not report.get("whole_run"):
        return []
    return [
        f"<h3>{WHOLE_RUN_TITLE}</h3>",
        f"<p>{escape(whole_run_sentence(report))}</p>",
        _html_table(*whole_run_rows(report)),
    ]


def whole_run_sentence(report: dict[str, Any]) -> str:
    """What the whole-run table counts, and its cheapest mode on the report's profile."""
    whole, profile = report["whole_run"], report["settlement"]["profile"]
    cheapest = min(whole["modes"], key=lambda mode: mode["usd"][profile])
    return (
        f"All {whole['payments']:,} payments of the run (${whole['value_usd']:,.2f}), settled "
        f"once every {whole['interval_s']:,.0f} s of simulated time ({whole['interval_steps']:,} "
        "steps) as the service's settlers cut them into transactions, and priced from each "
        "mode's measured gas and bytes per transaction, payment, account and claim "
        "(settlement/data/mode_costs.toml): counted, not settled, and not a sample. The "
        f"ledger, without gas, is not in it. Cheapest on {profile}: {cheapest['mode']}, "
        f"{_usd(cheapest['usd'][profile])} for the run, "
        f"{_share(cheapest['share_of_value'][profile])} of the value paid."
    )


def whole_run_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per mode: its transactions and gas, then USD (share of value) on each chain profile,
    the report's own profile first."""
    whole, profile = report["whole_run"], report["settlement"]["profile"]
    names = list(whole["modes"][0]["usd"])
    profiles = [profile, *(name for name in names if name != profile)]
    header = ["mode", "transactions", "gas", "gas/payment", *(f"USD on {p}" for p in profiles)]
    rows = [
        [
            mode["mode"],
            f"{mode['transactions']:,}",
            f"{mode['gas']:,}",
            f"{mode['gas_per_payment']:,.0f}",
            *(f"{_usd(mode['usd'][p])} ({_share(mode['share_of_value'][p])})" for p in profiles),
        ]
        for mode in whole["modes"]
    ]
    return header, rows


def break_even_rows(report: dict[str, Any]) -> list[list[str]]:
    profile = report["settlement"]["profile"]
    share = report["break_even"]["share_line"]
    rows = []
    for mode in report["settlement"]["modes"]:
        usd = mode["usd_per_payment"].get(profile)
        rows.append([f"{mode['mode']} on {profile}", _usd(usd / share) if usd else "n/a"])
    for rail in report["rails"]:
        even = rail["break_even_usd"]
        label = "never" if even is None else _usd(even)
        if even is not None and even == rail["minimum_charge_usd"]:
            label += " (its minimum charge)"
        rows.append([rail["rail"], label])
    return rows


def energy_rows(report: dict[str, Any]) -> list[list[str]]:
    energy = report["energy"]
    rows = [["making one good (robots)", _number(energy["per_good_wh"])]]
    for mode, wh in energy["service_cpu_wh_per_payment"].items():
        rows.append([f"settling one payment, {mode} (service CPU)", _number(wh)])
    return rows


def policy_rows(report: dict[str, Any]) -> list[list[str]]:
    return [
        [
            choice["profile"],
            choice["mode"] or "none fits",
            _usd(choice.get("usd_per_payment")),
            _number(choice.get("latency_s")),
        ]
        for choice in report["policy"]["choices"]
    ]


def parameter_rows(report: dict[str, Any]) -> list[list[str]]:
    environment = report["environment"]
    rows = [[f"scenario.{k}", str(v)] for k, v in report["run"]["scenario"].items()]
    rows.append(["seed", str(report["run"]["seed"])])
    rows += [[f"version.{k}", str(v)] for k, v in environment["versions"].items()]
    rows += [[f"machine.{k}", str(v)] for k, v in environment["machine"].items()]
    return rows


def _sample_note(report: dict[str, Any]) -> list[str]:
    sampled = report["settlement"]["sampled_participants"]
    modes = report["settlement"]["modes"]
    if not modes and report.get("x402"):
        return ["No mode settled the run's payments; its compute payments were paid over x402.", ""]
    if not modes:
        return ["This run was not settled: run `robots settle RUN_DIR --mode all`.", ""]
    if sampled is None:
        return ["Every payment of the run was settled.", ""]
    attempted = modes[0]["payments_attempted"]
    total = modes[0]["payments_in_stream"]
    return [
        f"Settled on a declared random sample of {sampled:,} participants: {attempted:,} of "
        f"the run's {total:,} payments ({attempted / max(total, 1):.2%}). Costs per payment and "
        "shares of value describe the sample.",
        "",
    ]


def _policy_sentence(report: dict[str, Any]) -> str:
    policy = report["policy"]
    return (
        f"For a payment of ${policy['amount_usd']:.6f} at "
        f"{policy['pair_payments_per_hour']:g} payments per pair per hour, settled within "
        f"{policy['latency_bound_s']:g} s ({policy['note']})."
    )


def _markdown_table(header: Sequence[str], rows: Sequence[Row]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _html_table(header: Sequence[str], rows: Sequence[Row]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _usd(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == 0:
        return "$0"
    return f"${value:.4g}" if value < 1 else f"${value:,.2f}"


def _share(value: float | None) -> str:
    if value is None:
        return "n/a"
    if 0 < value < 1e-6:
        return f"{value * 100:.2e}%"
    return f"{value:.4%}" if value < 0.01 else f"{value:.2%}"


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}"  # NaN: nothing confirmed


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1rem; }
figure.chart { margin: 0; border: 1px solid #eee; padding: 0.5rem; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""

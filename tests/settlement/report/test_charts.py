"""The report's throughput charts keep every line inside the plot and under a labelled tick, for
runs of a few seconds and of many minutes, each mode drawn at its own interval width."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from settlement.domain.timeline import Timeline
from settlement.report.render import throughput_chart
from settlement.report.svg import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, round_step

PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
# Coordinates are written to a tenth of a pixel.
PIXEL_TOLERANCE = 0.051


def mode_entry(name: str, payments: int, span_s: float, settle_after_s: float) -> dict[str, Any]:
    """A mode's report entry whose payments were accepted evenly over ``span_s`` seconds and
    each confirmed ``settle_after_s`` later, cut into intervals as a real settlement's are."""
    start = 1_800_000_000.0
    accepted = [start + span_s * i / max(payments - 1, 1) for i in range(payments)]
    timeline = Timeline.of(accepted, [at + settle_after_s for at in accepted])
    return {
        "mode": name,
        "throughput": {
            "start_at": timeline.start_at,
            "bin_s": timeline.bin_s,
            "accepted": timeline.accepted,
            "settled": timeline.settled,
        },
    }


SHORT_RUN = [
    mode_entry("direct", 88, 0.04, 0.15),  # every payment in the first interval
    mode_entry("batch", 457, 1.2, 0.3),
    mode_entry("net", 457, 2.9, 0.05),
]
LONG_RUN = [
    mode_entry("direct", 20_000, 1_150.0, 2.0),
    mode_entry("net", 20_000, 95.0, 4.0),
    mode_entry("ledger", 3, 0.02, 0.001),
]


def line_points(svg: str) -> dict[str, list[tuple[float, float]]]:
    """Each legend name's drawn points, polylines and dots alike (a legend entry follows its
    series' shapes)."""
    drawn: dict[str, list[tuple[float, float]]] = {}
    pending: list[tuple[float, float]] = []
    shape = re.compile(
        r'points="(?P<points>[^"]*)"|cx="(?P<cx>[^"]*)" cy="(?P<cy>[^"]*)"'
        r'|font-size="11">(?P<legend>[^<]+)</text>'
    )
    for match in shape.finditer(svg):
        if match["points"] is not None:
            pending += [_pair(xy) for xy in match["points"].split()]
        elif match["cx"] is not None:
            pending.append((float(match["cx"]), float(match["cy"])))
        elif pending:
            drawn[match["legend"]] = pending
            pending = []
    return drawn


def axis_ticks(svg: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The (pixel, value) of each y tick (labels right-aligned left of the plot) and x tick."""
    y_ticks = [
        (float(y) - 4, _value(label))
        for y, label in re.findall(r'y="([\d.]+)" font-size="10" text-anchor="end">([^<]+)<', svg)
    ]
    x_ticks = [
        (float(x), _value(label))
        for x, label in re.findall(
            r'<text x="([\d.]+)" y="270" font-size="10" text-anchor="middle">([^<]+)<', svg
        )
    ]
    return y_ticks, x_ticks


def _pair(text: str) -> tuple[float, float]:
    x, y = text.split(",")
    return float(x), float(y)


def _value(label: str) -> float:
    if label.endswith("M"):
        return float(label[:-1]) * 1e6
    return float(label.replace(",", ""))


@pytest.mark.parametrize("modes", [SHORT_RUN, LONG_RUN], ids=["short run", "long run"])
@pytest.mark.parametrize("kind", ["accepted", "settled"])
def test_every_line_stays_inside_the_plot(modes: list[dict[str, Any]], kind: str) -> None:
    svg = throughput_chart(modes, kind)

    drawn = line_points(svg)
    assert set(drawn) == {mode["mode"] for mode in modes}
    for name, points in drawn.items():
        for x, y in points:
            assert PLOT_LEFT - PIXEL_TOLERANCE <= x <= PLOT_RIGHT + PIXEL_TOLERANCE, (name, x)
            assert PLOT_TOP - PIXEL_TOLERANCE <= y <= PLOT_BOTTOM + PIXEL_TOLERANCE, (name, y)


@pytest.mark.parametrize("modes", [SHORT_RUN, LONG_RUN], ids=["short run", "long run"])
def test_the_axes_end_on_labelled_ticks_above_every_rate(modes: list[dict[str, Any]]) -> None:
    svg = throughput_chart(modes, "accepted")
    y_ticks, x_ticks = axis_ticks(svg)

    highest_rate = max(
        count / mode["throughput"]["bin_s"]
        for mode in modes
        for count in mode["throughput"]["accepted"]
    )
    longest_s = max(
        len(mode["throughput"]["accepted"]) * mode["throughput"]["bin_s"] for mode in modes
    )
    for ticks, covered, above in ((y_ticks, highest_rate, True), (x_ticks, longest_s, False)):
        values = [value for _, value in ticks]
        steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
        assert len(steps) == 1, f"ticks are evenly spaced: {values}"
        assert values[0] == 0
        # The rate axis ends a tick above the highest rate; the time axis at the run's end.
        assert values[-1] > covered if above else values[-1] >= covered
        assert values[-2] <= covered if above else values[-2] < covered, (
            "the axis ends at the first tick past the data"
        )
    assert y_ticks[-1][0] == pytest.approx(PLOT_TOP, abs=PIXEL_TOLERANCE)
    assert x_ticks[-1][0] == pytest.approx(PLOT_RIGHT, abs=PIXEL_TOLERANCE)


def test_each_mode_is_drawn_over_its_own_duration_at_its_own_interval_width() -> None:
    svg = throughput_chart(LONG_RUN, "settled")
    _, x_ticks = axis_ticks(svg)
    axis_end_s = x_ticks[-1][1]

    drawn = line_points(svg)
    for mode in LONG_RUN:
        throughput = mode["throughput"]
        duration_s = len(throughput["settled"]) * throughput["bin_s"]
        expected_x = PLOT_LEFT + duration_s / axis_end_s * (PLOT_RIGHT - PLOT_LEFT)
        xs = [x for x, _ in drawn[mode["mode"]]]
        assert min(xs) == pytest.approx(PLOT_LEFT, abs=PIXEL_TOLERANCE)
        assert max(xs) == pytest.approx(expected_x, abs=PIXEL_TOLERANCE)
    widths = {mode["throughput"]["bin_s"] for mode in LONG_RUN}
    assert len(widths) == 3, "the long run's modes were cut into different interval widths"


def test_a_single_interval_is_a_flat_line_not_a_dot() -> None:
    only = mode_entry("ledger", 3, 0.02, 0.001)
    assert len(only["throughput"]["accepted"]) == 1

    svg = throughput_chart([only], "accepted")

    assert "<circle" not in svg
    (points,) = line_points(svg).values()
    assert len(points) == 2
    assert points[0][1] == points[1][1]
    assert points[0][0] == pytest.approx(PLOT_LEFT, abs=PIXEL_TOLERANCE)
    assert points[1][0] == pytest.approx(PLOT_RIGHT, abs=PIXEL_TOLERANCE)


@pytest.mark.parametrize(
    ("raw", "step"),
    [(0.3, 0.5), (0.5, 0.5), (1311.0, 2000.0), (240.0, 250.0), (0.02, 0.02), (7.0, 10.0)],
)
def test_tick_steps_are_round(raw: float, step: float) -> None:
    assert round_step(raw) == pytest.approx(step)

"""Small inline SVG charts, so a report is one file that opens offline.

A chart is a list of named series, each over shared x values (``line_chart``) or over its own
(``series_chart``); gaps (None) break a line. Axes can be logarithmic, which is how cost shares
and payment sizes read best. A linear axis runs from zero (or its lowest value) up to a round
tick at or above its highest value, so every line stays inside the plot and under a labelled
tick, however few points a series has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 160, 30, 45
# Colour-blind-safe (Okabe-Ito), one per series in order.
# Okabe and Ito's eight, then four more, so that the break-even chart's ten series (four rails
# and six modes) never share a colour.
COLOURS = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000",
    "#999999", "#8C564B", "#9467BD", "#BCBD22",
)  # fmt: skip


# A linear axis gets about this many intervals between ticks, each a round step.
LINEAR_TICK_INTERVALS = 5
ROUND_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)

Point = tuple[float, float | None]


@dataclass(frozen=True)
class Axis:
    label: str
    log: bool = False


def line_chart(
    title: str,
    xs: Sequence[float],
    series: Mapping[str, Sequence[float | None]],
    x_axis: Axis,
    y_axis: Axis,
    guide_y: float | None = None,
) -> str:
    """Lines over ``xs``; ``guide_y`` draws a dashed horizontal line (a threshold)."""
    points = {name: list(zip(xs, values, strict=True)) for name, values in series.items()}
    return series_chart(title, points, x_axis, y_axis, guide_y)


def series_chart(
    title: str,
    series: Mapping[str, Sequence[Point]],
    x_axis: Axis,
    y_axis: Axis,
    guide_y: float | None = None,
) -> str:
    """Lines through each series' own (x, y) points, for series that do not share x values;
    a point whose y is None breaks its line."""
    points = [
        (x, y) for values in series.values() for x, y in values if _drawable(x, y, x_axis, y_axis)
    ]
    if not points:
        return _empty(title)
    x_scale = _Scale([x for x, _ in points], x_axis, LEFT, WIDTH - RIGHT)
    ys = [y for _, y in points] + ([guide_y] if guide_y is not None else [])
    y_scale = _Scale([y for y in ys if y is not None], y_axis, HEIGHT - BOTTOM, TOP, headroom=True)
    parts = [_frame(title, x_scale, y_scale, x_axis, y_axis)]
    if guide_y is not None:
        y = y_scale(guide_y)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#888" stroke-dasharray="4 3"/>'
        )
    for index, (name, values) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        for run in _runs(values, x_axis, y_axis):
            path = " ".join(f"{x_scale(x):.1f},{y_scale(y):.1f}" for x, y in run)
            if len(run) == 1:
                x, y = run[0]
                parts.append(
                    f'<circle cx="{x_scale(x):.1f}" cy="{y_scale(y):.1f}" r="2.5" fill="{colour}"/>'
                )
            else:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{path}"/>'
                )
        parts.append(_legend_entry(index, name, colour))
    return _svg(title, parts)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], y_axis: Axis) -> str:
    if not values or all(not _plottable(v, y_axis) for v in values):
        return _empty(title)
    plotted = [v for v in values if _plottable(v, y_axis)]
    y_scale = _Scale(plotted, y_axis, HEIGHT - BOTTOM, TOP, headroom=True)
    band = (WIDTH - RIGHT - LEFT) / len(values)
    parts = [_frame(title, None, y_scale, Axis(""), y_axis)]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + band * index + band * 0.15
        colour = COLOURS[index % len(COLOURS)]
        if _plottable(value, y_axis):
            top = y_scale(value)
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{band * 0.7:.1f}" '
                f'height="{HEIGHT - BOTTOM - top:.1f}" fill="{colour}">'
                f"<title>{escape(label)}: {_tick(value)}</title></rect>"
            )
        parts.append(
            f'<text x="{x + band * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return _svg(title, parts)


class _Scale:
    """Maps data values onto pixels between ``start`` and ``end``, linear or logarithmic.

    A logarithmic axis spans whole decades; a linear one spans whole round steps from zero (or
    below, for negative values), so its ends are ticks and no value lies beyond them; with
    ``headroom`` (a value axis) no value lies on its top either.
    """

    def __init__(
        self,
        values: Sequence[float],
        axis: Axis,
        start: float,
        end: float,
        headroom: bool = False,
    ) -> None:
        self.log = axis.log
        low, high = min(values), max(values)
        self.step = 1.0
        if self.log:
            low, high = math.floor(math.log10(low)), math.ceil(math.log10(high))
            if high <= low:
                high = low + 1
        else:
            low, high = min(low, 0.0), max(high, 0.0)
            if high <= low:
                high = low + 1
            self.step = round_step((high - low) / LINEAR_TICK_INTERVALS)
            low = math.floor(low / self.step) * self.step
            high = math.ceil(high / self.step) * self.step
            if headroom and max(values) > 0 and high <= max(values):
                # A value axis ends a tick above its largest value, so a line at the maximum
                # is not drawn on the frame (a steady 10 a second reads as a line below 12).
                high += self.step
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        position = math.log10(value) if self.log else value
        return self.start + (position - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self) -> list[float]:
        if self.log:
            step = max(1, math.ceil((self.high - self.low) / 8))
            return [10.0**e for e in range(int(self.low), int(self.high) + 1, step)]
        intervals = round((self.high - self.low) / self.step)
        return [self.low + self.step * i for i in range(intervals + 1)]


def round_step(raw_step: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least ``raw_step``."""
    assert raw_step > 0, "a tick step must be positive"
    assert math.isfinite(raw_step), "a tick step must be finite"
    magnitude = 10.0 ** math.floor(math.log10(raw_step))
    # A relative tolerance, so a step that is already round (0.3 / 3) is not pushed up a size.
    return next(m * magnitude for m in ROUND_STEPS if m * magnitude >= raw_step * (1 - 1e-9))


def _frame(title: str, x_scale: _Scale | None, y_scale: _Scale, x_axis: Axis, y_axis: Axis) -> str:
    parts = [
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>',
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" '
        'stroke="#333"/>',
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">{escape(y_axis.label)}</text>',
    ]
    for tick in y_scale.ticks():
        y = y_scale(tick)
        parts.append(
            f'<line x1="{LEFT - 4}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{_tick(tick)}</text>"
        )
    if x_scale is not None:
        for tick in x_scale.ticks():
            x = x_scale(tick)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 15}" font-size="10" '
                f'text-anchor="middle">{_tick(tick)}</text>'
            )
        parts.append(
            f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" font-size="11" '
            f'text-anchor="middle">{escape(x_axis.label)}</text>'
        )
    return "".join(parts)


def _legend_entry(index: int, name: str, colour: str) -> str:
    y = TOP + 8 + index * 16
    x = WIDTH - RIGHT + 12
    return (
        f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="{colour}"/>'
        f'<text x="{x + 15}" y="{y + 1}" font-size="11">{escape(name)}</text>'
    )


def _runs(values: Sequence[Point], x_axis: Axis, y_axis: Axis) -> list[list[tuple[float, float]]]:
    """The series cut at its gaps into runs of plottable points."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in values:
        if _drawable(x, y, x_axis, y_axis):
            assert y is not None
            runs[-1].append((x, y))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _drawable(x: float, y: float | None, x_axis: Axis, y_axis: Axis) -> bool:
    """Whether a point has a value and both its coordinates fit their axes."""
    return y is not None and _plottable(y, y_axis) and _plottable(x, x_axis)


def _plottable(value: float | None, axis: Axis) -> bool:
    return value is not None and math.isfinite(value) and (value > 0 or not axis.log)


def _tick(value: float) -> str:
    """A tick's label, exact for the round values a linear axis ticks at: 2,500 not 2e3, and
    1.5M; powers of ten below a hundredth (a log axis's) as 1e-5."""
    if value == 0:
        return "0"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.4g}M"
    if abs(value) >= 1000:
        return f"{value:,.0f}" if value == round(value) else f"{value:,.4g}"
    if abs(value) < 0.01:
        return f"{value:.1e}".replace(".0e", "e").replace("e+0", "e").replace("e-0", "e-")
    return f"{value:.4g}"


def _svg(title: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif">'
        + "".join(parts)
        + "</svg>"
    )


def _empty(title: str) -> str:
    return _svg(
        title,
        [
            f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
            f'<text x="{LEFT}" y="60" font-size="12" fill="#666">no data</text>',
        ],
    )

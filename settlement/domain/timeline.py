"""How a stream of payments went through settlement over time: acceptances and confirmations
per interval, and the distribution of acceptance-to-confirmation latency.

Built once from every payment's two timestamps, and small whatever the stream's size (at most
``MAX_BINS`` intervals and ``CDF_POINTS`` latency percentiles), so reports can carry it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_BINS = 240
CDF_POINTS = 101  # percentiles 0, 1, ..., 100
# Interval widths a reader takes in at a glance, in seconds.
NICE_BIN_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True)
class Timeline:
    """``accepted[i]`` and ``settled[i]`` count the payments accepted and confirmed in the
    ``i``-th interval of ``bin_s`` seconds after ``start_at`` (Unix seconds)."""

    start_at: float
    bin_s: float
    accepted: list[int]
    settled: list[int]
    # Latency percentiles 0..100 of the confirmed payments, in ms; empty when none confirmed.
    latency_ms_percentiles: list[float]

    @classmethod
    def of(cls, accepted_at: Sequence[float], confirmed_at: Sequence[float | None]) -> Timeline:
        assert len(accepted_at) == len(confirmed_at)
        if not accepted_at:
            return cls(0.0, 1.0, [], [], [])
        accepted = np.asarray(accepted_at, dtype=np.float64)
        confirmed_pairs = [
            (a, c) for a, c in zip(accepted_at, confirmed_at, strict=True) if c is not None
        ]
        confirmed = np.asarray([c for _, c in confirmed_pairs], dtype=np.float64)
        start = float(accepted.min())
        end = max(float(accepted.max()), float(confirmed.max()) if len(confirmed) else start)
        bin_s = nice_bin_s(end - start)
        bins = max(1, math.ceil((end - start) / bin_s - 1e-9))
        edges = start + bin_s * np.arange(bins + 1)
        edges[-1] = max(edges[-1], end)  # rounding must not leave the latest event outside
        latencies_ms = (confirmed - np.asarray([a for a, _ in confirmed_pairs])) * 1000
        return cls(
            start_at=start,
            bin_s=bin_s,
            accepted=_counts(accepted, edges),
            settled=_counts(confirmed, edges),
            latency_ms_percentiles=(
                [float(v) for v in np.percentile(latencies_ms, np.arange(CDF_POINTS))]
                if len(latencies_ms)
                else []
            ),
        )

    def latency_ms(self, rank: int) -> float:
        """The ``rank``-th percentile of latency (linear interpolation, as
        ``statistics.quantiles(method="inclusive")``), or NaN when nothing was confirmed."""
        return self.latency_ms_percentiles[rank] if self.latency_ms_percentiles else math.nan

    def peak_settled_per_s(self) -> float:
        return max(self.settled, default=0) / self.bin_s


def nice_bin_s(span_s: float) -> float:
    """The narrowest readable interval that cuts ``span_s`` into at most ``MAX_BINS``."""
    for width in NICE_BIN_S:
        if span_s / width <= MAX_BINS:
            return float(width)
    return float(math.ceil(span_s / MAX_BINS / 3600) * 3600)


def _counts(times: np.ndarray, edges: np.ndarray) -> list[int]:
    # The last edge is inclusive, so the latest event lands in the last interval.
    counts, _ = np.histogram(times, bins=edges)
    return [int(count) for count in counts]

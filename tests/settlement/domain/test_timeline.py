"""The settlement timeline: interval counts and the latency distribution."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from settlement.domain.timeline import MAX_BINS, Timeline, nice_bin_s


def test_counts_every_acceptance_and_confirmation_once_in_its_interval() -> None:
    accepted = [100.0, 100.4, 101.2, 103.9]
    confirmed = [100.5, None, 102.0, 104.0]

    timeline = Timeline.of(accepted, confirmed)

    assert timeline.start_at == 100.0
    assert timeline.bin_s == 0.1
    assert sum(timeline.accepted) == 4
    assert sum(timeline.settled) == 3
    assert timeline.accepted[0] == 1  # 100.0
    assert timeline.accepted[4] == 1  # 100.4
    assert timeline.settled[-1] == 1  # 104.0, the last instant, in the last interval
    assert len(timeline.accepted) == len(timeline.settled) == 40


def test_latency_percentiles_match_the_inclusive_quantiles_of_confirmed_payments() -> None:
    generator = np.random.default_rng(7)
    accepted = [float(a) for a in generator.uniform(0, 50, 1_000)]
    waits = generator.exponential(2.0, 1_000)
    confirmed: list[float | None] = [a + float(w) for a, w in zip(accepted, waits, strict=True)]
    confirmed[::10] = [None] * 100  # failed payments have no latency

    timeline = Timeline.of(accepted, confirmed)

    latencies = [(c - a) * 1000 for a, c in zip(accepted, confirmed, strict=True) if c]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    for rank in (1, 50, 95, 99):
        assert timeline.latency_ms(rank) == pytest.approx(cuts[rank - 1])
    assert timeline.latency_ms(0) == min(latencies)
    assert timeline.latency_ms(100) == max(latencies)
    assert len(timeline.latency_ms_percentiles) == 101


def test_a_long_run_keeps_a_bounded_number_of_readable_intervals() -> None:
    assert nice_bin_s(10) == 0.1
    assert nice_bin_s(240) == 1
    assert nice_bin_s(241) == 2
    assert nice_bin_s(86_400) == 600
    assert nice_bin_s(10**7) % 3600 == 0
    timeline = Timeline.of([0.0, 86_400.0], [1.0, None])
    assert len(timeline.accepted) <= MAX_BINS
    assert timeline.peak_settled_per_s() == 1 / timeline.bin_s


def test_nothing_confirmed_or_nothing_at_all() -> None:
    assert math.isnan(Timeline.of([1.0], [None]).latency_ms(50))
    empty = Timeline.of([], [])
    assert (empty.accepted, empty.settled, empty.latency_ms_percentiles) == ([], [], [])

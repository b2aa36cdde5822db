"""A parameter sweep: every combination of a grid of scenario values, one run each, in parallel.

Runs go to separate processes (each run is one seeded model, so the result of a combination does
not depend on which process ran it or in what order) and come back as one summary row each.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from robots.run import RunSummary, simulate
from robots.scenario import load_scenario

# Every sweep is bounded: a grid this large is a mistake, not a study.
MAX_SWEEP_RUNS = 1_000


class SweepError(ValueError):
    """A grid is malformed or too large; the message says how."""


@dataclass(frozen=True)
class SweepRun:
    """One combination of the grid: its values, its seed, and what the run gave."""

    values: dict[str, str]
    seed: int
    summary: RunSummary


def parse_grid(axes: Sequence[str]) -> dict[str, list[str]]:
    """``["robots=10,20", "latitude_deg=0,35.7"]`` as {name: values}."""
    grid: dict[str, list[str]] = {}
    for axis in axes:
        name, separator, values = axis.partition("=")
        choices = [value.strip() for value in values.split(",") if value.strip()]
        if not separator or not name.strip() or not choices:
            raise SweepError(f"{axis!r} is not NAME=VALUE[,VALUE...]")
        grid[name.strip()] = choices
    return grid


def combinations(
    grid: dict[str, list[str]], seeds: Sequence[int]
) -> list[tuple[dict[str, str], int]]:
    names = list(grid)
    combos = [
        (dict(zip(names, values, strict=True)), seed)
        for values in itertools.product(*(grid[name] for name in names))
        for seed in seeds
    ]
    if len(combos) > MAX_SWEEP_RUNS:
        raise SweepError(f"{len(combos):,} runs in the sweep; at most {MAX_SWEEP_RUNS:,}")
    return combos


def run_one(scenario: str, values: dict[str, str], seed: int) -> SweepRun:
    """One run of the sweep (in a worker process)."""
    _model, summary = simulate(load_scenario(scenario, values), seed)
    return SweepRun(values, seed, summary)


def plan(
    scenario: str, grid: dict[str, list[str]], seeds: Sequence[int]
) -> list[tuple[dict[str, str], int]]:
    """The sweep's runs, each checked: a bad value fails here, before any process starts."""
    combos = combinations(grid, seeds)
    for values, _seed in combos:
        load_scenario(scenario, values)
    return combos


def sweep(
    scenario: str,
    combos: Sequence[tuple[dict[str, str], int]],
    processes: int,
    on_done: Callable[[SweepRun], None] | None = None,
) -> list[SweepRun]:
    """Every planned run, in plan order whatever order they finish in."""
    results: dict[int, SweepRun] = {}
    with ProcessPoolExecutor(max_workers=processes) as pool:
        futures = {
            pool.submit(run_one, scenario, values, seed): index
            for index, (values, seed) in enumerate(combos)
        }
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if on_done is not None:
                on_done(results[futures[future]])
    return [results[index] for index in range(len(combos))]

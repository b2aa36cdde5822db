"""Fault tests print what they injected and counted at the end of the run."""

from __future__ import annotations

import pytest

from tests.settlement.faults.harness import FAULT_TALLIES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FAULT_TALLIES:
        return
    terminalreporter.section("injected faults: what was submitted, settled, failed, lost")
    for tally in FAULT_TALLIES:
        terminalreporter.write_line(tally.row())
    faults = sum(t.faults for t in FAULT_TALLIES)
    lost = sum(t.lost for t in FAULT_TALLIES)
    twice = sum(t.settled_twice for t in FAULT_TALLIES)
    terminalreporter.write_line(
        f"total: {faults} faults injected in {len(FAULT_TALLIES)} runs; "
        f"{sum(t.submitted for t in FAULT_TALLIES)} payments submitted, "
        f"{sum(t.settled for t in FAULT_TALLIES)} settled, "
        f"{sum(t.failed.total() for t in FAULT_TALLIES)} failed with a reason, "
        f"{lost} lost, {twice} settled twice"
    )

"""The fault tests rewind Anvil only once it has mined what it received (see
docs/anvil-revert-race.md); this checks that such rewinds leave Anvil's chain whole."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from settlement.config import REPOSITORY_ROOT

pytestmark = pytest.mark.anvil


@pytest.fixture
def race(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # bench/ holds scripts, not a package: import them as `python bench/...` does.
    monkeypatch.syspath_prepend(str(REPOSITORY_ROOT / "bench"))
    return importlib.import_module("anvil_revert_race")


def test_rewinds_on_a_quiet_chain_leave_it_whole(
    race: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert race.main(["--rounds", "15", "--expect-consistent"]) == 0
    printed = capsys.readouterr().out
    assert "rewound 15 times on a quiet chain" in printed
    assert "pool stuck, mining nothing more" in printed


def test_the_checks_see_a_chain_with_a_hole(race: ModuleType) -> None:
    findings = race.Findings(rounds=3)
    findings.found(race.HOLE, 12)
    findings.found(race.HOLE, 13)
    assert not findings.consistent
    assert findings.broken[race.HOLE] == {12, 13}
    assert findings.first_seen[race.HOLE] == 3


def test_bad_rounds_are_refused(race: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        race.main(["--rounds", "0"])
    assert exit_info.value.code == 2
    assert "--rounds and --burst must be at least 1" in capsys.readouterr().err

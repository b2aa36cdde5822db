"""Slither over contracts/src, compiled by forge (contracts/tools/slither, settings in
contracts/slither.config.json). A High or Medium finding fails the build until it is fixed, or
justified in docs/slither.md and silenced beside the code with `slither-disable-next-line`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from settlement.config import REPOSITORY_ROOT

CONTRACTS_DIR = REPOSITORY_ROOT / "contracts"
SOURCE_DIR = CONTRACTS_DIR / "src"
SLITHER_SCRIPT = CONTRACTS_DIR / "tools" / "slither"
SLITHER_CONFIG = CONTRACTS_DIR / "slither.config.json"
TRIAGE_DOC = REPOSITORY_ROOT / "docs" / "slither.md"
BLOCKING_IMPACTS = frozenset({"High", "Medium"})
# tools/slither's exit code when no Slither is installed (the shell's "command not found").
SLITHER_NOT_FOUND = 127
# About 40 s on the 2-core CI machine, most of it solcjs compiling the sources.
SLITHER_TIMEOUT_S = 240
SUPPRESSION = re.compile(r"//\s*slither-disable-next-line\s+(?P<detectors>[\w,\s-]+)$")


@dataclass(frozen=True)
class SlitherRun:
    report: dict[str, Any]
    new_entries_in_contracts_dir: frozenset[str]

    @property
    def findings(self) -> list[dict[str, Any]]:
        findings: list[dict[str, Any]] = self.report["results"].get("detectors", [])
        return findings


def source_files() -> list[str]:
    """Every contract source, relative to the Foundry project as Slither names them."""
    return sorted(path.relative_to(CONTRACTS_DIR).as_posix() for path in SOURCE_DIR.rglob("*.sol"))


def require_slither() -> None:
    probe = subprocess.run(
        [str(SLITHER_SCRIPT), "--version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != SLITHER_NOT_FOUND:
        assert probe.returncode == 0, probe.stderr
        return
    reason = probe.stderr.strip()
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run Slither: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slither_run(tmp_path_factory: pytest.TempPathFactory) -> SlitherRun:
    require_slither()
    entries_before = {entry.name for entry in CONTRACTS_DIR.iterdir()}
    # tools/slither builds in a temporary directory; TMPDIR puts it under pytest's.
    scratch = tmp_path_factory.mktemp("slither")
    completed = subprocess.run(
        [str(SLITHER_SCRIPT), "--json", "-", "--json-types", "detectors,compilations"],
        capture_output=True,
        text=True,
        env=dict(os.environ, TMPDIR=str(scratch)),
        timeout=SLITHER_TIMEOUT_S,
        check=False,
    )
    # Slither's exit code counts findings, so success is read from the report.
    assert completed.stdout.startswith("{"), completed.stderr[-4_000:]
    report: dict[str, Any] = json.loads(completed.stdout)
    assert report["success"], report["error"]
    entries_after = {entry.name for entry in CONTRACTS_DIR.iterdir()}
    return SlitherRun(report, frozenset(entries_after - entries_before))


def test_no_high_or_medium_finding_stands(slither_run: SlitherRun) -> None:
    blocking = [
        f"{finding['impact']} {finding['check']}: {finding['description'].strip()}"
        for finding in slither_run.findings
        if finding["impact"] in BLOCKING_IMPACTS
    ]
    assert not blocking, (
        "fix each, or justify it in docs/slither.md and silence it with "
        "`// slither-disable-next-line <detector>`:\n" + "\n".join(blocking)
    )


def test_every_contract_source_is_analysed(slither_run: SlitherRun) -> None:
    analysed = {
        name
        for compilation in slither_run.report["results"]["compilations"]
        for unit in compilation["compilation_units"].values()
        for name in unit["source_units"]
    }
    assert set(source_files()) <= analysed


def test_every_finding_is_in_the_contract_sources(slither_run: SlitherRun) -> None:
    outside = [
        finding["description"].strip()
        for finding in slither_run.findings
        if not any(
            element.get("source_mapping", {}).get("filename_relative", "").startswith("src/")
            for element in finding["elements"]
        )
    ]
    assert not outside


def test_slither_leaves_no_files_in_the_contracts_directory(slither_run: SlitherRun) -> None:
    assert not slither_run.new_entries_in_contracts_dir


def test_the_path_filter_cannot_hide_a_contract_source() -> None:
    # Slither matches the filter against absolute paths, so this checks the real ones.
    path_filter = re.compile(json.loads(SLITHER_CONFIG.read_text())["filter_paths"])
    hidden = [name for name in source_files() if path_filter.search(str(CONTRACTS_DIR / name))]
    assert not hidden
    assert path_filter.search(str(CONTRACTS_DIR / "test" / "unit" / "Stablecoin.t.sol"))


def suppressions() -> list[tuple[str, str]]:
    """(source file, detector) for every `slither-disable-next-line` in the contract sources."""
    found = []
    for name in source_files():
        for line in (CONTRACTS_DIR / name).read_text().splitlines():
            match = SUPPRESSION.search(line.strip())
            if match:
                found += [
                    (name, detector.strip())
                    for detector in match["detectors"].split(",")
                    if detector.strip()
                ]
    return found


def test_every_silenced_finding_is_justified_in_the_triage_doc() -> None:
    doc_lines = TRIAGE_DOC.read_text().splitlines()
    unjustified = [
        f"{name}: {detector}"
        for name, detector in suppressions()
        if not any(name in line and detector in line for line in doc_lines)
    ]
    assert not unjustified, "docs/slither.md needs a row naming the file and the detector"

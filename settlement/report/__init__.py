"""Fleet run reports: ``report.json`` (a versioned schema), ``report.md`` and a self-contained
``report.html``, written into the run's folder; and the comparison of two runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settlement.report.build import REPORT_SCHEMA, REPORT_VERSION, ReportError, build_report
from settlement.report.compare import compare_reports
from settlement.report.render import (
    answer_sentences,
    render_html,
    render_markdown,
    summary_rows,
    x402_sentence,
)

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"

__all__ = [
    "REPORT_HTML",
    "REPORT_JSON",
    "REPORT_MD",
    "REPORT_SCHEMA",
    "REPORT_VERSION",
    "ReportError",
    "WrittenReport",
    "answer_sentences",
    "build_report",
    "compare_reports",
    "load_report",
    "summary_rows",
    "write_report",
    "x402_sentence",
]


@dataclass(frozen=True)
class WrittenReport:
    report: dict[str, Any]
    json_path: Path
    markdown_path: Path
    html_path: Path


def write_report(folder: Path) -> WrittenReport:
    """Build the run's report and write its three files, each whole or not at all."""
    report = build_report(folder)
    paths = (folder / REPORT_JSON, folder / REPORT_MD, folder / REPORT_HTML)
    texts = (json.dumps(report, indent=1), render_markdown(report), render_html(report))
    for path, text in zip(paths, texts, strict=True):
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text)
        partial.replace(path)
    return WrittenReport(report, *paths)


def load_report(folder: Path) -> dict[str, Any]:
    """A run's report: read from ``report.json`` when it is current, else built afresh."""
    path = folder / REPORT_JSON
    if path.exists():
        try:
            report: dict[str, Any] = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ReportError(f"{path} is unreadable: {error}") from None
        if report.get("schema") == REPORT_SCHEMA and report.get("version") == REPORT_VERSION:
            return report
    return build_report(folder)

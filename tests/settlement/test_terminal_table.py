"""A table printed in a terminal keeps every digit of every cell: one table when it fits, several
that repeat the mode column when it does not, lines of figures when not even that fits."""

from __future__ import annotations

import pytest
from rich.console import Console

from robots.views import SETTLEMENT_HEADER
from settlement.terminal_table import fitted_table

HEADER = list(SETTLEMENT_HEADER)
ROWS = [
    ["direct", "46,612,345", "0", "100.0%", "41,103", "$0.0002411", "7.443%", "802"],
    ["authorization", "457", "0", "100.0%", "75,783", "$0.0004472", "13.81%", "501"],
    ["net", "457", "0", "100.0%", "4,511", "$0.00002563", "0.7913%", "5,244"],
    ["ledger", "457", "0", "100.0%", "0", "$2.784e-11", "8.597e-7%", "12,788"],
]
TITLE = "Settling the run's payments, priced on base"


def printed(width: int) -> str:
    console = Console(width=width, record=True)
    console.print(fitted_table(TITLE, HEADER, ROWS, width))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 60, 40, 24, 200])
def test_no_cell_is_cut_and_no_line_is_wider_than_the_terminal(width: int) -> None:
    text = printed(width)

    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    words = text.split()
    for row in ROWS:
        for cell in row:
            assert cell in words, f"{cell!r} is printed whole"


def test_a_wide_terminal_gets_one_table_with_its_headers_on_one_line() -> None:
    text = printed(200)

    assert text.count("┏") == 1
    assert all(title in text for title in HEADER)


def test_an_80_column_terminal_gets_tables_that_repeat_the_mode_column() -> None:
    text = printed(80)

    tables = text.count("┏")
    assert tables == 2
    for row in ROWS:
        assert text.count(f"│ {row[0]} ") == tables, "each table names every mode"


def test_a_terminal_too_narrow_for_a_mode_and_a_figure_lists_each_figure_on_a_line() -> None:
    text = printed(24)

    assert "┏" not in text
    assert "  settled: 46,612,345" in text.splitlines()

"""Tables that fit the terminal they are printed in.

A table wider than the terminal is not left to shrink: a terminal table would cut its numbers to
"…". It is cut instead into groups of whole columns, each printed as a table of its own that
repeats the key column (the mode), so every cell keeps every digit. Headers may wrap at their
spaces; cells never need to.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

# A table's borders and padding: one space either side of each cell, one rule between cells and
# one at each edge (rich's default box).
CELL_PADDING = 2
RULES_PER_COLUMN = 1
EDGE_RULES = 1


def fitted_table(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    key_columns: int = 1,
) -> RenderableType:
    """``rows`` under ``header`` as one table if it fits ``width`` columns, else as several, each
    with the first ``key_columns`` columns and as many of the rest as fit; in a terminal too
    narrow for even one figure beside the key, one block of lines per row."""
    assert 0 < key_columns < len(header), "a table needs a key column and a figure"
    assert all(len(row) == len(header) for row in rows), "every row needs a cell per column"
    everything = list(range(len(header)))
    if table_width(_natural_widths(header, rows), everything) <= width:
        return _table(title, header, rows, everything, key_columns, widths=None)
    narrow = _narrow_widths(header, rows)
    groups = column_groups(narrow, width, key_columns)
    if any(table_width(narrow, columns) > width for columns in groups):
        return _stacked(title, header, rows, key_columns)
    return Group(
        *(
            _table(title if index == 0 else None, header, rows, columns, key_columns, narrow)
            for index, columns in enumerate(groups)
        )
    )


def column_groups(widths: Sequence[int], width: int, key_columns: int) -> list[list[int]]:
    """The columns of each table, in order: the key columns, then each further column while
    the table stays within ``width``. A group holds at least one column beside the keys."""
    keys = list(range(key_columns))
    groups: list[list[int]] = []
    current = list(keys)
    for column in range(key_columns, len(widths)):
        widened = [*current, column]
        if current != keys and table_width(widths, widened) > width:
            groups.append(current)
            widened = [*keys, column]
        current = widened
    groups.append(current)
    return groups


def table_width(widths: Sequence[int], columns: Sequence[int]) -> int:
    """The terminal columns a table of ``columns`` at ``widths`` takes, borders included."""
    return sum(widths[c] + CELL_PADDING + RULES_PER_COLUMN for c in columns) + EDGE_RULES


def _natural_widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width with its header on one line."""
    return [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]


def _narrow_widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width with its header wrapped at every space: its longest cell or word."""
    return [
        max([len(word) for word in title.split()] + [len(row[index]) for row in rows])
        for index, title in enumerate(header)
    ]


def _table(
    title: str | None,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    columns: Sequence[int],
    key_columns: int,
    widths: Sequence[int] | None,
) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(
            header[column],
            justify="left" if column < key_columns else "right",
            # A fixed width is never shrunk, so no cell is cut to fit.
            width=None if widths is None else widths[column],
        )
    for row in rows:
        table.add_row(*(row[column] for column in columns))
    return table


def _stacked(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], key_columns: int
) -> Group:
    """Each row as its key on a line and then one figure a line."""
    lines = [Text(title, style="italic")]
    for row in rows:
        lines.append(Text(" ".join(row[:key_columns]), style="bold"))
        lines += [
            Text(f"  {header[column]}: {row[column]}") for column in range(key_columns, len(header))
        ]
    return Group(*lines)

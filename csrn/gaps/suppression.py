"""The one rule of small numbers: every count that involves clients goes through `protect` before anyone sees it —
in tables, charts and CSV alike.

- Primary suppression: a cell from 1 to 4 shows as "<5".
- Complementary suppression: in any row or column with exactly one suppressed cell, the smallest other non-zero
  cell of that row or column is hidden too (shown as "*"), repeated until no row or column has exactly one — so
  no hidden cell can be worked out by subtraction from the others and a total.
- Totals are shown only when they include no hidden cell; otherwise rounded to the nearest 5 and marked "≈".
- A median or percentile is shown only over 5 or more values.

Zero is shown as it is: nobody is not a small number of people.
"""

from __future__ import annotations

from dataclasses import dataclass

SMALL = 5  # 1 to SMALL - 1 is suppressed
PRIMARY, COMPLEMENTARY = "<5", "*"


@dataclass(frozen=True)
class Shown:
    """A count as it may be shown: its text, and whether it is hidden or approximate."""

    text: str
    hidden: bool = False
    approximate: bool = False
    value: int | None = None  # the number, when it is shown exactly (charts draw only these)


@dataclass
class Protected:
    """A table of counts made safe to show: cells, row totals, column totals and the grand total."""

    cells: list[list[Shown]]
    row_totals: list[Shown]
    column_totals: list[Shown]
    total: Shown


def _hidden_mask(matrix: list[list[int]]) -> list[list[str]]:
    """Which cells are hidden: "" (shown), PRIMARY or COMPLEMENTARY."""
    mask = [[PRIMARY if 0 < value < SMALL else "" for value in row] for row in matrix]
    rows, columns = len(matrix), len(matrix[0]) if matrix else 0
    changed = True
    while changed:
        changed = False
        lines = [[(r, c) for c in range(columns)] for r in range(rows)]
        lines += [[(r, c) for r in range(rows)] for c in range(columns)]
        for line in lines:
            hidden = [(r, c) for r, c in line if mask[r][c]]
            if len(hidden) != 1:
                continue
            others = [(matrix[r][c], r, c) for r, c in line if not mask[r][c] and matrix[r][c] > 0]
            if others:
                _, r, c = min(others)
                mask[r][c] = COMPLEMENTARY
                changed = True
    return mask


def _total(values: list[int], hidden: list[str]) -> Shown:
    total = sum(values)
    if any(hidden):
        rounded = int(5 * round(total / 5))
        return Shown(f"≈{rounded}", approximate=True)
    return Shown(str(total), value=total)


def protect(matrix: list[list[int]]) -> Protected:
    """The counts of a table (rows of equal length) as they may be shown."""
    mask = _hidden_mask(matrix)
    cells = [[Shown(mark, hidden=True) if mark else Shown(str(value), value=value)
              for value, mark in zip(row, marks, strict=True)] for row, marks in zip(matrix, mask, strict=True)]
    columns = len(matrix[0]) if matrix else 0
    row_totals = [_total(row, marks) for row, marks in zip(matrix, mask, strict=True)]
    column_totals = [_total([row[c] for row in matrix], [marks[c] for marks in mask]) for c in range(columns)]
    every = [value for row in matrix for value in row]
    total = _total(every, [mark for marks in mask for mark in marks])
    return Protected(cells, row_totals, column_totals, total)


def protect_list(values: list[int]) -> list[Shown]:
    """A single column of counts (one row each): small ones hidden, and one more when only one would be."""
    if not values:
        return []
    return [row[0] for row in protect([[value] for value in values]).cells]


def enough_for_statistics(count: int) -> bool:
    """Whether a median or percentile may be shown over this many values."""
    return count >= SMALL

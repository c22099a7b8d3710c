"""What reading a package gives: rows by table, each knowing where it came from; and the refusal."""

from __future__ import annotations

from dataclasses import dataclass, field

from csrn.security import one_line

# Rows a package may hold, all tables together (a directory of tens of thousands of services has a few hundred
# thousand). Each costs a few hundred bytes once read: a 50 MB file of two-byte lines would be 25 million rows, tens
# of GB, before anything else could refuse it.
MAX_ROWS = 500_000


class PackageRefused(Exception):
    """The package is not imported; `problems` say where and why (file, row, field)."""

    def __init__(self, problems: list[str]):
        # Each on one line, without control characters: they quote member names, headers and cells of the package,
        # and the command prints them to a terminal (an escape sequence there is not text).
        self.problems = [one_line(problem) for problem in problems]
        super().__init__("; ".join(problems))


@dataclass
class Row:
    """One row of a table: its values (text from CSV, JSON values from JSON) and where it was read."""

    values: dict
    where: str  # "services.csv row 3" or "organization_full.json services[0]"
    csv: bool = True
    present: frozenset = frozenset()  # the columns (and, in JSON, the nested lists) the row states at all


@dataclass
class Source:
    """Everything read from a package: rows by table, and what was noticed on the way."""

    name: str
    tables: dict[str, list[Row]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    kind: str = "csv"  # csv or json
    present_tables: set[str] = field(default_factory=set)  # CSV: the tables the package has a file for

    rows: int = 0

    def add(self, table: str, row: Row) -> None:
        self.rows += 1
        if self.rows > MAX_ROWS:
            raise PackageRefused([f"{self.name}: more than {MAX_ROWS} rows, more than a package may hold"])
        self.tables.setdefault(table, []).append(row)

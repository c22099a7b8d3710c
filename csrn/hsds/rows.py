"""What reading a package gives: rows by table, each knowing where it came from; and the refusal."""

from __future__ import annotations

from dataclasses import dataclass, field


class PackageRefused(Exception):
    """The package is not imported; `problems` say where and why (file, row, field)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
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

    def add(self, table: str, row: Row) -> None:
        self.tables.setdefault(table, []).append(row)

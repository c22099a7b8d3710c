"""The official package's tables and fields (`spec/datapackage.json`): names, types, required, enums, references."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from csrn.hsds.export import SPEC


@dataclass(frozen=True)
class FieldSpec:
    """One column of an HSDS table, as the official data package describes it."""

    name: str
    type: str  # string, number, date, datetime, time
    format: str  # uuid, email, uri or ""
    required: bool
    enum: tuple[str, ...] | None


@cache
def table_fields() -> dict[str, dict[str, FieldSpec]]:
    """Every table's fields by name, in the official order."""
    described = json.loads((SPEC / "datapackage.json").read_text(encoding="utf-8"))
    tables = {}
    for resource in described["resources"]:
        tables[resource["name"]] = {
            column["name"]: FieldSpec(column["name"], column["type"], column.get("format", ""),
                                      bool(column.get("constraints", {}).get("required")),
                                      tuple(column["constraints"]["enum"]) if column.get("constraints", {}).get("enum")
                                      else None)
            for column in resource["schema"]["fields"]}
    return tables


@cache
def tables_by_path() -> dict[str, str]:
    """The official file name of each table ("services.csv" -> "service")."""
    described = json.loads((SPEC / "datapackage.json").read_text(encoding="utf-8"))
    return {resource["path"]: resource["name"] for resource in described["resources"]}

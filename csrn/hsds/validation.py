"""Checking a read package against the official tables: types, required fields, enums, duplicate ids and references.

Everything is checked before anything is written; every problem names the file, the row and the field. A required
reference that points to nothing refuses the package; an optional one is emptied and reported as a warning (the
official examples hold such references).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import select

from csrn.agencies.models import Agency
from csrn.directory.models import Location, Service, ServiceType
from csrn.extensions import db
from csrn.hsds.export import ATTRIBUTE_TERMS, attribute_term_id
from csrn.hsds.rows import PackageRefused, Row, Source
from csrn.hsds.spec_fields import FieldSpec, table_fields

MAX_PROBLEMS = 50
# (table, field, referenced table): a row without its parent means nothing.
REQUIRED_REFERENCES = (
    ("service", "organization_id", "organization"),
    ("service_at_location", "service_id", "service"),
    ("service_at_location", "location_id", "location"),
    ("program", "organization_id", "organization"),
    ("cost_option", "service_id", "service"),
    ("organization_identifier", "organization_id", "organization"),
)
OPTIONAL_REFERENCES = (
    ("organization", "parent_organization_id", "organization"),
    ("service", "program_id", "program"),
    ("location", "organization_id", "organization"),
    *((("phone", name, table) for name, table in (("location_id", "location"), ("service_id", "service"),
                                                  ("organization_id", "organization"), ("contact_id", "contact"),
                                                  ("service_at_location_id", "service_at_location")))),
    *((("contact", name, table) for name, table in (("organization_id", "organization"), ("service_id", "service"),
                                                    ("service_at_location_id", "service_at_location"),
                                                    ("location_id", "location")))),
    ("address", "location_id", "location"),
    ("schedule", "service_id", "service"), ("schedule", "location_id", "location"),
    ("schedule", "service_at_location_id", "service_at_location"),
    ("funding", "organization_id", "organization"), ("funding", "service_id", "service"),
    ("service_area", "service_id", "service"), ("required_document", "service_id", "service"),
    ("accessibility", "location_id", "location"),
    ("language", "service_id", "service"), ("language", "location_id", "location"), ("language", "phone_id", "phone"),
    ("taxonomy_term", "parent_id", "taxonomy_term"), ("taxonomy_term", "taxonomy_id", "taxonomy"),
)
# Tables whose rows may also be in CSRN already (a package of services for organizations imported before).
IN_DATABASE = {"organization": Agency, "service": Service, "location": Location}


@dataclass
class Checked:
    """The package's rows, typed, by table and id, with what was noticed."""

    name: str
    tables: dict[str, dict[str, Row]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    known: dict[str, set[str]] = field(default_factory=dict)  # ids already in CSRN, by table
    present_tables: set[str] = field(default_factory=set)

    def rows(self, table: str) -> list[Row]:
        return list(self.tables.get(table, {}).values())

    def exists(self, table: str, row_id: str | None) -> bool:
        return bool(row_id) and (row_id in self.tables.get(table, {}) or row_id in self.known.get(table, set()))


BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _text_problem(value: str) -> str | None:
    if not BAD_TEXT.search(value):
        return None
    return "a NUL byte" if "\x00" in value else "invalid UTF-8"


def convert(spec: FieldSpec, raw, from_csv: bool):
    """The value as the field's type says (None when empty); ValueError with the reason when it is not."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if spec.type == "number":
        if from_csv:
            try:
                number = float(raw.strip())
            except ValueError:
                raise ValueError(f"{raw[:40]!r} is not a number") from None
        elif isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"a number was expected, not {type(raw).__name__}")
        else:
            number = float(raw)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if not isinstance(raw, str):
        raise ValueError(f"text was expected, not {type(raw).__name__}")
    problem = _text_problem(raw)
    if problem:
        raise ValueError(problem)
    value = raw.strip()
    try:
        if spec.format == "uuid":
            return str(uuid.UUID(value))
        if spec.type == "date":
            return date.fromisoformat(value)
        if spec.type == "datetime":
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        if spec.type == "time":
            return time.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        kind = "an id (UUID)" if spec.format == "uuid" else f"a {spec.type}"
        raise ValueError(f"{value[:40]!r} is not {kind}") from None
    if spec.enum and value not in spec.enum:
        raise ValueError(f"{value[:40]!r} is not one of {', '.join(spec.enum)}")
    return raw


def _type_rows(source: Source, problems: list[str]) -> dict[str, dict[str, Row]]:
    specs = table_fields()
    typed: dict[str, dict[str, Row]] = {}
    for table, rows in source.tables.items():
        fields = specs[table]
        typed[table] = by_id = {}
        for row in rows:
            values = {}
            raw_values = row.values
            for name, spec in fields.items():
                raw = raw_values.get(name)
                if spec.format == "uuid" and row.csv and raw and CANONICAL_UUID.fullmatch(raw):
                    values[name] = raw  # the common case, without parsing
                    continue
                if not raw and not spec.required:
                    values[name] = None
                    continue
                try:
                    values[name] = convert(spec, raw, row.csv)
                except ValueError as exc:
                    problems.append(f"{row.where}, field {name}: {exc}")
                    continue
                if spec.required and values[name] is None:
                    problems.append(f"{row.where}, field {name}: missing (required)")
            if not row.csv:
                for name, value in row.values.items():  # fields CSRN does not read are still checked for NUL
                    if name not in fields and isinstance(value, str) and _text_problem(value):
                        problems.append(f"{row.where}, field {name}: {_text_problem(value)}")
            row_id = values.get("id")
            if row_id is None:
                continue
            if row_id in by_id:
                problems.append(f"{row.where}, field id: duplicate id {row_id} (also at {by_id[row_id].where})")
                continue
            by_id[row_id] = Row(values, row.where, row.csv, row.present)
            if len(problems) >= MAX_PROBLEMS:
                raise PackageRefused(problems)
    return typed


def _known_ids(checked: Checked, wanted: dict[str, set[str]]) -> None:
    """Which of the referenced ids CSRN already holds (one query per table and thousand ids)."""
    for table, model in IN_DATABASE.items():
        ids = sorted(wanted.get(table, set()) - set(checked.tables.get(table, {})))
        found = set()
        for start in range(0, len(ids), 1000):
            found |= set(db.session.scalars(select(model.uuid).where(model.uuid.in_(ids[start:start + 1000]))))
        checked.known[table] = found


def check(source: Source) -> Checked:
    """Type and check every row; refuse the package (PackageRefused) at any problem."""
    problems: list[str] = []
    checked = Checked(name=source.name, warnings=list(source.warnings), present_tables=set(source.present_tables))
    checked.tables = _type_rows(source, problems)
    if problems:
        raise PackageRefused(problems[:MAX_PROBLEMS])
    wanted: dict[str, set[str]] = {}
    for table, name, target in (*REQUIRED_REFERENCES, *OPTIONAL_REFERENCES):
        for row in checked.rows(table):
            if row.values.get(name):
                wanted.setdefault(target, set()).add(row.values[name])
    _known_ids(checked, wanted)
    for table, name, target in REQUIRED_REFERENCES:
        for row in checked.rows(table):
            value = row.values.get(name)
            if value and not checked.exists(target, value):
                problems.append(f"{row.where}, field {name}: {target} {value} is neither in the package nor in "
                                "CSRN")
    if problems:
        raise PackageRefused(problems[:MAX_PROBLEMS])
    for table, name, target in OPTIONAL_REFERENCES:
        for row in checked.rows(table):
            value = row.values.get(name)
            if value and not checked.exists(target, value):
                checked.warnings.append(f"{row.where}, field {name}: {target} {value} is not in the package: "
                                        "imported empty")
                row.values[name] = None
    _check_attributes(checked)
    return checked


def _check_attributes(checked: Checked) -> None:
    """An attribute's term may be one of CSRN's (by id) without the term's row; its link may be to any table."""
    ours = {attribute_term_id(code) for code in ATTRIBUTE_TERMS}
    ours |= set(db.session.scalars(select(ServiceType.uuid)))
    linkable = ("organization", "service", "location", "service_at_location", "phone", "contact")
    for row in checked.rows("attribute"):
        term = row.values.get("taxonomy_term_id")
        if term not in checked.tables.get("taxonomy_term", {}) and term not in ours:
            checked.warnings.append(f"{row.where}, field taxonomy_term_id: taxonomy_term {term} is not in the "
                                    "package: the attribute is not used")
            row.values["taxonomy_term_id"] = None
        link = row.values.get("link_id")
        if not any(checked.exists(table, link) for table in linkable):
            checked.warnings.append(f"{row.where}, field link_id: {link} is no organization, service or location "
                                    "of the package: the attribute is not used")
            row.values["link_id"] = None

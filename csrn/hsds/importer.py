"""Importing an Open Referral HSDS 3.0 package into the directory (`flask --app app csrn import-hsds PATH`, and the
chairs' upload page).

Three steps, and nothing is written until the first two have passed for the whole package: read it (`reading`,
`json_package`: size limits, .zip paths, NUL bytes, UTF-8), check it (`validation`: types, required fields,
duplicate ids, references), map it (here: HSDS rows to CSRN values), then write everything in one transaction.

The rules:
- HSDS ids are the `uuid` columns of agencies, services and locations, so importing the same package twice
  creates nothing new.
- An organization new to CSRN becomes a `listed` community resource (agency type from CSRN's own `csrn-agency-type`
  attribute, or a term whose code or name is an agency type, else `community`); a chair moves it on through the
  membership workflow, which a re-import never touches. A new location is `public`; a re-import never changes a
  location's visibility.
- A field is overwritten by a re-import only while its current value is still the one the last import wrote
  (`ImportedObject` keeps a keyed hash of it): a field edited in CSRN since is kept; an object CSRN made itself is
  never compared nor changed (nor remembered: stating its current values once must not let the next package change
  them); an object deleted in CSRN since it was imported is not brought back.
- A package files new locations and services under, updates, or moves things to only the agencies an import created
  that are still `listed`. Agency ids are public (every export has them): a package naming a member's id, or an
  agency made in CSRN, adds nothing to it (a public location at a member's address, a service in a member's name)
  and changes nothing of it (its type decides what its users may see) — each is a warning, not imported.
- A service's type: the first of its attributes whose term is a CSRN service type — by the term's id (as CSRN's
  export writes it), then its code, then its name. A service that matches no term is filed under
  "Not yet classified (imported)" (code `unclassified`, an inactive term: never offered as an intake need, so the
  service is never matched until a chair gives it a real type) and the report says so.
- Ages: CSRN's `csrn-age` attributes when the package has them (a CSRN export), else every age group the
  minimum–maximum age range overlaps; neither: "not stated" (no facet), which never excludes.
- Languages -> language facets (ISO 639 codes, 3-letter codes and names understood); interpretation services ->
  interpretation facets for the languages the text names; service areas -> county facets when the name is one of
  the task force's counties; weekly schedules -> the service's weekly hours (every day 00:00-23:59: 24/7).
- One-line fields (names, city, phone, ...) are folded onto one line (a line break there broke mail subjects);
  text fields keep their line breaks but lose other control characters; each change is a warning.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from csrn.agencies.models import AGENCY_TYPES, Agency
from csrn.audit import operations as audit
from csrn.directory.languages import LANGUAGES
from csrn.directory.models import GenderOption, Location, Service, ServiceFacet, ServiceType
from csrn.extensions import db
from csrn.hsds.export import AGES, ATTRIBUTE_TERMS, WEEKDAYS, attribute_term_id, derived_id
from csrn.hsds.models import ImportedObject
from csrn.hsds.reading import PackageRefused, Row, read_bytes, read_path
from csrn.hsds.validation import Checked, check
from csrn.schedules.models import ScheduleRule
from csrn.security import one_line
from csrn.settings.operations import get_settings
from csrn.types import keyed_hash, keyed_hashes

__all__ = ["PackageRefused", "ImportReport", "count_objects", "import_package", "import_checked", "read_and_check"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
HASH_PURPOSE = "hsds-import-field"
UNCLASSIFIED = ("unclassified", "Not yet classified (imported)",
                "Services imported from an HSDS package whose terms match no CSRN service type: give each a type.")
TRACKED_TABLES = ("organization", "location", "service")
# Tables CSRN folds into organizations, locations and services, and those it does not keep.
FOLDED = {"phone": "organization phone", "address": "location address", "schedule": "service hours",
          "language": "service languages", "service_area": "service counties", "attribute": "types and eligibility",
          "taxonomy_term": "service types", "taxonomy": "service types", "service_at_location": "location owners",
          "cost_option": "service cost"}
ISO_639_2 = {
    "eng": "en", "spa": "es", "vie": "vi", "zho": "zh", "chi": "zh", "cmn": "zh", "yue": "yue", "tgl": "tl",
    "fil": "tl", "ara": "ar", "fra": "fr", "fre": "fr", "hat": "ht", "kor": "ko", "rus": "ru", "ukr": "uk",
    "por": "pt", "hin": "hi", "urd": "ur", "ben": "bn", "pan": "pa", "guj": "gu", "nep": "ne", "tha": "th",
    "khm": "km", "lao": "lo", "mya": "my", "bur": "my", "ind": "id", "msa": "ms", "may": "ms", "jpn": "ja",
    "fas": "fa", "per": "fa", "pus": "ps", "tur": "tr", "kur": "ku", "amh": "am", "tir": "ti", "som": "so",
    "swa": "sw", "orm": "om", "yor": "yo", "ibo": "ig", "hau": "ha", "wol": "wo", "ful": "ff", "lin": "ln",
    "kin": "rw", "pol": "pl", "ron": "ro", "rum": "ro", "bul": "bg", "sqi": "sq", "alb": "sq", "srp": "sr",
    "hrv": "hr", "bos": "bs", "ell": "el", "gre": "el", "ita": "it", "deu": "de", "ger": "de", "heb": "he",
    "hye": "hy", "arm": "hy", "kat": "ka", "geo": "ka", "uzb": "uz", "kaz": "kk", "mon": "mn", "que": "qu",
    "sgn": "ase",
}
LANGUAGE_BY_NAME = {name.lower(): code for code, name in LANGUAGES.items()}
NAME_PATTERN = re.compile(r"\b(" + "|".join(sorted((re.escape(name) for name in LANGUAGE_BY_NAME),
                                                   key=len, reverse=True)) + r")\b", re.IGNORECASE)
SMALL_COUNT = re.compile(r"[0-9]{1,5}")
MAX_COUNT = 10_000  # open slots and people waiting, as the forms allow
TEXT_LIMITS = {"description": 5000, "application_process": 2000}
ONE_LINE_LIMITS = {"name": 200, "website": 500, "phone": 40, "city": 100, "state": 60, "postal_code": 20,
                   "county": 100}


@dataclass
class TableReport:
    """What happened to one table's rows."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # an object with a field kept because it was edited in CSRN (or is CSRN's own), or deleted there
    skipped: int = 0  # rows CSRN does not keep as objects of their own
    note: str = ""


@dataclass
class ImportReport:
    """Created, updated, skipped and warned about, per table."""

    package: str
    tables: dict[str, TableReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    kept_fields: list[str] = field(default_factory=list)

    def table(self, name: str) -> TableReport:
        return self.tables.setdefault(name, TableReport())

    def lines(self) -> list[str]:
        """The report as lines of text (the CLI prints them)."""
        # Warnings quote the package (member names, cells) and are printed to a terminal: one line, no escapes.
        lines = [f"HSDS import of {one_line(self.package)}:"]
        for name, table in self.tables.items():
            if name in TRACKED_TABLES:
                lines.append(f"  {name}: {table.read} read, {table.created} created, {table.updated} updated, "
                             f"{table.unchanged} unchanged, {table.kept} kept as edited in CSRN")
            elif table.read:
                lines.append(f"  {name}: {table.read} read ({table.note})")
        lines += [f"  kept: {one_line(line)}" for line in self.kept_fields[:50]]
        if len(self.kept_fields) > 50:
            lines.append(f"  ... and {len(self.kept_fields) - 50} more fields kept")
        lines.append(f"  {len(self.warnings)} warning(s)")
        lines += [f"  warning: {one_line(line)}" for line in self.warnings]
        return lines

    @property
    def created(self) -> int:
        return sum(self.table(name).created for name in TRACKED_TABLES)


@dataclass
class Planned:
    """One agency, location or service as the package describes it, in CSRN's terms."""

    kind: str
    uuid: str
    where: str
    values: dict  # tracked field -> value
    on_create: dict = field(default_factory=dict)  # set only when created (membership status, visibility)
    absent: set = field(default_factory=set)  # fields the package says nothing about: a re-import leaves them


# ----- cleaning ---------------------------------------------------------------------------------------------------

def _line(value, name: str, where: str, warnings: list[str], limit: int | None = None) -> str:
    """A one-line field: control characters folded to spaces (and said so), cut to the column's length."""
    text = "" if value is None else str(value)
    cleaned = one_line(text)
    if cleaned != text.strip():
        if any(not c.isprintable() for c in text):
            warnings.append(f"{where}, field {name}: line breaks or control characters folded onto one line")
    limit = limit or ONE_LINE_LIMITS.get(name)
    if limit and len(cleaned) > limit:
        warnings.append(f"{where}, field {name}: cut to {limit} characters")
        cleaned = cleaned[:limit].rstrip()
    return cleaned


def _text(value, name: str, where: str, warnings: list[str]) -> str:
    """A text field: line breaks and tabs kept, other control characters dropped (and said so)."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    cleaned = "".join(c for c in text if c in "\n\t" or c.isprintable() or c == " ")
    if cleaned != text:
        warnings.append(f"{where}, field {name}: control characters removed")
    cleaned = cleaned.strip()
    limit = TEXT_LIMITS.get(name)
    if limit and len(cleaned) > limit:
        # The forms' limits (SECURITY V3): longer, the entry could not be saved again once edited in CSRN.
        warnings.append(f"{where}, field {name}: cut to {limit} characters")
        cleaned = cleaned[:limit].rstrip()
    return cleaned


def _web_address(value, where: str, warnings: list[str]) -> str:
    text = _line(value, "website", where, warnings)
    if text and not text.lower().startswith(("https://", "http://")):
        warnings.append(f"{where}, field website: not an http(s) address: imported empty")
        return ""
    return text


# Where each field comes from: columns of the row itself, or a table (its CSV file; in JSON, the nested list).
SOURCES = {
    "organization": {"name": ("name",), "description": ("description",), "website": ("website",),
                     "phone": ("@phone", "phones"), "agency_type": ("@attribute", "attributes")},
    "location": {"name": ("name",), **{name: ("@address", "addresses") for name in (
        "address_1", "address_2", "city", "state", "postal_code", "county")}},
    "service": {"name": ("name",), "description": ("description",), "status": ("status",),
                "how_to_refer": ("application_process",), "cost": ("@cost_option", "cost_options"),
                "service_type": ("@attribute", "attributes"),
                "facet:age": ("minimum_age", "maximum_age", "@attribute", "attributes"),
                "facet:language": ("@language", "languages"), "facet:interpretation": ("interpretation_services",),
                "facet:county": ("@service_area", "service_areas"), "schedule": ("@schedule", "schedules"),
                **{name: ("@attribute", "attributes") for name in (
                    "facet:gender", "facet:citizenship", "facet:trafficking", "open_slots", "waitlist",
                    "capacity_confirmed_at")}},
}


def _absent(kind: str, row: Row, checked: Checked) -> set[str]:
    """The fields the row's package does not state at all (a missing column, table or nested list)."""
    absent = set()
    for name, sources in SOURCES[kind].items():
        stated = any((source[1:] in checked.present_tables) if source.startswith("@") and row.csv
                     else (not source.startswith("@") and source in row.present) for source in sources)
        if not stated:
            absent.add(name)
    return absent


# ----- mapping ----------------------------------------------------------------------------------------------------

class _Mapper:
    """Turns checked rows into planned agencies, locations and services."""

    def __init__(self, checked: Checked, warnings: list[str]):
        self.checked = checked
        self.warnings = warnings
        self.types = {t.uuid: t for t in db.session.scalars(select(ServiceType))}
        self.type_codes = {t.code.lower(): t for t in self.types.values()}
        self.type_names = {t.name.lower(): t for t in self.types.values()}
        self.terms = checked.tables.get("taxonomy_term", {})
        self.our_terms = {attribute_term_id(code): code for code in ATTRIBUTE_TERMS}
        self.counties = {c.lower(): c for c in get_settings().counties}
        self.gender_codes = set(db.session.scalars(select(GenderOption.code)))
        self.attributes: dict[str, list[dict]] = {}
        for row in checked.rows("attribute"):
            if row.values.get("link_id") and row.values.get("taxonomy_term_id"):
                self.attributes.setdefault(row.values["link_id"], []).append(row.values)
        self.by_parent: dict[tuple[str, str, str], list[Row]] = {}
        for table, key in (("phone", "organization_id"), ("address", "location_id"), ("schedule", "service_id"),
                           ("schedule", "service_at_location_id"), ("language", "service_id"),
                           ("service_area", "service_id"), ("cost_option", "service_id"),
                           ("service_at_location", "location_id"), ("service_at_location", "service_id")):
            for row in checked.rows(table):
                if row.values.get(key):
                    self.by_parent.setdefault((table, key, row.values[key]), []).append(row)
        self.unclassified: list[str] = []

    def children(self, table: str, key: str, parent: str) -> list[Row]:
        return self.by_parent.get((table, key, parent), [])

    def csrn_values(self, link_id: str, code: str) -> list[str]:
        """The values of CSRN's own attribute `code` on an object (a CSRN export's eligibility, capacity, ...)."""
        found = []
        for attribute in self.attributes.get(link_id, ()):
            term = attribute["taxonomy_term_id"]
            term_code = self.our_terms.get(term) or (self.terms[term].values.get("code") if term in self.terms
                                                     else None)
            if term_code == code and attribute.get("value") not in (None, ""):
                found.append(str(attribute["value"]).strip())
        return found

    # -- organizations
    def organization(self, row: Row) -> Planned:
        v, where, w = row.values, row.where, self.warnings
        phones = self.children("phone", "organization_id", v["id"])
        own = [p for p in phones if not (p.values.get("service_id") or p.values.get("location_id")
                                         or p.values.get("contact_id"))]
        phone = (own or phones or [None])[0]
        values = {
            "name": _line(v["name"], "name", where, w),
            "description": _text(v.get("description"), "description", where, w),
            "website": _web_address(v.get("website"), where, w),
            "phone": _line(phone.values["number"], "phone", phone.where, w).strip('"') if phone else "",
            "agency_type": self.agency_type(v["id"]),
        }
        if not values["name"]:
            raise PackageRefused([f"{where}, field name: empty once control characters are removed"])
        return Planned("organization", v["id"], where, values, {"membership_status": "listed"},
                       _absent("organization", row, self.checked))

    def agency_type(self, organization_id: str) -> str:
        for value in self.csrn_values(organization_id, "csrn-agency-type"):
            if value in AGENCY_TYPES:
                return value
        labels = {label.lower(): code for code, label in AGENCY_TYPES.items()}
        for attribute in self.attributes.get(organization_id, ()):
            term = self.terms.get(attribute["taxonomy_term_id"])
            if term is None:
                continue
            for candidate in (term.values.get("code"), term.values.get("name")):
                key = str(candidate or "").strip().lower()
                if key in AGENCY_TYPES:
                    return key
                if key in labels:
                    return labels[key]
        return "community"

    # -- locations
    def location(self, row: Row, organizations: dict[str, str]) -> Planned | None:
        v, where, w = row.values, row.where, self.warnings
        if v.get("location_type") == "virtual":
            w.append(f"{where}: a virtual location (CSRN keeps places only): not imported")
            return None
        owner = v.get("organization_id")
        if not owner:
            owners = sorted({organizations.get(sal.values["service_id"]) for sal in
                             self.children("service_at_location", "location_id", v["id"])} - {None})
            if len(owners) > 1:
                w.append(f"{where}: services of {len(owners)} organizations are here; it is filed under the first")
            owner = owners[0] if owners else None
        if not owner:
            w.append(f"{where}: no organization holds this location (no organization_id, no service at it): "
                     "not imported")
            return None
        addresses = self.children("address", "location_id", v["id"])
        rank = {"physical": 0, "postal": 1}
        addresses = sorted((a for a in addresses if a.values.get("address_type") != "virtual"),
                           key=lambda a: rank.get(a.values.get("address_type"), 2))
        address = addresses[0].values if addresses else {}
        a_where = addresses[0].where if addresses else where
        street = _line(address.get("address_1"), "address_1", a_where, w, 500)
        values = {
            "organization": owner,
            "name": _line(v.get("name") or street or "Location", "name", where, w) or "Location",
            "address_1": street,
            "address_2": _line(address.get("address_2"), "address_2", a_where, w, 500) or None,
            "city": _line(address.get("city"), "city", a_where, w),
            "state": _line(address.get("state_province"), "state", a_where, w),
            "postal_code": _line(address.get("postal_code"), "postal_code", a_where, w),
            "county": _line(address.get("region"), "county", a_where, w),
        }
        return Planned("location", v["id"], where, values, {"visibility": "public"},
                       _absent("location", row, self.checked))

    # -- services
    def service(self, row: Row) -> Planned:
        v, where, w = row.values, row.where, self.warnings
        service_id = v["id"]
        values = {
            "organization": v["organization_id"],
            "name": _line(v["name"], "name", where, w),
            "description": _text(v.get("description"), "description", where, w),
            "status": "active" if v.get("status") == "active" else "inactive",
            "how_to_refer": _text(v.get("application_process"), "application_process", where, w),
            "cost": self.cost(v),
            "service_type": self.service_type(service_id, where),
            "facet:age": self.ages(v),
            "facet:language": self.languages(service_id),
            "facet:interpretation": sorted({LANGUAGE_BY_NAME[m.lower()] for m in
                                            NAME_PATTERN.findall(str(v.get("interpretation_services") or ""))}),
            "facet:county": self.service_counties(service_id),
            "facet:gender": self.genders(service_id),
            "facet:citizenship": sorted(set(self.csrn_values(service_id, "csrn-citizenship"))
                                        & {"us", "foreign"}),
            "facet:trafficking": sorted(set(self.csrn_values(service_id, "csrn-trafficking")) & {"sex", "labour"}),
            "schedule": self.schedule(service_id),
            "open_slots": self.number(service_id, "csrn-open-slots", None),
            "waitlist": self.number(service_id, "csrn-waitlist", 0),
            "capacity_confirmed_at": self.confirmed(service_id),
        }
        return Planned("service", service_id, where, values, absent=_absent("service", row, self.checked))

    def genders(self, service_id: str) -> list[str]:
        stated = set(self.csrn_values(service_id, "csrn-gender"))
        for unknown in sorted(stated - self.gender_codes):
            self.warnings.append(f"service {service_id}: gender {unknown[:40]!r} is not on CSRN's gender list: "
                                 "not imported")
        return sorted(stated & self.gender_codes)

    def cost(self, v: dict) -> str:
        options = self.children("cost_option", "service_id", v["id"])
        if any((o.values.get("amount") or 0) > 0 for o in options):
            return "fee"
        return "free"

    def service_type(self, service_id: str, where: str) -> str:
        attributes = sorted(self.attributes.get(service_id, ()), key=lambda a: a.get("link_type") != "service_type")
        for attribute in attributes:
            term_id = attribute["taxonomy_term_id"]
            if term_id in self.types:
                return self.types[term_id].code
            term = self.terms.get(term_id)
            if term is None:
                continue
            code = str(term.values.get("code") or "").strip().lower()
            name = str(term.values.get("name") or "").strip().lower()
            match = self.type_codes.get(code) or self.type_names.get(name)
            if match is not None:
                return match.code
        self.unclassified.append(where)
        return UNCLASSIFIED[0]

    def ages(self, v: dict) -> list[str]:
        stated = set(self.csrn_values(v["id"], "csrn-age")) & set(AGES)
        if stated:
            return sorted(stated)
        low, high = v.get("minimum_age"), v.get("maximum_age")
        if low is None and high is None:
            return []  # not stated: never excludes
        low = 0 if low is None else low
        high = float("inf") if high is None else high
        groups = []
        for code, (group_low, group_high) in AGES.items():
            # A group covers whole years: "under 18" is every age below 18, "25 and over" has no end.
            group_end = float("inf") if group_high is None else group_high + 1
            if low < group_end and high >= group_low:
                groups.append(code)
        return sorted(groups)

    def languages(self, service_id: str) -> list[str]:
        codes = set()
        for row in self.children("language", "service_id", service_id):
            code = self.language_code(row.values.get("code"), row.values.get("name"))
            if code:
                codes.add(code)
            else:
                self.warnings.append(f"{row.where}: language {row.values.get('code') or row.values.get('name')!r}"
                                     " is not on CSRN's list: not imported")
        return sorted(codes)

    @staticmethod
    def language_code(code, name) -> str | None:
        text = str(code or "").strip().lower()
        base = text.replace("_", "-").split("-")[0]
        for candidate in (text, base):
            if candidate in LANGUAGES:
                return candidate
            if candidate in ISO_639_2:
                return ISO_639_2[candidate]
        return LANGUAGE_BY_NAME.get(str(name or "").strip().lower())

    def service_counties(self, service_id: str) -> list[str]:
        found = set()
        for row in self.children("service_area", "service_id", service_id):
            name = str(row.values.get("name") or "").strip()
            key = name.lower().removesuffix(" county").strip()
            if key in self.counties:
                found.add(self.counties[key])
            elif name:
                self.warnings.append(f"{row.where}: service area {name[:60]!r} is not one of the task force's "
                                     "counties: not imported as a county")
        return sorted(found)

    def schedule(self, service_id: str) -> dict:
        rows = list(self.children("schedule", "service_id", service_id))
        for sal in self.children("service_at_location", "service_id", service_id):
            rows += [r for r in self.children("schedule", "service_at_location_id", sal.values["id"])
                     if not r.values.get("service_id")]
        spans = set()
        for row in rows:
            v = row.values
            days = [d.strip().upper() for d in str(v.get("byday") or "").split(",") if d.strip()]
            if (v.get("freq") not in (None, "WEEKLY") or (v.get("interval") or 1) != 1 or not days
                    or any(d not in WEEKDAYS for d in days) or v.get("opens_at") is None
                    or v.get("closes_at") is None):
                self.warnings.append(f"{row.where}: only weekly hours (byday, opens_at, closes_at) are imported: "
                                     "this schedule is not")
                continue
            opens, closes = v["opens_at"].replace(tzinfo=None), v["closes_at"].replace(tzinfo=None)
            for day in days:
                spans.add((WEEKDAYS.index(day), opens.strftime("%H:%M:%S"), closes.strftime("%H:%M:%S")))
        whole_days = {day for day, opens, closes in spans if opens == "00:00:00" and closes >= "23:59:00"}
        if len(whole_days) == 7:
            return {"always": True, "weekly": []}
        return {"always": False, "weekly": sorted([list(span) for span in spans])}

    def number(self, service_id: str, code: str, default):
        for value in self.csrn_values(service_id, code):
            # ASCII digits within the forms' range: isdigit() is also true of "²" (which int() refuses), of other
            # scripts' digits, and of 5,000 nines (int() refuses those too; 20 digits overflow the column).
            if SMALL_COUNT.fullmatch(value) and int(value) <= MAX_COUNT:
                return int(value)
            self.warnings.append(f"service {service_id}: {code} {value[:40]!r} is not a whole number from 0 to "
                                 f"{MAX_COUNT}: not imported")
        return default

    def confirmed(self, service_id: str) -> str | None:
        for value in self.csrn_values(service_id, "csrn-capacity-confirmed"):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat()
            except (ValueError, OverflowError):  # 9999-12-31T23:59-01:00 is past the last date in UTC
                continue
        return None


# ----- writing ----------------------------------------------------------------------------------------------------

def _insert_rows(model, rows: list[dict]) -> None:
    """Thousands of rows in batches of multi-row INSERTs: asking for the ids back makes SQLAlchemy use its
    "insertmanyvalues" batching (a plain executemany is one statement per row on PostgreSQL, most of a large
    import's time)."""
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(model.__table__).returning(model.__table__.c.id), rows[start:start + 5000]).all()


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


class _ServiceSnapshot:
    """A service's fields, facets and weekly hours as plain values: what the import compares."""

    def __init__(self, row, facets: dict[str, list[str]], rules: list):
        for key, value in row._mapping.items():
            setattr(self, key, value)
        self._facets, self.rules = facets, rules

    def values(self, kind: str) -> list[str]:
        return sorted(self._facets.get(kind, ()))


def _service_snapshots(uuids: list[str]) -> dict[str, _ServiceSnapshot]:
    """The services with these HSDS ids, as snapshots (three queries for any number of them)."""
    columns = [Service.__table__.c[name] for name in (
        "id", "uuid", "agency_id", "service_type_id", "name", "description", "status", "how_to_refer", "cost",
        "is_24_7", "open_slots", "waitlist", "capacity_confirmed_at")]
    rows = db.session.execute(select(*columns).where(Service.uuid.in_(uuids))).all()
    ids = [row.id for row in rows]
    facets: dict[int, dict[str, list[str]]] = {}
    for service_id, kind, value in db.session.execute(
            select(ServiceFacet.service_id, ServiceFacet.kind, ServiceFacet.value)
            .where(ServiceFacet.service_id.in_(ids))):
        facets.setdefault(service_id, {}).setdefault(kind, []).append(value)
    rules: dict[int, list] = {}
    for rule in db.session.execute(
            select(ScheduleRule.service_id, ScheduleRule.kind, ScheduleRule.weekday, ScheduleRule.opens,
                   ScheduleRule.closes).where(ScheduleRule.service_id.in_(ids))):
        rules.setdefault(rule.service_id, []).append(rule)
    return {row.uuid: _ServiceSnapshot(row, facets.get(row.id, {}), rules.get(row.id, [])) for row in rows}


class _Writer:
    """Applies the plan: creates, updates only the fields the last import wrote and nobody changed since."""

    MODELS = {"organization": Agency, "location": Location, "service": Service}

    def __init__(self, report: ImportReport, now: datetime, progress: Callable[[int], None] | None):
        self.report, self.now, self.progress = report, now, progress or (lambda n: None)
        self.types = {t.code: t for t in db.session.scalars(select(ServiceType))}
        self.type_codes = {t.id: t.code for t in self.types.values()}
        self.agency_uuid: dict[int, str] = {}
        self.agency_id: dict[str, int] = {}
        # The agencies a package may file new locations and services under (or move them to): those an import
        # created that are still listed. Never a member's, nor one made in CSRN: their ids are public (every export
        # has them), and a package must not publish a location, nor file a service, under a member's name.
        self.adoptable: set[str] = set()
        self.created: dict[str, list] = {kind: [] for kind in TRACKED_TABLES}
        self.created_ids: dict[str, list[int]] = {kind: [] for kind in TRACKED_TABLES}
        self.updated: dict[str, list[tuple]] = {kind: [] for kind in TRACKED_TABLES}  # (object, fields written)

    def _load(self, kind: str, uuids: list[str]) -> tuple[dict, dict]:
        model = self.MODELS[kind]
        objects, records = {}, {}
        for start in range(0, len(uuids), 500):
            chunk = uuids[start:start + 500]
            if kind == "service":  # thousands: compared as plain rows, loaded as objects only when one changes
                objects.update(_service_snapshots(chunk))
            else:
                for obj in db.session.scalars(select(model).where(model.uuid.in_(chunk))):
                    objects[obj.uuid] = obj
            for record_id, object_uuid, hashes in db.session.execute(
                    select(ImportedObject.id, ImportedObject.object_uuid, ImportedObject.field_hashes)
                    .where(ImportedObject.object_type == kind, ImportedObject.object_uuid.in_(chunk))):
                records[object_uuid] = (record_id, json.loads(hashes))
        return objects, records

    def agencies_for(self, uuids: set[str]) -> None:
        missing = sorted(uuids - set(self.agency_id))
        for start in range(0, len(missing), 500):
            for agency_id, agency_uuid in db.session.execute(
                    select(Agency.id, Agency.uuid).where(Agency.uuid.in_(missing[start:start + 500]))):
                self.agency_id[agency_uuid], self.agency_uuid[agency_id] = agency_id, agency_uuid
        self.learn_adoptable(uuids)

    def learn_adoptable(self, uuids: set[str]) -> None:
        """Which of these agencies an import created and are still listed (`adoptable`)."""
        wanted = sorted(uuids)
        for start in range(0, len(wanted), 500):
            imported = select(ImportedObject.id).where(ImportedObject.object_type == "organization",
                                                       ImportedObject.object_uuid == Agency.uuid).exists()
            self.adoptable |= set(db.session.scalars(
                select(Agency.uuid).where(Agency.uuid.in_(wanted[start:start + 500]),
                                          Agency.membership_status == "listed", imported)))

    # current values and setters
    def current(self, kind: str, obj, name: str):
        if name == "organization":
            return self.agency_uuid.get(obj.agency_id)
        if name == "service_type":
            return self.type_codes.get(obj.service_type_id)
        if name.startswith("facet:"):
            return obj.values(name[6:])
        if name == "schedule":
            return {"always": bool(obj.is_24_7),
                    "weekly": sorted([[r.weekday, r.opens.strftime("%H:%M:%S"), r.closes.strftime("%H:%M:%S")]
                                      for r in obj.rules if r.kind == "weekly"])}
        if name == "capacity_confirmed_at":
            return obj.capacity_confirmed_at.astimezone(UTC).isoformat() if obj.capacity_confirmed_at else None
        if name == "address_2":
            return obj.address_2 or None
        return getattr(obj, name)

    def assign(self, kind: str, obj, name: str, value) -> None:
        if name == "organization":
            obj.agency_id = self.agency_id[value]
        elif name == "service_type":
            obj.service_type_id = self._type(value).id
        elif name.startswith("facet:"):
            obj.set_values(name[6:], value)
        elif name == "schedule":
            kept = [r for r in obj.rules if r.kind != "weekly"]
            obj.rules = kept + [ScheduleRule(kind="weekly", weekday=day, opens=time.fromisoformat(opens),
                                             closes=time.fromisoformat(closes))
                                for day, opens, closes in value["weekly"]]
            obj.is_24_7 = value["always"]
            if obj.is_24_7:
                obj.closed_on_holidays = False
        elif name == "capacity_confirmed_at":
            obj.capacity_confirmed_at = datetime.fromisoformat(value) if value else None
        else:
            setattr(obj, name, value)

    def _type(self, code: str) -> ServiceType:
        if code not in self.types:
            code_, name, description = UNCLASSIFIED
            term = ServiceType(uuid=derived_id("service-type", code_), code=code_, name=name,
                               description=description, sort_order=10_000, active=False)
            db.session.add(term)
            db.session.flush()
            audit.record(None, "hsds.service_type_created", term, fields=["code", "name"], now=self.now)
            self.types[code] = term
            self.type_codes[term.id] = code
        return self.types[code]

    def write(self, kind: str, planned: list[Planned]) -> None:
        """Create or update every planned object of one kind, and remember what was written."""
        table = self.report.table(kind)
        objects, records = self._load(kind, [p.uuid for p in planned])
        deleted = set(records) - set(objects)
        if kind != "organization":
            owners = {o.agency_id for o in objects.values()} - set(self.agency_uuid)
            for agency_id, agency_uuid in db.session.execute(select(Agency.id, Agency.uuid)
                                                             .where(Agency.id.in_(sorted(owners)))):
                self.agency_id[agency_uuid], self.agency_uuid[agency_id] = agency_id, agency_uuid
            self.learn_adoptable({self.agency_uuid[o.agency_id] for o in objects.values()
                                  if o.agency_id in self.agency_uuid})
        new_records, changed_records, new_services = [], [], []
        for plan in planned:
            obj = objects.get(plan.uuid)
            owner = plan.values.get("organization")
            if owner is not None and owner not in self.agency_id:
                self.report.warnings.append(f"{plan.where}: its organization {owner} was deleted in CSRN: "
                                            "not imported")
                self.progress(1)
                continue
            if obj is None and plan.uuid in deleted:
                table.kept += 1
                self.report.kept_fields.append(f"{kind} {plan.uuid} ({plan.where}): deleted in CSRN since the last "
                                               "import: not re-created")
                self.progress(1)
                continue
            if obj is None and owner is not None and owner not in self.adoptable:
                table.skipped += 1
                self.report.warnings.append(f"{plan.where}: its organization {owner} is a member of the task force "
                                            "or was made in CSRN: a package adds nothing to it: not imported")
                self.progress(1)
                continue
            if obj is not None and plan.uuid not in records:
                # Made in CSRN, never by an import: a package changes none of its fields (nor learns which differ).
                table.kept += 1
                self.report.kept_fields.append(f"{kind} {plan.uuid} ({plan.where}): made in CSRN, not by an "
                                               "import: left as it is")
                self.progress(1)
                continue
            if obj is not None and (obj.membership_status != "listed" if kind == "organization"
                                    else self.agency_uuid.get(obj.agency_id) not in self.adoptable):
                # Imported, but its agency has moved on through the membership workflow: the agency keeps its own
                # entries (its type decides what its users may see; its locations may hide an address).
                table.kept += 1
                self.report.kept_fields.append(f"{kind} {plan.uuid} ({plan.where}): its agency is no longer a "
                                               "listed resource: changed in CSRN only")
                self.progress(1)
                continue
            if obj is None and kind == "service":
                new_services.append(plan)  # written in bulk below
                table.created += 1
                self.progress(1)
                continue
            if obj is None:
                obj = self.MODELS[kind](uuid=plan.uuid, created_at=self.now, updated_at=self.now, **plan.on_create)
                for name, value in plan.values.items():
                    self.assign(kind, obj, name, value)
                new_records.append(self._record(kind, plan))
                db.session.add(obj)
                table.created += 1
                self.created[kind].append(obj)
                self.progress(1)
                continue
            changed, kept = [], []
            record_id, hashes = records.get(plan.uuid, (None, {}))
            hashes, last_written = dict(hashes), hashes
            for name, value in plan.values.items():
                if name in plan.absent:
                    continue
                incoming, now_value = _canonical(value), _canonical(self.current(kind, obj, name))
                last = hashes.get(name)
                if incoming == now_value:
                    if last not in keyed_hashes(HASH_PURPOSE, self._message(kind, plan.uuid, name, incoming)):
                        hashes[name] = self._hash(kind, plan.uuid, name, incoming)
                elif name == "organization" and value not in self.adoptable:
                    self.report.warnings.append(f"{plan.where}: its organization {value} is a member of the task "
                                                "force or was made in CSRN: not moved there")
                    kept.append(name)
                elif last is not None and last in keyed_hashes(
                        HASH_PURPOSE, self._message(kind, plan.uuid, name, now_value)):
                    if isinstance(obj, _ServiceSnapshot):
                        obj = db.session.get(Service, obj.id)
                    self.assign(kind, obj, name, value)
                    hashes[name] = self._hash(kind, plan.uuid, name, incoming)
                    changed.append(name)
                else:
                    kept.append(name)
            if hashes != last_written:
                if record_id is None:
                    new_records.append(dict(object_type=kind, object_uuid=plan.uuid, imported_at=self.now,
                                            field_hashes=json.dumps(hashes, sort_keys=True)))
                else:
                    changed_records.append(dict(id=record_id, imported_at=self.now,
                                                field_hashes=json.dumps(hashes, sort_keys=True)))
            if changed:
                obj.updated_at = self.now
                table.updated += 1
                self.updated[kind].append((obj, tuple(changed)))
            elif not kept:
                table.unchanged += 1
            if kept:
                table.kept += 1
                self.report.kept_fields.append(f"{kind} {plan.uuid} ({plan.where}): "
                                               f"{', '.join(kept)} edited in CSRN")
            self.progress(1)
        db.session.flush()
        if new_services:
            new_records += self._create_services(new_services)
        _insert_rows(ImportedObject, new_records)
        if changed_records:
            db.session.execute(update(ImportedObject), changed_records)  # by primary key, in batches
        if kind == "organization":
            for obj in objects.values():
                self.agency_id[obj.uuid], self.agency_uuid[obj.id] = obj.id, obj.uuid
            for obj in self.created[kind]:
                self.agency_id[obj.uuid], self.agency_uuid[obj.id] = obj.id, obj.uuid

    def _create_services(self, plans: list[Planned]) -> list[dict]:
        """Insert new services with their facets and weekly hours as rows (thousands of them: no unit of work);
        return the records of what was written."""
        rows, records = [], []
        for plan in plans:
            values = plan.values
            schedule = values["schedule"]
            rows.append(dict(
                uuid=plan.uuid, agency_id=self.agency_id[values["organization"]],
                service_type_id=self._type(values["service_type"]).id, name=values["name"],
                description=values["description"], status=values["status"], accessibility="", cost=values["cost"],
                how_to_refer=values["how_to_refer"], is_24_7=schedule["always"],
                closed_on_holidays=not schedule["always"], open_slots=values["open_slots"],
                waitlist=values["waitlist"], correction_note="", version=1,
                capacity_confirmed_at=(datetime.fromisoformat(values["capacity_confirmed_at"])
                                       if values["capacity_confirmed_at"] else None),
                created_at=self.now, updated_at=self.now))
            records.append(self._record("service", plan))
        _insert_rows(Service, rows)
        ids = {}
        uuids = [plan.uuid for plan in plans]
        for start in range(0, len(uuids), 500):
            ids.update((u, i) for i, u in db.session.execute(
                select(Service.id, Service.uuid).where(Service.uuid.in_(uuids[start:start + 500]))))
        facets, rules = [], []
        for plan in plans:
            service_id = ids[plan.uuid]
            facets += [dict(service_id=service_id, kind=name[6:], value=value)
                       for name, values in plan.values.items() if name.startswith("facet:")
                       for value in sorted(set(values))]
            rules += [dict(service_id=service_id, kind="weekly", weekday=day, opens=time.fromisoformat(opens),
                           closes=time.fromisoformat(closes), note="")
                      for day, opens, closes in plan.values["schedule"]["weekly"]]
        _insert_rows(ServiceFacet, facets)
        _insert_rows(ScheduleRule, rules)
        self.created_ids["service"] += [ids[u] for u in uuids]
        return records

    @staticmethod
    def _message(kind: str, uuid: str, name: str, canonical: str) -> str:
        return f"{kind}\x00{uuid}\x00{name}\x00{canonical}"

    def _hash(self, kind: str, uuid: str, name: str, canonical: str) -> str:
        return keyed_hash(HASH_PURPOSE, self._message(kind, uuid, name, canonical))

    def _record(self, kind: str, plan: Planned) -> dict:
        """The row that remembers what an import wrote to every field of a new object."""
        hashes = {name: self._hash(kind, plan.uuid, name, _canonical(value)) for name, value in plan.values.items()}
        return dict(object_type=kind, object_uuid=plan.uuid, imported_at=self.now,
                    field_hashes=json.dumps(hashes, sort_keys=True))


# ----- the whole import -------------------------------------------------------------------------------------------

def max_bytes() -> int:
    """The largest package (and the most it may unpack to) the import accepts."""
    return int(current_app.config.get("HSDS_IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def count_objects(checked: Checked) -> int:
    """How many agencies, locations and services the package describes (for a progress bar)."""
    return sum(len(checked.tables.get(name, {})) for name in TRACKED_TABLES)


def plan(checked: Checked, report: ImportReport) -> dict[str, list[Planned]]:
    """Map every organization, location and service (refusing what cannot be mapped)."""
    mapper = _Mapper(checked, report.warnings)
    organizations = [mapper.organization(row) for row in checked.rows("organization")]
    service_org = {row.values["id"]: row.values["organization_id"] for row in checked.rows("service")}
    locations = [p for p in (mapper.location(row, service_org) for row in checked.rows("location")) if p]
    services = [mapper.service(row) for row in checked.rows("service")]
    for where in mapper.unclassified:
        report.warnings.append(f"{where}: no attribute matches a CSRN service type: filed under "
                               f"{UNCLASSIFIED[1]!r} for a chair to classify")
    for name, rows in checked.tables.items():
        if name not in TRACKED_TABLES:
            report.table(name).read = len(rows)
            report.table(name).note = f"folded into {FOLDED[name]}" if name in FOLDED else "not kept by CSRN"
    return {"organization": organizations, "location": locations, "service": services}


@contextmanager
def _without_cyclic_gc():
    """Pause the cyclic garbage collector: a large package makes hundreds of thousands of objects that all live
    until the import ends, and the collector would walk them again and again (half the time of a big import)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_checked(actor, checked: Checked, now: datetime,
                   progress: Callable[[int], None] | None = None) -> ImportReport:
    """Write a checked package in one transaction and audit it; roll back everything on any error."""
    with _without_cyclic_gc():
        return _import_checked(actor, checked, now, progress)


def _import_checked(actor, checked: Checked, now: datetime, progress) -> ImportReport:
    report = ImportReport(package=checked.name)
    for name in TRACKED_TABLES:
        report.table(name).read = len(checked.tables.get(name, {}))
    try:
        planned = plan(checked, report)
        report.warnings[:0] = checked.warnings
        writer = _Writer(report, now, progress)
        writer.write("organization", planned["organization"])
        writer.agencies_for({p.values["organization"] for kind in ("location", "service") for p in planned[kind]})
        writer.write("location", planned["location"])
        writer.write("service", planned["service"])
        for kind in TRACKED_TABLES:
            object_type = "agency" if kind == "organization" else kind
            audit.record_many(f"hsds.{object_type}_imported", object_type,
                              [o.id for o in writer.created[kind]] + writer.created_ids[kind], fields=["created"],
                              now=now)
            by_fields: dict[tuple, list[int]] = {}
            for obj, changed in writer.updated[kind]:  # which fields each update wrote (names, never values)
                by_fields.setdefault(changed, []).append(obj.id)
            for changed, ids in sorted(by_fields.items()):
                audit.record_many(f"hsds.{object_type}_imported", object_type, ids, fields=["updated", *changed],
                                  now=now)
        audit.record(actor, "hsds.imported", object_type="directory",
                     fields=[f"{name}:{t.created}+{t.updated}" for name, t in report.tables.items()
                             if name in TRACKED_TABLES], now=now)
        db.session.commit()
    except (IntegrityError, StaleDataError):
        # Someone else (another import, an edit) wrote the same objects meanwhile: nothing of this one stays.
        db.session.rollback()
        raise PackageRefused([f"{checked.name}: the directory changed while it was being imported (another "
                              "import or an edit of the same entries): nothing was imported; try again"]) from None
    except BaseException:
        db.session.rollback()
        raise
    return report


def read_and_check(path: Path | None = None, name: str = "", data: bytes | None = None) -> Checked:
    """Read a package from disk (`path`) or from an upload (`name`, `data`) and check it whole."""
    limit = max_bytes()
    with _without_cyclic_gc():
        source = read_path(path, limit) if path is not None else read_bytes(name, data or b"", limit)
        return check(source)


def import_package(actor, now: datetime, path: Path | None = None, name: str = "", data: bytes | None = None,
                   progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import a package: read, check, map and write it, or refuse it whole (PackageRefused)."""
    try:
        checked = read_and_check(path, name, data)
    except PackageRefused:
        db.session.rollback()
        raise
    return import_checked(actor, checked, now, progress)

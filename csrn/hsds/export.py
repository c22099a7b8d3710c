"""The directory as an Open Referral HSDS 3.0 data package (CSV files and `datapackage.json`), for 211 systems and
every other tool that speaks the standard. Public only: member agencies and listed community resources, never a
pro bono volunteer's provider nor anything of theirs; active and inactive services; public locations only (never
members-only or confidential addresses); an agency's public description, never its internal notes or point of
contact. The HSDS ids are the `uuid` columns; the rows CSRN adds (schedules, languages, attributes, phones,
addresses) get ids derived from what they describe (UUID 5), so the same directory exports the same ids.

Every table of the official package is written, with the official columns in the official order (empty tables
keep their header); cells go through the project's CSV writer (a value a spreadsheet would run as a formula starts
with a quote, SECURITY V6).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from csrn.agencies.models import Agency
from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, TRAFFICKING
from csrn.directory.languages import language_name
from csrn.directory.models import Location, Service, ServiceType
from csrn.exports import to_csv
from csrn.extensions import db

SPEC = Path(__file__).parent / "spec"
NAMESPACE = uuid.UUID("6f1c2a8e-8f0e-4b7e-9a4e-3c2d1b0a9f8e")  # CSRN's: ids of rows it derives
EXPORTED_STATUSES = ("member", "listed")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Age groups as HSDS ages: (minimum, maximum), None where open.
AGES = {"minor": (0, 17), "18_24": (18, 24), "25_plus": (25, None)}
ELIGIBILITY = {"age": ("Age", AGE_GROUPS), "citizenship": ("Citizenship", CITIZENSHIP),
               "trafficking": ("Type of trafficking", TRAFFICKING)}


def derived_id(*parts) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


def package_resources() -> list[dict]:
    """The official package's resources (tables), in order."""
    return json.loads((SPEC / "datapackage.json").read_text(encoding="utf-8"))["resources"]


@dataclass
class Package:
    """The rows of every table, by table name."""

    tables: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, table: str, row: dict) -> None:
        self.tables.setdefault(table, []).append(row)


def _agencies() -> list[Agency]:
    return db.session.scalars(select(Agency).where(Agency.membership_status.in_(EXPORTED_STATUSES),
                                                   Agency.vetting_required.is_(False))
                              .order_by(Agency.name, Agency.id)).all()


def _eligibility(service: Service) -> tuple[str, int | None, int | None]:
    """The service's stated eligibility in words, and its ages as HSDS minimum and maximum (not stated: none)."""
    parts = []
    for kind, (label, names) in ELIGIBILITY.items():
        values = service.values(kind)
        if values:
            parts.append(f"{label}: " + ", ".join(names.get(v, v) for v in values))
    genders = service.values("gender")
    if genders:
        parts.append("Gender: " + ", ".join(genders))
    ages = [AGES[value] for value in service.values("age") if value in AGES]
    if not ages:
        return "; ".join(parts), None, None
    lowest = min(low for low, _ in ages)
    highest = None if any(high is None for _, high in ages) else max(high for _, high in ages)
    return "; ".join(parts), (lowest or None), highest


def _schedules(service: Service) -> Iterator[dict]:
    if service.is_24_7:  # HSDS guidance: every day, from midnight to midnight
        yield {"id": derived_id("schedule", service.uuid, "24/7"), "service_id": service.uuid, "freq": "WEEKLY",
               "wkst": "MO", "byday": ",".join(WEEKDAYS), "opens_at": "00:00", "closes_at": "23:59",
               "description": "Open 24 hours a day, 7 days a week"}
        return
    for rule in service.rules:
        if rule.kind != "weekly" or rule.weekday is None:
            continue
        yield {"id": derived_id("schedule", service.uuid, rule.id), "service_id": service.uuid, "freq": "WEEKLY",
               "wkst": "MO", "byday": WEEKDAYS[rule.weekday], "opens_at": rule.opens.strftime("%H:%M"),
               "closes_at": rule.closes.strftime("%H:%M")}


def build(now: datetime) -> Package:
    """Every row of the package, from the public directory."""
    package = Package()
    taxonomy_id = derived_id("taxonomy", "csrn-service-types")
    package.add("taxonomy", {"id": taxonomy_id, "name": "CSRN service types",
                             "description": "The kinds of service of the task force's referral network."})
    terms = {}
    for service_type in db.session.scalars(select(ServiceType).order_by(ServiceType.sort_order, ServiceType.id)):
        terms[service_type.id] = service_type.uuid
        package.add("taxonomy_term", {"id": service_type.uuid, "code": service_type.code, "name": service_type.name,
                                      "description": service_type.description or service_type.name,
                                      "taxonomy": "CSRN service types", "taxonomy_id": taxonomy_id})
    for agency in _agencies():
        package.add("organization", {"id": agency.uuid, "name": agency.name,
                                     "description": agency.description or agency.name,
                                     "website": agency.website or None})
        if agency.phone:
            package.add("phone", {"id": derived_id("phone", agency.uuid), "organization_id": agency.uuid,
                                  "number": agency.phone, "type": "voice"})
        locations = db.session.scalars(select(Location).where(Location.agency_id == agency.id,
                                                              Location.visibility == "public")
                                       .order_by(Location.name, Location.id)).all()
        for location in locations:
            package.add("location", {"id": location.uuid, "location_type": "physical",
                                     "organization_id": agency.uuid, "name": location.name})
            package.add("address", {"id": derived_id("address", location.uuid), "location_id": location.uuid,
                                    "address_1": location.address_1 or "", "address_2": location.address_2 or None,
                                    "city": location.city, "region": location.county or None,
                                    "state_province": location.state, "postal_code": location.postal_code,
                                    "country": "US", "address_type": "physical"})
        services = db.session.scalars(select(Service).where(Service.agency_id == agency.id)
                                      .order_by(Service.id)).all()
        for service in services:
            described, minimum, maximum = _eligibility(service)
            interpreted = service.values("interpretation")
            package.add("service", {
                "id": service.uuid, "organization_id": agency.uuid, "name": service.title,
                "description": service.description or None,
                "status": "active" if service.status == "active" else "inactive",
                "interpretation_services": ("Interpretation: " + ", ".join(language_name(c) for c in interpreted)
                                            if interpreted else None),
                "application_process": service.how_to_refer or None,
                "eligibility_description": described or None, "minimum_age": minimum, "maximum_age": maximum,
                "last_modified": service.updated_at.isoformat(timespec="seconds")})
            package.add("attribute", {"id": derived_id("attribute", service.uuid, "type"), "link_id": service.uuid,
                                      "taxonomy_term_id": terms[service.service_type_id], "link_type": "service_type",
                                      "link_entity": "service"})
            for code in service.values("language"):
                package.add("language", {"id": derived_id("language", service.uuid, code),
                                         "service_id": service.uuid, "name": language_name(code), "code": code})
            for county in service.values("county"):
                package.add("service_area", {"id": derived_id("area", service.uuid, county),
                                             "service_id": service.uuid, "name": county,
                                             "description": f"{county} County"})
            for row in _schedules(service):
                package.add("schedule", row)
            for location in locations:
                package.add("service_at_location", {"id": derived_id("sal", service.uuid, location.uuid),
                                                    "service_id": service.uuid, "location_id": location.uuid})
    return package


def write(package: Package, folder: Path) -> dict[str, int]:
    """The package as CSV files in `folder`, with the official `datapackage.json`; rows written per table."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for resource in package_resources():
        columns = [column["name"] for column in resource["schema"]["fields"]]
        rows = package.tables.get(resource["name"], [])
        (folder / resource["path"]).write_text(
            to_csv(columns, ([row.get(column) for column in columns] for row in rows)), encoding="utf-8")
        written[resource["name"]] = len(rows)
    (folder / "datapackage.json").write_text((SPEC / "datapackage.json").read_text(encoding="utf-8"),
                                             encoding="utf-8")
    return written

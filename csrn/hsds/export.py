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

from sqlalchemy import and_, select

from csrn.agencies.models import AGENCY_TYPES, Agency
from csrn.agencies.operations import is_certified
from csrn.clock import utcnow
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


# What CSRN knows beyond the service type (DESIGN §4.3), as attribute rows on a taxonomy of its own: the term's code
# says what, the attribute's `value` says which (an age group's code, a number, a date). The import reads them back.
ATTRIBUTE_TAXONOMY = "CSRN attributes"
ATTRIBUTE_TERMS = {
    "csrn-age": ("eligibility", "Age group served", "An age group the service admits: minor, 18_24 or 25_plus."),
    "csrn-gender": ("eligibility", "Gender served", "A gender the service admits (CSRN's gender list)."),
    "csrn-citizenship": ("eligibility", "Citizenship served",
                         "A citizenship category the service admits: us or foreign."),
    "csrn-trafficking": ("eligibility", "Type of trafficking served",
                         "A type of trafficking the service admits: sex or labour."),
    "csrn-open-slots": ("capacity", "Open slots", "How many people the service can take now."),
    "csrn-waitlist": ("capacity", "Waitlist", "How many people are waiting."),
    "csrn-capacity-confirmed": ("capacity", "Capacity confirmed",
                                "When the provider last confirmed its capacity (ISO 8601, UTC)."),
    "csrn-certified": ("certification", "Certified member",
                       "Whether the organization is a certified member of the network: true or false."),
    "csrn-agency-type": ("agency_type", "Agency type",
                         "The kind of organization: " + ", ".join(AGENCY_TYPES) + "."),
}
ELIGIBILITY_TERMS = {"age": "csrn-age", "gender": "csrn-gender", "citizenship": "csrn-citizenship",
                     "trafficking": "csrn-trafficking"}


def derived_id(*parts) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


def attribute_term_id(code: str) -> str:
    """The HSDS id of one of CSRN's attribute terms (the same in every installation)."""
    return derived_id("term", code)


def package_resources() -> list[dict]:
    """The official package's resources (tables), in order."""
    return json.loads((SPEC / "datapackage.json").read_text(encoding="utf-8"))["resources"]


@dataclass
class Package:
    """The rows of every table, by table name."""

    tables: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, table: str, row: dict) -> None:
        self.tables.setdefault(table, []).append(row)


def public_agency_condition():
    """The agencies that go out (the export, the API): members and listed community resources, never a pro bono
    volunteer's provider."""
    return and_(Agency.membership_status.in_(EXPORTED_STATUSES), Agency.vetting_required.is_(False))


def _agencies() -> list[Agency]:
    return db.session.scalars(select(Agency).where(public_agency_condition())
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


def add_taxonomies(package: Package) -> dict[int, str]:
    """The taxonomy and taxonomy_term rows (the API's /taxonomies and /taxonomy_terms read them from here too);
    return the HSDS term id of each service type, by its id."""
    taxonomy_id = derived_id("taxonomy", "csrn-service-types")
    package.add("taxonomy", {"id": taxonomy_id, "name": "CSRN service types",
                             "description": "The kinds of service of the task force's referral network."})
    terms = {}
    for service_type in db.session.scalars(select(ServiceType).order_by(ServiceType.sort_order, ServiceType.id)):
        terms[service_type.id] = service_type.uuid
        package.add("taxonomy_term", {"id": service_type.uuid, "code": service_type.code, "name": service_type.name,
                                      "description": service_type.description or service_type.name,
                                      "taxonomy": "CSRN service types", "taxonomy_id": taxonomy_id})
    _attribute_terms(package)
    return terms


def organization_rows(agency: Agency, now: datetime | None = None) -> Iterator[tuple[str, dict]]:
    """(table, row) of an agency: its organization row, its phone, and its agency type and certification as
    attributes (the API nests the same rows)."""
    yield "organization", {"id": agency.uuid, "name": agency.name, "description": agency.description or agency.name,
                           "website": agency.website or None}
    if agency.phone:
        yield "phone", {"id": derived_id("phone", agency.uuid), "organization_id": agency.uuid,
                        "number": agency.phone, "type": "voice"}
    yield "attribute", attribute_row(agency.uuid, "organization", "csrn-agency-type", agency.agency_type)
    certified = is_certified(agency, now or utcnow())
    yield "attribute", attribute_row(agency.uuid, "organization", "csrn-certified", "true" if certified else "false")


def public_locations_query(agency_ids):
    """The public locations of these agencies (never members-only or confidential ones), in order."""
    return (select(Location).where(Location.agency_id.in_(agency_ids), Location.visibility == "public")
            .order_by(Location.name, Location.id))


def location_rows(location: Location, agency: Agency) -> Iterator[tuple[str, dict]]:
    """(table, row) of a public location: its location row and its address."""
    yield "location", {"id": location.uuid, "location_type": "physical", "organization_id": agency.uuid,
                       "name": location.name}
    yield "address", {"id": derived_id("address", location.uuid), "location_id": location.uuid,
                      "address_1": location.address_1 or "", "address_2": location.address_2 or None,
                      "city": location.city, "region": location.county or None,
                      "state_province": location.state, "postal_code": location.postal_code,
                      "country": "US", "address_type": "physical"}


def service_row(service: Service) -> dict:
    """The service row of a service (one-to-one fields)."""
    described, minimum, maximum = _eligibility(service)
    interpreted = service.values("interpretation")
    return {
        "id": service.uuid, "organization_id": service.agency.uuid, "name": service.title,
        "description": service.description or None,
        "status": "active" if service.status == "active" else "inactive",
        "interpretation_services": ("Interpretation: " + ", ".join(language_name(c) for c in interpreted)
                                    if interpreted else None),
        "application_process": service.how_to_refer or None,
        "eligibility_description": described or None, "minimum_age": minimum, "maximum_age": maximum,
        "last_modified": service.updated_at.isoformat(timespec="seconds")}


def service_detail_rows(service: Service, terms: dict[int, str]) -> Iterator[tuple[str, dict]]:
    """(table, row) of what hangs on a service: its attributes, languages, areas and schedules."""
    yield "attribute", {"id": derived_id("attribute", service.uuid, "type"), "link_id": service.uuid,
                        "taxonomy_term_id": terms[service.service_type_id], "link_type": "service_type",
                        "link_entity": "service"}
    for kind, term in ELIGIBILITY_TERMS.items():
        for value in service.values(kind):
            yield "attribute", attribute_row(service.uuid, "service", term, value)
    if service.open_slots is not None:
        yield "attribute", attribute_row(service.uuid, "service", "csrn-open-slots", str(service.open_slots))
    yield "attribute", attribute_row(service.uuid, "service", "csrn-waitlist", str(service.waitlist))
    if service.capacity_confirmed_at is not None:
        yield "attribute", attribute_row(service.uuid, "service", "csrn-capacity-confirmed",
                                         service.capacity_confirmed_at.isoformat(timespec="seconds"))
    for code in service.values("language"):
        yield "language", {"id": derived_id("language", service.uuid, code), "service_id": service.uuid,
                           "name": language_name(code), "code": code}
    for county in service.values("county"):
        yield "service_area", {"id": derived_id("area", service.uuid, county), "service_id": service.uuid,
                               "name": county, "description": f"{county} County"}
    for row in _schedules(service):
        yield "schedule", row


def service_at_location_id(service_uuid: str, location_uuid: str) -> str:
    """The id of the link of a service to a location: derived from both, so the same directory exports the same."""
    return derived_id("sal", service_uuid, location_uuid)


def service_at_location_row(service: Service, location: Location) -> dict:
    """The link of a service to one of its agency's public locations."""
    return {"id": service_at_location_id(service.uuid, location.uuid), "service_id": service.uuid,
            "location_id": location.uuid}


def build(now: datetime) -> Package:
    """Every row of the package, from the public directory."""
    package = Package()
    terms = add_taxonomies(package)
    for agency in _agencies():
        for table, row in organization_rows(agency, now):
            package.add(table, row)
        locations = db.session.scalars(public_locations_query([agency.id])).all()
        for location in locations:
            for table, row in location_rows(location, agency):
                package.add(table, row)
        services = db.session.scalars(select(Service).where(Service.agency_id == agency.id)
                                      .order_by(Service.id)).all()
        for service in services:
            package.add("service", service_row(service))
            for table, row in service_detail_rows(service, terms):
                package.add(table, row)
            for location in locations:
                package.add("service_at_location", service_at_location_row(service, location))
    return package


def _attribute_terms(package: Package) -> None:
    taxonomy_id = derived_id("taxonomy", "csrn-attributes")
    package.add("taxonomy", {"id": taxonomy_id, "name": ATTRIBUTE_TAXONOMY,
                             "description": "What CSRN records about services and organizations beyond the service "
                                            "type: eligibility, capacity, certification and agency type."})
    for code, (_, name, description) in ATTRIBUTE_TERMS.items():
        package.add("taxonomy_term", {"id": attribute_term_id(code), "code": code, "name": name,
                                      "description": description, "taxonomy": ATTRIBUTE_TAXONOMY,
                                      "taxonomy_id": taxonomy_id})


def attribute_row(link_id: str, entity: str, code: str, value: str) -> dict:
    """An attribute row on one of CSRN's own terms (eligibility, capacity, certification, agency type)."""
    return {"id": derived_id("attribute", link_id, code, value), "link_id": link_id,
            "taxonomy_term_id": attribute_term_id(code), "link_type": ATTRIBUTE_TERMS[code][0],
            "link_entity": entity, "value": value}


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

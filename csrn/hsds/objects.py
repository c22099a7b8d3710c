"""The public directory as HSDS 3.0 objects, for the read-only API (`api.py`): the export's rows (`export.py`)
nested as the official compiled schemas describe them — the same ids, the same fields and the same public-only
rules (member agencies and listed community resources, never a pro bono volunteer's provider; public locations
only; an agency's public description, never its internal notes or point of contact).

A value CSRN does not have is left out of an object, never sent as null (the schemas' fields are typed, not
nullable). List pages load what hangs on their services for the whole page at once (no query per item).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import exists, false, func, or_, select, true

from csrn.agencies.models import Agency
from csrn.database import escape_like
from csrn.directory.models import Location, Service, ServiceFacet, ServiceType
from csrn.directory.operations import Filters, search_query
from csrn.extensions import db
from csrn.hsds.export import (
    ELIGIBILITY_TERMS,
    Package,
    add_taxonomies,
    location_rows,
    organization_rows,
    public_agency_condition,
    public_locations_query,
    service_at_location_id,
    service_at_location_row,
    service_detail_rows,
    service_row,
)

HSDS_VERSION = "3.0.0"
UUID_PATTERN = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def is_uuid(text: str) -> bool:
    """Whether the text is a UUID in its usual written form (36 characters with hyphens)."""
    return bool(UUID_PATTERN.match(text or ""))


def _spellings(hsds_id: str) -> set[str]:
    """The spellings an id may be stored in: as given, and lower case (ids made by CSRN are lower case)."""
    return {hsds_id, hsds_id.lower()}


def _present(row: dict) -> dict:
    """The row without its empty (None) values: HSDS fields are typed, never null."""
    return {key: value for key, value in row.items() if value is not None}


@dataclass
class Query:
    """What a list request asks for (already checked by the view); empty means "any"."""

    search: str = ""
    organization_id: str = ""
    taxonomy_id: str = ""
    taxonomy_term_id: str = ""
    modified_after: datetime | None = None
    page: int = 1
    per_page: int = 50


def page_of(query: Query, total: int, contents: list[dict]) -> dict:
    """A page of results with the HSDS page fields."""
    total_pages = max(1, -(-total // query.per_page))
    return {"total_items": total, "total_pages": total_pages, "page_number": query.page, "size": len(contents),
            "first_page": query.page == 1, "last_page": query.page >= total_pages, "empty": not contents,
            "contents": contents}


def _count(statement) -> int:
    return db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


def _slice(query: Query, total: int, statement) -> list:
    """The rows of the requested page; no query at all past the last page (a huge page number stays cheap)."""
    offset = (query.page - 1) * query.per_page
    if offset >= total:
        return []
    return db.session.execute(statement.limit(query.per_page).offset(offset)).unique().all()


# ----- taxonomies ------------------------------------------------------------------------------------

def _taxonomy_tables() -> Package:
    package = Package()
    add_taxonomies(package)
    return package


def _matches(row: dict, text: str) -> bool:
    wanted = text.casefold()
    return any(wanted in str(row.get(key) or "").casefold() for key in ("name", "description", "code"))


def _listed(query: Query, rows: list[dict]) -> dict:
    if query.search:
        rows = [row for row in rows if _matches(row, query.search)]
    start = (query.page - 1) * query.per_page
    return page_of(query, len(rows), [_present(row) for row in rows[start:start + query.per_page]])


def taxonomies(query: Query) -> dict:
    """A page of taxonomies."""
    return _listed(query, _taxonomy_tables().tables.get("taxonomy", []))


def taxonomy(hsds_id: str) -> dict | None:
    """One taxonomy, or None."""
    rows = _taxonomy_tables().tables.get("taxonomy", [])
    return next((_present(row) for row in rows if row["id"] in _spellings(hsds_id)), None)


def taxonomy_terms(query: Query) -> dict:
    """A page of taxonomy terms (of one taxonomy when asked)."""
    rows = _taxonomy_tables().tables.get("taxonomy_term", [])
    if query.taxonomy_id:
        rows = [row for row in rows if row.get("taxonomy_id") in _spellings(query.taxonomy_id)]
    return _listed(query, rows)


def taxonomy_term(hsds_id: str) -> dict | None:
    """One taxonomy term, with its taxonomy, or None."""
    tables = _taxonomy_tables().tables
    term = next((row for row in tables.get("taxonomy_term", []) if row["id"] in _spellings(hsds_id)), None)
    if term is None:
        return None
    found = _present(term)
    detail = next((row for row in tables.get("taxonomy", []) if row["id"] == term.get("taxonomy_id")), None)
    if detail is not None:
        found["taxonomy_detail"] = _present(detail)
    return found


def _terms_by_id() -> dict[str, dict]:
    return {row["id"]: row for row in _taxonomy_tables().tables.get("taxonomy_term", [])}


# ----- services ----------------------------------------------------------------------------------------

def _search_ids(text: str, now: datetime):
    """The ids of the services the directory's own search finds for the text (listed resources included)."""
    return search_query(Filters(q=text, community=True), now).with_only_columns(Service.id).order_by(None)


def _service_filters(statement, query: Query, now: datetime):
    if query.search:
        statement = statement.where(Service.id.in_(_search_ids(query.search, now)))
    if query.organization_id:
        statement = statement.where(Agency.uuid.in_(_spellings(query.organization_id)))
    if query.taxonomy_term_id or query.taxonomy_id:
        terms = list(_terms_by_id().values())
        if query.taxonomy_term_id:
            terms = [row for row in terms if row["id"] in _spellings(query.taxonomy_term_id)]
        if query.taxonomy_id:
            terms = [row for row in terms if row.get("taxonomy_id") in _spellings(query.taxonomy_id)]
        conditions = [Service.service_type_id.in_(select(ServiceType.id).where(
            ServiceType.uuid.in_([row["id"] for row in terms])))]
        conditions += [condition for row in terms if (condition := _attribute_condition(row.get("code"))) is not None]
        statement = statement.where(or_(*conditions) if terms else false())
    return statement


def _attribute_condition(code: str | None):
    """Which services carry an attribute on this CSRN term (as `service_detail_rows` writes them); None for a term
    no service carries (the organization's, or a service type: those go by the type)."""
    kinds = {term: kind for kind, term in ELIGIBILITY_TERMS.items()}
    if code in kinds:
        return exists().where(ServiceFacet.service_id == Service.id, ServiceFacet.kind == kinds[code])
    return {"csrn-open-slots": Service.open_slots.is_not(None), "csrn-waitlist": true(),
            "csrn-capacity-confirmed": Service.capacity_confirmed_at.is_not(None)}.get(code)


def _public_services():
    return select(Service).join(Agency, Agency.id == Service.agency_id).where(public_agency_condition())


def _web_address(row: dict) -> dict:
    """The organization row with its website only when it is an http(s) address (a value an import or an old
    database wrote may be anything; the schema's `uri` and every client expect a link)."""
    website = row.get("website") or ""
    try:
        parts = urlsplit(website) if website.isprintable() and " " not in website else None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        row = {key: value for key, value in row.items() if key != "website"}
    return row


def _organization_summary(agency: Agency) -> dict:
    return _web_address(_present(next(row for table, row in organization_rows(agency) if table == "organization")))


def service_summary(service: Service) -> dict:
    """A service's one-to-one fields, with its organization's (an item of /services)."""
    return _present({**service_row(service), "organization": _organization_summary(service.agency)})


def services(query: Query, now: datetime) -> dict:
    """A page of services (one-to-one fields only)."""
    statement = _service_filters(_public_services(), query, now)
    if query.modified_after:
        statement = statement.where(Service.updated_at >= query.modified_after)
    total = _count(statement)
    rows = _slice(query, total, statement.order_by(Service.id))
    return page_of(query, total, [service_summary(service) for (service,) in rows])


def _locations_of(agency_ids) -> dict[int, list[Location]]:
    """The public locations of these agencies, by agency id (one query)."""
    found = defaultdict(list)
    for location in db.session.scalars(public_locations_query(list(agency_ids))):
        found[location.agency_id].append(location)
    return found


def location_object(location: Location, agency: Agency) -> dict:
    """A public location with its address."""
    rows = dict(location_rows(location, agency))
    return {**_present(rows["location"]), "addresses": [_present(rows["address"])]}


def _location_summary(location: Location, agency: Agency) -> dict:
    return _present(dict(location_rows(location, agency))["location"])


def service_object(service: Service, locations: list[Location], terms: dict[str, dict]) -> dict:
    """A fully nested service: its organization, locations, schedules, languages, areas and attributes."""
    found = service_summary(service)
    nested = defaultdict(list)
    for table, row in service_detail_rows(service, {service.service_type_id: service.service_type.uuid}):
        row = _present(row)
        if table == "attribute" and row.get("taxonomy_term_id") in terms:
            row["taxonomy_term"] = _present(terms[row["taxonomy_term_id"]])
        nested[table].append(row)
    found.update({
        "phones": [], "schedules": nested["schedule"], "service_areas": nested["service_area"],
        "languages": nested["language"], "attributes": nested["attribute"],
        "service_at_locations": [{**service_at_location_row(service, location),
                                  "location": location_object(location, service.agency)}
                                 for location in locations],
    })
    return found


def service(hsds_id: str) -> dict | None:
    """One public service, fully nested, or None."""
    found = db.session.scalar(_public_services().where(Service.uuid.in_(_spellings(hsds_id))))
    if found is None:
        return None
    return service_object(found, _locations_of([found.agency_id])[found.agency_id], _terms_by_id())


# ----- organizations --------------------------------------------------------------------------------------

def organizations(query: Query, now: datetime) -> dict:
    """A page of organizations (one-to-one fields only); a search finds those the directory's search finds a
    service of, and those whose name or description holds the text."""
    statement = select(Agency).where(public_agency_condition())
    if query.search:
        pattern = f"%{escape_like(query.search)}%"
        with_service = select(Service.agency_id).where(Service.id.in_(_search_ids(query.search, now)))
        statement = statement.where(or_(Agency.id.in_(with_service), Agency.name.ilike(pattern, escape="\\"),
                                        Agency.description.ilike(pattern, escape="\\")))
    if query.organization_id:
        statement = statement.where(Agency.uuid.in_(_spellings(query.organization_id)))
    if query.modified_after:
        statement = statement.where(Agency.updated_at >= query.modified_after)
    total = _count(statement)
    rows = _slice(query, total, statement.order_by(Agency.name, Agency.id))
    return page_of(query, total, [_organization_summary(agency) for (agency,) in rows])


def organization(hsds_id: str, now: datetime) -> dict | None:
    """One organization with its phone, attributes (agency type, certification), public locations and services
    (their one-to-one fields), or None."""
    agency = db.session.scalar(select(Agency).where(public_agency_condition(),
                                                    Agency.uuid.in_(_spellings(hsds_id))))
    if agency is None:
        return None
    nested = defaultdict(list)
    for table, row in organization_rows(agency, now):
        nested[table].append(_present(row))
    agency_services = db.session.scalars(select(Service).where(Service.agency_id == agency.id)
                                         .order_by(Service.id)).all()
    terms = _terms_by_id()
    attributes = [{**row, "taxonomy_term": _present(terms[row["taxonomy_term_id"]])}
                  if row.get("taxonomy_term_id") in terms else row for row in nested["attribute"]]
    return {**_web_address(nested["organization"][0]), "phones": nested["phone"], "attributes": attributes,
            "locations": [location_object(location, agency) for location in _locations_of([agency.id])[agency.id]],
            "services": [_present(service_row(item)) for item in agency_services]}


# ----- services at locations --------------------------------------------------------------------------------

def _public_pairs():
    """Every (service, public location of its agency) of the public directory."""
    return (select(Service, Location)
            .join(Agency, Agency.id == Service.agency_id)
            .join(Location, Location.agency_id == Service.agency_id)
            .where(public_agency_condition(), Location.visibility == "public"))


def service_at_locations(query: Query, now: datetime) -> dict:
    """A page of services at locations (one-to-one fields, with the service's and the location's)."""
    statement = _service_filters(_public_pairs(), query, now)
    if query.modified_after:
        statement = statement.where(or_(Service.updated_at >= query.modified_after,
                                        Location.updated_at >= query.modified_after))
    total = _count(statement)
    rows = _slice(query, total, statement.order_by(Service.id, Location.id))
    return page_of(query, total, [
        {**service_at_location_row(service, location), "service": service_summary(service),
         "location": _location_summary(location, service.agency)} for service, location in rows])


def service_at_location(hsds_id: str) -> dict | None:
    """One service at a location, fully nested, or None. Its id is derived from the service's and the location's,
    so it is found among the public pairs' ids (their two uuid columns only)."""
    wanted = _spellings(hsds_id)
    pairs = db.session.execute(_public_pairs().with_only_columns(Service.id, Location.id, Service.uuid,
                                                                 Location.uuid)).all()
    match = next(((service_id, location_id) for service_id, location_id, service_uuid, location_uuid in pairs
                  if service_at_location_id(service_uuid, location_uuid) in wanted), None)
    if match is None:
        return None
    found_service, location = db.session.get(Service, match[0]), db.session.get(Location, match[1])
    full = service_object(found_service, [location], _terms_by_id())
    # `name` and `status` (the service's) as well: the official OpenAPI document describes this path's answer
    # with the service schema, whose required fields they are, and the service_at_location schema allows them.
    return {**service_at_location_row(found_service, location), "name": full["name"], "status": full["status"],
            "schedules": full["schedules"], "phones": [], "location": location_object(location, found_service.agency),
            "service": full}

"""Directory queries and changes: search, services, capacity, locations, freshness."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import NamedTuple

from flask import abort, current_app, has_request_context, request
from sqlalchemy import Date, Integer, String, bindparam, exists, func, or_, select, update

from csrn.agencies.models import Agency
from csrn.agencies.operations import local_date
from csrn.audit import operations as audit
from csrn.auth import tokens
from csrn.auth.models import AuthToken
from csrn.concurrency import check_version
from csrn.directory import receiving
from csrn.directory.fulltext import matches_nothing, ranked_shape, text_match
from csrn.directory.models import (
    STALE_AFTER,
    VISIBILITY,
    CapacityConfirmation,
    GenderOption,
    Location,
    Service,
    ServiceFacet,
    ServiceType,
)
from csrn.extensions import db
from csrn.links import external_url
from csrn.notify.operations import MailHeaderError, queue_mail
from csrn.roles import AGENCY_ADMIN, CASE_MANAGER, CHAIR
from csrn.schedules import engine
from csrn.schedules import operations as schedule_ops
from csrn.schedules.models import ScheduleRule
from csrn.settings.operations import task_force_zone

log = logging.getLogger(__name__)

# Agencies shown in the directory; listed community resources only when asked for.
DIRECTORY_STATUSES = ("applicant", "in_training", "member")


@dataclass
class Filters:
    """What a directory search asks for; empty means "any"."""

    q: str = ""
    service_type: str = ""
    age: str = ""
    gender: str = ""
    citizenship: str = ""
    trafficking: str = ""  # sex, labour or both
    language: str = ""
    county: str = ""
    open_now: bool = False
    accepting: bool = False
    twentyfour: bool = False
    certified: bool = False
    community: bool = False

    def as_args(self) -> dict:
        """The filters as query-string arguments (for links that keep the search)."""
        args = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value:
                args[item.name] = "1" if value is True else value
        return args


def _per_request(key: str, load):
    """Load once per request (reference lists a page asks for more than once); outside requests, every time."""
    if not has_request_context():
        return load()
    cache = request.__dict__.setdefault("_csrn_directory_lists", {})
    if key not in cache:
        cache[key] = load()
    return cache[key]


def service_type_by_code(code: str) -> ServiceType | None:
    """A term of the taxonomy by its code (None for anything that cannot be one: empty, too long, a NUL byte)."""
    if not code or len(code) > 60 or "\x00" in code:
        return None
    return db.session.scalar(select(ServiceType).where(ServiceType.code == code))


def service_types(active_only: bool = True) -> list[ServiceType]:
    """The taxonomy in its order."""
    query = _list_queries()["active_types" if active_only else "types"]
    return _per_request(f"service_types:{active_only}", lambda: db.session.scalars(query).all())


def genders() -> list[GenderOption]:
    """The chair-editable gender list."""
    return _per_request("genders", lambda: db.session.scalars(_list_queries()["genders"]).all())


@cache
def _list_queries() -> dict:
    # Built once per process (most pages ask): building and keying a statement costs more than answering it.
    types = select(ServiceType).order_by(ServiceType.sort_order, ServiceType.name)
    return {"types": types, "active_types": types.where(ServiceType.active.is_(True)),
            "genders": select(GenderOption).order_by(GenderOption.sort_order, GenderOption.label)}


class SearchShape(NamedTuple):
    """What the SQL of a directory search depends on; the values searched for are its named parameters. Built once
    per shape (`search_statement`) and sent with the values (`search_spec`): building and keying a statement this
    size cost more than SQLite took to answer it."""

    text: tuple[str, str] | None  # None (no text), ("", "nothing") (no word in it) or the text match's shape
    community: bool
    service_type: bool
    language: bool
    county: bool
    admits: tuple[tuple[str, int], ...]  # receiving.admits_shape
    accepting: bool
    twentyfour: bool
    certified: bool


def search_spec(filters: Filters, now: datetime) -> tuple[SearchShape, dict]:
    """The shape of the search's SQL and the values of its parameters."""
    params: dict = {}
    text = None
    if filters.q:
        match = text_match(filters.q)
        if match is None:
            text = ("", "nothing")  # no word in it: only punctuation or operators
        else:
            text = match.shape
            params.update(match.params())
    for name in ("service_type", "language", "county"):
        if getattr(filters, name):
            params[name] = getattr(filters, name)
    wanted = receiving.wanted_facets(filters.age, filters.gender, filters.citizenship, filters.trafficking)
    params.update(receiving.admits_params(wanted))
    if filters.accepting or filters.certified:
        params["on"] = local_date(now)
    shape = SearchShape(text, filters.community, bool(filters.service_type), bool(filters.language),
                        bool(filters.county), receiving.admits_shape(wanted), filters.accepting, filters.twentyfour,
                        filters.certified)
    return shape, params


def search_query(filters: Filters, now: datetime):
    """Active services matching the filters (open now is applied afterwards, by the schedule engine), the values
    in the statement."""
    shape, params = search_spec(filters, now)
    return search_statement(shape).params(params)


@lru_cache(maxsize=256)
def search_statement(shape: SearchShape):
    """The search's statement for a shape, the values as named parameters (`search_spec`)."""
    statuses = DIRECTORY_STATUSES + (("listed",) if shape.community else ())
    base = (
        select(Service)
        .join(Agency, Agency.id == Service.agency_id)
        .join(ServiceType, ServiceType.id == Service.service_type_id)
    )
    conditions = [Service.status == "active", Agency.membership_status.in_(statuses)]
    if shape.text is not None and shape.text[1] == "nothing":
        conditions.append(matches_nothing())
    if shape.service_type:
        conditions.append(ServiceType.code == bindparam("service_type", type_=String))
    # The single lookups first: SQLite asks the conditions in this order, and the counting one last asks fewer.
    if shape.language:
        conditions.append(receiving.speaks_condition(bindparam("language", type_=String)))
    if shape.county:
        conditions.append(receiving.serves_county_condition(bindparam("county", type_=String)))
    # Who the service admits: the one rule the intake's matching applies (receiving.admits_condition).
    if shape.admits:
        conditions.append(receiving.admits_bound(shape.admits))
    on = bindparam("on", type_=Date)
    if shape.accepting:
        # Accepting referrals: may be offered one (the one rule, as the intake's matching applies it) and has room.
        conditions += [receiving.receivable_on(on), Service.open_slots > 0]
    if shape.twentyfour:
        conditions.append(Service.is_24_7.is_(True))
    if shape.certified:
        conditions.append(receiving.receivable_on(on))
    order = (ServiceType.sort_order, func.lower(Agency.name), Service.id)
    if shape.text is None or shape.text[1] == "nothing":
        return base.where(*conditions).order_by(*order)
    # Full text (csrn.directory.fulltext): words, stems, phrases, exclusions; joined last, over the other filters.
    # Name matches first, then relevance, then the usual order.
    query, ranking = ranked_shape(shape.text, base, conditions)
    return query.order_by(*ranking, *order)


@lru_cache(maxsize=256)
def _page_statement(shape: SearchShape):
    """One page of the search's ids with the total (a window count), the page's bounds as parameters."""
    return (search_statement(shape).with_only_columns(Service.id, func.count().over())
            .limit(bindparam("page_limit", type_=Integer)).offset(bindparam("page_offset", type_=Integer)))


@dataclass
class Page:
    """One page of results (the shape Flask-SQLAlchemy's pagination has, for the same template)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def search(filters: Filters, now: datetime, page: int = 1, per_page: int = 20) -> Page:
    """Run a search and return one page of services (as `ServiceRow`s: plain rows, no ORM objects).

    In a fixed number of queries whatever the page holds: the page's ids and the total in one (a window count, so the
    filters and the text match run once), then the page's services with their agency and type (one query), facets
    and hours (one each). With "open now", the matching services' hours are read as plain rows (one more query) and
    each distinct set of hours is asked of the schedule engine once."""
    page = max(1, page)
    start = (page - 1) * per_page
    if filters.open_now:
        matching = _open_now_ids(search_query(filters, now), now)
        return Page(result_rows(matching[start : start + per_page]), page, per_page, len(matching))
    shape, params = search_spec(filters, now)
    rows = db.session.execute(_page_statement(shape), {**params, "page_limit": per_page, "page_offset": start}).all()
    if rows:
        total = rows[0][1]
    else:  # past the last page (or nothing found): the window saw no rows, so count apart
        query = search_statement(shape)
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()),
                                  params) if start else 0
    return Page(result_rows([row[0] for row in rows]), page, per_page, total or 0)


def all_results(filters: Filters, now: datetime, limit: int = 2000) -> list[Service]:
    """Every matching service (for print, PDF and CSV), capped."""
    query = search_query(filters, now)
    if filters.open_now:
        return services_by_id(_open_now_ids(query, now)[:limit])
    return db.session.scalars(query.limit(limit)).unique().all()


class ResultAgency(NamedTuple):
    """What a result shows of its agency."""

    id: int
    name: str
    phone: str
    membership_status: str


class ResultType(NamedTuple):
    """What a result shows of its service type."""

    id: int
    code: str
    name: str


class FacetValue(NamedTuple):
    kind: str
    value: str


@dataclass(slots=True, eq=False)
class ServiceRow:
    """A service as a page of results shows it, read as plain rows: a page of 20 built ~350 ORM objects (services,
    agencies, facets, rules) for a few strings each. Same attribute names as `Service`, and its own methods."""

    id: int
    agency_id: int
    service_type_id: int
    name: str
    description: str
    status: str
    cost: str
    is_24_7: bool
    closed_on_holidays: bool
    open_slots: int | None
    waitlist: int
    capacity_confirmed_at: datetime | None
    how_to_refer: str
    accessibility: str
    correction_flagged_at: datetime | None
    correction_note: str
    agency: ResultAgency
    service_type: ResultType
    facets: list[FacetValue]
    rules: list[HoursRule]

    title = Service.title
    values = Service.values
    is_stale = Service.is_stale


_ROW_COLUMNS = (Service.id, Service.agency_id, Service.service_type_id, Service.name, Service.description,
                Service.status, Service.cost, Service.is_24_7, Service.closed_on_holidays, Service.open_slots,
                Service.waitlist, Service.capacity_confirmed_at, Service.how_to_refer, Service.accessibility,
                Service.correction_flagged_at, Service.correction_note)


def result_rows(ids: list[int]) -> list[ServiceRow]:
    """The services with these ids as `ServiceRow`s, in this order: three queries (services with agency and type,
    facets, hours), whatever the number."""
    if not ids:
        return []
    found = {row.id: row for row in _service_rows(_row_queries()["by_id"], {"ids": ids})}
    return [found[service_id] for service_id in ids if service_id in found]


@cache
def _row_queries() -> dict:
    """The statements that read result rows, built once per process with their values as parameters: building and
    keying a statement costs more than the database takes to answer these."""
    rows = (select(*_ROW_COLUMNS, Agency.name, Agency.phone, Agency.membership_status, ServiceType.code,
                   ServiceType.name)
            .join(Agency, Agency.id == Service.agency_id).join(ServiceType, ServiceType.id == Service.service_type_id))
    of_agency = (rows.where(Service.agency_id == bindparam("agency_id"))
                 .order_by(ServiceType.sort_order, Service.id))
    ids = bindparam("ids", expanding=True)
    return {
        "by_id": rows.where(Service.id.in_(ids)),
        "of_agency": of_agency,
        "active_of_agency": of_agency.where(Service.status == "active"),
        "facets": select(ServiceFacet.service_id, ServiceFacet.kind, ServiceFacet.value)
        .where(ServiceFacet.service_id.in_(ids)),
        "rules": select(ScheduleRule.service_id, *(getattr(ScheduleRule, name) for name in HoursRule._fields))
        .where(ScheduleRule.service_id.in_(ids)),
    }


def _service_rows(query, params: dict) -> list[ServiceRow]:
    """`ServiceRow`s from one of `_row_queries()`, in its order, with their facets and hours (one query each)."""
    rows = db.session.execute(query, params).all()
    if not rows:
        return []
    ids = [row[0] for row in rows]
    statements = _row_queries()
    facets: dict[int, list[FacetValue]] = {}
    for service_id, kind, value in db.session.execute(statements["facets"], {"ids": ids}):
        facets.setdefault(service_id, []).append(FacetValue(kind, value))
    rules: dict[int, list[HoursRule]] = {}
    for service_id, *rule in db.session.execute(statements["rules"], {"ids": ids}):
        rules.setdefault(service_id, []).append(HoursRule(*rule))
    width = len(_ROW_COLUMNS)
    result = []
    for row in rows:
        service = row[:width]
        agency_name, phone, status, type_code, type_name = row[width:]
        result.append(ServiceRow(
            *service, agency=ResultAgency(service[1], agency_name, phone, status),
            service_type=ResultType(service[2], type_code, type_name),
            facets=facets.get(service[0], []), rules=rules.get(service[0], [])))
    return result


def services_by_id(ids: list[int]) -> list[Service]:
    """The services with these ids, in this order (agency and type joined; facets and hours in one query each)."""
    if not ids:
        return []
    found = {s.id: s for s in db.session.scalars(select(Service).where(Service.id.in_(ids))).unique()}
    return [found[service_id] for service_id in ids if service_id in found]


def _open_now_ids(query, now: datetime) -> list[int]:
    """The ids of the query's services open at `now`, in its order: hours read as plain rows, never as objects."""
    holiday_days, zone = schedule_ops.holiday_set(), task_force_zone()
    services = db.session.execute(
        query.with_only_columns(Service.id, Service.is_24_7, Service.closed_on_holidays)).all()
    rules: dict[int, list[HoursRule]] = {}
    for service_id, *rule in db.session.execute(
            select(ScheduleRule.service_id, *(getattr(ScheduleRule, name) for name in HoursRule._fields))
            .where(ScheduleRule.service_id.in_(query.with_only_columns(Service.id).order_by(None)))):
        rules.setdefault(service_id, []).append(HoursRule(*rule))
    return [service_id for service_id, always, on_holidays in services
            if _answer("open", hours_key(rules.get(service_id, ()), always, on_holidays), now, holiday_days, zone)]


# ----- schedules of services -----------------------------------------------------------------

class HoursRule(NamedTuple):
    """A stored schedule rule as a plain row (the attributes `schedule_from_rules` reads)."""

    kind: str
    weekday: int | None
    opens: time | None
    closes: time | None
    start_date: date | None
    end_date: date | None


def hours_key(rules, is_24_7: bool, closed_on_holidays: bool) -> tuple:
    """What a service's hours are, as a hashable value: services with the same hours share their answers."""
    plain = sorted((HoursRule(*(getattr(r, name) for name in HoursRule._fields)) for r in rules), key=_rule_order)
    return bool(is_24_7), bool(closed_on_holidays), tuple(plain)


def _rule_order(rule: HoursRule) -> tuple:
    """A total order of rules (None before any value), so equal hours give equal keys whatever the rows' order."""
    return tuple((value is not None, value if value is not None else 0) for value in rule)


def _answer(question: str, key: tuple, now: datetime, holiday_days, zone):
    """The schedule engine's answer for one set of hours, asked once per request per set of hours and `now`
    (a page of results or an agency's services often repeat the same office hours)."""
    holiday_days = frozenset(holiday_days)
    if not has_request_context():
        return _ask(question, key, now, holiday_days, zone)
    memo = request.__dict__.setdefault("_csrn_hours_answers", {})
    full = (question, key, now, holiday_days, str(zone))
    if full not in memo:
        memo[full] = _ask(question, key, now, holiday_days, zone)
    return memo[full]


def _ask(question: str, key: tuple, now: datetime, holiday_days, zone):
    always, on_holidays, rules = key
    schedule = schedule_ops.schedule_from_rules(rules, always, on_holidays, holiday_days)
    if question == "open":
        return engine.is_open(schedule, now, zone)
    if question == "describe":
        return engine.describe(schedule)
    return _opening_status(schedule, always, now, zone)


def schedule_of(service: Service, holiday_days: set) -> engine.Schedule:
    """The engine's view of a service's hours."""
    return schedule_ops.schedule_from_rules(service.rules, service.is_24_7, service.closed_on_holidays, holiday_days)


def is_open(service: Service, now: datetime, holiday_days: set, zone) -> bool:
    """Whether the service is open at `now`."""
    key = hours_key(service.rules, service.is_24_7, service.closed_on_holidays)
    return _answer("open", key, now, holiday_days, zone)


def hours_lines(service: Service, holiday_days: set) -> list[str]:
    """The service's hours in words, one line a span (the engine's `describe`)."""
    key = hours_key(service.rules, service.is_24_7, service.closed_on_holidays)
    return _answer("describe", key, None, holiday_days, None)


def opening_status(service: Service, now: datetime, holiday_days: set, zone) -> str:
    """ "Open now", "Open now until 17:00", "Opens Mon 09:00" or "No hours stated"."""
    key = hours_key(service.rules, service.is_24_7, service.closed_on_holidays)
    return _answer("status", key, now, holiday_days, zone)


def _opening_status(schedule: engine.Schedule, is_24_7: bool, now: datetime, zone) -> str:
    if is_24_7 and not schedule.day_is_closed(now.astimezone(zone).date()):
        return "Open now · 24/7"
    if engine.is_open(schedule, now, zone):
        until = engine.closes_at(schedule, now, zone)
        return f"Open now until {until.astimezone(zone):%H:%M}" if until else "Open now"
    opening = engine.next_opening(schedule, now, zone)
    if opening is None:
        return "No opening hours in the next two weeks" if schedule.weekly or schedule.always else "No hours stated"
    local = opening.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return f"Closed · opens today at {local:%H:%M}"
    return f"Closed · opens {local:%a %-d %b at %H:%M}"


# ----- permissions -------------------------------------------------------------------------------

def can_edit_directory(user, agency: Agency) -> bool:
    """Chairs, and the agency's own agency admins, edit its services and locations."""
    return user.has_role(CHAIR) or (user.has_role(AGENCY_ADMIN) and user.agency_id == agency.id)


def can_update_capacity(user, agency: Agency) -> bool:
    """Capacity may also be updated by the agency's case managers."""
    return can_edit_directory(user, agency) or (user.has_role(CASE_MANAGER) and user.agency_id == agency.id)


def get_service_or_404(service_id: int) -> Service:
    """A service (shared: any logged-in user may read it)."""
    service = db.session.get(Service, service_id)
    if service is None:
        abort(404)
    return service


def get_service_for_edit_or_404(service_id: int, user) -> Service:
    """A service the user may edit; others get 404."""
    service = get_service_or_404(service_id)
    if not can_edit_directory(user, service.agency):
        abort(404)
    return service


def get_service_for_capacity_or_404(service_id: int, user) -> Service:
    """A service whose capacity the user may update; others get 404."""
    service = get_service_or_404(service_id)
    if not can_update_capacity(user, service.agency):
        abort(404)
    return service


def get_location_for_edit_or_404(location_id: int, user) -> Location:
    """A location the user may edit; others get 404 (a confidential one is never even hinted at)."""
    location = db.session.get(Location, location_id)
    if location is None:
        abort(404)
    agency = db.session.get(Agency, location.agency_id)
    if not can_edit_directory(user, agency):
        abort(404)
    return location


# ----- services ------------------------------------------------------------------------------

@dataclass
class WeeklyHours:
    """Hours for one weekday as typed into the form (empty: closed)."""

    weekday: int
    opens: time | None
    closes: time | None


def save_service(actor, agency: Agency, service: Service | None, values: dict, facets: dict[str, list[str]],
                 weekly: list[WeeklyHours], closures: list[tuple], seen_version: int | None, now: datetime) -> Service:
    """Create or update a service with its facets and schedule; a stale form is refused (R7)."""
    creating = service is None
    if creating:
        service = Service(agency_id=agency.id, created_at=now, updated_at=now)
        db.session.add(service)
    else:
        check_version(service, seen_version)
    capacity_changed = any(
        key in values and values[key] != getattr(service, key) for key in ("open_slots", "waitlist"))
    for key, value in values.items():
        setattr(service, key, value)
    for kind, chosen in facets.items():
        service.set_values(kind, chosen)
    rules = [ScheduleRule(kind="weekly", weekday=h.weekday, opens=h.opens, closes=h.closes)
             for h in weekly if h.opens is not None and h.closes is not None]
    rules += [ScheduleRule(kind="closed", start_date=start, end_date=end, note=note[:200])
              for start, end, note in closures]
    service.rules = rules
    if service.is_24_7:
        service.closed_on_holidays = False  # open every hour of every day, holidays included
    if creating or capacity_changed:  # editing the description alone must not make a stale entry look fresh
        service.capacity_confirmed_at = now
    service.updated_at = now
    service.correction_flagged_at, service.correction_note = None, ""  # the listing was looked at
    db.session.flush()
    audit.record(actor, "directory.service_" + ("created" if creating else "updated"), service,
                 fields=[*values.keys(), *facets.keys(), "schedule"], now=now)
    db.session.commit()
    return service


def update_capacity(actor, service: Service, open_slots: int | None, waitlist: int, now: datetime,
                    method: str = "inline") -> None:
    """Set the open slots and waitlist, which also confirms them as of now."""
    service.open_slots = open_slots
    service.waitlist = waitlist
    service.capacity_confirmed_at = now
    service.correction_flagged_at, service.correction_note = None, ""
    db.session.add(CapacityConfirmation(agency_id=service.agency_id, confirmed_at=now, method=method,
                                        user_id=getattr(actor, "id", None), note=f"service {service.id}"))
    audit.record(actor, "directory.capacity_updated", service, fields=["open_slots", "waitlist"], now=now)
    db.session.commit()


def confirm_agency(actor, agency: Agency, now: datetime, method: str) -> int:
    """Confirm every active service of the agency as still accurate; return how many."""
    result = db.session.execute(
        update(Service)
        .where(Service.agency_id == agency.id, Service.status == "active")
        .values(capacity_confirmed_at=now, correction_flagged_at=None, correction_note="")
        .execution_options(synchronize_session=False)
    )
    db.session.add(CapacityConfirmation(agency_id=agency.id, confirmed_at=now, method=method,
                                        user_id=getattr(actor, "id", None)))
    audit.record(actor, "directory.entries_confirmed", agency, fields=["capacity_confirmed_at"], now=now,
                 object_type="agency")
    db.session.commit()
    return result.rowcount


def services_of(agency: Agency, include_inactive: bool = False) -> list[Service]:
    """The agency's services in taxonomy order."""
    return db.session.scalars(_services_of_query(agency, include_inactive)).unique().all()


def service_rows_of(agency: Agency, include_inactive: bool = False) -> list[ServiceRow]:
    """The agency's services in taxonomy order, as plain rows (what its page shows; nothing to change)."""
    query = _row_queries()["of_agency" if include_inactive else "active_of_agency"]
    return _service_rows(query, {"agency_id": agency.id})


def _services_of_query(agency: Agency, include_inactive: bool):
    query = (select(Service).join(ServiceType).where(Service.agency_id == agency.id)
             .order_by(ServiceType.sort_order, Service.id))
    if not include_inactive:
        query = query.where(Service.status == "active")
    return query


def stale_services(agency: Agency, now: datetime) -> list[Service]:
    """The agency's active services whose capacity is not confirmed within 30 days."""
    return [s for s in services_of(agency) if s.is_stale(now)]


# ----- locations -----------------------------------------------------------------------------

def visible_locations(agency: Agency, viewer, purpose: str = "profile") -> list[Location]:
    """Locations the viewer may see: print, export and API only ever get public ones."""
    if purpose != "profile":
        shown = ("public",)
    elif viewer is None or viewer.agency_id != agency.id:
        # Later: the sending agency of an accepted, open referral may also see confidential ones.
        shown = ("public", "members")
    else:
        shown = tuple(VISIBILITY)  # all of them (the check constraint allows no other)
    return db.session.scalars(_locations_query(), {"agency_id": agency.id, "shown": list(shown)}).all()


@cache
def _locations_query():
    return (select(Location)
            .where(Location.agency_id == bindparam("agency_id"),
                   Location.visibility.in_(bindparam("shown", expanding=True)))
            .order_by(Location.name, Location.id))


def save_location(actor, agency: Agency, location: Location | None, values: dict, seen_version: int | None,
                  now: datetime) -> Location:
    """Create or update a location (R7 on update)."""
    creating = location is None
    if creating:
        location = Location(agency_id=agency.id, created_at=now, updated_at=now)
        db.session.add(location)
    else:
        check_version(location, seen_version)
    for key, value in values.items():
        setattr(location, key, value)
    location.updated_at = now
    db.session.flush()
    audit.record(actor, "directory.location_" + ("created" if creating else "updated"), location,
                 fields=values.keys(), now=now)
    db.session.commit()
    return location


def delete_location(actor, location: Location, now: datetime) -> None:
    """Remove a location."""
    audit.record(actor, "directory.location_deleted", location, fields=["id"], now=now)
    db.session.delete(location)
    db.session.commit()


# ----- freshness: one-click confirmation links ---------------------------------------------------

def stale_reminders(now: datetime) -> str:
    """The daily job: send each agency with stale entries a one-click confirmation link, at most weekly."""
    cutoff = now - STALE_AFTER
    agencies = db.session.scalars(
        select(Agency)
        .where(Agency.poc_email != "", Agency.membership_status.in_((*DIRECTORY_STATUSES, "listed")))
        .where(exists(select(Service.id).where(
            Service.agency_id == Agency.id, Service.status == "active",
            or_(Service.capacity_confirmed_at.is_(None), Service.capacity_confirmed_at < cutoff))))
    ).all()
    sent = 0
    for agency in agencies:
        recent = db.session.scalar(select(AuthToken.id).where(
            AuthToken.agency_id == agency.id, AuthToken.purpose == "capacity",
            AuthToken.created_at > now - timedelta(days=7)))
        if recent is not None:
            continue
        raw = tokens.issue_for_agency("capacity", agency, now)
        # The daily job runs outside any request: url_for needs one (the link's host is CSRN_BASE_URL anyway).
        with current_app.test_request_context("/"):
            link = external_url("directory.confirm_link", token=raw)
        try:
            queue_mail(agency.poc_email, "CSRN: are your directory entries still accurate?",
                       f"Hello {agency.poc_name or agency.name},\n\nSome of {agency.name}'s services in the task "
                       "force directory have not been confirmed for 30 days. Other members rely on them to refer "
                       "people to you. Confirm or correct them here (no login needed; the link works once, for 7 "
                       f"days):\n{link}\n",
                       now)
        except MailHeaderError:  # an address no form would take (written by an import): skipped, the rest go on
            log.warning("agency %s: point-of-contact address is not one line; no confirmation link mailed", agency.id)
            continue
        sent += 1
    db.session.commit()
    return f"{sent} confirmation link(s) queued"

"""Directory queries and changes: search, services, capacity, locations, freshness."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta

from flask import abort, current_app, has_request_context, request
from sqlalchemy import exists, func, or_, select, update

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.auth import tokens
from csrn.auth.models import AuthToken
from csrn.concurrency import check_version
from csrn.database import escape_like
from csrn.directory import receiving
from csrn.directory.models import (
    STALE_AFTER,
    CapacityConfirmation,
    GenderOption,
    Location,
    Service,
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
    query = select(ServiceType).order_by(ServiceType.sort_order, ServiceType.name)
    if active_only:
        query = query.where(ServiceType.active.is_(True))
    return _per_request(f"service_types:{active_only}", lambda: db.session.scalars(query).all())


def genders() -> list[GenderOption]:
    """The chair-editable gender list."""
    return _per_request("genders", lambda: db.session.scalars(
        select(GenderOption).order_by(GenderOption.sort_order, GenderOption.label)).all())


def search_query(filters: Filters, now: datetime):
    """Active services matching the filters (open now is applied afterwards, by the schedule engine)."""
    statuses = DIRECTORY_STATUSES + (("listed",) if filters.community else ())
    query = (
        select(Service)
        .join(Agency, Agency.id == Service.agency_id)
        .join(ServiceType, ServiceType.id == Service.service_type_id)
        .where(Service.status == "active", Agency.membership_status.in_(statuses))
    )
    if filters.q:
        pattern = f"%{escape_like(filters.q)}%"
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in (
            Agency.name, Agency.description, Service.name, Service.description, ServiceType.name))))
    if filters.service_type:
        query = query.where(ServiceType.code == filters.service_type)
    # Who the service admits: the one rule the intake's matching applies (receiving.admits_condition).
    admits = receiving.admits_condition(filters.age, filters.gender, filters.citizenship, filters.trafficking)
    if admits is not None:
        query = query.where(admits)
    if filters.county:
        query = query.where(receiving.serves_county_condition(filters.county))
    if filters.language:
        query = query.where(receiving.speaks_condition(filters.language))
    if filters.accepting:
        # Accepting referrals: may be offered one (the one rule, as the intake's matching applies it) and has room.
        query = query.where(receiving.receivable_condition(None, now), Service.open_slots > 0)
    if filters.twentyfour:
        query = query.where(Service.is_24_7.is_(True))
    if filters.certified:
        query = query.where(receiving.receivable_condition(None, now))
    return query.order_by(ServiceType.sort_order, func.lower(Agency.name), Service.id)


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
    """Run a search and return one page of services."""
    page = max(1, page)
    query = search_query(filters, now)
    if filters.open_now:
        holiday_days = schedule_ops.holiday_set()
        zone = task_force_zone()
        matching = [s for s in db.session.scalars(query).unique() if is_open(s, now, holiday_days, zone)]
        return Page(matching[(page - 1) * per_page : page * per_page], page, per_page, len(matching))
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).unique().all()
    return Page(list(items), page, per_page, total or 0)


def all_results(filters: Filters, now: datetime, limit: int = 2000) -> list[Service]:
    """Every matching service (for print, PDF and CSV), capped."""
    query = search_query(filters, now)
    if filters.open_now:
        holiday_days, zone = schedule_ops.holiday_set(), task_force_zone()
        return [s for s in db.session.scalars(query).unique() if is_open(s, now, holiday_days, zone)][:limit]
    return db.session.scalars(query.limit(limit)).unique().all()


# ----- schedules of services -----------------------------------------------------------------

def schedule_of(service: Service, holiday_days: set) -> engine.Schedule:
    """The engine's view of a service's hours."""
    return schedule_ops.schedule_from_rules(service.rules, service.is_24_7, service.closed_on_holidays, holiday_days)


def is_open(service: Service, now: datetime, holiday_days: set, zone) -> bool:
    """Whether the service is open at `now`."""
    return engine.is_open(schedule_of(service, holiday_days), now, zone)


def opening_status(service: Service, now: datetime, holiday_days: set, zone) -> str:
    """ "Open now", "Open now until 17:00", "Opens Mon 09:00" or "No hours stated"."""
    schedule = schedule_of(service, holiday_days)
    if service.is_24_7 and not schedule.day_is_closed(now.astimezone(zone).date()):
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
    query = (select(Service).join(ServiceType).where(Service.agency_id == agency.id)
             .order_by(ServiceType.sort_order, Service.id))
    if not include_inactive:
        query = query.where(Service.status == "active")
    return db.session.scalars(query).unique().all()


def stale_services(agency: Agency, now: datetime) -> list[Service]:
    """The agency's active services whose capacity is not confirmed within 30 days."""
    return [s for s in services_of(agency) if s.is_stale(now)]


# ----- locations -----------------------------------------------------------------------------

def visible_locations(agency: Agency, viewer, purpose: str = "profile") -> list[Location]:
    """Locations the viewer may see: print, export and API only ever get public ones."""
    query = select(Location).where(Location.agency_id == agency.id).order_by(Location.name, Location.id)
    if purpose != "profile":
        query = query.where(Location.visibility == "public")
    elif viewer is None or viewer.agency_id != agency.id:
        # Later: the sending agency of an accepted, open referral may also see confidential ones.
        query = query.where(Location.visibility.in_(("public", "members")))
    return db.session.scalars(query).all()


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

"""The on-call roster as plain functions taking the actor and the time (DESIGN §4.7).

`who_is_on_call(now)` is the one answer to "whom do I call?": /oncall/now, the page after sending an emergency
referral, the protocols' live blocks and every dashboard show it. `escalation_responders` tells referrals whom
to reach when an offer escalates. `coverage` lists the hours a 24/7 kind has no primary (or no backup).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from flask import abort
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, lazyload, selectinload

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.auth import operations as auth_ops
from csrn.auth.models import User
from csrn.concurrency import check_version
from csrn.directory.models import ServiceType
from csrn.extensions import db
from csrn.links import path_for
from csrn.notify.operations import notify
from csrn.oncall.models import PATTERNS, SHIFT_ROLES, ResponseKind, Shift, ShiftException
from csrn.roles import AGENCY_ADMIN, CHAIR
from csrn.schedules import engine
from csrn.schedules import operations as schedule_ops
from csrn.settings.operations import task_force_zone

NEXT_HORIZON = timedelta(days=8)  # how far "who comes next" and "until when" look
NEAR = timedelta(days=1)  # who_is_on_call looks this far first, and the whole horizon only for shifts that need it
PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ()./-]+$")


class ShiftError(ValueError):
    """Input a person can correct (the message says how)."""


# ----- kinds of response ------------------------------------------------------------------------------

def kinds(include_inactive: bool = False) -> list[ResponseKind]:
    """The kinds of response, in the chairs' order."""
    query = select(ResponseKind).order_by(ResponseKind.position, ResponseKind.name)
    if not include_inactive:
        query = query.where(ResponseKind.active.is_(True))
    return db.session.scalars(query).all()


def get_kind_or_404(kind_id: int) -> ResponseKind:
    """A kind of response, or a 404."""
    kind = db.session.get(ResponseKind, kind_id)
    if kind is None:
        abort(404)
    return kind


def save_kind(actor, kind: ResponseKind | None, values: dict, seen_version: int | None, now: datetime) -> ResponseKind:
    """Create or change a kind of response (chairs): name, 24/7 or not, the service types it answers for."""
    if not actor.has_role(CHAIR):
        raise ShiftError("Only chairs define the kinds of response.")
    name = values["name"].strip()
    clash = db.session.scalar(select(ResponseKind.id).where(ResponseKind.name == name))
    if clash is not None and (kind is None or clash != kind.id):
        raise ShiftError("A kind of response with this name already exists.")
    # Read the service types before a new kind joins the session: the query's autoflush would insert it half-made.
    wanted = [type_id for type_id in values.get("service_type_ids") or [] if 0 < type_id < 2**31]
    service_types = db.session.scalars(select(ServiceType).where(ServiceType.id.in_(wanted))).all()
    if kind is None:
        kind = ResponseKind(created_at=now)
    else:
        check_version(kind, seen_version)
    kind.name = name
    kind.description = values.get("description") or ""
    kind.required_24_7 = bool(values.get("required_24_7"))
    kind.active = bool(values.get("active", True))
    kind.position = values.get("position") or 0
    kind.service_types = service_types
    kind.updated_at = now
    db.session.add(kind)
    db.session.flush()
    audit.record(actor, "oncall.kind_saved", kind, fields=["name", "required_24_7", "active", "service_types"],
                 now=now)
    db.session.commit()
    return kind


# ----- shifts: who may edit, validation ---------------------------------------------------------------

def can_manage(user, agency_id: int | None) -> bool:
    """Chairs manage every agency's shifts; an agency admin their own agency's."""
    if user.has_role(CHAIR):
        return True
    return agency_id is not None and user.has_role(AGENCY_ADMIN) and user.agency_id == agency_id


def can_manage_any(user) -> bool:
    """Whether the user manages any shift at all (the roster's edit links)."""
    return user.has_role(CHAIR) or (user.has_role(AGENCY_ADMIN) and user.agency_id is not None)


def manageable_agencies(user) -> list[Agency]:
    """The agencies whose shifts the user may add: every agency in the network for chairs, else their own."""
    if user.has_role(CHAIR):
        return db.session.scalars(select(Agency).where(Agency.membership_status != "listed")
                                  .order_by(Agency.name)).all()
    return [user.agency] if can_manage_any(user) and user.agency is not None else []


def get_shift_for_edit_or_404(shift_id: int, user) -> Shift:
    """A shift the user may change; another agency's shift is a 404 (SECURITY AC1)."""
    shift = db.session.get(Shift, shift_id)
    if shift is None or not can_manage(user, shift.agency_id):
        abort(404)
    return shift


def dialable(phone: str) -> str:
    """The number as typed, if a phone can dial it: digits with spaces, dashes, dots, brackets, a leading +."""
    phone = (phone or "").strip()
    digits = re.sub(r"\D", "", phone)
    if not phone or not PHONE_CHARACTERS.match(phone) or not 3 <= len(digits) <= 15:
        raise ShiftError("Enter a phone number a phone can dial: digits, spaces or dashes, and a leading + for "
                         "another country (for example 555-0100 or +1 555 010 0100).")
    return phone


def local_instant(day: date, at: time) -> datetime:
    """A local date and time in the task force's zone as an instant (the engine's rule for the changed hours:
    a skipped spring time takes effect at the change; a repeated autumn time is its first occurrence)."""
    return engine.local_instant(day, at, task_force_zone())


def _row(model, row_id):
    """The row with this id from a form, or None (a missing id, or one beyond what an id column holds)."""
    return db.session.get(model, row_id) if isinstance(row_id, int) and 0 < row_id < 2**31 else None


def save_shift(actor, shift: Shift | None, values: dict, seen_version: int | None, now: datetime) -> Shift:
    """Create or change a shift after checking every rule a person can break; nothing is saved on an error."""
    agency = _row(Agency, values.get("agency_id"))
    if agency is None or not can_manage(actor, agency.id):
        raise ShiftError("Choose an agency whose roster you manage.")
    if agency.membership_status in ("listed", "suspended"):
        raise ShiftError("Choose an agency of the network: not a community resource, not a suspended one.")
    kind = _row(ResponseKind, values.get("kind_id"))
    if kind is None or not kind.active:
        raise ShiftError("Choose the kind of response (one in use).")
    user = None
    if values.get("user_id"):
        user = _row(User, values["user_id"])
        if user is None or user.agency_id != agency.id:
            raise ShiftError("The person on call must be a user of that agency (or give a name instead).")
    display_name = (values.get("display_name") or "").strip()
    if user is None and not display_name:
        raise ShiftError("Choose a user of the agency or give the name callers will ask for.")
    phone = dialable(values.get("phone") or "")
    role = values.get("role")
    pattern = values.get("pattern")
    if role not in SHIFT_ROLES or pattern not in PATTERNS:
        raise ShiftError("Choose primary or backup, and weekly or once.")
    if shift is None:
        shift = Shift(created_at=now)
    else:
        check_version(shift, seen_version)
    shift.agency_id, shift.kind_id, shift.user_id = agency.id, kind.id, user.id if user else None
    shift.display_name, shift.phone, shift.role, shift.pattern = display_name, phone, role, pattern
    shift.note = (values.get("note") or "").strip()
    shift.skip_holidays = bool(values.get("skip_holidays"))
    if pattern == "weekly":
        _weekly(shift, values)
    else:
        _once(shift, values)
    shift.updated_at = now
    if shift.id is None:
        db.session.add(shift)
    db.session.flush()
    audit.record(actor, "oncall.shift_saved", shift, fields=["agency_id", "kind_id", "user_id", "display_name",
                                                             "phone", "role", "pattern"], now=now)
    db.session.commit()
    return shift


def _weekly(shift: Shift, values: dict) -> None:
    days = sorted({int(day) for day in values.get("weekdays") or []})
    if not days or any(day not in range(7) for day in days):
        raise ShiftError("Choose the days of the week the shift starts on.")
    starts, ends = values.get("starts"), values.get("ends")
    if starts is None or ends is None:
        raise ShiftError("Give the time the shift starts and ends (an end at or before the start runs past "
                         "midnight).")
    valid_from, valid_until = values.get("valid_from"), values.get("valid_until")
    if valid_from and valid_until and valid_until < valid_from:
        raise ShiftError("The last day is before the first day.")
    shift.weekdays = " ".join(str(day) for day in days)
    shift.starts, shift.ends = starts, ends
    shift.valid_from, shift.valid_until = valid_from, valid_until
    shift.starts_at = shift.ends_at = None


def _once(shift: Shift, values: dict) -> None:
    parts = [values.get(name) for name in ("start_date", "start_time", "end_date", "end_time")]
    if any(part is None for part in parts):
        raise ShiftError("Give the date and time the cover starts and ends.")
    try:
        starts_at = local_instant(parts[0], parts[1])
        ends_at = local_instant(parts[2], parts[3])
    except OverflowError as error:  # a date at the very end of the calendar
        raise ShiftError("Give dates within the next few years.") from error
    if ends_at == starts_at and (parts[0], parts[1]) != (parts[2], parts[3]):
        # Both times fall in the hour skipped when the clocks go forward: that hour never shows on the clock.
        raise ShiftError("Those times do not exist: the clocks go forward then. Give times outside the skipped hour.")
    if ends_at <= starts_at:
        raise ShiftError("The shift ends before it starts.")
    if ends_at - starts_at > timedelta(days=31):
        raise ShiftError("A one-off shift lasts at most 31 days; use a weekly shift with first and last days.")
    shift.starts_at, shift.ends_at = starts_at, ends_at
    shift.weekdays, shift.starts, shift.ends, shift.valid_from, shift.valid_until = "", None, None, None, None


def delete_shift(actor, shift: Shift, now: datetime) -> None:
    """Remove a shift from the roster (the audit log keeps that it existed)."""
    audit.record(actor, "oncall.shift_deleted", shift, fields=["agency_id", "kind_id", "role"], now=now)
    db.session.delete(shift)
    db.session.commit()


def add_exception(actor, shift: Shift, start: date, end: date, note: str, now: datetime) -> ShiftException:
    """Days a weekly shift does not run."""
    if shift.pattern != "weekly":
        raise ShiftError("Only a weekly shift has exceptions; delete a one-off shift instead.")
    if end < start:
        raise ShiftError("The last day is before the first day.")
    exception = ShiftException(shift_id=shift.id, start_date=start, end_date=end, note=note.strip()[:200])
    db.session.add(exception)
    shift.updated_at = now
    audit.record(actor, "oncall.exception_added", shift, fields=["exceptions"], now=now)
    db.session.commit()
    return exception


def remove_exception(actor, shift: Shift, exception_id: int, now: datetime) -> None:
    """Let a weekly shift run again on the days of one exception."""
    exception = next((e for e in shift.exceptions if e.id == exception_id), None)
    if exception is None:
        abort(404)
    shift.exceptions.remove(exception)
    shift.updated_at = now
    audit.record(actor, "oncall.exception_removed", shift, fields=["exceptions"], now=now)
    db.session.commit()


# ----- schedules ---------------------------------------------------------------------------------------

def schedule_of(shift: Shift, holidays: set[date]) -> engine.Schedule:
    """The shift as the shared schedule engine's plain data."""
    if shift.pattern == "once":
        return engine.Schedule(once=[(shift.starts_at, shift.ends_at)])
    return _weekly_schedule(tuple(shift.days), shift.starts, shift.ends, shift.valid_from, shift.valid_until,
                            shift.skip_holidays, [engine.DateRange(e.start_date, e.end_date) for e in shift.exceptions],
                            holidays)


def _weekly_schedule(days: tuple[int, ...], starts: time, ends: time, valid_from: date | None,
                     valid_until: date | None, skip_holidays: bool, closures: list[engine.DateRange],
                     holidays: set[date]) -> engine.Schedule:
    """A weekly shift as the engine's schedule (its exceptions given as closures)."""
    valid = None
    if valid_from or valid_until:
        valid = engine.DateRange(valid_from or date.min, valid_until or date.max)
    return engine.Schedule(weekly=list(_spans(days, starts, ends)), closures=closures, holidays=holidays,
                           closed_on_holidays=skip_holidays, valid=valid)


@lru_cache(maxsize=1024)
def _spans(days: tuple[int, ...], starts: time, ends: time) -> tuple[engine.WeeklySpan, ...]:
    """The weekly spans of a shift's days and hours (immutable; a roster repeats a few shapes many times, and
    times read from the database never carry a fold, which equality would ignore)."""
    return tuple(engine.WeeklySpan(day, starts, ends) for day in days)


def _between(query, start: datetime, end: datetime, kind_ids: Iterable[int] | None, agency_id: int | None):
    """The query narrowed to shifts of active kinds that may be on between start and end, by role and id."""
    zone = task_force_zone()
    first, last = start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date()
    query = (query.join(ResponseKind, ResponseKind.id == Shift.kind_id)
             .where(ResponseKind.active.is_(True),
                    or_(and_(Shift.pattern == "once", Shift.starts_at < end, Shift.ends_at > start),
                        and_(Shift.pattern == "weekly",
                             or_(Shift.valid_from.is_(None), Shift.valid_from <= last),
                             or_(Shift.valid_until.is_(None), Shift.valid_until >= first))))
             .order_by(Shift.role, Shift.id))
    if kind_ids is not None:
        query = query.where(Shift.kind_id.in_(list(kind_ids)))
    if agency_id is not None:
        query = query.where(Shift.agency_id == agency_id)
    return query


def shifts_between(start: datetime, end: datetime, kind_ids: Iterable[int] | None = None,
                   agency_id: int | None = None) -> list[Shift]:
    """Shifts of active kinds that may be on between start and end (a cheap filter before the engine)."""
    query = _between(select(Shift).options(selectinload(Shift.exceptions)), start, end, kind_ids, agency_id)
    return db.session.scalars(query).unique().all()


@dataclass
class _Timed:
    """A shift as `_shift_times` reads it: what decides when it is on, and its schedule."""

    id: int
    kind_id: int
    role: str
    notifiable: bool  # held by an active user (else coverage flags it)
    schedule: engine.Schedule
    shape: tuple  # equal for shifts with equal schedules (a roster repeats a few shapes): their intervals are equal


class _Intervals:
    """engine.intervals of many shifts over one window, computed once per shape of schedule."""

    def __init__(self, start: datetime, end: datetime, zone) -> None:
        self.start, self.end, self.zone, self.known = start, end, zone, {}

    def __call__(self, timed: _Timed) -> list[tuple[datetime, datetime]]:
        found = self.known.get(timed.shape)
        if found is None:
            found = self.known[timed.shape] = engine.intervals(timed.schedule, self.start, self.end, self.zone)
        return found


def _shift_times(start: datetime, end: datetime, holidays: set[date], kind_ids: Iterable[int] | None = None,
                 agency_id: int | None = None) -> list[_Timed]:
    """The shifts of `shifts_between` as plain rows and engine schedules, in the same order, without loading them
    as objects with their agency, kind and user (hundreds of shifts; the answer names only a few). Exceptions are
    read in one query, only those that can close a day the engine looks at between start and end."""
    zone = task_force_zone()
    columns = select(Shift.id, Shift.kind_id, Shift.role, Shift.pattern, Shift.weekdays, Shift.starts, Shift.ends,
                     Shift.valid_from, Shift.valid_until, Shift.skip_holidays, Shift.starts_at, Shift.ends_at,
                     Shift.user_id, User.active).outerjoin(User, User.id == Shift.user_id)
    rows = db.session.execute(_between(columns, start, end, kind_ids, agency_id)).all()
    first, last = start.astimezone(zone).date() - timedelta(days=2), end.astimezone(zone).date() + timedelta(days=1)
    closures: dict[int, list[engine.DateRange]] = {}
    if any(row.pattern == "weekly" for row in rows):
        for shift_id, opens, closes in db.session.execute(
                select(ShiftException.shift_id, ShiftException.start_date, ShiftException.end_date)
                .where(ShiftException.end_date >= first, ShiftException.start_date <= last)):
            closures.setdefault(shift_id, []).append(engine.DateRange(opens, closes))
    result = []
    for (shift_id, kind_id, role, pattern, weekdays, starts, ends, valid_from, valid_until, skip_holidays,
         starts_at, ends_at, user_id, active) in rows:  # unpacked: a row's attributes cost a lookup each
        if pattern == "once":
            schedule, shape = engine.Schedule(once=[(starts_at, ends_at)]), (starts_at, ends_at)
        else:
            days, closed = _days(weekdays), closures.get(shift_id, [])
            schedule = _weekly_schedule(days, starts, ends, valid_from, valid_until, skip_holidays, closed, holidays)
            shape = (days, starts, ends, valid_from, valid_until, skip_holidays, tuple(closed))
        result.append(_Timed(shift_id, kind_id, role, user_id is not None and bool(active), schedule, shape))
    return result


@lru_cache(maxsize=256)
def _days(weekdays: str) -> tuple[int, ...]:
    """A shift's stored weekdays ("0 1 2 3 4") as numbers."""
    return tuple(int(day) for day in weekdays.split())


def _load_shifts(ids: Iterable[int]) -> dict[int, Shift]:
    """The shifts with these ids as objects, with their agency and user (what the pages show), by id."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    # The kind is already in the session (the caller read the kinds); exceptions, and the user's own agency and
    # roles (a second agency join and a query), load only if someone asks.
    held_by = joinedload(Shift.user)
    query = select(Shift).where(Shift.id.in_(ids)).options(
        lazyload(Shift.kind), lazyload(Shift.exceptions), held_by.lazyload(User.agency),
        held_by.lazyload(User.role_rows))
    return {shift.id: shift for shift in db.session.scalars(query).unique()}


# ----- who is on call ----------------------------------------------------------------------------------

@dataclass
class OnCall:
    """A shift on now, and until when (None: beyond the horizon)."""

    shift: Shift
    until: datetime | None


@dataclass
class KindNow:
    """A kind's answer at one instant: the primaries and backups on now, and the next primary to start."""

    kind: ResponseKind
    primaries: list[OnCall] = field(default_factory=list)
    backups: list[OnCall] = field(default_factory=list)
    next_primary: OnCall | None = None  # `until` holds when it starts
    next_at: datetime | None = None

    @property
    def uncovered(self) -> bool:
        """A 24/7 kind with no primary on now: said first, and loudly."""
        return self.kind.required_24_7 and not self.primaries


def who_is_on_call(now: datetime, kinds_of: Iterable[ResponseKind] | None = None) -> list[KindNow]:
    """For every active kind (or those given): who is on now, until when, and who comes next; uncovered 24/7
    kinds first. One function for every page that answers "whom do I call?"."""
    selected = list(kinds_of) if kinds_of is not None else kinds()
    if not selected:
        return []
    zone, holidays = task_force_zone(), schedule_ops.holiday_set()
    horizon = now + NEXT_HORIZON
    near = min(now + NEAR, horizon)
    by_kind: dict[int, KindNow] = {kind.id: KindNow(kind) for kind in selected}
    on_now: list[tuple[_Timed, datetime | None]] = []
    coming: dict[int, tuple[datetime, _Timed]] = {}  # by kind: the first primary to start after now
    later: list[_Timed] = []  # primaries not on before `near`: they matter only to a kind with no one sooner
    soon, whole = _Intervals(now, near, zone), _Intervals(now, horizon, zone)
    # Each shift over the next day first: a merged interval ending inside that day ends there whatever the horizon,
    # and one starting inside it starts there; only one running past it needs the whole horizon for "until".
    for timed in _shift_times(now, horizon, holidays, kind_ids=by_kind):
        found = soon(timed)
        if not found:
            if timed.role == "primary":
                later.append(timed)
            continue
        start, end = found[0]
        if start <= now:
            if end >= near:
                end = whole(timed)[0][1]
            on_now.append((timed, None if end >= horizon else end))
        elif timed.role == "primary" and (timed.kind_id not in coming or start < coming[timed.kind_id][0]):
            coming[timed.kind_id] = (start, timed)
    for timed in later:  # anything found here starts at or after `near`, after every start found above
        if timed.kind_id in coming and coming[timed.kind_id][0] < near:
            continue
        found = whole(timed)
        if found and (timed.kind_id not in coming or found[0][0] < coming[timed.kind_id][0]):
            coming[timed.kind_id] = (found[0][0], timed)
    shifts = _load_shifts([timed.id for timed, _ in on_now] + [timed.id for _, timed in coming.values()])
    for timed, until in on_now:
        if timed.id in shifts:  # (not if deleted between the two reads)
            answer = by_kind[timed.kind_id]
            (answer.primaries if timed.role == "primary" else answer.backups).append(OnCall(shifts[timed.id], until))
    for kind_id, (start, timed) in coming.items():
        if timed.id in shifts:
            by_kind[kind_id].next_primary, by_kind[kind_id].next_at = OnCall(shifts[timed.id], start), start
    for answer in by_kind.values():
        # "Next" is whoever starts soonest after now: if a current primary's shift ends first, the next is the
        # one starting then or later (a primary starting while another is still on is shown too).
        answer.primaries.sort(key=lambda on: (on.until is None, on.until or now))
        answer.backups.sort(key=lambda on: (on.until is None, on.until or now))
    return sorted(by_kind.values(), key=lambda answer: (not answer.uncovered, answer.kind.position, answer.kind.name))


def kinds_for_service_type(service_type_id: int) -> list[ResponseKind]:
    """The active kinds of response that answer for a directory service type."""
    return [kind for kind in kinds() if any(t.id == service_type_id for t in kind.service_types)]


def escalation_responders(service_type_id: int, now: datetime, within: timedelta) -> list[Shift]:
    """Who to reach when a referral of this service type escalates at `now`: the primary on call for each kind that
    answers for it, and the backup too when the primary's shift ends within `within` (the offer's deadline) or no
    primary is on. Shifts held by a name only are left out: nobody can be notified."""
    reached: list[Shift] = []
    for answer in who_is_on_call(now, kinds_for_service_type(service_type_id)):
        primaries = [on for on in answer.primaries if on.shift.user_id is not None and on.shift.user.active]
        ending = not primaries or any(on.until is not None and on.until < now + within for on in primaries)
        reached += [on.shift for on in primaries]
        if ending:
            reached += [on.shift for on in answer.backups if on.shift.user_id is not None and on.shift.user.active]
    return reached


# ----- coverage ------------------------------------------------------------------------------------------

@dataclass
class KindCoverage:
    """A 24/7 kind's holes in a window: no primary, no backup; and the shifts that need a look."""

    kind: ResponseKind
    no_primary: list[tuple[datetime, datetime]]
    no_backup: list[tuple[datetime, datetime]]
    overlapping_primaries: list[tuple[datetime, datetime]]
    flagged: list[tuple[Shift, str]]


def coverage(start: datetime, end: datetime, agency_id: int | None = None) -> list[KindCoverage]:
    """Every 24/7 kind's intervals with no primary and with no backup between start and end (with `agency_id`,
    as that agency's own shifts alone would cover it), overlaps of primaries, and shifts nobody can be notified
    on (a name only, or a deactivated user)."""
    zone, holidays = task_force_zone(), schedule_ops.holiday_set()
    required = [kind for kind in kinds() if kind.required_24_7]
    timed = _shift_times(start, end, holidays, kind_ids=[kind.id for kind in required], agency_id=agency_id)
    # Each shift's intervals once, for the gaps and the overlaps alike; objects only for the shifts to flag.
    window = _Intervals(start, end, zone)
    pieces = {item.id: window(item) for item in timed}
    to_check = _load_shifts(item.id for item in timed if not item.notifiable)
    result = []
    for kind in required:
        own = [item for item in timed if item.kind_id == kind.id]
        primary = [pieces[item.id] for item in own if item.role == "primary"]
        backup = [pieces[item.id] for item in own if item.role == "backup"]
        result.append(KindCoverage(
            kind=kind,
            no_primary=engine.uncovered([_covered(primary)], start, end, zone),
            no_backup=engine.uncovered([_covered(backup)], start, end, zone),
            overlapping_primaries=_overlapping(primary),
            flagged=[(to_check[item.id], flag) for item in own
                     if item.id in to_check and (flag := shift_flag(to_check[item.id]))],
        ))
    return result


def _covered(pieces: list[list[tuple[datetime, datetime]]]) -> engine.Schedule:
    """Intervals already computed, as one schedule (the engine merges them as it would the shifts' own)."""
    return engine.Schedule(once=[piece for intervals in pieces for piece in intervals])


def shift_flag(shift: Shift) -> str:
    """Why a shift needs a look ('' when it does not). `coverage` loads only the shifts `_Timed.notifiable` says
    may need one: a new reason here needs its column there."""
    if shift.user_id is None:
        return "A name only: nobody is notified of escalations on this shift."
    if not shift.user.active:
        return f"{shift.user.name}'s account is deactivated."
    return ""


def _overlaps(schedules: list[engine.Schedule], start: datetime, end: datetime,
              zone) -> list[tuple[datetime, datetime]]:
    """The intervals where two or more of the schedules are open at once."""
    return _overlapping([engine.intervals(schedule, start, end, zone) for schedule in schedules])


def _overlapping(pieces: list[list[tuple[datetime, datetime]]]) -> list[tuple[datetime, datetime]]:
    """The intervals where two or more of the schedules are open at once, from each one's intervals."""
    edges = []
    for intervals in pieces:
        for s, e in intervals:
            edges += [(s, 1), (e, -1)]
    result, depth, opened = [], 0, None
    for at, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        depth += step
        if depth >= 2 and opened is None:
            opened = at
        elif depth < 2 and opened is not None:
            if at > opened:
                result.append((opened, at))
            opened = None
    return result


def next_gap(now: datetime, days: int = 14) -> tuple[ResponseKind, datetime, datetime] | None:
    """The first interval in the coming days when a 24/7 kind has no primary (for the chairs' dashboard)."""
    found = [(gap[0], gap[1], item.kind) for item in coverage(now, now + timedelta(days=days))
             for gap in item.no_primary]
    if not found:
        return None
    start, end, kind = min(found, key=lambda row: row[0])
    return kind, start, end


def coverage_report(now: datetime, days: int) -> tuple[list[str], bool]:
    """The coverage check as lines of text in local time (for the command line and the chairs' mail), and
    whether any interval lacks a primary."""
    zone = task_force_zone()
    report = coverage(now, now + timedelta(days=days))
    lines, missing_primary = [], False

    def span(start: datetime, end: datetime) -> str:
        return f"{start.astimezone(zone):%a %Y-%m-%d %H:%M} – {end.astimezone(zone):%a %Y-%m-%d %H:%M} ({zone.key})"

    if not report:
        lines.append("No kind of response is marked 24/7 required.")
    for item in report:
        missing_primary = missing_primary or bool(item.no_primary)
        lines.append(f"{item.kind.name}: " + (f"{len(item.no_primary)} interval(s) with no primary"
                                              if item.no_primary else "a primary at every minute"))
        lines += [f"  NO PRIMARY  {span(start, end)}" for start, end in item.no_primary]
        lines += [f"  no backup   {span(start, end)}" for start, end in item.no_backup]
        lines += [f"  check       {shift.agency.name}, {shift.who}: {why}" for shift, why in item.flagged]
    return lines, missing_primary


def gap_alert(now: datetime) -> str:
    """The daily job: e-mail the chairs when a 24/7 kind has no primary within the next 7 days."""
    lines, missing_primary = coverage_report(now, 7)
    if not missing_primary:
        return "no gap in the next 7 days"
    text = "The on-call roster has gaps in the next 7 days: hours when nobody is primary for a 24/7 kind."
    notify(auth_ops.chairs(), text, path_for("oncall.coverage"), now)
    db.session.commit()
    return f"gaps found; {len(auth_ops.chairs())} chair(s) told"


# ----- the week and the card ---------------------------------------------------------------------------

@dataclass
class DayRoster:
    """One local day of a kind: each shift's pieces on that day, in order."""

    day: date
    pieces: list[tuple[datetime, datetime, Shift]]
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)  # no primary, for a 24/7 kind


def roster_by_day(start_day: date, days: int) -> list[tuple[ResponseKind, list[DayRoster]]]:
    """For every active kind, each local day from `start_day`: who is on, from when to when (the printable card
    and the `[[oncall-week]]` block)."""
    zone, holidays = task_force_zone(), schedule_ops.holiday_set()
    start = local_instant(start_day, time(0))
    end = local_instant(start_day + timedelta(days=days), time(0))
    shifts = shifts_between(start, end)
    result = []
    for kind in kinds():
        own = [shift for shift in shifts if shift.kind_id == kind.id]
        pieces = [(s, e, shift) for shift in own for s, e in engine.intervals(schedule_of(shift, holidays),
                                                                            start, end, zone)]
        rows = []
        for offset in range(days):
            day = start_day + timedelta(days=offset)
            day_start, day_end = local_instant(day, time(0)), local_instant(day + timedelta(days=1), time(0))
            on_day = sorted(((max(s, day_start), min(e, day_end), shift)
                             for s, e, shift in pieces if s < day_end and e > day_start),
                            key=lambda piece: (piece[2].role != "primary", piece[0]))
            primary = engine.Schedule(once=[(s, e) for s, e, shift in on_day if shift.role == "primary"])
            gaps = engine.uncovered([primary], day_start, day_end, zone) if kind.required_24_7 else []
            rows.append(DayRoster(day, on_day, gaps))
        result.append((kind, rows))
    return result


def local_today(now: datetime) -> date:
    """The task force's calendar date at `now`."""
    return now.astimezone(task_force_zone()).date()


# ----- the roster page ---------------------------------------------------------------------------------

def roster(kind_id: int | None = None, agency_id: int | None = None) -> list[Shift]:
    """Every shift, by kind and agency (the roster is shared with every logged-in user, like the directory)."""
    query = (select(Shift).join(ResponseKind, ResponseKind.id == Shift.kind_id)
             .join(Agency, Agency.id == Shift.agency_id))
    if kind_id:
        query = query.where(Shift.kind_id == kind_id)
    if agency_id:
        query = query.where(Shift.agency_id == agency_id)
    return db.session.scalars(query.order_by(ResponseKind.position, ResponseKind.name, Agency.name, Shift.role,
                                             Shift.id)).all()


def describe_shift(shift: Shift) -> str:
    """When the shift runs, as people read it."""
    if shift.pattern == "once":
        zone = task_force_zone()
        return (f"Once: {shift.starts_at.astimezone(zone):%a %-d %b %Y %H:%M} – "
                f"{shift.ends_at.astimezone(zone):%a %-d %b %Y %H:%M}")
    days = ", ".join(engine.WEEKDAYS[day][:3] for day in shift.days)
    overnight = " (next day)" if shift.ends <= shift.starts else ""
    text = f"{days} {shift.starts:%H:%M}–{shift.ends:%H:%M}{overnight}"
    if shift.valid_from or shift.valid_until:
        text += f", {shift.valid_from:%-d %b %Y}" if shift.valid_from else ", until"
        text += f" – {shift.valid_until:%-d %b %Y}" if shift.valid_until else " onwards"
    if shift.skip_holidays:
        text += "; not on holidays"
    return text

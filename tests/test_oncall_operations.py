"""The on-call roster's operations without HTTP (DESIGN §4.7): kinds, shift validation, who is on call (weekly,
overnight, one-off, exceptions, holidays, dates, and the Chicago daylight-saving nights), whom an escalation reaches,
coverage against a brute-force minute-by-minute check, the next gap, the roster by day, and the escalation of a
referral to the person on call (csrn/referrals/operations.py).

Times are the task force's (America/Chicago unless a test says otherwise); the instants passed as `now` freeze the
clock. Saturday 28 November 2026 is the usual day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from csrn.auth.models import User
from csrn.directory.models import ServiceType
from csrn.extensions import db
from csrn.notify.models import Notification, OutboxMessage
from csrn.oncall import operations as ops
from csrn.oncall.models import ResponseKind, Shift, ShiftException
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import ReferralContact
from csrn.schedules import engine
from csrn.schedules.models import Holiday
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW, Browser
from tests.referral_factories import (
    ALIAS,
    SENTINELS,
    consent_answers,
    events_of,
    make_chair,
    make_provider,
    make_sender,
    new_agency,
    new_user,
    notifications_of,
    offers_of,
    referral,
    send_intake,
    type_id,
)

CHICAGO = ZoneInfo("America/Chicago")
EVERY_DAY = tuple(range(7))
FRIDAY, SATURDAY, SUNDAY = 4, 5, 6
STEP = timedelta(minutes=15)


# ----- helpers ---------------------------------------------------------------------------------------------

def use_settings(zone: str = "America/Chicago", fallback_phone: str = "555 0199", emergency_minutes: int = 30):
    """Write the task force's settings row (its zone, fallback number and emergency deadline)."""
    row = TaskForceSettings(id=1, name="Task force", timezone=zone, counties_json="[]", fallback_phone=fallback_phone,
                            emergency_minutes=emergency_minutes, urgent_hours=4, routine_business_hours=48,
                            retention_days=1095, version=1)
    db.session.merge(row)
    db.session.commit()


def local(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    """A Chicago wall time (November 2026 unless told) as an aware datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def person(agency_id: int, name: str, roles=("staff",), active: bool = True) -> User:
    """A user of the agency with a name callers would see."""
    user = new_user(agency_id, roles)
    user.name, user.active = name, active
    db.session.commit()
    return user


def make_kind(name: str, required: bool = True, codes=("case_management",), position: int = 0) -> ResponseKind:
    """A kind of response answering for the given service types, stored directly (as the demo seed does): creating
    one through `save_kind` fails, see test_a_chair_creates_a_kind_of_response."""
    kind = ResponseKind(name=name, required_24_7=required, position=position, created_at=NOW, updated_at=NOW,
                        service_types=[db.session.get(ServiceType, type_id(code)) for code in codes])
    db.session.add(kind)
    db.session.commit()
    return kind


def kind_values(name: str, required: bool = True, codes=("case_management",)) -> dict:
    return {"name": name, "required_24_7": required, "service_type_ids": [type_id(code) for code in codes]}


def weekly_values(agency_id: int, kind, *, user=None, name: str = "", phone: str = "555-0100",
                  role: str = "primary", days=EVERY_DAY, starts=time(8), ends=time(20), **extra) -> dict:
    return dict(agency_id=agency_id, kind_id=kind.id, user_id=user.id if user else None, display_name=name,
                phone=phone, role=role, pattern="weekly", weekdays=list(days), starts=starts, ends=ends, **extra)


def weekly(actor, agency_id: int, kind, **values) -> Shift:
    """A weekly shift saved through `save_shift`."""
    return ops.save_shift(actor, None, weekly_values(agency_id, kind, **values), None, NOW)


def once_values(agency_id: int, kind, start: datetime, end: datetime, *, user=None, name: str = "",
                phone: str = "555-0100", role: str = "primary") -> dict:
    return dict(agency_id=agency_id, kind_id=kind.id, user_id=user.id if user else None, display_name=name,
                phone=phone, role=role, pattern="once", start_date=start.date(), start_time=start.time(),
                end_date=end.date(), end_time=end.time())


def once(actor, agency_id: int, kind, start: datetime, end: datetime, **values) -> Shift:
    """A one-off shift (local start and end) saved through `save_shift`."""
    return ops.save_shift(actor, None, once_values(agency_id, kind, start, end, **values), None, NOW)


def answer(now: datetime, kind) -> ops.KindNow:
    return next(item for item in ops.who_is_on_call(now) if item.kind.id == kind.id)


def who(ons) -> list[str]:
    return [on.shift.who for on in ons]


def shift_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Shift))


@pytest.fixture
def world(ctx):
    """A chair; agencies North (an admin, Ana, Ben, Dee deactivated) and South (an admin, Cora); in Chicago."""
    use_settings()
    chair = make_chair()
    north, south = new_agency("North Advocacy"), new_agency("South Shelter")
    db.session.commit()
    return {
        "chair": chair, "north": north.id, "south": south.id,
        "north_admin": person(north.id, "Nora Admin", ("agency_admin",)),
        "south_admin": person(south.id, "Sam Admin", ("agency_admin",)),
        "ana": person(north.id, "Ana Primary"), "ben": person(north.id, "Ben Backup"),
        "dee": person(north.id, "Dee Departed", active=False), "cora": person(south.id, "Cora Night"),
    }


# ----- kinds of response ------------------------------------------------------------------------------------

@pytest.mark.parametrize("roles", [("agency_admin",), ("staff",), ("case_manager",), ("admin",)])
def test_only_chairs_define_kinds(world, roles):
    """Anyone but a chair is refused, creating or changing a kind; nothing changes."""
    other = new_user(world["north"], roles)
    kind = make_kind("Crisis response")
    with pytest.raises(ops.ShiftError, match="Only chairs"):
        ops.save_kind(other, None, kind_values("Case management"), None, NOW)
    db.session.rollback()
    with pytest.raises(ops.ShiftError, match="Only chairs"):
        ops.save_kind(other, db.session.get(ResponseKind, kind.id), kind_values("Renamed", required=False),
                      kind.version, NOW)
    db.session.rollback()
    assert [(k.name, k.required_24_7) for k in ops.kinds()] == [("Crisis response", True)]


def test_a_chair_creates_a_kind_of_response(world):
    kind = ops.save_kind(world["chair"], None, kind_values("Crisis response"), None, NOW)
    assert [k.name for k in ops.kinds()] == ["Crisis response"]
    assert ops.kinds_for_service_type(type_id("case_management")) == [kind]


def test_a_chair_changes_a_kind_and_the_service_types_it_answers_for(world):
    kind = make_kind("Case management", codes=("case_management",))
    ops.save_kind(world["chair"], kind, kind_values("Legal help", required=False, codes=("civil_legal",)),
                  kind.version, NOW)
    kind = db.session.get(ResponseKind, kind.id)
    assert (kind.name, kind.required_24_7) == ("Legal help", False)
    assert ops.kinds_for_service_type(type_id("civil_legal")) == [kind]
    assert ops.kinds_for_service_type(type_id("case_management")) == []


def test_a_duplicate_kind_name_is_refused(world):
    """The same name again (spaces trimmed) is refused, for a new kind or a rename; a kind keeps its own name."""
    chair = world["chair"]
    first = make_kind("Case management")
    second = make_kind("Legal", required=False)
    with pytest.raises(ops.ShiftError, match="already exists"):
        ops.save_kind(chair, None, kind_values("  Case management "), None, NOW)
    db.session.rollback()
    with pytest.raises(ops.ShiftError, match="already exists"):
        ops.save_kind(chair, db.session.get(ResponseKind, second.id), kind_values("Case management"), second.version,
                      NOW)
    db.session.rollback()
    first = db.session.get(ResponseKind, first.id)
    ops.save_kind(chair, first, kind_values("Case management", required=False), first.version, NOW)
    assert sorted((k.name, k.required_24_7) for k in ops.kinds()) == [("Case management", False), ("Legal", False)]


# ----- saving a shift -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "end"), [
    (local(28, 18), local(28, 8)),  # ends in the morning of the day it starts in the evening
    (local(29, 8), local(28, 20)),  # the end date before the start date
    (local(28, 8), local(28, 8)),  # no time at all
])
def test_a_one_off_shift_ending_before_it_starts_is_refused(world, start, end):
    """A one-off cover must end after it starts; nothing is saved."""
    kind = make_kind("Case management")
    with pytest.raises(ops.ShiftError, match="ends before it starts"):
        once(world["chair"], world["north"], kind, start, end, user=world["ana"])
    db.session.rollback()
    assert shift_count() == 0


def test_a_weekly_shift_whose_last_day_is_before_its_first_is_refused(world):
    kind = make_kind("Case management")
    with pytest.raises(ops.ShiftError, match="last day is before the first"):
        weekly(world["chair"], world["north"], kind, user=world["ana"], valid_from=date(2026, 12, 5),
               valid_until=date(2026, 12, 1))
    db.session.rollback()
    assert shift_count() == 0


def test_a_user_of_another_agency_is_refused(world):
    """Cora works at South: she cannot hold a North shift (even when a chair saves it)."""
    kind = make_kind("Case management")
    with pytest.raises(ops.ShiftError, match="must be a user of that agency"):
        weekly(world["chair"], world["north"], kind, user=world["cora"])
    db.session.rollback()
    assert shift_count() == 0


@pytest.mark.parametrize("phone", ["call me", "555-CALL-NOW", "12", "", "   ", "+1 555 0100 ext 3",
                                   "1234567890123456", "555 0100; drop table", "tel:5550100"])
def test_a_phone_that_cannot_be_dialled_is_refused(world, phone):
    kind = make_kind("Case management")
    with pytest.raises(ops.ShiftError, match="phone can dial"):
        weekly(world["chair"], world["north"], kind, user=world["ana"], phone=phone)
    db.session.rollback()
    assert shift_count() == 0


@pytest.mark.parametrize("phone", ["555-0100", "+1 (555) 010-0100", "555.010.0100", "911"])
def test_a_dialable_phone_is_kept_as_typed(world, phone):
    kind = make_kind("Case management")
    shift = weekly(world["chair"], world["north"], kind, user=world["ana"], phone=f" {phone} ")
    assert db.session.get(Shift, shift.id).phone == phone


def test_an_agency_admin_saves_shifts_for_their_own_agency_only(world):
    """North's admin adds North's shifts, not South's (refused, nothing saved), and gets a 404 on South's shift;
    staff add none; the chair adds anyone's."""
    kind = make_kind("Case management")
    with pytest.raises(ops.ShiftError, match="agency whose roster you manage"):
        weekly(world["north_admin"], world["south"], kind, user=world["cora"])
    db.session.rollback()
    with pytest.raises(ops.ShiftError, match="agency whose roster you manage"):
        weekly(db.session.get(User, world["ana"].id), world["north"], kind, user=world["ana"])
    db.session.rollback()
    assert shift_count() == 0
    own = weekly(db.session.get(User, world["north_admin"].id), world["north"], kind, user=world["ana"])
    south = weekly(world["chair"], world["south"], kind, user=world["cora"])
    assert (own.agency_id, south.agency_id) == (world["north"], world["south"])
    north_admin = db.session.get(User, world["north_admin"].id)
    assert ops.get_shift_for_edit_or_404(own.id, north_admin).id == own.id
    with pytest.raises(NotFound):
        ops.get_shift_for_edit_or_404(south.id, north_admin)
    assert [a.id for a in ops.manageable_agencies(north_admin)] == [world["north"]]


def test_a_shift_held_by_a_name_only_is_allowed_and_shown(world):
    """No account, only the name callers ask for: saved and shown on call; with neither name nor user, refused."""
    kind = make_kind("Crisis response")
    with pytest.raises(ops.ShiftError, match="give the name"):
        weekly(world["chair"], world["north"], kind, name="   ")
    db.session.rollback()
    shift = weekly(world["chair"], world["north"], kind, name="Hotline desk", phone="555-0111")
    assert (shift.user_id, shift.who) == (None, "Hotline desk")
    now = answer(local(28, 10), kind)
    assert who(now.primaries) == ["Hotline desk"] and now.primaries[0].shift.phone == "555-0111"


# ----- who is on call ------------------------------------------------------------------------------------------

def test_the_primary_and_backup_on_now_until_when_and_who_comes_next(world):
    """Days: Ana primary 08–20 with Ben backup 06–22; nights: Cora primary 20–08 (South)."""
    kind = make_kind("Case management")
    chair = world["chair"]
    weekly(chair, world["north"], kind, user=world["ana"])
    weekly(chair, world["north"], kind, user=world["ben"], role="backup", starts=time(6), ends=time(22))
    weekly(chair, world["south"], kind, user=world["cora"], starts=time(20), ends=time(8))

    day = answer(local(28, 10), kind)
    assert who(day.primaries) == ["Ana Primary"] and day.primaries[0].until == local(28, 20)
    assert who(day.backups) == ["Ben Backup"] and day.backups[0].until == local(28, 22)
    assert day.next_primary.shift.who == "Cora Night" and day.next_at == local(28, 20)
    assert not day.uncovered

    night = answer(local(28, 23), kind)
    assert who(night.primaries) == ["Cora Night"] and night.primaries[0].until == local(29, 8)
    assert night.backups == []
    assert night.next_primary.shift.who == "Ana Primary" and night.next_at == local(29, 8)


def test_who_comes_next_is_the_primary_starting_soonest(world):
    """Saturday: Cora 09–10, Ana 12–14, Ben from Monday 08:00 (and Ana's backup shift, which never counts as next)."""
    kind = make_kind("Case management")
    chair = world["chair"]
    weekly(chair, world["south"], kind, user=world["cora"], days=(SATURDAY,), starts=time(9), ends=time(10))
    weekly(chair, world["north"], kind, user=world["ana"], days=(SATURDAY,), starts=time(12), ends=time(14))
    weekly(chair, world["north"], kind, user=world["ben"], days=(0,), starts=time(8), ends=time(9))
    weekly(chair, world["north"], kind, user=world["ana"], role="backup", days=(SATURDAY,), starts=time(5),
           ends=time(6))
    for at, name, start in [(local(28, 3), "Cora Night", local(28, 9)),
                            (local(28, 9, 30), "Ana Primary", local(28, 12)),
                            (local(28, 10, 30), "Ana Primary", local(28, 12)),
                            (local(28, 15), "Ben Backup", local(30, 8))]:
        now = answer(at, kind)
        assert (now.next_primary.shift.who, now.next_at, now.next_primary.until) == (name, start, start), at


def test_a_primary_on_around_the_clock_is_on_for_the_coming_week(world):
    """Every day 00:00 to 00:00: one unbroken shift, so no `until` within the horizon and nobody next."""
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, user=world["ana"], starts=time(0), ends=time(0))
    now = answer(local(28, 3), kind)
    assert who(now.primaries) == ["Ana Primary"] and now.primaries[0].until is None
    assert now.next_primary is None


def test_an_uncovered_24_7_kind_comes_first(world):
    """Crisis response (24/7, nobody) comes before Case management (covered) whatever the chairs' order; Legal
    (not 24/7, nobody) is not "uncovered"."""
    chair = world["chair"]
    covered = make_kind("Case management", position=0)
    empty = make_kind("Crisis response", position=1)
    legal = make_kind("Legal", required=False, position=2)
    weekly(chair, world["north"], covered, user=world["ana"])
    answers = ops.who_is_on_call(local(28, 10))
    assert [(a.kind.name, a.uncovered) for a in answers] == [
        ("Crisis response", True), ("Case management", False), ("Legal", False)]
    assert [a.kind.id for a in answers] == [empty.id, covered.id, legal.id]
    # At night Case management is uncovered too: both uncovered kinds first, in the chairs' order.
    assert [(a.kind.name, a.uncovered) for a in ops.who_is_on_call(local(28, 22))] == [
        ("Case management", True), ("Crisis response", True), ("Legal", False)]


def test_an_inactive_kind_is_not_shown(world):
    chair = world["chair"]
    kind = make_kind("Interpretation")
    weekly(chair, world["north"], kind, user=world["ana"])
    ops.save_kind(chair, kind, {**kind_values("Interpretation"), "active": False}, kind.version, NOW)
    assert ops.who_is_on_call(local(28, 10)) == []


def test_overlapping_primaries_are_both_shown(world):
    """Ana all day and Cora 10–12 on Saturday: both primaries, soonest to leave first; coverage names the overlap."""
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, user=world["ana"])
    weekly(world["chair"], world["south"], kind, user=world["cora"], days=(SATURDAY,), starts=time(10),
           ends=time(12))
    now = answer(local(28, 11), kind)
    assert who(now.primaries) == ["Cora Night", "Ana Primary"]
    assert [on.until for on in now.primaries] == [local(28, 12), local(28, 20)]
    [report] = ops.coverage(local(28, 0), local(29, 0))
    assert report.overlapping_primaries == [(local(28, 10), local(28, 12))]


@pytest.mark.parametrize(("at", "on", "until"), [
    (local(27, 21, 59), False, None),
    (local(27, 22), True, local(28, 6)),  # Friday night
    (local(28, 3), True, local(28, 6)),  # past midnight, into Saturday
    (local(28, 6), False, None),
    (local(28, 23), False, None),  # Saturday is not one of its days
])
def test_an_overnight_weekly_shift_runs_into_the_next_day(world, at, on, until):
    """Friday 22:00–06:00 is on from Friday evening to Saturday morning only."""
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, user=world["ana"], days=(FRIDAY,), starts=time(22), ends=time(6))
    now = answer(at, kind)
    assert who(now.primaries) == (["Ana Primary"] if on else [])
    assert [o.until for o in now.primaries] == ([until] if on else [])
    if not on:
        assert now.next_primary.shift.who == "Ana Primary"
        assert now.next_at == min(d for d in (local(27, 22), local(4, 22, month=12)) if d > at)


def test_a_one_off_cover_is_on_between_its_start_and_end_only(world):
    """Saturday 14:00–18:00, once: announced as next before, on until 18:00 during, gone after."""
    kind = make_kind("Case management")
    once(world["chair"], world["north"], kind, local(28, 14), local(28, 18), user=world["ben"])
    before = answer(local(28, 13, 59), kind)
    assert before.primaries == [] and before.uncovered
    assert before.next_primary.shift.who == "Ben Backup" and before.next_at == local(28, 14)
    during = answer(local(28, 15), kind)
    assert who(during.primaries) == ["Ben Backup"] and during.primaries[0].until == local(28, 18)
    after = answer(local(28, 18), kind)
    assert after.primaries == [] and after.next_primary is None


def test_an_exception_cancels_the_days_it_names(world):
    """Ana's daily shift with an exception on Saturday: nobody on Saturday, Ana next on Sunday at 08:00."""
    kind = make_kind("Case management")
    shift = weekly(world["chair"], world["north"], kind, user=world["ana"])
    ops.add_exception(world["chair"], shift, date(2026, 11, 28), date(2026, 11, 28), "leave", NOW)
    saturday = answer(local(28, 10), kind)
    assert saturday.primaries == [] and saturday.uncovered
    assert saturday.next_primary.shift.who == "Ana Primary" and saturday.next_at == local(29, 8)
    assert who(answer(local(27, 10), kind).primaries) == who(answer(local(29, 10), kind).primaries) == ["Ana Primary"]
    with pytest.raises(ops.ShiftError, match="last day is before"):
        ops.add_exception(world["chair"], shift, date(2026, 12, 2), date(2026, 12, 1), "", NOW)
    db.session.rollback()
    ops.remove_exception(world["chair"], db.session.get(Shift, shift.id),
                         db.session.get(Shift, shift.id).exceptions[0].id, NOW)
    assert who(answer(local(28, 10), kind).primaries) == ["Ana Primary"]


@pytest.mark.parametrize("skip_holidays", [True, False])
def test_a_shift_skips_the_task_forces_holidays_only_when_told(world, skip_holidays):
    kind = make_kind("Case management")
    db.session.add(Holiday(day=date(2026, 11, 28), name="A holiday"))
    db.session.commit()
    weekly(world["chair"], world["north"], kind, user=world["ana"], skip_holidays=skip_holidays)
    assert who(answer(local(28, 10), kind).primaries) == ([] if skip_holidays else ["Ana Primary"])
    assert who(answer(local(29, 10), kind).primaries) == ["Ana Primary"]


def test_first_and_last_days_bound_a_weekly_shift(world):
    """Ana from Sunday 29th on, Ben until Friday 27th: on Saturday neither; Ana is next."""
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, user=world["ana"], valid_from=date(2026, 11, 29))
    weekly(world["chair"], world["north"], kind, user=world["ben"], valid_until=date(2026, 11, 27))
    assert who(answer(local(27, 10), kind).primaries) == ["Ben Backup"]
    saturday = answer(local(28, 10), kind)
    assert saturday.primaries == []
    assert saturday.next_primary.shift.who == "Ana Primary" and saturday.next_at == local(29, 8)
    assert who(answer(local(29, 10), kind).primaries) == ["Ana Primary"]
    assert who(answer(local(5, 10, month=12), kind).primaries) == ["Ana Primary"]


# ----- daylight saving in Chicago --------------------------------------------------------------------------------

@pytest.mark.parametrize(("at", "on", "until"), [
    (utc(3, 8, 6, 59), False, None),  # 00:59 CST
    (utc(3, 8, 7), True, utc(3, 8, 8)),  # 01:00 CST; 03:00 CDT comes one real hour later
    (utc(3, 8, 7, 59), True, utc(3, 8, 8)),  # 01:59 CST
    (utc(3, 8, 8), False, None),  # 03:00 CDT
])
def test_a_shift_from_one_to_three_on_the_spring_forward_night(world, at, on, until):
    """On 8 March 2026 the clock jumps from 02:00 to 03:00: a 01:00–03:00 shift lasts one real hour."""
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, user=world["ana"], days=(SUNDAY,), starts=time(1), ends=time(3))
    now = answer(at, kind)
    assert who(now.primaries) == (["Ana Primary"] if on else [])
    assert [o.until for o in now.primaries] == ([until] if on else [])
    if at < utc(3, 8, 7):
        assert now.next_at == utc(3, 8, 7)


def test_a_one_off_shift_typed_in_the_skipped_hour_starts_at_the_change(world):
    """02:30 never shows on the clock on 8 March 2026: a cover typed 02:30–04:00 starts at 03:00 CDT (08:00 UTC)."""
    kind = make_kind("Case management")
    shift = once(world["chair"], world["north"], kind, local(8, 2, 30, month=3), local(8, 4, month=3),
                 user=world["ben"], role="backup")
    assert (shift.starts_at, shift.ends_at) == (utc(3, 8, 8), utc(3, 8, 9))
    assert answer(utc(3, 8, 7, 59), kind).backups == []
    now = answer(utc(3, 8, 8), kind)
    assert who(now.backups) == ["Ben Backup"] and now.backups[0].until == utc(3, 8, 9)


@pytest.mark.parametrize(("at", "on"), [
    (utc(11, 1, 5, 59), False),  # 00:59 CDT
    (utc(11, 1, 6), True),  # 01:00 CDT, the first pass
    (utc(11, 1, 6, 59), True),  # 01:59 CDT
    (utc(11, 1, 7), True),  # 01:00 CST, the hour again
    (utc(11, 1, 7, 30), True),  # 01:30 CST
    (utc(11, 1, 8, 30), True),  # 02:30 CST
    (utc(11, 1, 9), False),  # 03:00 CST
])
def test_a_shift_from_one_to_three_on_the_fall_back_night(world, at, on):
    """On 1 November 2026 01:00–02:00 happens twice: a 01:00–03:00 shift runs from the first 01:00 to 03:00 CST,
    three real hours, and stays on through the repeated hour."""
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, user=world["ana"], days=(SUNDAY,), starts=time(1), ends=time(3))
    now = answer(at, kind)
    assert who(now.primaries) == (["Ana Primary"] if on else [])
    assert [o.until for o in now.primaries] == ([utc(11, 1, 9)] if on else [])


# ----- whom an escalation reaches --------------------------------------------------------------------------------

@pytest.fixture
def responders(world):
    """Case management (answering for case management): Ana primary 08–20, Ben backup 08–22 (North)."""
    kind = make_kind("Case management", codes=("case_management",))
    primary = weekly(world["chair"], world["north"], kind, user=world["ana"])
    backup = weekly(world["chair"], world["north"], kind, user=world["ben"], role="backup", ends=time(22))
    return kind, primary.id, backup.id


def reached(at: datetime, within: timedelta, code: str = "case_management") -> list[int]:
    return [shift.id for shift in ops.escalation_responders(type_id(code), at, within)]


def test_only_the_primary_when_their_shift_lasts_past_the_window(world, responders):
    _, primary, _ = responders
    assert reached(local(28, 10), timedelta(minutes=30)) == [primary]
    assert reached(local(28, 10), timedelta(hours=9)) == [primary]


def test_the_backup_too_when_the_primarys_shift_ends_within_the_window(world, responders):
    _, primary, backup = responders
    assert reached(local(28, 19, 45), timedelta(minutes=30)) == [primary, backup]
    assert reached(local(28, 10), timedelta(hours=11)) == [primary, backup]


def test_the_backup_when_no_primary_is_on(world, responders):
    _, _, backup = responders
    assert reached(local(28, 21), timedelta(minutes=30)) == [backup]
    assert reached(local(28, 23), timedelta(minutes=30)) == []


def test_name_only_and_deactivated_holders_are_left_out(world):
    """The primaries on now are a name-only desk and Dee (deactivated), and Dee is a backup too: nobody of them can
    be notified, so Ben, the other backup, is reached, alone."""
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, name="Hotline desk")
    weekly(world["chair"], world["north"], kind, user=world["dee"])
    weekly(world["chair"], world["north"], kind, user=world["dee"], role="backup")
    ben = weekly(world["chair"], world["north"], kind, user=world["ben"], role="backup")
    assert who(answer(local(28, 10), kind).primaries) == ["Hotline desk", "Dee Departed"]  # callers still see them
    assert reached(local(28, 10), timedelta(minutes=30)) == [ben.id]


def test_a_kind_reaches_only_escalations_of_its_service_types(world, responders):
    assert reached(local(28, 10), timedelta(minutes=30), code="civil_legal") == []


# ----- coverage against a brute-force check ------------------------------------------------------------------------

GRID_TIMES = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))
AWKWARD_TIMES = st.sampled_from([time(0), time(1), time(1, 30), time(2), time(2, 30), time(3), time(23, 45)])
TIMES = GRID_TIMES | AWKWARD_TIMES
# Both daylight-saving changes of 2026 in Chicago, and an ordinary Saturday.
ANCHORS = (date(2026, 3, 8), date(2026, 11, 1), date(2026, 11, 28))


@st.composite
def rosters(draw):
    """A window of up to three days around an anchor day, and a handful of shifts of one kind at two agencies."""
    anchor = draw(st.sampled_from(ANCHORS))
    midnight = datetime.combine(anchor - timedelta(days=1), time(0), tzinfo=CHICAGO).astimezone(UTC)
    start = midnight + STEP * draw(st.integers(0, 2 * 96))
    end = start + STEP * draw(st.integers(1, 3 * 96))
    near = st.integers(-2, 3).map(lambda n: anchor + timedelta(days=n))
    specs = []
    for _ in range(draw(st.integers(1, 5))):
        spec = {"role": draw(st.sampled_from(["primary", "primary", "backup"])),
                "agency": draw(st.sampled_from(["north", "south"]))}
        if draw(st.integers(0, 4)) == 0:
            opened = start + STEP * draw(st.integers(-96, (end - start) // STEP))
            spec["once"] = (opened, opened + STEP * draw(st.integers(1, 36 * 4)))
        else:
            spec["days"] = sorted(draw(st.sets(st.integers(0, 6), min_size=1, max_size=7)))
            spec["starts"], spec["ends"] = draw(TIMES), draw(TIMES)
            spec["closed"] = draw(st.none() | st.tuples(near, st.integers(0, 1)).map(
                lambda pair: (pair[0], pair[0] + timedelta(days=pair[1]))))
            valid_from, valid_until = draw(st.none() | near), draw(st.none() | near)
            if valid_from and valid_until and valid_until < valid_from:
                valid_from, valid_until = valid_until, valid_from
            spec["valid"] = (valid_from, valid_until)
            spec["skip_holidays"] = draw(st.booleans())
        specs.append(spec)
    holidays = draw(st.sets(near, max_size=2))
    probes = draw(st.lists(st.integers(0, (end - start) // timedelta(minutes=1) - 1), min_size=3, max_size=3))
    return start, end, specs, holidays, probes


def reference_schedule(spec: dict, holidays: set[date]) -> engine.Schedule:
    """The shift as the engine's data, built from the drawn values (not from the stored row)."""
    if "once" in spec:
        return engine.Schedule(once=[spec["once"]])
    valid_from, valid_until = spec["valid"]
    return engine.Schedule(
        weekly=[engine.WeeklySpan(day, spec["starts"], spec["ends"]) for day in spec["days"]],
        closures=[engine.DateRange(*spec["closed"])] if spec["closed"] else [],
        holidays=holidays, closed_on_holidays=spec["skip_holidays"],
        valid=engine.DateRange(valid_from or date.min, valid_until or date.max) if valid_from or valid_until else None,
    )


def brute_force_gaps(schedules: list[engine.Schedule], start: datetime, end: datetime):
    """Walk the window in 15-minute steps (every boundary lies on that grid) asking `is_open`; merge the steps
    where no schedule is open."""
    found: list[tuple[datetime, datetime]] = []
    at = start
    while at < end:
        if not any(engine.is_open(schedule, at, CHICAGO) for schedule in schedules):
            if found and found[-1][1] == at:
                found[-1] = (found[-1][0], at + STEP)
            else:
                found.append((at, at + STEP))
        at += STEP
    return found


def store(spec: dict, kind_id: int, agency_id: int, user_id: int) -> None:
    """The drawn shift as a row (with its exception), in the open transaction."""
    shift = Shift(agency_id=agency_id, kind_id=kind_id, user_id=user_id, phone="555-0100", role=spec["role"],
                  created_at=NOW, updated_at=NOW)
    if "once" in spec:
        shift.pattern, (shift.starts_at, shift.ends_at) = "once", spec["once"]
    else:
        shift.pattern, shift.weekdays = "weekly", " ".join(str(day) for day in spec["days"])
        shift.starts, shift.ends, shift.skip_holidays = spec["starts"], spec["ends"], spec["skip_holidays"]
        shift.valid_from, shift.valid_until = spec["valid"]
        if spec["closed"]:
            shift.exceptions = [ShiftException(start_date=spec["closed"][0], end_date=spec["closed"][1])]
    db.session.add(shift)


@pytest.fixture
def coverage_world(world):
    """The kind under test, and a decoy: another 24/7 kind covered around the clock, which must not count."""
    kind = make_kind("Case management")
    decoy = make_kind("Decoy response", codes=("civil_legal",))
    weekly(world["chair"], world["south"], decoy, user=world["cora"], starts=time(0), ends=time(0))
    weekly(world["chair"], world["south"], decoy, user=world["cora"], role="backup", starts=time(0), ends=time(0))
    return {"kind": kind.id, "north": (world["north"], world["ana"].id), "south": (world["south"], world["cora"].id)}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=rosters())
def test_coverage_equals_a_brute_force_check(coverage_world, case):
    """no_primary and no_backup of a 24/7 kind, for the whole roster and for one agency, equal the 15-minute walk
    over the drawn shifts (exceptions, holidays, first and last days, one-offs, both Chicago changes), and agree
    with `is_open` at sampled minutes."""
    start, end, specs, holidays, probes = case
    try:
        for day in holidays:
            db.session.add(Holiday(day=day, name="Drawn holiday"))
        for spec in specs:
            store(spec, coverage_world["kind"], *coverage_world[spec["agency"]])
        db.session.flush()
        for agency in (None, "north"):
            agency_id = coverage_world["north"][0] if agency else None
            own = [spec for spec in specs if agency is None or spec["agency"] == agency]
            primaries = [reference_schedule(spec, holidays) for spec in own if spec["role"] == "primary"]
            backups = [reference_schedule(spec, holidays) for spec in own if spec["role"] == "backup"]
            [report] = [item for item in ops.coverage(start, end, agency_id)
                        if item.kind.id == coverage_world["kind"]]
            assert report.no_primary == brute_force_gaps(primaries, start, end)
            assert report.no_backup == brute_force_gaps(backups, start, end)
            for minutes in probes:
                at = start + timedelta(minutes=minutes)
                uncovered = not any(engine.is_open(schedule, at, CHICAGO) for schedule in primaries)
                assert any(s <= at < e for s, e in report.no_primary) == uncovered
    finally:
        db.session.rollback()


def test_coverage_of_one_agency_counts_only_its_shifts(world):
    """North covers days, South nights: together no gap; North alone leaves the nights, South alone the days."""
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, user=world["ana"])
    weekly(world["chair"], world["south"], kind, user=world["cora"], starts=time(20), ends=time(8))
    start, end = local(28, 0), local(30, 0)
    [everyone] = ops.coverage(start, end)
    [north] = ops.coverage(start, end, world["north"])
    [south] = ops.coverage(start, end, world["south"])
    assert everyone.no_primary == []
    assert north.no_primary == [(local(28, 0), local(28, 8)), (local(28, 20), local(29, 8)), (local(29, 20), end)]
    assert south.no_primary == [(local(28, 8), local(28, 20)), (local(29, 8), local(29, 20))]
    assert everyone.no_backup == [(start, end)]


def test_coverage_flags_shifts_nobody_can_be_notified_on(world):
    """A name-only shift and a deactivated user's shift are flagged (and still cover); Ana's is not."""
    kind = make_kind("Case management")
    named = weekly(world["chair"], world["north"], kind, name="Hotline desk", starts=time(0), ends=time(12))
    gone = weekly(world["chair"], world["north"], kind, user=world["dee"], starts=time(12), ends=time(0))
    weekly(world["chair"], world["north"], kind, user=world["ana"], role="backup")
    [report] = ops.coverage(local(28, 0), local(29, 0))
    assert report.no_primary == []
    assert [(shift.id, why) for shift, why in report.flagged] == [
        (named.id, "A name only: nobody is notified of escalations on this shift."),
        (gone.id, "Dee Departed's account is deactivated."),
    ]


def test_coverage_lists_24_7_kinds_only(world):
    make_kind("Legal", required=False)
    crisis = make_kind("Crisis response")
    [report] = ops.coverage(local(28, 0), local(29, 0))
    assert report.kind.id == crisis.id and report.no_primary == [(local(28, 0), local(29, 0))]


# ----- the next gap and the roster by day --------------------------------------------------------------------------

def test_the_next_gap_is_the_first_hole_of_any_24_7_kind(world):
    """Case management lacks a primary Tuesday 02:00–05:00, Crisis response Thursday 12:00–13:00: Tuesday's comes
    first; Legal (not 24/7, nobody) never counts; once Tuesday is covered, Thursday's is next; then none."""
    chair = world["chair"]
    case = make_kind("Case management")
    crisis = make_kind("Crisis response")
    make_kind("Legal", required=False)
    weekly(chair, world["north"], case, user=world["ana"], starts=time(5), ends=time(2))
    weekly(chair, world["north"], case, user=world["ana"], days=(0, 2, 3, 4, 5, 6), starts=time(2), ends=time(5))
    weekly(chair, world["south"], crisis, user=world["cora"], starts=time(13), ends=time(12))
    weekly(chair, world["south"], crisis, user=world["cora"], days=(0, 1, 2, 4, 5, 6), starts=time(12),
           ends=time(13))
    assert ops.next_gap(local(28, 10)) == (db.session.get(ResponseKind, case.id), local(1, 2, month=12),
                                           local(1, 5, month=12))
    once(chair, world["north"], case, local(1, 2, month=12), local(1, 5, month=12), user=world["ben"])
    assert ops.next_gap(local(28, 10)) == (db.session.get(ResponseKind, crisis.id), local(3, 12, month=12),
                                           local(3, 13, month=12))
    once(chair, world["south"], crisis, local(3, 11, month=12), local(3, 14, month=12), name="Cover desk")
    assert ops.next_gap(local(28, 10), days=7) is None


def test_the_roster_by_day_cuts_overnight_shifts_at_local_midnight(world):
    """Friday 27th: Ana 08–20 primary, Ben 20–08 backup; the card lists each local day's pieces, primaries first."""
    chair = world["chair"]
    kind = make_kind("Case management")
    empty = make_kind("Crisis response", position=1)
    weekly(chair, world["north"], kind, user=world["ana"], days=(FRIDAY,))
    weekly(chair, world["north"], kind, user=world["ben"], role="backup", days=(FRIDAY,), starts=time(20),
           ends=time(8))
    [(first_kind, days), (second_kind, empty_days)] = ops.roster_by_day(date(2026, 11, 27), 3)
    assert (first_kind.id, second_kind.id) == (kind.id, empty.id)
    assert [row.day for row in days] == [date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 29)]
    pieces = [[(s, e, shift.who) for s, e, shift in row.pieces] for row in days]
    assert pieces == [
        [(local(27, 8), local(27, 20), "Ana Primary"), (local(27, 20), local(28, 0), "Ben Backup")],
        [(local(28, 0), local(28, 8), "Ben Backup")],
        [],
    ]
    assert [row.pieces for row in empty_days] == [[], [], []]


def test_the_roster_by_day_on_the_fall_back_day_has_25_hours(world):
    kind = make_kind("Case management")
    weekly(world["chair"], world["north"], kind, user=world["ana"], starts=time(0), ends=time(0))
    [(_, days)] = ops.roster_by_day(date(2026, 11, 1), 1)
    [(start, end, _)] = days[0].pieces
    assert (start, end) == (utc(11, 1, 5), utc(11, 2, 6)) and end - start == timedelta(hours=25)


# ----- escalation reaches the person on call (csrn/referrals/operations.py) -------------------------------------

@pytest.fixture
def network(ctx):
    """Providers A and B (receivable); a sending police department with a phone; a chair; Case management on call
    (answering for case management); emergency offers due in 20 minutes."""
    use_settings(emergency_minutes=20)
    a, b = make_provider("Provider A"), make_provider("Provider B")
    author = make_sender(name="Alder Police")
    author.agency.phone = "555-0142"
    chair = make_chair()
    kind = make_kind("Case management", codes=("case_management",))
    db.session.commit()
    return {"A": a, "B": b, "author": author, "chair": chair, "kind": kind}


def on_call_everywhere(network, agency_id: int, name: str, role: str = "primary", **values) -> User:
    """A staff member (not a receiver) of the agency, on call around the clock."""
    user = person(agency_id, name)
    weekly(network["chair"], agency_id, network["kind"], user=user, role=role, starts=time(0), ends=time(0),
           **values)
    return user


def sent(network, urgency: str = "routine", **answers):
    """A referral with identifying details (the sentinels) offered to A, with B as its backup."""
    return send_intake(network["author"], NOW, receiver=network["A"].agency_id, backups=[network["B"].agency_id],
                       urgency=urgency, **consent_answers(), **answers)


def assert_reached(referral_id: int, user: User, why: str, role: str = "primary") -> None:
    """The person on call was told (in the app and by mail, without client details), may open the referral, and the
    timeline says so."""
    [notice] = notifications_of(user.id)
    assert notice.text == f"On call for case management: referral #{referral_id} escalated ({why})"
    assert notice.link == f"/referrals/{referral_id}"
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == user.email)).all()
    assert len(mails) == 1
    for text in (notice.text, mails[0].subject, mails[0].body):
        assert not any(sentinel in text for sentinel in SENTINELS)
    contacts = db.session.scalars(select(ReferralContact).where(ReferralContact.referral_id == referral_id,
                                                                ReferralContact.user_id == user.id)).all()
    assert [c.reason for c in contacts] == [f"On call ({role}) for Case management"]
    events = [e for e in events_of(referral_id, "oncall_notified") if user.name in e.detail]
    assert {e.agency_id for e in events} == {user.agency_id}
    assert [e.detail for e in events] == [
        f"On call: {user.name} ({user.agency.name}), {role} for case management, notified"]
    assert referral_ops.relation(referral(referral_id), db.session.get(User, user.id)) == "oncall"


def test_an_expired_offer_goes_to_the_on_call_agency_with_the_emergency_deadline(network):
    """A routine referral unanswered by A: the on-call person's agency (a provider that can receive it and was not
    offered it) is offered it next, due in the emergency 20 minutes, ahead of B; the person on call is reached."""
    responder = make_provider("On-call Agency", staff=True)
    oncall = db.session.get(User, responder.staff_id)
    oncall.name = "Olive Oncall"
    weekly(network["chair"], responder.agency_id, network["kind"], user=oncall, starts=time(0), ends=time(0))
    r = sent(network)
    due = offers_of(r.id)[0].deadline_at
    assert due - NOW > timedelta(days=1)  # routine: business hours
    referral_ops.escalation_pass(due)
    offers = offers_of(r.id)
    assert [(o.agency_id, o.state) for o in offers] == [(network["A"].agency_id, "expired"),
                                                         (responder.agency_id, "pending")]
    assert offers[1].deadline_at == due + timedelta(minutes=20)
    assert referral(r.id).state == "offered"
    assert events_of(r.id, "offered")[-1].detail == "Offered to On-call Agency (on call)"
    assert_reached(r.id, oncall, "no answer from Provider A")
    inbox = [n.text for n in notifications_of(responder.case_manager_ids[0])]
    assert inbox == ["New routine referral offer for case management"]
    # Their agency accepts: the person on call no longer sees the case (who took the person in is not theirs to know).
    referral_ops.accept(responder.case_manager, referral(r.id), due + timedelta(minutes=5))
    assert referral_ops.relation(referral(r.id), db.session.get(User, oncall.id)) is None


def test_a_decline_reaches_the_on_call_person_and_the_next_candidate_when_their_agency_cannot_receive(network):
    """The person on call works for a police department (it cannot receive case management): reached all the same,
    and the referral goes to B, the next candidate, with the ordinary routine deadline."""
    oncall = on_call_everywhere(network, make_sender(name="County Sheriff").agency_id, "Otto Sheriff")
    r = sent(network)
    declined_at = NOW + timedelta(minutes=5)
    referral_ops.decline(network["A"].case_manager, referral(r.id), "no_capacity", "", declined_at)
    offers = offers_of(r.id)
    assert [(o.agency_id, o.state) for o in offers] == [(network["A"].agency_id, "declined"),
                                                         (network["B"].agency_id, "pending")]
    assert offers[1].deadline_at == referral_ops.offer_deadline("routine", declined_at)
    assert events_of(r.id, "offered")[-1].detail == "Offered to Provider B"
    assert_reached(r.id, oncall, "declined by Provider A")


def test_the_on_call_agency_already_offered_is_not_offered_again(network):
    """The person on call works at A, whose offer expired: reached, and B is offered next as before."""
    oncall = on_call_everywhere(network, network["A"].agency_id, "Ada Provider")
    r = sent(network)
    due = offers_of(r.id)[0].deadline_at
    referral_ops.escalation_pass(due)
    offers = offers_of(r.id)
    assert [(o.agency_id, o.state) for o in offers] == [(network["A"].agency_id, "expired"),
                                                         (network["B"].agency_id, "pending")]
    assert offers[1].deadline_at == referral_ops.offer_deadline("routine", due)
    assert_reached(r.id, oncall, "no answer from Provider A")


def test_a_referral_nobody_matches_reaches_the_person_on_call(ctx):
    """No provider at all: the referral waits in the committee queue, and the person on call is reached at once."""
    use_settings()
    chair = make_chair()
    network = {"chair": chair, "kind": make_kind("Case management", codes=("case_management",))}
    oncall = on_call_everywhere(network, make_sender(name="County Sheriff").agency_id, "Otto Sheriff")
    author = make_sender(name="Alder Police")
    r = send_intake(author, NOW, **consent_answers())
    assert referral(r.id).state == "unassigned" and offers_of(r.id) == []
    assert_reached(r.id, oncall, "No provider matched.")


@pytest.mark.parametrize(("urgency", "primary_leaves", "backup_reached"), [
    ("emergency", 10, True), ("emergency", 60, False), ("routine", 10, True), ("routine", 60, False)])
def test_the_backup_is_reached_when_the_primary_leaves_before_an_emergency_deadline(network, urgency, primary_leaves,
                                                                                    backup_reached):
    """When the offer expires, the primary's cover ends 10 minutes later (within the 20-minute emergency deadline the
    on-call agency would get: the backup is reached too) or an hour later (the primary alone, even for a routine
    referral whose own deadline is days long)."""
    r = sent(network, urgency=urgency)
    due = offers_of(r.id)[0].deadline_at
    sheriff = make_sender(name="County Sheriff").agency_id
    primary = person(sheriff, "Pat Primary")
    once(network["chair"], sheriff, network["kind"], (due - timedelta(hours=1)).astimezone(CHICAGO),
         (due + timedelta(minutes=primary_leaves)).astimezone(CHICAGO), user=primary)
    backup = on_call_everywhere(network, sheriff, "Bo Backup", role="backup")
    referral_ops.escalation_pass(due)
    assert_reached(r.id, primary, "no answer from Provider A")
    if backup_reached:
        assert_reached(r.id, backup, "no answer from Provider A", role="backup")
    else:
        assert notifications_of(backup.id) == []
        assert db.session.scalar(select(ReferralContact.id).where(ReferralContact.user_id == backup.id)) is None


@pytest.mark.parametrize("why", ["left for another agency", "agency suspended"])
def test_a_shift_whose_person_left_or_whose_agency_is_suspended_reaches_nobody(network, why):
    """Otto is still on the roster, but moved to another agency (or the sheriff's office is suspended): he is not
    told, and the referral goes on to B."""
    sheriff = make_sender(name="County Sheriff").agency
    oncall = on_call_everywhere(network, sheriff.id, "Otto Sheriff")
    if why == "left for another agency":
        oncall.agency_id = new_agency("Elsewhere").id
    else:
        sheriff.membership_status = "suspended"
    db.session.commit()
    r = sent(network)
    referral_ops.escalation_pass(offers_of(r.id)[0].deadline_at)
    assert notifications_of(oncall.id) == [] and events_of(r.id, "oncall_notified") == []
    assert referral_ops.relation(referral(r.id), db.session.get(User, oncall.id)) is None
    assert [o.agency_id for o in offers_of(r.id)] == [network["A"].agency_id, network["B"].agency_id]


def test_a_name_only_shift_is_not_notified_and_its_agency_not_offered(network):
    """The on-call shift is held by a name only at a provider that could receive: nobody there is notified or
    offered; the referral goes to B."""
    responder = make_provider("Desk Agency")
    weekly(network["chair"], responder.agency_id, network["kind"], name="Night desk", starts=time(0), ends=time(0))
    r = sent(network)
    referral_ops.escalation_pass(offers_of(r.id)[0].deadline_at)
    assert [o.agency_id for o in offers_of(r.id)] == [network["A"].agency_id, network["B"].agency_id]
    assert events_of(r.id, "oncall_notified") == []
    assert db.session.scalar(select(func.count()).select_from(ReferralContact)) == 0
    assert notifications_of(responder.case_manager_ids[0]) == []


def test_the_person_on_call_opens_the_summary_and_the_senders_phone(app):
    """Reached as the person on call (a staff member, not a receiver): the referral opens, with the sender's phone to
    call and nothing identifying (the alias and every other sentinel absent); it is listed among their referrals."""
    with app.app_context():
        use_settings()
        chair = make_chair()
        network = {"chair": chair, "kind": make_kind("Case management", codes=("case_management",))}
        provider = make_provider("Provider A")
        oncall = on_call_everywhere(network, make_sender(name="County Sheriff").agency_id, "Otto Sheriff")
        author = make_sender(name="Alder Police")
        author.agency.phone = "555-0142"
        db.session.commit()
        r = send_intake(author, NOW, receiver=provider.agency_id, **consent_answers(with_=("receiver", "chairs")))
        referral_ops.decline(provider.case_manager, referral(r.id), "no_capacity", "", NOW + timedelta(minutes=1))
        referral_id, email = r.id, oncall.email
        db.session.remove()
    browser = Browser(app.test_client())
    browser.login(email)
    page = browser.get(f"/referrals/{referral_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "You were reached as the person on call" in html
    assert 'href="tel:555-0142"' in html and "Call Alder Police: 555-0142" in html
    assert ALIAS not in html
    assert not any(sentinel in html for sentinel in SENTINELS)
    assert "Provider A" not in html  # nor who was offered it
    assert f"/referrals/{referral_id}" in browser.get("/referrals/").get_data(as_text=True)
    outsider = Browser(app.test_client())
    with app.app_context():
        stranger = make_sender(name="Another Police").email
        db.session.remove()
    outsider.login(stranger)
    assert outsider.get(f"/referrals/{referral_id}").status_code == 404


def test_notifications_of_the_person_on_call_never_name_the_client(network):
    """Every notification and mail written by an escalation with the person on call is free of client details."""
    on_call_everywhere(network, make_sender(name="County Sheriff").agency_id, "Otto Sheriff")
    r = sent(network)
    referral_ops.escalation_pass(offers_of(r.id)[0].deadline_at)
    texts = db.session.scalars(select(Notification.text)).all()
    mails = db.session.execute(select(OutboxMessage.subject, OutboxMessage.body)).all()
    assert texts and mails
    for text in [*texts, *(part for mail in mails for part in mail)]:
        assert not any(sentinel in text for sentinel in SENTINELS), text

"""The demo roster: 24/7 crisis response and case management by three agencies in rotation (an overnight and a
weekend shift among them), backups for most hours, and one deliberate gap of a few hours in the coming week."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from csrn.agencies.models import Agency
from csrn.auth.models import User
from csrn.directory.models import ServiceType
from csrn.extensions import db
from csrn.oncall import operations as ops
from csrn.oncall.models import ResponseKind, Shift, ShiftException

WEEKDAYS, EVERY_DAY = "0 1 2 3 4", "0 1 2 3 4 5 6"
KINDS = [
    ("Crisis response", "Meets officers and survivors in person or by phone, at any hour.", True,
     ["safety_planning", "emergency_shelter"]),
    ("Case management", "Takes an escalated case-management referral when its offers go unanswered.", True,
     ["case_management"]),
    ("Interpretation", "An interpreter by phone for the first contact.", False, ["interpretation"]),
]
# (kind, agency, user e-mail or None, display name, phone, role, weekdays, starts, ends)
SHIFTS = [
    ("Crisis response", "Safe Harbor Advocacy Center", "agencyadmin@demo.example", "", "+1 555 0100 2001", "primary",
     WEEKDAYS, time(8), time(20)),
    ("Crisis response", "New Dawn Survivor Services", "newdawn.admin@demo.example", "", "+1 555 0101 2002", "primary",
     WEEKDAYS, time(20), time(8)),
    ("Crisis response", "Midstate Anti-Trafficking Hotline", "hotline@demo.example", "", "+1 555 0102 2003",
     "primary", "5 6", time(8), time(8)),
    ("Crisis response", "Midstate Anti-Trafficking Hotline", None, "Hotline duty desk", "+1 555 0102 2000", "backup",
     WEEKDAYS, time(8), time(20)),
    ("Crisis response", "Safe Harbor Advocacy Center", "casemanager@demo.example", "", "+1 555 0100 2004", "backup",
     WEEKDAYS, time(20), time(8)),
    ("Case management", "Safe Harbor Advocacy Center", "casemanager@demo.example", "", "+1 555 0100 2004", "primary",
     WEEKDAYS, time(9), time(17)),
    ("Case management", "New Dawn Survivor Services", "newdawn.cm@demo.example", "", "+1 555 0101 2005", "primary",
     EVERY_DAY, time(17), time(9)),
    ("Case management", "Bridges Youth Shelter", "shelter@demo.example", "", "+1 555 0103 2006", "primary",
     "5 6", time(9), time(17)),
    ("Case management", "New Dawn Survivor Services", "chair@demo.example", "", "+1 555 0101 2007", "backup",
     EVERY_DAY, time(9), time(17)),
    ("Case management", "Open Door Women's Shelter", "opendoor@demo.example", "", "+1 555 0105 2009", "backup",
     EVERY_DAY, time(17), time(9)),
    ("Crisis response", "Bridges Youth Shelter", "shelter@demo.example", "", "+1 555 0103 2006", "backup",
     "5 6", time(8), time(8)),
    ("Interpretation", "Language Bridge Interpreters", "interpreters@demo.example", "", "+1 555 0104 2008",
     "primary", WEEKDAYS, time(8), time(18)),
]


def _gap_day(today: date) -> date:
    """A weekday two to four days ahead, where the deliberate gap goes."""
    day = today + timedelta(days=2)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


def seed_oncall(now: datetime) -> None:
    """Kinds, the rotation and the gap: Safe Harbor's crisis day shift is off on one weekday, covered by a one-off
    shift until 16:00, so nobody is primary from 16:00 to 20:00 that day (the coverage check finds it)."""
    agencies = {a.name: a for a in db.session.scalars(select(Agency))}
    types = {t.code: t for t in db.session.scalars(select(ServiceType))}
    kinds = {}
    for position, (name, description, required, codes) in enumerate(KINDS):
        kinds[name] = ResponseKind(name=name, description=description, required_24_7=required, position=position,
                                   service_types=[types[code] for code in codes if code in types],
                                   created_at=now, updated_at=now)
        db.session.add(kinds[name])
    db.session.flush()
    shifts = []
    for kind, agency, email, display, phone, role, days, starts, ends in SHIFTS:
        user = db.session.scalar(User.by_email(email)) if email else None
        shift = Shift(agency_id=agencies[agency].id, kind_id=kinds[kind].id, user_id=user.id if user else None,
                      display_name=display, phone=phone, role=role, pattern="weekly", weekdays=days, starts=starts,
                      ends=ends, created_at=now, updated_at=now)
        db.session.add(shift)
        shifts.append(shift)
    db.session.flush()
    gap = _gap_day(ops.local_today(now))
    day_shift = shifts[0]
    db.session.add(ShiftException(shift_id=day_shift.id, start_date=gap, end_date=gap, note="Training day"))
    cover = db.session.scalar(User.by_email("casemanager@demo.example"))
    db.session.add(Shift(agency_id=day_shift.agency_id, kind_id=day_shift.kind_id, user_id=cover.id if cover else None,
                         display_name="Safe Harbor front desk", phone="+1 555 0100 2000", role="primary",
                         pattern="once", starts_at=ops.local_instant(gap, time(8)),
                         ends_at=ops.local_instant(gap, time(16)), note="Cover for the training day",
                         created_at=now, updated_at=now))
    db.session.commit()

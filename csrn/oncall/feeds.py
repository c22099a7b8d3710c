"""iCalendar feeds of the roster (RFC 5545): "my shifts" and "our agency's roster", by long-lived token.

A feed is a bearer URL that outside calendar services poll: it carries shifts, names and phone numbers of the
people on call, never client data.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from icalendar import Calendar, Event

from csrn.oncall import operations as ops
from csrn.oncall.models import SHIFT_ROLES, Shift
from csrn.schedules import engine
from csrn.schedules import operations as schedule_ops
from csrn.security import one_line
from csrn.settings.operations import get_settings, task_force_zone

PURPOSES = {"oncall-mine": "My shifts", "oncall-agency": "Our agency's roster"}
PAST, FUTURE = timedelta(days=7), timedelta(weeks=8)


def feed_shifts(token, now: datetime) -> list[Shift]:
    """The shifts a token's feed covers: the user's own, or the whole roster of the user's agency."""
    shifts = ops.shifts_between(now - PAST, now + FUTURE, agency_id=token.user.agency_id)
    if token.purpose == "oncall-mine":
        return [shift for shift in shifts if shift.user_id == token.user_id]
    return shifts


def calendar(token, now: datetime) -> bytes:
    """The feed as iCalendar text: one event per occurrence, a stable UID each, local times with VTIMEZONE."""
    zone, holidays = task_force_zone(), schedule_ops.holiday_set()
    start, end = now - PAST, now + FUTURE
    cal = Calendar()
    cal.add("prodid", "-//CSRN//On-call roster//EN")
    cal.add("version", "2.0")
    # One line: icalendar escapes line breaks in SUMMARY and DESCRIPTION, not in an X- property.
    cal.add("x-wr-calname", one_line(f"{get_settings().name}: {PURPOSES[token.purpose].lower()}"))
    cal.add("x-wr-timezone", zone.key)
    for shift in feed_shifts(token, now):
        # One event per occurrence of the shift (an overnight shift is one event, a week of 24-hour days seven):
        # its start does not move with the window, so neither does its UID from one poll to the next.
        for opened, closed in engine.occurrences(ops.schedule_of(shift, holidays), start, end, zone):
            event = Event()
            event.add("uid", f"csrn-shift-{shift.id}-{opened:%Y%m%dT%H%M%SZ}@{_host()}")
            event.add("dtstamp", shift.updated_at)
            event.add("dtstart", opened.astimezone(zone))
            event.add("dtend", closed.astimezone(zone))
            event.add("summary", f"On call, {SHIFT_ROLES[shift.role].lower()}: {shift.kind.name} — {shift.who}")
            event.add("description", f"{shift.agency.name}. Phone on this shift: {shift.phone}."
                                     + (f" {shift.note}" if shift.note else ""))
            cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def _host() -> str:
    """The host part of the task force's address, for UIDs unique to this installation."""
    return current_app.config["CSRN_BASE_URL"].split("//", 1)[-1].split("/", 1)[0] or "csrn"

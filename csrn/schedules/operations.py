"""Holidays and the bridge from stored rules to the engine."""

from __future__ import annotations

from datetime import date, datetime

from flask import abort, g, has_request_context
from sqlalchemy import select

from csrn.audit import operations as audit
from csrn.extensions import db
from csrn.schedules import engine
from csrn.schedules.models import Holiday, ScheduleRule


def holiday_set() -> frozenset[date]:
    """The task force's holidays (read once per request: a page asks for them once per service it shows)."""
    if not has_request_context():
        return frozenset(db.session.scalars(_HOLIDAY_DAYS))
    if "csrn_holidays" not in g:
        g.csrn_holidays = frozenset(db.session.scalars(_HOLIDAY_DAYS))
    return g.csrn_holidays


# Built once (every page with opening hours asks): building and keying a statement costs more than answering it.
_HOLIDAY_DAYS = select(Holiday.day)


def _forget_holidays() -> None:
    if has_request_context():
        g.pop("csrn_holidays", None)


def holidays() -> list[Holiday]:
    """The holiday list in date order."""
    return db.session.scalars(select(Holiday).order_by(Holiday.day)).all()


def add_holiday(actor, day: date, name: str, now: datetime) -> Holiday:
    """Add a holiday (chairs and administrators)."""
    if db.session.scalar(select(Holiday).where(Holiday.day == day)) is not None:
        raise ValueError("That day is already a holiday.")
    holiday = Holiday(day=day, name=name.strip())
    db.session.add(holiday)
    db.session.flush()
    _forget_holidays()
    audit.record(actor, "schedules.holiday_added", holiday, fields=["day", "name"], now=now)
    db.session.commit()
    return holiday


def get_holiday_or_404(holiday_id: int) -> Holiday:
    """A holiday by id, or 404."""
    holiday = db.session.get(Holiday, holiday_id)
    if holiday is None:
        abort(404)
    return holiday


def remove_holiday(actor, holiday: Holiday, now: datetime) -> None:
    """Remove a holiday."""
    audit.record(actor, "schedules.holiday_removed", holiday, fields=["day"], now=now)
    db.session.delete(holiday)
    db.session.commit()
    _forget_holidays()


def schedule_from_rules(rules: list[ScheduleRule], always: bool, closed_on_holidays: bool,
                        holiday_days: set[date]) -> engine.Schedule:
    """Build the engine's schedule from stored rules."""
    return engine.Schedule(
        always=always,
        weekly=[engine.WeeklySpan(r.weekday, r.opens, r.closes) for r in rules if r.kind == "weekly"],
        closures=[engine.DateRange(r.start_date, r.end_date) for r in rules if r.kind == "closed"],
        holidays=holiday_days,
        closed_on_holidays=closed_on_holidays,
    )

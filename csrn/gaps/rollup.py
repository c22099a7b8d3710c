"""The `daily` roll-up of the demand report: every local day that is over, counted once into `demand_count` (per
day, and per month once the month is over) and its acceptances copied into `acceptance_time`, so that a report over a
year adds up a few thousand rows instead of reading a year of records. The report reads the records themselves for
the days the roll-up has not reached (`demand.split`), so a roll-up that never ran, or fell behind, is never wrong.

Every counted record is written at the moment it happens (an intake's needs at submission, an escalation, an
answer) and never moves to another day afterwards, which is what makes a day that is over safe to count once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, literal, select

from csrn.agencies.operations import local_date
from csrn.extensions import db
from csrn.gaps import demand
from csrn.gaps.models import AcceptanceTime, DemandCount, RollupMark
from csrn.intake.models import Intake
from csrn.referrals.models import Offer, Referral, ReferralEvent
from csrn.settings.operations import task_force_zone


def _first_day() -> date | None:
    """The first local day any counted record falls on (None: there are none yet)."""
    firsts = [db.session.scalar(select(func.min(Intake.created_at)).where(Intake.is_drill.is_(False))),
              db.session.scalar(select(func.min(ReferralEvent.at))),
              db.session.scalar(select(func.min(Offer.answered_at)))]
    firsts = [first for first in firsts if first is not None]
    return local_date(min(firsts)) if firsts else None


def _chunks(first: date, last: date):
    """The days first…last cut at month ends: one period per month."""
    while first <= last:
        end = min(demand.month_end(first), last)
        yield demand.Period(first, end)
        first = end + timedelta(days=1)


def _roll_chunk(chunk: demand.Period) -> int:
    days = [chunk.first + timedelta(days=n) for n in range((chunk.last - chunk.first).days + 1)]
    found = demand.raw_counts(chunk, days[1:])
    rows = [{"grain": "day", "start": days[index], "measure": measure, "service_type_id": type_id or 0,
             "dimension": dimension, "value": value, "count": n}
            for (measure, type_id, dimension, value, index), n in found.items() if n]
    if rows:
        db.session.execute(insert(DemandCount), rows)
    zone = task_force_zone()
    accepted = db.session.execute(
        select(Offer.id, Offer.answered_at, Referral.service_type_id, Offer.agency_id, demand.minutes_taken())
        .join(Referral, Referral.id == Offer.referral_id)
        .where(Offer.state == "accepted", Referral.is_drill.is_(False), Offer.answered_at >= chunk.start,
               Offer.answered_at < chunk.end)).tuples().all()
    if accepted:
        db.session.execute(insert(AcceptanceTime), [
            {"offer_id": offer_id, "day": answered.astimezone(zone).date(), "service_type_id": type_id or 0,
             "agency_id": agency_id, "minutes": float(minutes)}
            for offer_id, answered, type_id, agency_id, minutes in accepted])
    month = chunk.first.replace(day=1)
    if chunk.last == demand.month_end(month):  # the month is over: its month rows, added up from its day rows
        db.session.execute(insert(DemandCount).from_select(
            ["grain", "start", "measure", "service_type_id", "dimension", "value", "count"],
            select(literal("month"), literal(month), DemandCount.measure, DemandCount.service_type_id,
                   DemandCount.dimension, DemandCount.value, func.sum(DemandCount.count))
            .where(DemandCount.grain == "day", DemandCount.start >= month, DemandCount.start <= chunk.last)
            .group_by(DemandCount.measure, DemandCount.service_type_id, DemandCount.dimension,
                      DemandCount.value)))
    return len(rows)


def roll_up(now: datetime) -> str:
    """The `daily` job: count every day from the last rolled up to yesterday (local), a month per transaction; the
    mark moves with each month, so an interrupted run carries on where it stopped."""
    yesterday = local_date(now) - timedelta(days=1)
    mark = db.session.get(RollupMark, 1)
    first = mark.through + timedelta(days=1) if mark is not None else _first_day()
    if first is None:
        first = yesterday + timedelta(days=1)
    rolled = written = 0
    for chunk in _chunks(first, yesterday):
        written += _roll_chunk(chunk)
        if mark is None:
            mark = RollupMark(id=1, through=chunk.last)
            db.session.add(mark)
        mark.through = chunk.last
        db.session.commit()
        rolled += (chunk.last - chunk.first).days + 1
    if mark is None and first > yesterday:  # nothing recorded yet: start counting from today
        db.session.add(RollupMark(id=1, through=yesterday))
        db.session.commit()
    return f"{rolled} day(s) of demand rolled up ({written} count(s)), through {yesterday.isoformat()}"

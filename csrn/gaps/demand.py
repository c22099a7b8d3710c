"""Demand against supply over a period (chairs and administrators): what intakes asked for, what nobody could meet,
declines by reason, escalations, the committee queue, and how long acceptance took — all by grouped SQL, every count
through the one rule of small numbers (`suppression.protect`), drills never counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import g
from sqlalchemy import Integer, case, cast, func, literal, select

from csrn.agencies.models import Agency
from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, TRAFFICKING
from csrn.directory import operations as directory_ops
from csrn.directory.models import ServiceType
from csrn.extensions import db
from csrn.gaps.suppression import Protected, Shown, enough_for_statistics, protect, protect_list
from csrn.intake.models import Intake, IntakeNeed, UnmetNeed
from csrn.referrals.models import DECLINE_REASONS, Offer, Referral, ReferralEvent
from csrn.settings.operations import task_force_zone

DEFAULT_PERIOD = timedelta(days=365)


@dataclass(frozen=True)
class Period:
    """A span of local days, first and last included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=task_force_zone())

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=task_force_zone())

    def months(self) -> list[date]:
        """The first day of every month the period touches."""
        months, day = [], self.first.replace(day=1)
        while day <= self.last:
            months.append(day)
            day = (day + timedelta(days=32)).replace(day=1)
        return months


def default_period(now: datetime) -> Period:
    today = now.astimezone(task_force_zone()).date()
    return Period(today - DEFAULT_PERIOD + timedelta(days=1), today)


@dataclass
class Table:
    """A table of client counts made safe to show: a title, row and column labels, and the protected counts."""

    key: str
    title: str
    row_label: str
    rows: list[str]
    columns: list[str]
    counts: list[list[int]] = field(repr=False)
    shown: Protected | None = field(init=False, default=None)

    def __post_init__(self):
        self.shown = protect(self.counts) if self.counts and self.columns else None

    def csv_rows(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows as shown (never a hidden number), with the totals."""
        header = [self.row_label, *self.columns, "Total"]
        if self.shown is None:
            return header, []
        rows = [[label, *(cell.text for cell in cells), total.text]
                for label, cells, total in zip(self.rows, self.shown.cells, self.shown.row_totals, strict=True)]
        rows.append(["Total", *(t.text for t in self.shown.column_totals), self.shown.total.text])
        return header, rows


DIMENSIONS = {
    "age_group": ("Age group", lambda: list(AGE_GROUPS.items())),
    "citizenship": ("Citizenship", lambda: list(CITIZENSHIP.items())),
    "trafficking_type": ("Type of trafficking", lambda: list(TRAFFICKING.items())),
    "gender": ("Gender", lambda: _with_unknown([(o.code, o.label) for o in directory_ops.genders()])),
}


def _with_unknown(choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The gender list, with "unknown" as a column even when the list leaves it out (intakes record it)."""
    return choices if any(code == "unknown" for code, _ in choices) else [*choices, ("unknown", "Unknown")]


def _types() -> list[ServiceType]:
    return directory_ops.service_types(active_only=False)


def _matrix(rows: list, columns: list, found: dict) -> list[list[int]]:
    return [[found.get((row, column), 0) for column in columns] for row in rows]


def _month_index(column, period: Period):
    """SQL: which month of the period (0, 1, …) an instant falls in, by the task force's local month starts."""
    starts = period.months()[1:]
    zone = task_force_zone()
    return case(*[(column < datetime.combine(start, time(0), tzinfo=zone), index)
                  for index, start in enumerate(starts)], else_=len(starts))


def _intake_needs_rows(period: Period) -> list[tuple]:
    """One grouped scan of the period's intake needs: (type, age group, citizenship, trafficking, gender, month
    index, count) — every needs table and the needs trend add these up (kept for the request: `_cached`)."""
    month = _month_index(Intake.created_at, period)
    return db.session.execute(
        select(IntakeNeed.service_type_id, Intake.age_group, Intake.citizenship, Intake.trafficking_type,
               Intake.gender, month, func.count())
        .join(Intake, Intake.id == IntakeNeed.intake_id)
        .where(Intake.is_drill.is_(False), Intake.created_at >= period.start, Intake.created_at < period.end)
        .group_by(IntakeNeed.service_type_id, Intake.age_group, Intake.citizenship, Intake.trafficking_type,
                      Intake.gender, month)).tuples().all()


def _cached(name: str, period: Period, load):
    cache = g.setdefault("gaps_cache", {})
    if (name, period) not in cache:
        cache[(name, period)] = load()
    return cache[(name, period)]


NEED_COLUMNS = {"age_group": 1, "citizenship": 2, "trafficking_type": 3, "gender": 4}


def needs_by(dimension: str, period: Period) -> Table:
    """Intake needs, service type by one dimension of the person."""
    found: dict[tuple, int] = {}
    position = NEED_COLUMNS[dimension]
    for row in _cached("needs", period, lambda: _intake_needs_rows(period)):
        key = (row[0], row[position])
        found[key] = found.get(key, 0) + row[6]
    return _by_type(f"needs-{dimension}", f"Needs asked for at intake, by {DIMENSIONS[dimension][0].lower()}",
                    dimension, found)


def unmet_by(dimension: str, period: Period) -> Table:
    """Unmet needs (found at intake or in an assessment), service type by one dimension of the person."""
    column = getattr(UnmetNeed, dimension)
    found = {(type_id, value): n for type_id, value, n in db.session.execute(
        select(UnmetNeed.service_type_id, column, func.count())
        .where(UnmetNeed.is_drill.is_(False), UnmetNeed.recorded_on >= period.first,
               UnmetNeed.recorded_on <= period.last)
        .group_by(UnmetNeed.service_type_id, column))}
    return _by_type(f"unmet-{dimension}", f"Unmet needs, by {DIMENSIONS[dimension][0].lower()}", dimension, found)


def _by_type(key: str, title: str, dimension: str, found: dict) -> Table:
    values = DIMENSIONS[dimension][1]()
    types = [t for t in _types() if any(found.get((t.id, code)) for code, _ in values)]
    return Table(key, title, "Service", [t.name for t in types], [label for _, label in values],
                 _matrix([t.id for t in types], [code for code, _ in values], found))


def unmet_by_where(period: Period) -> Table:
    """Unmet needs by where they were found: at intake, or later in a needs assessment."""
    found = {(type_id, where): n for type_id, where, n in db.session.execute(
        select(UnmetNeed.service_type_id, UnmetNeed.found_in, func.count())
        .where(UnmetNeed.is_drill.is_(False), UnmetNeed.recorded_on >= period.first,
               UnmetNeed.recorded_on <= period.last)
        .group_by(UnmetNeed.service_type_id, UnmetNeed.found_in))}
    types = [t for t in _types() if found.get((t.id, "intake")) or found.get((t.id, "assessment"))]
    return Table("unmet-where", "Unmet needs, by where they were found", "Service", [t.name for t in types],
                 ["At intake", "In an assessment"], _matrix([t.id for t in types], ["intake", "assessment"], found))


def declines(period: Period) -> Table:
    """Declined offers, service type by reason."""
    found = {(type_id, reason): n for type_id, reason, n in db.session.execute(
        select(Referral.service_type_id, Offer.decline_reason, func.count())
        .join(Referral, Referral.id == Offer.referral_id)
        .where(Referral.is_drill.is_(False), Offer.state == "declined", Offer.answered_at >= period.start,
               Offer.answered_at < period.end)
        .group_by(Referral.service_type_id, Offer.decline_reason))}
    types = [t for t in _types() if any(found.get((t.id, r)) for r in DECLINE_REASONS)]
    return Table("declines", "Declines, by reason", "Service", [t.name for t in types], list(DECLINE_REASONS.values()),
                 _matrix([t.id for t in types], list(DECLINE_REASONS), found))


def _event_rows(period: Period) -> list[tuple]:
    """One grouped scan of the period's escalations and arrivals in the committee queue: (type, kind, month index,
    count) — the escalations table and trend add these up."""
    month = _month_index(ReferralEvent.at, period)
    return db.session.execute(
        select(Referral.service_type_id, ReferralEvent.kind, month, func.count())
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .where(Referral.is_drill.is_(False), ReferralEvent.kind.in_(("escalated", "unassigned")),
               ReferralEvent.at >= period.start, ReferralEvent.at < period.end)
        .group_by(Referral.service_type_id, ReferralEvent.kind, month)).tuples().all()


def escalations(period: Period) -> Table:
    """Escalations (an offer declined or unanswered, and the referral moved on) and referrals that went to the
    committee queue, by service type."""
    found: dict[tuple, int] = {}
    for type_id, kind, _, count in _cached("events", period, lambda: _event_rows(period)):
        found[(type_id, kind)] = found.get((type_id, kind), 0) + count
    types = [t for t in _types() if found.get((t.id, "escalated")) or found.get((t.id, "unassigned"))]
    return Table("escalations", "Escalations and the committee queue", "Service", [t.name for t in types],
                 ["Escalated", "To the committee queue"],
                 _matrix([t.id for t in types], ["escalated", "unassigned"], found))


# ----- time from offer to acceptance --------------------------------------------------------------------------

def _minutes_taken():
    """SQL: an accepted offer's minutes from being offered to acceptance."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Offer.answered_at - Offer.offered_at) / 60.0
    return (func.julianday(Offer.answered_at) - func.julianday(Offer.offered_at)) * 1440.0


def percentiles(group, period: Period, fractions=(0.5, 0.9)) -> dict:
    """Per group (a column of the offer's referral or agency): how many accepted offers and their continuous
    percentiles of minutes to acceptance. PostgreSQL's `percentile_cont`; on SQLite the same interpolation by window
    functions (position f·(n−1) between the two nearest values), so both give the same answer."""
    taken = _minutes_taken()
    scope = (Offer.state == "accepted", Referral.is_drill.is_(False), Offer.answered_at >= period.start,
             Offer.answered_at < period.end)
    base = select(Offer).join(Referral, Referral.id == Offer.referral_id)
    if db.session.get_bind().dialect.name == "postgresql":
        columns = [func.percentile_cont(f).within_group(taken) for f in fractions]
        rows = db.session.execute(base.with_only_columns(group, func.count(), *columns).where(*scope)
                                  .group_by(group)).all()
        return {row[0]: (row[1], *(float(value) for value in row[2:])) for row in rows}
    # The minutes once per offer, then ranked within each group (not computed again for the ordering).
    minutes = base.with_only_columns(group.label("g"), taken.label("m")).where(*scope).subquery()
    ranked = select(minutes.c.g, minutes.c.m,
                    (func.row_number().over(partition_by=minutes.c.g, order_by=minutes.c.m) - 1).label("rn"),
                    func.count().over(partition_by=minutes.c.g).label("n")).subquery()
    columns = []
    for f in fractions:
        position = literal(f) * (ranked.c.n - 1)
        below = cast(position, Integer)
        share = position - below
        columns.append(func.sum(case((ranked.c.rn == below, ranked.c.m * (1 - share)),
                                     (ranked.c.rn == below + 1, ranked.c.m * share), else_=0.0)))
    rows = db.session.execute(select(ranked.c.g, func.max(ranked.c.n), *columns).group_by(ranked.c.g)).all()
    return {row[0]: (row[1], *(float(value) for value in row[2:])) for row in rows}


@dataclass
class Timing:
    label: str
    count: Shown
    median: str
    p90: str


def _timings(found: dict, labels: dict) -> list[Timing]:
    keys = sorted(found, key=lambda key: labels.get(key, ""))
    counts = protect_list([found[key][0] for key in keys])
    result = []
    for key, shown in zip(keys, counts, strict=True):
        n, median, p90 = found[key]
        enough = enough_for_statistics(n)
        result.append(Timing(labels.get(key, "—"), shown, f"{median:.0f} min" if enough else "—",
                             f"{p90:.0f} min" if enough else "—"))
    return result


def acceptance_by_type(period: Period) -> list[Timing]:
    return _timings(percentiles(Referral.service_type_id, period), {t.id: t.name for t in _types()})


def acceptance_by_agency(period: Period) -> list[Timing]:
    found = percentiles(Offer.agency_id, period)
    names = dict(db.session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(list(found))))
                 .tuples().all()) if found else {}
    return _timings(found, names)


# ----- monthly trends -----------------------------------------------------------------------------------------

TRENDS = {"needs": "Needs asked for at intake", "unmet": "Unmet needs", "escalations": "Escalations"}


def monthly(name: str, period: Period) -> list[tuple[date, Shown]]:
    """A trend: per month of the period, its count (protected as one table: a month of 1–4 is hidden, and so is
    one more)."""
    months = period.months()
    counts = [0] * len(months)
    if name == "unmet":
        for day, n in db.session.execute(select(UnmetNeed.recorded_on, func.count()).where(
                UnmetNeed.is_drill.is_(False), UnmetNeed.recorded_on >= period.first,
                UnmetNeed.recorded_on <= period.last).group_by(UnmetNeed.recorded_on)).tuples():
            counts[months.index(day.replace(day=1))] += n
    elif name == "needs":
        for row in _cached("needs", period, lambda: _intake_needs_rows(period)):
            counts[row[5]] += row[6]
    else:
        for _, kind, month, n in _cached("events", period, lambda: _event_rows(period)):
            if kind == "escalated":
                counts[month] += n
    shown = protect([counts]).cells[0] if months else []
    return list(zip(months, shown, strict=True))


def all_tables(period: Period) -> list[Table]:
    tables = [needs_by(d, period) for d in DIMENSIONS]
    tables += [unmet_by(d, period) for d in DIMENSIONS] + [unmet_by_where(period), declines(period),
                                                           escalations(period)]
    return tables


def table_by_key(key: str, period: Period) -> Table | None:
    for table in all_tables(period):
        if table.key == key:
            return table
    return None

"""Demand against supply over a period (chairs and administrators): what intakes asked for, what nobody could meet,
declines by reason, escalations, the committee queue, and how long acceptance took — all by grouped SQL, every count
through the one rule of small numbers (`suppression.protect`), drills never counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import g
from sqlalchemy import and_, case, func, literal, or_, select, union_all

from csrn.agencies.models import Agency
from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, TRAFFICKING
from csrn.directory import operations as directory_ops
from csrn.directory.models import ServiceType
from csrn.extensions import db
from csrn.gaps.models import AcceptanceTime, DemandCount, RollupMark
from csrn.gaps.suppression import Protected, Shown, enough_for_statistics, protect, protect_list
from csrn.intake.models import Intake, IntakeLanguage, IntakeNeed, UnmetNeed
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


# ----- the counts: rolled up for days that are over, read from the records for the rest ------------------------

PERSON_DIMENSIONS = ("age_group", "citizenship", "trafficking_type", "gender")
ALL_MEASURES = ("need", "language", "escalated", "unassigned", "declined", "unmet")
Key = tuple[str, int, str, str, int]  # measure, service type id (0: not by service), dimension, value, bucket


def _instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=task_force_zone())


def _bucket(column, boundaries: list):
    """SQL: which bucket (0, 1, …) a value falls in, the buckets after the first starting at `boundaries`."""
    if not boundaries:
        return literal(0)
    return case(*[(column < boundary, index) for index, boundary in enumerate(boundaries)], else_=len(boundaries))


def raw_counts(span: Period, boundaries: list[date], measures=ALL_MEASURES) -> Counter:
    """The measures counted from the records themselves over a span of local days, in buckets starting at
    `boundaries` (local days after the span's first): intake needs by service and each answer of the person (and
    "all"), intake languages, escalations and arrivals in the committee queue, declines by reason. Drills never."""
    found: Counter = Counter()
    instants = [_instant(day) for day in boundaries]
    if "need" in measures:
        bucket = _bucket(Intake.created_at, instants)
        for type_id, *values, index, n in db.session.execute(
                select(IntakeNeed.service_type_id, *(getattr(Intake, d) for d in PERSON_DIMENSIONS), bucket,
                       func.count())
                .join(Intake, Intake.id == IntakeNeed.intake_id)
                .where(Intake.is_drill.is_(False), Intake.created_at >= span.start, Intake.created_at < span.end)
                .group_by(IntakeNeed.service_type_id, *(getattr(Intake, d) for d in PERSON_DIMENSIONS), bucket)):
            found[("need", type_id, "all", "", index)] += n
            for dimension, value in zip(PERSON_DIMENSIONS, values, strict=True):
                found[("need", type_id, dimension, value or "", index)] += n
    if "language" in measures:
        bucket = _bucket(Intake.created_at, instants)
        for language, index, n in db.session.execute(
                select(IntakeLanguage.language, bucket, func.count())
                .join(Intake, Intake.id == IntakeLanguage.intake_id)
                .where(Intake.is_drill.is_(False), Intake.created_at >= span.start, Intake.created_at < span.end)
                .group_by(IntakeLanguage.language, bucket)):
            found[("language", 0, "language", language, index)] += n
    kinds = [kind for kind in ("escalated", "unassigned") if kind in measures]
    if kinds:
        bucket = _bucket(ReferralEvent.at, instants)
        for type_id, kind, index, n in db.session.execute(
                select(Referral.service_type_id, ReferralEvent.kind, bucket, func.count())
                .join(Referral, Referral.id == ReferralEvent.referral_id)
                .where(Referral.is_drill.is_(False), ReferralEvent.kind.in_(kinds),
                       ReferralEvent.at >= span.start, ReferralEvent.at < span.end)
                .group_by(Referral.service_type_id, ReferralEvent.kind, bucket)):
            found[(kind, type_id, "all", "", index)] += n
    if "declined" in measures:
        bucket = _bucket(Offer.answered_at, instants)
        for type_id, reason, index, n in db.session.execute(
                select(Referral.service_type_id, Offer.decline_reason, bucket, func.count())
                .join(Referral, Referral.id == Offer.referral_id)
                .where(Referral.is_drill.is_(False), Offer.state == "declined", Offer.answered_at >= span.start,
                       Offer.answered_at < span.end)
                .group_by(Referral.service_type_id, Offer.decline_reason, bucket)):
            found[("declined", type_id, "reason", reason, index)] += n
    return found


def _unmet_counts(period: Period, boundaries: list[date]) -> Counter:
    """Unmet needs (drills never) by service and each answer of the person, where they were found, and "all"."""
    found: Counter = Counter()
    columns = [getattr(UnmetNeed, d) for d in PERSON_DIMENSIONS]
    bucket = _bucket(UnmetNeed.recorded_on, boundaries)
    for type_id, *values, where, index, n in db.session.execute(
            select(UnmetNeed.service_type_id, *columns, UnmetNeed.found_in, bucket, func.count())
            .where(UnmetNeed.is_drill.is_(False), UnmetNeed.recorded_on >= period.first,
                   UnmetNeed.recorded_on <= period.last)
            .group_by(UnmetNeed.service_type_id, *columns, UnmetNeed.found_in, bucket)):
        found[("unmet", type_id, "all", "", index)] += n
        found[("unmet", type_id, "found_in", where, index)] += n
        for dimension, value in zip(PERSON_DIMENSIONS, values, strict=True):
            found[("unmet", type_id, dimension, value or "", index)] += n
    return found


def month_end(day: date) -> date:
    """The last day of the day's month."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _rolled_counts(span: Period, boundaries: list[date], measures) -> Counter:
    """The same counts read from the roll-up (`demand_count`): whole months from the month rows, the days of a
    month the span cuts from the day rows; one grouped SELECT."""
    months, days = [], []
    for month in span.months():
        first, last = max(month, span.first), min(month_end(month), span.last)
        if first == month and last == month_end(month):
            months.append(month)
        else:
            days.append(DemandCount.start.between(first, last))
    chosen = []
    if months:
        chosen.append(and_(DemandCount.grain == "month", DemandCount.start.in_(months)))
    if days:
        chosen.append(and_(DemandCount.grain == "day", or_(*days)))
    bucket = _bucket(DemandCount.start, boundaries)
    found: Counter = Counter()
    for measure, type_id, dimension, value, index, n in db.session.execute(
            select(DemandCount.measure, DemandCount.service_type_id, DemandCount.dimension, DemandCount.value,
                   bucket, func.sum(DemandCount.count))
            .where(DemandCount.measure.in_(measures), or_(*chosen))
            .group_by(DemandCount.measure, DemandCount.service_type_id, DemandCount.dimension, DemandCount.value,
                      bucket)):
        found[(measure, type_id, dimension, value, index)] += n
    return found


def rolled_through() -> date | None:
    """The last local day the roll-up holds (None: it has not run)."""
    return db.session.scalar(select(RollupMark.through).where(RollupMark.id == 1))


def split(period: Period) -> tuple[Period | None, Period | None]:
    """The period's days the roll-up holds, and the days after them (read from the records)."""
    through = rolled_through()
    if through is None or through < period.first:
        return None, period
    if through >= period.last:
        return period, None
    return Period(period.first, through), Period(through + timedelta(days=1), period.last)


def counts(period: Period, measures=ALL_MEASURES) -> Counter:
    """Every count of the period by (measure, service type, dimension, value, month index): the roll-up for the days
    it holds, the records for the days after (today at least). Kept for the request."""
    def load():
        rolled, fresh = split(period)
        boundaries = period.months()[1:]
        found: Counter = Counter()
        if rolled is not None:
            found.update(_rolled_counts(rolled, boundaries, measures))
        if fresh is not None:
            found.update(raw_counts(fresh, boundaries, measures))
        if "unmet" in measures:  # a few rows a day, recorded by local day: always read from the records
            found.update(_unmet_counts(period, boundaries))
        return found
    return _cached(("counts", tuple(measures)), period, load)


def _grouped(period: Period) -> dict[tuple[str, str], dict]:
    """The period's counts by (measure, dimension): (service type id, value) → count, and "months" → per month."""
    def load():
        grouped: dict[tuple[str, str], dict] = {}
        for (measure, type_id, dimension, value, month), n in counts(period).items():
            cells = grouped.setdefault((measure, dimension), {})
            cells[(type_id, value)] = cells.get((type_id, value), 0) + n
            if dimension == "all":
                per_month = cells.setdefault("months", {})
                per_month[month] = per_month.get(month, 0) + n
        return grouped
    return _cached("grouped", period, load)


def by_measure(period: Period, measure: str, dimension: str) -> dict[tuple, int]:
    """(service type id, value) → count over the period."""
    found = dict(_grouped(period).get((measure, dimension), {}))
    found.pop("months", None)
    return found


def _cached(name, period: Period, load):
    cache = g.setdefault("gaps_cache", {})
    if (name, period) not in cache:
        cache[(name, period)] = load()
    return cache[(name, period)]


def needs_by(dimension: str, period: Period) -> Table:
    """Intake needs, service type by one dimension of the person."""
    return _by_type(f"needs-{dimension}", f"Needs asked for at intake, by {DIMENSIONS[dimension][0].lower()}",
                    dimension, by_measure(period, "need", dimension))


def unmet_by(dimension: str, period: Period) -> Table:
    """Unmet needs (found at intake or in an assessment), service type by one dimension of the person."""
    return _by_type(f"unmet-{dimension}", f"Unmet needs, by {DIMENSIONS[dimension][0].lower()}", dimension,
                    by_measure(period, "unmet", dimension))


def _by_type(key: str, title: str, dimension: str, found: dict) -> Table:
    values = DIMENSIONS[dimension][1]()
    types = [t for t in _types() if any(found.get((t.id, code)) for code, _ in values)]
    return Table(key, title, "Service", [t.name for t in types], [label for _, label in values],
                 _matrix([t.id for t in types], [code for code, _ in values], found))


def unmet_by_where(period: Period) -> Table:
    """Unmet needs by where they were found: at intake, or later in a needs assessment."""
    found = by_measure(period, "unmet", "found_in")
    types = [t for t in _types() if found.get((t.id, "intake")) or found.get((t.id, "assessment"))]
    return Table("unmet-where", "Unmet needs, by where they were found", "Service", [t.name for t in types],
                 ["At intake", "In an assessment"], _matrix([t.id for t in types], ["intake", "assessment"], found))


def declines(period: Period) -> Table:
    """Declined offers, service type by reason."""
    found = by_measure(period, "declined", "reason")
    types = [t for t in _types() if any(found.get((t.id, r)) for r in DECLINE_REASONS)]
    return Table("declines", "Declines, by reason", "Service", [t.name for t in types], list(DECLINE_REASONS.values()),
                 _matrix([t.id for t in types], list(DECLINE_REASONS), found))


def escalations(period: Period) -> Table:
    """Escalations (an offer declined or unanswered, and the referral moved on) and referrals that went to the
    committee queue, by service type."""
    found = {(type_id, kind): n for kind in ("escalated", "unassigned")
             for (type_id, _), n in by_measure(period, kind, "all").items()}
    types = [t for t in _types() if found.get((t.id, "escalated")) or found.get((t.id, "unassigned"))]
    return Table("escalations", "Escalations and the committee queue", "Service", [t.name for t in types],
                 ["Escalated", "To the committee queue"],
                 _matrix([t.id for t in types], ["escalated", "unassigned"], found))


# ----- time from offer to acceptance --------------------------------------------------------------------------

def minutes_taken():
    """SQL: an accepted offer's minutes from being offered to acceptance."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Offer.answered_at - Offer.offered_at) / 60.0
    return (func.julianday(Offer.answered_at) - func.julianday(Offer.offered_at)) * 1440.0


GROUPS = {"service_type": (AcceptanceTime.service_type_id, Referral.service_type_id),
          "agency": (AcceptanceTime.agency_id, Offer.agency_id)}


def _minutes(group: str, period: Period):
    """SQL rows (g, m): each accepted offer of the period, its group and minutes to acceptance — from the roll-up
    (`acceptance_time`) for the days it holds, from the offers for the days after."""
    rolled, fresh = split(period)
    rolled_group, raw_group = GROUPS[group]
    parts = []
    if rolled is not None:
        parts.append(select(rolled_group.label("g"), AcceptanceTime.minutes.label("m"))
                     .where(AcceptanceTime.day >= rolled.first, AcceptanceTime.day <= rolled.last))
    if fresh is not None:
        parts.append(select(raw_group.label("g"), minutes_taken().label("m"))
                     .join(Referral, Referral.id == Offer.referral_id)
                     .where(Offer.state == "accepted", Referral.is_drill.is_(False), Offer.answered_at >= fresh.start,
                            Offer.answered_at < fresh.end))
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()


def percentiles(group: str, period: Period, fractions=(0.5, 0.9)) -> dict:
    """Per group ("service_type" or "agency"): how many accepted offers and their continuous percentiles of minutes
    to acceptance, by one grouped SELECT: PostgreSQL's `percentile_cont`, and on SQLite the aggregate of the same
    name and answer that `csrn.database` gives it (the signature of SQLite's own percentile extension)."""
    minutes = _minutes(group, period)
    if db.session.get_bind().dialect.name == "postgresql":
        columns = [func.percentile_cont(f).within_group(minutes.c.m) for f in fractions]
    else:
        columns = [func.percentile_cont(minutes.c.m, f) for f in fractions]
    rows = db.session.execute(select(minutes.c.g, func.count(), *columns).group_by(minutes.c.g)).all()
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
    return _timings(percentiles("service_type", period), {t.id: t.name for t in _types()})


def acceptance_by_agency(period: Period) -> list[Timing]:
    found = percentiles("agency", period)
    names = dict(db.session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(list(found))))
                 .tuples().all()) if found else {}
    return _timings(found, names)


# ----- monthly trends -----------------------------------------------------------------------------------------

TRENDS = {"needs": "Needs asked for at intake", "unmet": "Unmet needs", "escalations": "Escalations"}


def monthly(name: str, period: Period) -> list[tuple[date, Shown]]:
    """A trend: per month of the period, its count (protected as one table: a month of 1–4 is hidden, and so is
    one more)."""
    months = period.months()
    per_month = [0] * len(months)
    measure = {"needs": "need", "unmet": "unmet", "escalations": "escalated"}[name]
    for month, n in _grouped(period).get((measure, "all"), {}).get("months", {}).items():
        per_month[month] += n
    shown = protect([per_month]).cells[0] if months else []
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

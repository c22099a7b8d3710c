"""The schedule engine: pure functions over plain data, correct across daylight-saving changes.

A schedule is open on weekly spans (overnight spans run into the next day), or always (24/7);
closures (date ranges) and, when asked, the task force's holidays close the spans that start on
those days. One-off intervals (aware instants: a cover shift, a swap) add to them and are not closed by
closures or holidays. Times are local to the task force's zone; answers are aware UTC datetimes.
Many schedules together (an on-call roster) are covered where any one is open: `union`, `uncovered`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ONE_DAY, MIDNIGHT = timedelta(days=1), time(0)


@dataclass(frozen=True)
class WeeklySpan:
    """Open on `weekday` (0 = Monday) from `opens` to `closes`; closes <= opens runs past midnight."""

    weekday: int
    opens: time
    closes: time

    @property
    def overnight(self) -> bool:
        return self.closes <= self.opens


@dataclass(frozen=True)
class DateRange:
    """Whole local days from `start` through `end`."""

    start: date
    end: date

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass
class Schedule:
    """When something is open or covered."""

    always: bool = False
    weekly: list[WeeklySpan] = field(default_factory=list)
    closures: list[DateRange] = field(default_factory=list)
    holidays: set[date] = field(default_factory=set)
    closed_on_holidays: bool = False
    valid: DateRange | None = None  # only within this range, when set (e.g. a shift's dates)
    once: list[tuple[datetime, datetime]] = field(default_factory=list)  # one-off aware intervals (start, end)

    def day_is_closed(self, day: date) -> bool:
        """Whether spans starting on this local day are cancelled."""
        if self.valid is not None and day not in self.valid:
            return True
        if any(day in closure for closure in self.closures):
            return True
        return self.closed_on_holidays and day in self.holidays


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a local wall time names: in the repeated autumn hour the first occurrence (fold=0); a wall
    time in the skipped spring hour never shows on the clock, so it takes effect at the change itself (the
    first instant the clock reads it or later). zoneinfo alone would move it a whole gap later (02:30 ->
    03:30), out of order with 03:00: a span 02:30-03:15 would vanish and one ending 02:30 would run to 03:30."""
    value = datetime.combine(day, at, tzinfo=zone)
    after = value.replace(fold=1)
    if after.utcoffset() <= value.utcoffset():  # PEP 495: the fold=1 offset is larger only in a gap
        return value
    # value (old offset) lands after the change, `after` (new offset) before it: find the change to the second.
    before_change, new_offset = after.astimezone(UTC), after.utcoffset()
    low, high = 0, int((value.astimezone(UTC) - before_change).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (before_change + timedelta(seconds=middle)).astimezone(zone).utcoffset() == new_offset:
            high = middle
        else:
            low = middle
    return before_change + timedelta(seconds=high)


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The aware UTC instant a local date and wall time name, by the rule `intervals` uses for the changed hours
    (a one-off shift typed in local time starts where a weekly span with the same wall time would)."""
    return _utc_instant(day, at, zone)


def _utc_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`_local` in UTC, remembered: a roster of hundreds of shifts names the same few wall times on the same few
    days over and over, and the conversion (with its daylight-saving checks) is most of `intervals`' work."""
    return _remembered(day, at, zone, at.fold)  # fold is part of the key: times differing only in it are equal


@lru_cache(maxsize=16_384)
def _remembered(day: date, at: time, zone: ZoneInfo, fold: int) -> datetime:
    """A pure function of immutable arguments, so remembering it cannot change an answer."""
    return _to_utc(_local(day, at, zone))


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def intervals(schedule: Schedule, start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Open intervals (aware UTC, merged, clipped) between start and end."""
    if end <= start:
        return []
    return _merge_clip(_occurrences(schedule, start, end, zone), start.astimezone(UTC), end.astimezone(UTC))


def occurrences(schedule: Schedule, start: datetime, end: datetime,
                zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Each span's own occurrences (aware UTC, neither merged nor clipped) that overlap start..end, in order: one
    calendar event each, whose start does not move with the window (a feed's UIDs stay stable)."""
    if end <= start:
        return []
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    # A span inside a daylight-saving gap (02:00–02:15 on the spring-forward day) is empty: no occurrence.
    return sorted((s, e) for s, e in _occurrences(schedule, start, end, zone) if s < e and s < end and e > start)


def _occurrences(schedule: Schedule, start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Every occurrence of the schedule's spans (and one-off intervals) starting from the day before `start`
    through `end`'s day, unmerged and unclipped."""
    first = start.astimezone(zone).date() - ONE_DAY
    last = end.astimezone(zone).date()
    raw: list[tuple[datetime, datetime]] = []
    by_weekday: dict[int, list[WeeklySpan]] = {}
    for span in () if schedule.always else schedule.weekly:
        by_weekday.setdefault(span.weekday, []).append(span)
    day = first
    while day <= last:
        if schedule.always:
            if not schedule.day_is_closed(day):
                raw.append((_utc_instant(day, MIDNIGHT, zone), _utc_instant(day + ONE_DAY, MIDNIGHT, zone)))
        elif (spans := by_weekday.get(day.weekday())) and not schedule.day_is_closed(day):
            for span in spans:
                close_day = day + ONE_DAY if span.closes <= span.opens else day  # overnight
                raw.append((_utc_instant(day, span.opens, zone), _utc_instant(close_day, span.closes, zone)))
        day += ONE_DAY
    raw.extend((_to_utc(s), _to_utc(e)) for s, e in schedule.once)
    return raw


def _merge_clip(raw: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime):
    merged: list[tuple[datetime, datetime]] = []
    for s, e in sorted(raw):
        s, e = max(s, start), min(e, end)
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def is_open(schedule: Schedule, at: datetime, zone: ZoneInfo) -> bool:
    """Whether the schedule is open at this instant."""
    at = at.astimezone(UTC)  # arithmetic on a local time is wall-clock arithmetic, and drops fold=1
    return bool(intervals(schedule, at, at + timedelta(seconds=1), zone))


def next_opening(schedule: Schedule, at: datetime, zone: ZoneInfo, horizon_days: int = 14) -> datetime | None:
    """When it next opens after `at` (None if open now or not within the horizon)."""
    at = at.astimezone(UTC)
    found = intervals(schedule, at, at + timedelta(days=horizon_days), zone)
    if not found:
        return None
    if found[0][0] <= at.astimezone(UTC):
        return None
    return found[0][0]


def closes_at(schedule: Schedule, at: datetime, zone: ZoneInfo, horizon_days: int = 8) -> datetime | None:
    """When the current open interval ends (None if closed, or open past the horizon)."""
    at = at.astimezone(UTC)
    found = intervals(schedule, at, at + timedelta(days=horizon_days), zone)
    if not found or found[0][0] > at.astimezone(UTC):
        return None
    end = found[0][1]
    return None if end >= (at + timedelta(days=horizon_days)).astimezone(UTC) else end


def gaps(schedule: Schedule, start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The intervals between start and end when the schedule is not open (coverage gaps)."""
    if end <= start:
        return []
    return _complement(intervals(schedule, start, end, zone), start.astimezone(UTC), end.astimezone(UTC))


def union(schedules: Iterable[Schedule], start: datetime, end: datetime,
          zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The intervals between start and end when at least one of the schedules is open (merged, clipped)."""
    raw = [piece for schedule in schedules for piece in intervals(schedule, start, end, zone)]
    return _merge_clip(raw, start.astimezone(UTC), end.astimezone(UTC))


def uncovered(schedules: Iterable[Schedule], start: datetime, end: datetime,
              zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The intervals between start and end when none of the schedules is open (the roster's coverage gaps)."""
    return _complement(union(schedules, start, end, zone), start.astimezone(UTC), end.astimezone(UTC))


def _complement(covered: list[tuple[datetime, datetime]], start: datetime, end: datetime):
    result, cursor = [], start
    for s, e in covered:
        if s > cursor:
            result.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end:
        result.append((cursor, end))
    return result


def describe(schedule: Schedule) -> list[str]:
    """The weekly hours as lines people read."""
    if schedule.always:
        return ["Open 24 hours, 7 days a week"]
    lines = []
    for index, name in enumerate(WEEKDAYS):
        spans = [s for s in schedule.weekly if s.weekday == index]
        if spans:
            text = ", ".join(
                f"{s.opens:%H:%M}–{s.closes:%H:%M}{' (next day)' if s.overnight and s.closes != time(0) else ''}"
                for s in sorted(spans, key=lambda s: s.opens)
            )
        else:
            text = "closed"
        lines.append(f"{name}: {text}")
    return lines

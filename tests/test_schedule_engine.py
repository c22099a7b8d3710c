"""The schedule engine against a brute-force reference that reads the wall clock, across daylight-saving changes.

What "open" means, and the reference's rule for the two awkward hours
--------------------------------------------------------------------
A schedule is posted in local wall-clock time. The reference walks real time (UTC) in 15-minute steps, reads
the local wall clock at each step and asks whether that reading lies inside a posted span (a span belongs to
the local day it starts on; that day may be cancelled by a closure, a holiday when `closed_on_holidays`, or
by lying outside `valid`). Two hours a year the wall clock does something a timetable cannot mean literally:

* **Spring forward** (Chicago 2026-03-08 02:00 -> 03:00; London 2026-03-29 01:00 -> 02:00). The skipped
  readings never show on the clock. A boundary posted in them takes effect at the change itself: the first
  instant whose reading is at or after it. So on that day a span 02:30-04:00 opens at 03:00 CDT, a span
  02:30-03:15 is open 03:00-03:15, a span ending 02:30 closes at 03:00 CDT, and a span 02:00-03:00 is empty.
  The reference gets this for free: the reading jumps from 01:59 to 03:00.
* **Fall back** (Chicago 2026-11-01 02:00 CDT -> 01:00 CST; London 2026-10-25 02:00 BST -> 01:00 GMT).
  The readings 01:00-01:59 happen twice. A boundary posted in them means the *first* occurrence (zoneinfo's
  fold=0), and the schedule does not re-run the hour: during the second pass it stays as it was at the end of
  the first. So a span ending 01:30 closes at 01:30 CDT and does not reopen at 01:00 CST; one starting 01:30
  opens at 01:30 CDT and stays open through the repeat; one ending 02:00 runs for both passes. The reference
  gets this by reading a clock that never runs backwards: the running maximum of the wall-clock reading.

Between the two, every instant maps to exactly one state, adjacent spans (a shift ending 02:30 and the next
starting 02:30) never overlap or leave a gap, and "open now" agrees with the clock on the wall everywhere
except the second pass of the repeated hour, where it keeps the first pass's answer.

All boundaries here sit on a 15-minute grid, and these zones change offset by whole hours at whole hours, so
every boundary instant is on the UTC 15-minute grid too and the reference's intervals must equal the engine's
exactly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csrn.schedules.engine import (
    DateRange,
    Schedule,
    WeeklySpan,
    closes_at,
    describe,
    gaps,
    intervals,
    is_open,
    next_opening,
    occurrences,
    uncovered,
    union,
)

CHICAGO, LONDON, UTC_ZONE = ZoneInfo("America/Chicago"), ZoneInfo("Europe/London"), ZoneInfo("UTC")
STEP = timedelta(minutes=15)
TRANSITIONS = {
    "America/Chicago": (date(2026, 3, 8), date(2026, 11, 1)),
    "Europe/London": (date(2026, 3, 29), date(2026, 10, 25)),
    "UTC": (date(2026, 3, 8), date(2026, 3, 29), date(2026, 10, 25), date(2026, 11, 1)),
}
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----- the brute-force reference -------------------------------------------------------------------

def _day_cancelled(schedule: Schedule, day: date) -> bool:
    if schedule.valid is not None and not schedule.valid.start <= day <= schedule.valid.end:
        return True
    if any(closure.start <= day <= closure.end for closure in schedule.closures):
        return True
    return schedule.closed_on_holidays and day in schedule.holidays


def _open_at_reading(schedule: Schedule, reading: datetime) -> bool:
    """Whether a (naive) wall-clock reading lies inside a span of a day that is not cancelled."""
    day, at = reading.date(), reading.time()
    yesterday = day - timedelta(days=1)
    if schedule.always:
        return not _day_cancelled(schedule, day)
    for span in schedule.weekly:
        overnight = span.closes <= span.opens
        if span.weekday == day.weekday() and not _day_cancelled(schedule, day):
            if span.opens <= at and (overnight or at < span.closes):
                return True
        if overnight and span.weekday == yesterday.weekday() and not _day_cancelled(schedule, yesterday):
            if at < span.closes:
                return True
    return False


def reference_intervals(schedule: Schedule, start: datetime, end: datetime, zone: ZoneInfo):
    """Walk real time in 15-minute steps reading a wall clock that never runs backwards; merge the open steps."""
    clock = None
    found: list[tuple[datetime, datetime]] = []
    at = start - timedelta(days=1)  # warm the running maximum up, in case the window opens inside a repeat
    while at < end:
        reading = at.astimezone(zone).replace(tzinfo=None, fold=0)
        clock = reading if clock is None else max(clock, reading)
        if at >= start and (_open_at_reading(schedule, clock) or any(s <= at < e for s, e in schedule.once)):
            if found and found[-1][1] == at:
                found[-1] = (found[-1][0], at + STEP)
            else:
                found.append((at, at + STEP))
        at += STEP
    return found


def inside(found, at: datetime) -> bool:
    return any(s <= at < e for s, e in found)


# ----- strategies --------------------------------------------------------------------------------

GRID_TIMES = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))
# Times in and around the changed hours (01:00-03:00 covers both zones' gaps and repeats) and midnight, drawn
# half the time so the awkward hours are well covered.
AWKWARD_TIMES = st.sampled_from([time(0), time(1), time(1, 15), time(1, 30), time(1, 45), time(2), time(2, 15),
                                 time(2, 30), time(2, 45), time(3), time(3, 15), time(23, 45)])
TIMES = st.one_of(GRID_TIMES, AWKWARD_TIMES)


def spans_around(anchor: date):
    """Weekly spans, mostly on the day of the change or the night before it, so its hours get exercised."""
    weekday = anchor.weekday()
    days = st.sampled_from((weekday, weekday, (weekday - 1) % 7)) | st.integers(0, 6)
    return st.builds(WeeklySpan, weekday=days, opens=TIMES, closes=TIMES)


@st.composite
def cases(draw, zones=tuple(sorted(TRANSITIONS)), extras=True):
    """A zone, a window of up to four days starting before or during one of its changes, and a schedule.

    Without extras: weekly spans only (no 24/7, closures, holidays or validity to cancel the day of the change),
    so that nearly every example puts a boundary in or next to the changed hour.
    """
    zone_name = draw(st.sampled_from(zones))
    zone = ZoneInfo(zone_name)
    anchor = draw(st.sampled_from(TRANSITIONS[zone_name]))
    midnight = datetime.combine(anchor, time(0), tzinfo=zone).astimezone(UTC)
    start = midnight + STEP * draw(st.integers(-2 * 96, 12))  # from two days before to 03:00 on the day
    end = start + STEP * draw(st.integers(1, 4 * 96))
    near = st.integers(-5, 5).map(lambda n: anchor + timedelta(days=n))
    closures = draw(st.lists(st.tuples(near, st.integers(0, 2)).map(
        lambda pair: DateRange(pair[0], pair[0] + timedelta(days=pair[1]))), max_size=2))
    valid = draw(st.none() | st.tuples(near, st.integers(0, 4)).map(
        lambda pair: DateRange(pair[0], pair[0] + timedelta(days=pair[1]))))
    if not extras:  # the window covers the change; the spans start that day or the evening before
        start, end = midnight + STEP * draw(st.integers(-96, 0)), midnight + STEP * draw(st.integers(16, 2 * 96))
        days = st.sampled_from((anchor.weekday(), anchor.weekday(), (anchor.weekday() - 1) % 7))
        spans = st.builds(WeeklySpan, weekday=days, opens=AWKWARD_TIMES | GRID_TIMES, closes=AWKWARD_TIMES)
        return zone, Schedule(weekly=draw(st.lists(spans, min_size=1, max_size=4))), start, end
    schedule = Schedule(
        always=draw(st.sampled_from((False, False, False, True))),  # a quarter 24/7
        weekly=draw(st.lists(spans_around(anchor), max_size=6)),
        closures=closures,
        holidays=draw(st.sets(near, max_size=3)),
        closed_on_holidays=draw(st.booleans()),
        valid=valid,
        once=draw(st.lists(one_off(midnight), max_size=2)),
    )
    return zone, schedule, start, end


def one_off(midnight: datetime):
    """A one-off interval on the UTC grid, around the day of the change (cover for a shift, a swap)."""
    return st.tuples(st.integers(-2 * 96, 2 * 96), st.integers(1, 3 * 96)).map(
        lambda pair: (midnight + STEP * pair[0], midnight + STEP * (pair[0] + pair[1])))


@st.composite
def rosters(draw):
    """A zone, a window around one of its changes, and one to four schedules (a kind's shifts)."""
    zone, first, start, end = draw(cases())
    others = [draw(cases(zones=(zone.key,)))[1] for _ in range(draw(st.integers(0, 3)))]
    return zone, [first, *others], start, end


def merged(pieces):
    """Sorted, overlapping or touching intervals joined (the reference's union)."""
    result = []
    for s, e in sorted(pieces):
        if result and s <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], e))
        else:
            result.append((s, e))
    return result


# ----- properties ----------------------------------------------------------------------------------

@given(case=cases())
@PROPERTY
def test_intervals_match_the_wall_clock_reference(case):
    """Random spans, closures, holidays, 24/7 and validity ranges around every change: identical intervals."""
    zone, schedule, start, end = case
    assert intervals(schedule, start, end, zone) == reference_intervals(schedule, start, end, zone)


@given(case=cases(zones=("America/Chicago", "Europe/London"), extras=False))
@PROPERTY
def test_intervals_match_the_reference_on_the_days_the_clocks_change(case):
    """Spans starting or ending in, at or next to the skipped and the repeated hour: identical intervals."""
    zone, schedule, start, end = case
    assert intervals(schedule, start, end, zone) == reference_intervals(schedule, start, end, zone)


@given(case=cases(), data=st.data())
@PROPERTY
def test_is_open_matches_the_reference_at_any_instant(case, data):
    """At random instants (to the second, not only on the grid) is_open says what the reference says."""
    zone, schedule, start, end = case
    found = reference_intervals(schedule, start, end, zone)
    for _ in range(8):
        at = start + timedelta(seconds=data.draw(st.integers(0, int((end - start).total_seconds()) - 1)))
        assert is_open(schedule, at, zone) == inside(found, at), at.astimezone(zone)
    for s, e in found:  # and exactly at each boundary: open from the opening instant, closed from the closing
        assert is_open(schedule, s, zone)
        assert is_open(schedule, e - timedelta(seconds=1), zone)
        if e < end:
            assert not is_open(schedule, e, zone)


@given(case=cases())
@PROPERTY
def test_gaps_are_the_complement_of_intervals(case):
    """Gaps and intervals tile the window: sorted, disjoint, never empty, alternating, covering all of it."""
    zone, schedule, start, end = case
    opened, closed = intervals(schedule, start, end, zone), gaps(schedule, start, end, zone)
    pieces = sorted([(s, e, "open") for s, e in opened] + [(s, e, "gap") for s, e in closed])
    assert all(s < e for s, e, _ in pieces)
    assert pieces[0][0] == start and pieces[-1][1] == end
    for (_, e1, k1), (s2, _, k2) in zip(pieces, pieces[1:], strict=False):
        assert e1 == s2 and k1 != k2


@given(roster=rosters())
@PROPERTY
def test_union_and_uncovered_match_the_reference(roster):
    """Covered where any schedule is open (the reference, step by step); uncovered is exactly the rest."""
    zone, schedules, start, end = roster
    expected = merged(piece for schedule in schedules for piece in reference_intervals(schedule, start, end, zone))
    assert union(schedules, start, end, zone) == expected
    holes = uncovered(schedules, start, end, zone)
    pieces = sorted([(s, e, "covered") for s, e in expected] + [(s, e, "gap") for s, e in holes])
    assert pieces[0][0] == start and pieces[-1][1] == end
    for (_, e1, k1), (s2, _, k2) in zip(pieces, pieces[1:], strict=False):
        assert e1 == s2 and k1 != k2


@given(case=cases())
@PROPERTY
def test_occurrences_merged_and_clipped_are_the_intervals(case):
    """A schedule's own occurrences (a feed's events) overlap the window, and merged and clipped are `intervals`."""
    zone, schedule, start, end = case
    found = occurrences(schedule, start, end, zone)
    assert all(s < end and e > start for s, e in found) and found == sorted(found)
    assert merged((max(s, start), min(e, end)) for s, e in found) == intervals(schedule, start, end, zone)


def test_one_off_intervals_ignore_closures_and_holidays():
    """A one-off cover shift on a holiday, inside a closure, outside the weekly hours, still covers."""
    start, end = local(CHICAGO, 2026, 7, 4, 9), local(CHICAGO, 2026, 7, 4, 17)
    cover = Schedule(weekly=[WeeklySpan(5, time(9), time(17))], holidays={date(2026, 7, 4)}, closed_on_holidays=True,
                     closures=[DateRange(date(2026, 7, 1), date(2026, 7, 10))], once=[(start, end)])
    assert intervals(cover, local(CHICAGO, 2026, 7, 4, 0), local(CHICAGO, 2026, 7, 5, 0), CHICAGO) == [
        (start.astimezone(UTC), end.astimezone(UTC))]
    assert uncovered([cover, Schedule()], start, end, CHICAGO) == []
    assert union([], start, end, CHICAGO) == []
    assert uncovered([], start, end, CHICAGO) == [(start.astimezone(UTC), end.astimezone(UTC))]


@given(case=cases(), data=st.data())
@PROPERTY
def test_next_opening_and_closes_at_agree_with_the_reference(case, data):
    """next_opening is the start of the next reference interval; closes_at the end of the current one."""
    zone, schedule, start, end = case
    on_grid = start + STEP * data.draw(st.integers(0, 96))
    at = on_grid + timedelta(seconds=data.draw(st.integers(0, 899)))
    found = reference_intervals(schedule, on_grid - timedelta(days=2), on_grid + timedelta(days=16), zone)
    current = [(s, e) for s, e in found if s <= at < e]
    later = [s for s, _ in found if s > at]
    if current:
        assert next_opening(schedule, at, zone) is None
        expected = current[0][1] if current[0][1] < at + timedelta(days=8) else None
        assert closes_at(schedule, at, zone) == expected
    else:
        expected = later[0] if later and later[0] < at + timedelta(days=14) else None
        assert next_opening(schedule, at, zone) == expected
        assert closes_at(schedule, at, zone) is None


# ----- the awkward hours, spelled out ------------------------------------------------------------

def local(zone, *parts, fold=0):
    return datetime(*parts, tzinfo=zone, fold=fold)


def spans(zone, schedule, day: date):
    """The intervals around a day, in UTC (subtract these: aware datetimes sharing a zone subtract as wall times)."""
    start = datetime.combine(day, time(0), tzinfo=zone) - timedelta(hours=6)
    return intervals(schedule, start, start + timedelta(days=2), zone)


SUNDAY = 6


def test_spring_forward_boundary_in_the_skipped_hour_takes_effect_at_the_change():
    """Chicago 2026-03-08: 02:00-03:00 never shows; 02:30 means the change (03:00 CDT), not 03:30."""
    change = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)  # 02:00 CST == 03:00 CDT
    opening = Schedule(weekly=[WeeklySpan(SUNDAY, time(2, 30), time(4, 0))])
    assert intervals(opening, change - timedelta(hours=3), change + timedelta(hours=3), CHICAGO) == [
        (change, change + timedelta(hours=1))]
    assert is_open(opening, local(CHICAGO, 2026, 3, 8, 3, 10), CHICAGO)  # the clock reads 03:10
    short = Schedule(weekly=[WeeklySpan(SUNDAY, time(2, 30), time(3, 15))])
    assert intervals(short, change - timedelta(hours=3), change + timedelta(hours=3), CHICAGO) == [
        (change, change + timedelta(minutes=15))]
    closing = Schedule(weekly=[WeeklySpan(SUNDAY - 1, time(22, 0), time(2, 30))])
    assert closes_at(closing, local(CHICAGO, 2026, 3, 7, 23, 0), CHICAGO) == change
    assert not is_open(closing, local(CHICAGO, 2026, 3, 8, 3, 10), CHICAGO)
    skipped = Schedule(weekly=[WeeklySpan(SUNDAY, time(2, 0), time(3, 0))])
    assert intervals(skipped, change - timedelta(hours=3), change + timedelta(hours=3), CHICAGO) == []


def test_spring_forward_shifts_hand_over_without_gap_or_overlap():
    """Shifts 18:00-02:30 and 02:30-10:00 across the change leave no coverage gap (London, 2026-03-29)."""
    schedule = Schedule(weekly=[WeeklySpan(SUNDAY - 1, time(18), time(2, 30)),
                                WeeklySpan(SUNDAY, time(2, 30), time(10))])
    start = local(LONDON, 2026, 3, 28, 18)
    end = local(LONDON, 2026, 3, 29, 10)
    assert gaps(schedule, start, end, LONDON) == []
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=15)  # a night one hour short


def test_fall_back_boundary_in_the_repeated_hour_is_the_first_occurrence():
    """Chicago 2026-11-01: 01:00-01:59 happens twice; boundaries there mean the first pass (CDT)."""
    first_0130 = local(CHICAGO, 2026, 11, 1, 1, 30)  # CDT, 06:30 UTC
    second_0115 = local(CHICAGO, 2026, 11, 1, 1, 15, fold=1)  # CST, 07:15 UTC
    assert first_0130.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    ending = Schedule(weekly=[WeeklySpan(SUNDAY, time(0), time(1, 30))])
    assert closes_at(ending, local(CHICAGO, 2026, 11, 1, 0, 30), CHICAGO) == first_0130.astimezone(UTC)
    assert not is_open(ending, second_0115, CHICAGO)  # no second run of 01:15-01:30
    starting = Schedule(weekly=[WeeklySpan(SUNDAY, time(1, 30), time(3))])
    assert next_opening(starting, local(CHICAGO, 2026, 11, 1, 0), CHICAGO) == first_0130.astimezone(UTC)
    assert is_open(starting, second_0115, CHICAGO)  # stays open through the repeat
    # (Compare in UTC: PEP 495 makes a time in the repeated hour unequal to any time in another zone.)
    assert spans(CHICAGO, starting, date(2026, 11, 1)) == [
        (first_0130.astimezone(UTC), local(CHICAGO, 2026, 11, 1, 3).astimezone(UTC))]
    to_two = Schedule(weekly=[WeeklySpan(SUNDAY, time(0), time(2))])
    ((s, e),) = spans(CHICAGO, to_two, date(2026, 11, 1))
    assert e - s == timedelta(hours=3)  # both passes


def test_fall_back_in_london():
    """London 2026-10-25: a span ending 01:30 ends at 01:30 BST (00:30 UTC)."""
    schedule = Schedule(weekly=[WeeklySpan(SUNDAY - 1, time(20), time(1, 30))])
    assert closes_at(schedule, local(LONDON, 2026, 10, 24, 21), LONDON) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert not is_open(schedule, local(LONDON, 2026, 10, 25, 1, 10, fold=1), LONDON)


@pytest.mark.parametrize(("zone", "day", "hours"), [
    (CHICAGO, date(2026, 3, 8), 23), (CHICAGO, date(2026, 11, 1), 25), (CHICAGO, date(2026, 6, 1), 24),
    (LONDON, date(2026, 3, 29), 23), (LONDON, date(2026, 10, 25), 25), (UTC_ZONE, date(2026, 3, 29), 24),
])
def test_a_24_7_day_lasts_as_long_as_the_local_day(zone, day, hours):
    """24/7 closed on the days either side: the one open day is 23, 24 or 25 real hours long."""
    schedule = Schedule(always=True, closures=[DateRange(day - timedelta(days=3), day - timedelta(days=1)),
                                               DateRange(day + timedelta(days=1), day + timedelta(days=3))])
    ((s, e),) = spans(zone, schedule, day)
    assert (s.astimezone(zone).time(), e.astimezone(zone).time()) == (time(0), time(0))
    assert e - s == timedelta(hours=hours)


# ----- next_opening, closes_at, gaps, describe -----------------------------------------------------

OFFICE = Schedule(weekly=[WeeklySpan(day, time(9), time(17)) for day in range(5)])  # Mon-Fri 09-17


def test_next_opening():
    """The next opening after a closed moment; None when open now or nothing within the horizon."""
    monday = date(2026, 6, 1)
    assert next_opening(OFFICE, local(CHICAGO, 2026, 6, 1, 8), CHICAGO) == local(CHICAGO, 2026, 6, 1, 9)
    assert next_opening(OFFICE, local(CHICAGO, 2026, 6, 1, 10), CHICAGO) is None  # open now
    assert next_opening(OFFICE, local(CHICAGO, 2026, 6, 5, 17), CHICAGO) == local(CHICAGO, 2026, 6, 8, 9)
    holiday = Schedule(weekly=OFFICE.weekly, holidays={monday}, closed_on_holidays=True)
    assert next_opening(holiday, local(CHICAGO, 2026, 5, 31, 12), CHICAGO) == local(CHICAGO, 2026, 6, 2, 9)
    ignoring = Schedule(weekly=OFFICE.weekly, holidays={monday}, closed_on_holidays=False)
    assert next_opening(ignoring, local(CHICAGO, 2026, 5, 31, 12), CHICAGO) == local(CHICAGO, 2026, 6, 1, 9)
    assert next_opening(Schedule(), local(CHICAGO, 2026, 6, 1, 8), CHICAGO) is None
    closed_long = Schedule(weekly=OFFICE.weekly, closures=[DateRange(monday, monday + timedelta(days=30))])
    assert next_opening(closed_long, local(CHICAGO, 2026, 6, 1, 8), CHICAGO) is None  # beyond two weeks
    ended = Schedule(weekly=OFFICE.weekly, valid=DateRange(date(2026, 1, 1), date(2026, 5, 29)))
    assert next_opening(ended, local(CHICAGO, 2026, 5, 29, 18), CHICAGO) is None
    assert next_opening(OFFICE, local(CHICAGO, 2026, 6, 1, 8), CHICAGO).tzinfo == UTC


def test_closes_at():
    """The end of the current (merged) open interval; None when closed or open past the horizon."""
    assert closes_at(OFFICE, local(CHICAGO, 2026, 6, 1, 10), CHICAGO) == local(CHICAGO, 2026, 6, 1, 17)
    assert closes_at(OFFICE, local(CHICAGO, 2026, 6, 1, 17), CHICAGO) is None  # closing instant: closed
    assert closes_at(OFFICE, local(CHICAGO, 2026, 6, 1, 16, 59, 59), CHICAGO) == local(CHICAGO, 2026, 6, 1, 17)
    split = Schedule(weekly=[WeeklySpan(0, time(9), time(12)), WeeklySpan(0, time(12), time(17))])
    assert closes_at(split, local(CHICAGO, 2026, 6, 1, 10), CHICAGO) == local(CHICAGO, 2026, 6, 1, 17)
    overnight = Schedule(weekly=[WeeklySpan(5, time(22), time(6))])  # Saturday night
    assert closes_at(overnight, local(CHICAGO, 2026, 6, 6, 23), CHICAGO) == local(CHICAGO, 2026, 6, 7, 6)
    assert closes_at(overnight, local(CHICAGO, 2026, 6, 7, 5), CHICAGO) == local(CHICAGO, 2026, 6, 7, 6)
    assert closes_at(Schedule(always=True), local(CHICAGO, 2026, 6, 1, 10), CHICAGO) is None
    week_end = Schedule(always=True, valid=DateRange(date(2026, 6, 1), date(2026, 6, 3)))
    assert closes_at(week_end, local(CHICAGO, 2026, 6, 1, 10), CHICAGO) == local(CHICAGO, 2026, 6, 4, 0)
    # Across spring forward: Saturday 22:00 to Sunday 04:00 is five real hours.
    night = Schedule(weekly=[WeeklySpan(5, time(22), time(4))])
    start = local(CHICAGO, 2026, 3, 7, 22)
    assert closes_at(night, start, CHICAGO) - start == timedelta(hours=5)


def test_span_ending_at_midnight_and_midnight_holidays():
    """A span ending 00:00 runs to midnight; a holiday cancels the spans starting that day, not the night before."""
    evening = Schedule(weekly=[WeeklySpan(0, time(18), time(0))])
    assert closes_at(evening, local(CHICAGO, 2026, 6, 1, 23, 59), CHICAGO) == local(CHICAGO, 2026, 6, 2, 0)
    assert not is_open(evening, local(CHICAGO, 2026, 6, 2, 0), CHICAGO)
    night = Schedule(weekly=[WeeklySpan(0, time(20), time(8))], holidays={date(2026, 6, 2)}, closed_on_holidays=True)
    assert is_open(night, local(CHICAGO, 2026, 6, 2, 7, 59), CHICAGO)  # Monday's night runs into the holiday
    on_holiday = Schedule(weekly=[WeeklySpan(0, time(20), time(8))], holidays={date(2026, 6, 1)},
                          closed_on_holidays=True)
    assert not is_open(on_holiday, local(CHICAGO, 2026, 6, 1, 21), CHICAGO)
    assert not is_open(on_holiday, local(CHICAGO, 2026, 6, 2, 1), CHICAGO)


def test_gaps_in_on_call_coverage():
    """Two shifts with an hour between them: that hour, and the time after the last shift, are the gaps."""
    shifts = Schedule(weekly=[WeeklySpan(0, time(8), time(16)), WeeklySpan(0, time(17), time(8))])
    start, end = local(CHICAGO, 2026, 6, 1, 0), local(CHICAGO, 2026, 6, 3, 0)
    assert gaps(shifts, start, end, CHICAGO) == [
        (start.astimezone(UTC), local(CHICAGO, 2026, 6, 1, 8).astimezone(UTC)),
        (local(CHICAGO, 2026, 6, 1, 16).astimezone(UTC), local(CHICAGO, 2026, 6, 1, 17).astimezone(UTC)),
        (local(CHICAGO, 2026, 6, 2, 8).astimezone(UTC), end.astimezone(UTC)),
    ]
    assert gaps(Schedule(always=True), start, end, CHICAGO) == []
    assert gaps(Schedule(), start, end, CHICAGO) == [(start.astimezone(UTC), end.astimezone(UTC))]
    assert gaps(Schedule(), end, start, CHICAGO) == []


def test_describe():
    """One line per weekday, spans in order, overnight marked unless they end at midnight; 24/7 in one line."""
    assert describe(Schedule(always=True, weekly=[WeeklySpan(0, time(9), time(17))])) == [
        "Open 24 hours, 7 days a week"]
    schedule = Schedule(weekly=[
        WeeklySpan(0, time(13), time(17)), WeeklySpan(0, time(9), time(12)),
        WeeklySpan(4, time(22), time(6)), WeeklySpan(5, time(18), time(0)),
    ])
    assert describe(schedule) == [
        "Monday: 09:00–12:00, 13:00–17:00",
        "Tuesday: closed",
        "Wednesday: closed",
        "Thursday: closed",
        "Friday: 22:00–06:00 (next day)",
        "Saturday: 18:00–00:00",
        "Sunday: closed",
    ]
    assert describe(Schedule()) == [f"{day}: closed" for day in
                                    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")]

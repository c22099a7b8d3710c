"""On-call roster at scale: 50 agencies, 500 shifts, 60 holidays; who to call now and the 14-day coverage check.

    .venv/bin/python bench/oncall_bench.py                 # SQLite file in a temporary directory
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/oncall_bench.py
    .venv/bin/python bench/oncall_bench.py --profile       # also print where the time goes (cProfile)
    .venv/bin/python bench/oncall_bench.py --now 2026-03-02T14:00:00+00:00   # a fixed instant (see below)

The database is made as in directory_bench.py (a SQLite file, or a database of its own on the BENCH_DATABASE_URL
server, dropped afterwards). Into it, in the task force zone America/Chicago: 50 agencies with 3 users each (a few
deactivated); 4 kinds of response, 3 of them 24/7, each mapped to a directory service type; 500 shifts, mostly
weekly (day, overnight, weekend and single-day shifts, some bounded by first and last days, some skipping
holidays, a fifth with exceptions), the rest one-off covers in the coming weeks; 60 holidays, some of them in the
coming fortnight. All relative to now, from a fixed random seed.

Measured in this process, each run in a fresh request context and database session (as a request would be):

1. `GET /oncall/now` through the Flask test client, logged in as staff through the real login form;
2. `operations.who_is_on_call(at)` at instants spread over the next 14 days (nights and weekends among them);
3. `operations.coverage(now, now + 14 days)`, and `coverage_report(now, 14)` (what `csrn check-coverage` prints);
4. `GET /oncall/coverage` (14 days) as a chair.

Then the same 500 shifts as rotations: 4 in 5 weekly shifts become another agency's turn (one that ended a month
ago, or one starting in a month), as a roster planned ahead keeps them, and 1 and 4 are measured again. The roster
as generated has every weekly shift current, so about a hundred people are on call at any minute (all listed on
/oncall/now); as rotations, about twenty.

Targets (issue 15): /oncall/now p95 under 20 ms; the 14-day coverage check under 200 ms (its worst run).
The "answers" digest hashes what who_is_on_call and coverage returned: with `--now` (the roster is generated
around that instant and the pages' clock is set to it), two runs on different code must print the same digest.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import random
import statistics
import sys
import time as clock
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import directory_bench as directory  # noqa: E402
from referrals_bench import print_profile  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from csrn.agencies.models import Agency  # noqa: E402
from csrn.auth import operations as auth_ops  # noqa: E402
from csrn.auth.models import User, UserRole  # noqa: E402
from csrn.directory.models import ServiceType  # noqa: E402
from csrn.extensions import db  # noqa: E402
from csrn.oncall import operations as oncall_ops  # noqa: E402
from csrn.oncall import views as oncall_views  # noqa: E402
from csrn.oncall.models import ResponseKind, Shift, ShiftException, kind_service_type  # noqa: E402
from csrn.roles import AGENCY_ADMIN, CASE_MANAGER, CHAIR, STAFF  # noqa: E402
from csrn.schedules.models import Holiday  # noqa: E402
from csrn.settings.models import TaskForceSettings  # noqa: E402

AGENCIES = 50
USERS_PER_AGENCY = 3
SHIFTS = 500
HOLIDAYS = 60
ZONE = "America/Chicago"
WINDOW = timedelta(days=14)
RUNS = 200  # /oncall/now and who_is_on_call
COVERAGE_RUNS = 20  # coverage, coverage_report and GET /oncall/coverage
WARM_UP = 5
TARGET_NOW_MS = 20.0  # p95
TARGET_COVERAGE_MS = 200.0  # every run
SEED = 20260315

# (name, 24/7 required, the service type it answers for, share of the shifts)
KINDS = [
    ("Crisis response", True, "safety_planning", 0.3),
    ("Case management", True, "case_management", 0.3),
    ("Emergency shelter", True, "emergency_shelter", 0.25),
    ("Interpretation", False, "interpretation", 0.15),
]
WEEKDAYS, EVERY_DAY, WEEKEND = "0 1 2 3 4", "0 1 2 3 4 5 6", "5 6"
# Weekly shapes: (weight, weekdays or None for a random few, starts, ends); an end at or before the start runs
# past midnight.
SHAPES = [
    (14, WEEKDAYS, time(8), time(20)),  # day
    (8, WEEKDAYS, time(9), time(17)),
    (5, EVERY_DAY, time(7), time(19)),
    (12, WEEKDAYS, time(20), time(8)),  # overnight
    (8, EVERY_DAY, time(17), time(9)),
    (4, EVERY_DAY, time(19), time(7)),
    (8, WEEKEND, time(8), time(8)),  # weekend, 24 hours from each day's start
    (4, WEEKEND, time(0), time(0)),
    (3, "4", time(17), time(9)),  # Friday night
    (8, None, time(6), time(18)),  # a few given days
    (4, None, time(18), time(6)),
]
PLACE = ["Riverside", "Lakeshore", "Cedar", "Harbor", "Northside", "Valley", "Summit", "Prairie", "Granite", "Maple"]
KIND = ["Advocacy Center", "Legal Aid", "Community Clinic", "Shelter", "Family Services", "Outreach", "Hotline"]
NOTES = ["", "", "", "", "Ask for the duty advocate", "Spanish spoken", "Text first if no answer"]


# ----- the data -----------------------------------------------------------------------------------

def roster_rows(rng: random.Random, now: datetime) -> dict[str, list[dict]]:
    """Every row, with explicit ids so foreign keys need no round trips."""
    zone = ZoneInfo(ZONE)
    today = now.astimezone(zone).date()
    type_ids = dict(db.session.execute(select(ServiceType.code, ServiceType.id)).all())
    rows: dict[str, list[dict]] = {name: [] for name in (
        "agency", "user", "role", "kind", "kind_type", "shift", "exception", "holiday")}
    users_of: dict[int, list[int]] = {}
    user_id = 0
    for agency_id in range(1, AGENCIES + 1):
        rows["agency"].append(dict(
            id=agency_id, uuid=str(uuid.uuid4()), version=1, name=f"{rng.choice(PLACE)} {rng.choice(KIND)} {agency_id}",
            description="", agency_type="victim_service_provider", county="Cedar",
            phone=f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}", website="",
            membership_status="member", mou_signed_on=today - timedelta(days=rng.randint(30, 600)),
            mou_renewal_on=today + timedelta(days=rng.randint(30, 600)), mou_signatory="Director",
            internal_notes="", poc_name=f"Contact {agency_id}", poc_phone="+1 555 010 0000",
            poc_email=f"poc{agency_id}@agency.example", created_at=now, updated_at=now))
        users_of[agency_id] = []
        for index in range(USERS_PER_AGENCY):
            user_id += 1
            users_of[agency_id].append(user_id)
            rows["user"].append(dict(
                id=user_id, email=f"oncall{user_id}@agency{agency_id}.example", name=f"Advocate {user_id}",
                password_hash=None, agency_id=agency_id, active=rng.random() > 0.04, session_version=1,
                created_at=now))
            rows["role"].append(dict(user_id=user_id, role=AGENCY_ADMIN if index == 0 else CASE_MANAGER))
    for kind_id, (name, required, code, _) in enumerate(KINDS, start=1):
        rows["kind"].append(dict(id=kind_id, name=name, description="", required_24_7=required, active=True,
                                 position=kind_id, created_at=now, updated_at=now, version=1))
        rows["kind_type"].append(dict(kind_id=kind_id, service_type_id=type_ids[code]))
    # 60 holidays over two years, a few of them within the coming fortnight (where the coverage check looks).
    offsets = set(rng.sample(range(-300, 430), HOLIDAYS - 3)) - {2, 6, 11}
    offsets |= {2, 6, 11}
    while len(offsets) < HOLIDAYS:
        offsets.add(rng.randint(-300, 430))
    rows["holiday"] = [dict(id=i, day=today + timedelta(days=o), name="Holiday")
                       for i, o in enumerate(sorted(offsets), start=1)]
    kind_weights = [share for *_, share in KINDS]
    for shift_id in range(1, SHIFTS + 1):
        agency_id = rng.randint(1, AGENCIES)
        named = rng.random() < 0.12
        row = dict(
            id=shift_id, agency_id=agency_id, kind_id=rng.choices(range(1, len(KINDS) + 1), kind_weights)[0],
            user_id=None if named else rng.choice(users_of[agency_id]),
            display_name=f"Duty desk {agency_id}" if named else "",
            phone=f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            role="primary" if rng.random() < 0.6 else "backup", note=rng.choice(NOTES),
            skip_holidays=rng.random() < 0.3, created_at=now, updated_at=now, version=1)
        if rng.random() < 0.15:
            # A one-off cover: a few hours to a day, somewhere from a few days ago to three weeks ahead.
            starts = datetime.combine(today + timedelta(days=rng.randint(-3, 21)), time(rng.randint(0, 23)),
                                      tzinfo=zone).astimezone(UTC)
            row.update(pattern="once", weekdays="", starts=None, ends=None, valid_from=None, valid_until=None,
                       starts_at=starts, ends_at=starts + timedelta(hours=rng.choice((4, 6, 8, 12, 24))),
                       skip_holidays=False)
        else:
            _, days, starts, ends = rng.choices(SHAPES, [shape[0] for shape in SHAPES])[0]
            if days is None:
                days = " ".join(str(d) for d in sorted(rng.sample(range(7), rng.randint(1, 3))))
            valid_from = valid_until = None
            bounded = rng.random()
            if bounded < 0.1:
                valid_from = today + timedelta(days=rng.randint(-60, 10))
            elif bounded < 0.2:
                valid_until = today + timedelta(days=rng.randint(-30, 60))
            elif bounded < 0.28:
                valid_from = today + timedelta(days=rng.randint(-90, 5))
                valid_until = valid_from + timedelta(days=rng.randint(7, 120))
            row.update(pattern="weekly", weekdays=days, starts=starts, ends=ends, valid_from=valid_from,
                       valid_until=valid_until, starts_at=None, ends_at=None)
            if rng.random() < 0.2:
                for _ in range(rng.randint(1, 3)):
                    first = today + timedelta(days=rng.randint(-10, 20))
                    rows["exception"].append(dict(shift_id=shift_id, start_date=first,
                                                  end_date=first + timedelta(days=rng.randint(0, 6)),
                                                  note="Leave"))
        rows["shift"].append(row)
    return rows


def fill(app, rng: random.Random, now: datetime) -> dict:
    """Bulk-insert the roster; create the staff user (who reads /oncall/now) and a chair (coverage)."""
    with app.app_context():
        settings = TaskForceSettings(id=1, name="Bench Task Force", timezone=ZONE, fallback_phone="+1 555 010 0911",
                                     updated_at=now)
        settings.counties = ["Cedar"]
        db.session.add(settings)
        rows = roster_rows(rng, now)
        for model, key in ((Agency, "agency"), (User, "user"), (UserRole, "role"), (ResponseKind, "kind"),
                           (Holiday, "holiday"), (Shift, "shift"), (ShiftException, "exception")):
            directory.bulk(model, rows[key])
        db.session.execute(insert(kind_service_type), rows["kind_type"])
        db.session.commit()
        directory.settle(("agency", "app_user", "response_kind", "holiday", "shift"))
        staff = auth_ops.create_user(None, "bench-staff@example.org", "Bench Staff", [STAFF], 1, now,
                                     password=directory.PASSWORD)
        chair = auth_ops.create_user(None, "bench-chair@example.org", "Bench Chair", [CHAIR], None, now,
                                     password=directory.PASSWORD)
        db.session.commit()
        shifts = rows["shift"]
        weekly = [s for s in shifts if s["pattern"] == "weekly"]
        result = {
            "staff": staff.email, "chair": chair.email, "counts": {key: len(value) for key, value in rows.items()},
            "once": len(shifts) - len(weekly),
            "overnight": sum(1 for s in weekly if s["ends"] <= s["starts"] and s["weekdays"] != WEEKEND),
            "weekend": sum(1 for s in weekly if s["weekdays"] == WEEKEND),
            "bounded": sum(1 for s in weekly if s["valid_from"] or s["valid_until"]),
            "with_exceptions": len({e["shift_id"] for e in rows["exception"]}),
            "primaries": sum(1 for s in shifts if s["role"] == "primary"),
        }
        db.session.remove()
    return result


# ----- the measurement ------------------------------------------------------------------------------

def timed(app, counter, profiler: cProfile.Profile | None, call, runs: int):
    """Call `call(run)` `runs` times after WARM_UP, each in a fresh request context and session (settings, zone
    and holidays are read anew, as a request would); wall and CPU ms, SQL statements, the answers as text."""
    times, cpu, statements, answers = [], [], [], []
    for run in range(WARM_UP + runs):
        with app.test_request_context("/"):
            db.session.remove()
            before = counter.count
            if profiler and run >= WARM_UP:
                profiler.enable()
            started, cpu_started = clock.perf_counter(), clock.process_time()
            answer = call(run)
            elapsed, cpu_elapsed = clock.perf_counter() - started, clock.process_time() - cpu_started
            if profiler and run >= WARM_UP:
                profiler.disable()
            if run >= WARM_UP:
                times.append(elapsed * 1000)
                cpu.append(cpu_elapsed * 1000)
                statements.append(counter.count - before)
                answers.append(_plain(answer))
            db.session.remove()
    return times, cpu, statements, answers


def _plain(answer) -> str:
    """The answer as text with ids (no objects), for the digest."""
    if isinstance(answer, tuple):  # coverage_report: (lines, missing primary)
        return repr(answer)
    out = []
    for item in answer:
        if isinstance(item, oncall_ops.KindNow):
            out.append((item.kind.name, [(on.shift.id, on.until) for on in item.primaries],
                        [(on.shift.id, on.until) for on in item.backups],
                        item.next_primary.shift.id if item.next_primary else None, item.next_at, item.uncovered))
        else:
            out.append((item.kind.name, item.no_primary, item.no_backup, item.overlapping_primaries,
                        [(shift.id, why) for shift, why in item.flagged]))
    return repr(out)


def summary(now: datetime, app) -> str:
    """What the roster looks like to the coverage check: gaps per 24/7 kind in the window."""
    with app.test_request_context("/"):
        report = oncall_ops.coverage(now, now + WINDOW)
        answers = oncall_ops.who_is_on_call(now)
        db.session.remove()
    gaps = ", ".join(f"{item.kind.name} {len(item.no_primary)}/{len(item.no_backup)}" for item in report)
    on = sum(len(a.primaries) + len(a.backups) for a in answers)
    return f"{on} people on call now; gaps with no primary/no backup in 14 days: {gaps}"


def rotate(app, now: datetime) -> int:
    """Make 4 in 5 weekly shifts past or future rotations (the rest and the one-off covers stay); who is on now."""
    today = now.astimezone(ZoneInfo(ZONE)).date()
    with app.app_context():
        weekly = Shift.pattern == "weekly"
        db.session.execute(update(Shift).where(weekly, Shift.id % 5 < 2).values(
            valid_from=today - timedelta(days=120), valid_until=today - timedelta(days=30)))
        db.session.execute(update(Shift).where(weekly, Shift.id % 5 >= 2, Shift.id % 5 < 4).values(
            valid_from=today + timedelta(days=30), valid_until=today + timedelta(days=120)))
        db.session.commit()
        db.session.remove()
    with app.test_request_context("/"):
        on = sum(len(a.primaries) + len(a.backups) for a in oncall_ops.who_is_on_call(now))
        db.session.remove()
    return on


def table(lines) -> bool:
    """Print the measurements beside their targets; whether every one meets its target."""
    print(f"  {'measurement':<46} {'runs':>4} {'median':>8} {'p95/max':>14}  {'target':<9} {'':<6} {'SQL':>5}  "
          f"CPU median, p95/max")
    ok = True
    for label, (times, cpu, statements, *_), high_name, target in lines:
        high = directory.p95 if high_name == "p95" else max
        print(row(label, len(times), statistics.median(times), high(times), high_name, target,
                  statistics.median(statements), f"{statistics.median(cpu):5.1f}, {high(cpu):5.1f}"))
        ok = ok and high(times) < target
    return ok


def row(label: str, runs: int, median: float, high: float, high_name: str, target: float, statements: float,
        note: str = "") -> str:
    verdict = "ok" if high < target else "MISSES"
    return (f"  {label:<46} {runs:>4} {median:8.1f} {high:8.1f} {high_name:<5} < {target:g} ms {verdict:<6} "
            f"{statements:>5.0f}  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    parser.add_argument("--now", help="an ISO instant with an offset: generate and answer as of it (for a digest "
                                      "that can be compared across code changes)")
    args = parser.parse_args()
    rng = random.Random(SEED)
    now = datetime.fromisoformat(args.now).astimezone(UTC) if args.now else datetime.now(UTC)
    if args.now:
        oncall_views.utcnow = lambda: now  # the pages' clock; operations take `now` as an argument
    profilers: dict[str, cProfile.Profile] = {}

    def profiler_for(name: str) -> cProfile.Profile | None:
        if not args.profile:
            return None
        profilers[name] = cProfile.Profile()
        return profilers[name]

    with directory.bench_database() as (url, backend):
        started = clock.perf_counter()
        app = directory.build_app(url)
        migrated = clock.perf_counter()
        data = fill(app, rng, now)
        filled = clock.perf_counter()
        counts = data["counts"]
        print(f"on-call bench on {backend}: {counts['agency']} agencies, {counts['user']} users, "
              f"{counts['kind']} kinds (3 of them 24/7), {counts['shift']} shifts ({data['primaries']} primary; "
              f"{data['once']} one-off; of the weekly, {data['overnight']} overnight, {data['weekend']} weekend, "
              f"{data['bounded']} with first/last days, {data['with_exceptions']} with {counts['exception']} "
              f"exceptions), {counts['holiday']} holidays, zone {ZONE}")
        print(f"  setup: migrate {migrated - started:.1f} s, bulk insert {filled - migrated:.1f} s; "
              f"now = {now.isoformat(timespec='minutes')}")
        print(f"  {summary(now, app)}")
        with app.app_context():
            counter = directory.QueryCounter(db.engine)

        step = WINDOW / RUNS
        instants = [now + step * run + timedelta(minutes=rng.randint(0, 59)) for run in range(WARM_UP + RUNS)]
        who = timed(app, counter, profiler_for("who_is_on_call"),
                    lambda run: oncall_ops.who_is_on_call(instants[run]), RUNS)
        cov = timed(app, counter, profiler_for("coverage"), lambda run: oncall_ops.coverage(now, now + WINDOW),
                    COVERAGE_RUNS)
        cov_report = timed(app, counter, profiler_for("coverage_report"),
                           lambda run: oncall_ops.coverage_report(now, WINDOW.days), COVERAGE_RUNS)
        staff = directory.login(app, data["staff"])
        chair = directory.login(app, data["chair"])
        page_now = directory.measure(staff, ["/oncall/now"] * RUNS, counter, profiler_for("GET /oncall/now"))
        page_cov = directory.measure(chair, [f"/oncall/coverage?days={WINDOW.days}"] * COVERAGE_RUNS, counter,
                                     profiler_for("GET /oncall/coverage"))
        digest = hashlib.sha256("\n".join(who[3] + cov[3][:1] + cov_report[3][:1]).encode()).hexdigest()

        print(f"  in process; runs after {WARM_UP} warm-up; times in ms; nearest-rank p95; each run a fresh request "
              f"context and session; CPU is this process's")
        ok = table([
            ("GET /oncall/now (staff)", page_now, "p95", TARGET_NOW_MS),
            ("who_is_on_call(at), at over the next 14 days", who, "p95", TARGET_NOW_MS),
            ("coverage(now, now + 14 days)", cov, "max", TARGET_COVERAGE_MS),
            ("coverage_report(now, 14) (check-coverage)", cov_report, "max", TARGET_COVERAGE_MS),
            ("GET /oncall/coverage?days=14 (chair)", page_cov, "max", TARGET_COVERAGE_MS),
        ])
        print(f"  answers digest {digest[:16]} (who_is_on_call at {RUNS} instants, coverage, coverage_report)")

        on = rotate(app, now)
        print(f"  the same shifts as rotations (4 in 5 weekly shifts ended a month ago or start in a month): {on} "
              f"people on call now")
        rotated_now = directory.measure(staff, ["/oncall/now"] * RUNS, counter, None)
        rotated_cov = directory.measure(chair, [f"/oncall/coverage?days={WINDOW.days}"] * COVERAGE_RUNS, counter,
                                        None)
        rotated_ok = table([
            ("GET /oncall/now (staff), rotations", rotated_now, "p95", TARGET_NOW_MS),
            ("GET /oncall/coverage?days=14, rotations", rotated_cov, "max", TARGET_COVERAGE_MS),
        ])
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for name, profiler in profilers.items():
            print_profile(name, profiler)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if not (ok and rotated_ok):
        print("  (a figure misses its target: run with --profile to see where the time goes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

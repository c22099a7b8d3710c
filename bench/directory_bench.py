"""Directory at stress scale: 2,000 agencies, 10,000 services (or 100,000); search and agency page, median and p95.

    .venv/bin/python bench/directory_bench.py                 # SQLite file in a temporary directory
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/directory_bench.py
    .venv/bin/python bench/directory_bench.py --profile       # also print where the time goes (cProfile)
    .venv/bin/python bench/directory_bench.py --services 100000   # 20,000 agencies, 100,000 services
    .venv/bin/python bench/directory_bench.py --services 10000,100000   # each size in turn

Targets (issue 24): search p95 under 10 ms at 10,000 services, and under twice that at 100,000; the agency page
under the same. bench/profile_pages.py shows where a page's time goes, `/account/` included.

With BENCH_DATABASE_URL set, the URL only says which server to use: the bench creates a database of its own
on it (csrn_bench_<random>), migrates, fills and measures it, and drops it afterwards. Nothing else on the
server is touched. Requests go through the Flask test client in this process, logged in as a staff user
through the real login form. No caches, no second search engine: the figures are the app's own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import time as clock
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, event, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from csrn import create_app  # noqa: E402
from csrn.agencies.models import Agency, Certificate, MembershipChange, TrainingCourse  # noqa: E402
from csrn.auth import operations as auth_ops  # noqa: E402
from csrn.auth.models import User, UserRole  # noqa: E402
from csrn.config import DevelopmentConfig, normalise_database_url  # noqa: E402
from csrn.directory.languages import LANGUAGES  # noqa: E402
from csrn.directory.models import Location, Service, ServiceFacet, ServiceType  # noqa: E402
from csrn.extensions import db  # noqa: E402
from csrn.roles import AGENCY_ADMIN, CASE_MANAGER, STAFF  # noqa: E402
from csrn.schedules.models import Holiday, ScheduleRule  # noqa: E402
from csrn.settings.models import TaskForceSettings  # noqa: E402

AGENCIES = 2_000
SERVICES = 10_000
REQUESTS = 200
WARM_UP = 10
TARGET_MS = 10.0  # at 10,000 services; twice that at 100,000 (issue 24)
SEARCH_URL = "/directory/?q=care&service_type=case_management&language=es&age=25_plus"
PASSWORD = "bench password that is long enough 42"
SEED = 20260308

COUNTIES = ["Alder", "Birch Hollow", "Cedar", "Dunmore", "Elk River", "Fairview", "Granite", "Harlow"]
AGENCY_TYPES = ["victim_service_provider", "legal", "medical", "mental_health", "shelter_housing", "government",
                "faith_based", "community", "law_enforcement", "other"]
# Mostly members; some listed community resources; the rest spread over the other states.
STATUSES = ["member"] * 80 + ["listed"] * 8 + ["applicant"] * 4 + ["in_training"] * 4 + ["suspended", "lapsed",
                                                                                         "prospect", "prospect"]
PLACE = ["Riverside", "Lakeshore", "Cedar", "Harbor", "Northside", "Valley", "Summit", "Prairie", "Granite",
         "Maple", "Willow", "Bridgeport", "Oak Grove", "Fairview", "Elk River", "Southgate"]
KIND = ["Advocacy Center", "Legal Aid", "Community Clinic", "Counseling", "Shelter", "Family Services",
        "Outreach", "Health Center", "Refugee Ministry", "Workers' Center", "Youth Services", "Recovery Services"]
PHRASES = [
    "Trauma-informed care for adult survivors.", "Intensive case management and safety planning.",
    "Primary care and forensic-informed exams.", "Walk-ins welcome during opening hours.",
    "Bilingual staff; interpreters by phone for other languages.", "Emergency beds for women and children.",
    "Civil legal help: protective orders, housing, vacatur.", "Counselling for adolescents and families.",
    "Aftercare and long-term support after shelter.", "Help with T visas, U visas and continued presence.",
    "Job readiness, training and placement.", "Food pantry, clothing closet and bus passes.",
    "Child care during appointments.", "Accompaniment to court and police interviews.",
    "Peer support groups led by survivors.", "Detox referrals and recovery coaching.",
]
SERVICE_NAMES = ["", "", "", "Survivor support", "Drop-in centre", "Night line", "Youth programme",
                 "Family care team", "Legal clinic", "Mobile outreach", "Health care for survivors"]
GENDERS = ["female", "male", "transgender", "non_binary"]
LANGUAGE_CODES = sorted(LANGUAGES)
HOLIDAYS = [date(2026, 1, 1), date(2026, 1, 19), date(2026, 5, 25), date(2026, 7, 3), date(2026, 9, 7),
            date(2026, 11, 26), date(2026, 11, 27), date(2026, 12, 25)]


def set_size(services: int) -> None:
    """Scale the data: `services` services over a fifth as many agencies (the default is 10,000 over 2,000)."""
    global AGENCIES, SERVICES
    SERVICES = services
    AGENCIES = max(1, services // 5)


# ----- the database -----------------------------------------------------------------------------

@contextmanager
def bench_database():
    """A fresh database URL: a SQLite file in a temporary directory, or a new database on BENCH_DATABASE_URL."""
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        with tempfile.TemporaryDirectory(prefix="csrn-bench-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3", "SQLite"
        return
    url = make_url(normalise_database_url(server))
    name = f"csrn_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        version = conn.execute(text("SHOW server_version")).scalar()
    try:
        yield url.set(database=name).render_as_string(hide_password=False), f"PostgreSQL {version}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build_app(url: str):
    """The app as `make run` builds it (development settings, no debug), migrated."""
    config = DevelopmentConfig()
    config.SQLALCHEMY_DATABASE_URI = url
    app = create_app(config)
    logging.disable(logging.INFO)  # alembic's one line per migration
    try:
        with app.app_context():
            upgrade()
    finally:
        logging.disable(logging.NOTSET)
    return app


def settle(tables) -> None:
    """After a bulk load with explicit ids: move the sequences on (PostgreSQL) and gather statistics."""
    if db.engine.dialect.name == "postgresql":
        # Explicit ids leave the sequences behind; move them on before the app inserts anything itself.
        for table in tables:
            db.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        db.session.commit()
        # Statistics and the visibility map a long-lived database would have (autovacuum): without the
        # latter, PostgreSQL cannot use index-only scans on freshly loaded tables.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


# ----- the data -----------------------------------------------------------------------------------

def bulk(model, rows: list[dict]) -> None:
    """executemany through the ORM's bulk INSERT (no per-object unit of work), 5,000 rows at a time."""
    for start in range(0, len(rows), 5_000):
        db.session.execute(insert(model), rows[start : start + 5_000])


def make_rows(rng: random.Random, now: datetime) -> dict:
    """Every row, with explicit ids so foreign keys need no round trips."""
    today = now.date()
    type_ids = db.session.execute(select(ServiceType.code, ServiceType.id)).all()
    rows: dict[str, list[dict]] = {name: [] for name in (
        "course", "agency", "user", "role", "certificate", "change", "location", "service", "facet", "rule")}
    rows["course"] = [
        dict(id=1, name="Core anti-trafficking training", description="", hours=8, valid_months=24, is_core=True,
             active=True, created_at=now),
        dict(id=2, name="Trauma-informed interviewing", description="", hours=4, valid_months=None, is_core=False,
             active=True, created_at=now),
    ]
    user_id = 0
    for agency_id in range(1, AGENCIES + 1):
        status = rng.choice(STATUSES)
        signed = today - timedelta(days=rng.randint(30, 900)) if status in ("member", "suspended", "lapsed") else None
        renewal = (signed + timedelta(days=rng.choice((365, 730, 1095)))) if signed else None
        rows["agency"].append(dict(
            id=agency_id, uuid=str(uuid.uuid4()), version=1,
            name=f"{rng.choice(PLACE)} {rng.choice(KIND)} {agency_id}",
            description=" ".join(rng.sample(PHRASES, 2)),
            agency_type=rng.choice(AGENCY_TYPES), county=rng.choice(COUNTIES),
            phone=f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            website=f"https://agency{agency_id}.example.org", membership_status=status,
            mou_signed_on=signed, mou_renewal_on=renewal, mou_signatory="Director" if signed else "",
            internal_notes="", poc_name=f"Contact {agency_id}", poc_phone="+1 555 010 0000",
            poc_email=f"poc{agency_id}@agency.example", created_at=now, updated_at=now,
        ))
        if status in ("member", "suspended", "lapsed", "in_training"):
            user_id += 1
            rows["user"].append(dict(
                id=user_id, email=f"certified{agency_id}@agency.example", name=f"Advocate {agency_id}",
                password_hash=None, agency_id=agency_id, active=True, session_version=1, created_at=now))
            rows["role"].append(dict(user_id=user_id, role=rng.choice((CASE_MANAGER, AGENCY_ADMIN))))
            completed = today - timedelta(days=rng.randint(10, 600))
            rows["certificate"].append(dict(
                user_id=user_id, agency_id=agency_id, course_id=1, completed_on=completed,
                expires_on=completed + timedelta(days=730), certificate_number=f"C-{agency_id}",
                file_original_name="", file_mime="", status="verified" if status != "in_training" else "pending",
                recorded_at=now, decided_at=now if status != "in_training" else None, rejection_reason=""))
        if status == "member":
            rows["change"].append(dict(agency_id=agency_id, from_status="in_training", to_status="member",
                                       reason="Training complete.", changed_at=now - timedelta(days=200)))
        for index in range(rng.choice((1, 1, 2))):
            rows["location"].append(dict(
                uuid=str(uuid.uuid4()), version=1, agency_id=agency_id, name="Main office" if index == 0 else "Annex",
                address_1=f"{rng.randint(1, 9999)} {rng.choice(PLACE)} Street", address_2=None,
                city=rng.choice(PLACE), state="IL", postal_code=f"6{rng.randint(1000, 9999)}",
                county=rng.choice(COUNTIES), visibility=rng.choice(("public", "members", "confidential")),
                created_at=now, updated_at=now))
    # 10,000 services spread over the agencies: every agency has at least one.
    owners = list(range(1, AGENCIES + 1)) + [rng.randint(1, AGENCIES) for _ in range(SERVICES - AGENCIES)]
    for service_id, agency_id in enumerate(sorted(owners), start=1):
        always = rng.random() < 0.12
        rows["service"].append(dict(
            id=service_id, uuid=str(uuid.uuid4()), version=1, agency_id=agency_id,
            service_type_id=rng.choice(type_ids)[1], name=rng.choice(SERVICE_NAMES),
            description=" ".join(rng.sample(PHRASES, rng.randint(1, 3))),
            status="active" if rng.random() < 0.92 else "inactive", accessibility="Step-free entrance.",
            cost=rng.choice(("free", "free", "sliding", "pro_bono", "fee")), how_to_refer="Call the intake line.",
            is_24_7=always, closed_on_holidays=rng.random() < 0.7,
            open_slots=rng.choice((None, 0, 0, 1, 2, 3, 5, 8, 12)), waitlist=rng.choice((0, 0, 0, 2, 6)),
            capacity_confirmed_at=now - timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23)),
            created_at=now, updated_at=now))
        facets = []
        if rng.random() < 0.7:
            facets += [("age", v) for v in rng.sample(("minor", "18_24", "25_plus"), rng.randint(1, 3))]
        if rng.random() < 0.6:
            facets += [("gender", v) for v in rng.sample(GENDERS, rng.randint(1, 4))]
        if rng.random() < 0.3:
            facets += [("citizenship", v) for v in rng.sample(("us", "foreign"), rng.randint(1, 2))]
        if rng.random() < 0.5:
            facets += [("trafficking", v) for v in rng.sample(("sex", "labour"), rng.randint(1, 2))]
        languages = {"en"} | ({"es"} if rng.random() < 0.35 else set()) | set(rng.sample(LANGUAGE_CODES, 1))
        facets += [("language", v) for v in sorted(languages)]
        if rng.random() < 0.3:
            facets += [("interpretation", v) for v in rng.sample(LANGUAGE_CODES, rng.randint(1, 4))
                       if v not in languages]
        if rng.random() < 0.5:
            facets += [("county", v) for v in rng.sample(COUNTIES, rng.randint(1, 3))]
        rows["facet"] += [dict(service_id=service_id, kind=k, value=v) for k, v in facets]
        if not always:
            rows["rule"] += _hours(rng, service_id)
        if rng.random() < 0.1:
            start = today + timedelta(days=rng.randint(-20, 40))
            rows["rule"].append(dict(service_id=service_id, kind="closed", start_date=start,
                                     end_date=start + timedelta(days=rng.randint(0, 6)), note="Staff training"))
    return rows


def _hours(rng: random.Random, service_id: int) -> list[dict]:
    """Office hours, long days, evenings with overnight spans, or a couple of clinic days."""
    shape = rng.random()
    if shape < 0.55:
        opens, closes = rng.choice(((time(9), time(17)), (time(8, 30), time(16, 30)), (time(10), time(18))))
        days = range(5)
    elif shape < 0.75:
        opens, closes, days = time(7), time(19), range(7)
    elif shape < 0.9:
        opens, closes, days = time(18), time(8), range(7)  # overnight
    else:
        opens, closes, days = time(13), time(0), rng.sample(range(7), 2)  # until midnight
    return [dict(service_id=service_id, kind="weekly", weekday=d, opens=opens, closes=closes, note="")
            for d in days]


def fill(app, rng: random.Random, now: datetime) -> dict:
    """Bulk-insert everything, then create the staff user through the app's own operation."""
    with app.app_context():
        rows = make_rows(rng, now)
        settings = TaskForceSettings(id=1, name="Bench Task Force", timezone="America/Chicago", updated_at=now)
        settings.counties = COUNTIES
        db.session.add(settings)
        bulk(Holiday, [dict(day=d, name="Holiday") for d in HOLIDAYS])
        for model, key in ((TrainingCourse, "course"), (Agency, "agency"), (User, "user"), (UserRole, "role"),
                           (Certificate, "certificate"), (MembershipChange, "change"), (Location, "location"),
                           (Service, "service"), (ServiceFacet, "facet"), (ScheduleRule, "rule")):
            bulk(model, rows[key])
        db.session.commit()
        settle(("training_course", "agency", "app_user", "service"))
        member = next(a["id"] for a in rows["agency"] if a["membership_status"] == "member")
        staff = auth_ops.create_user(None, "bench-staff@example.org", "Bench Staff", [STAFF], member, now,
                                     password=PASSWORD)
        db.session.commit()
        email = staff.email
        counts = {key: len(value) for key, value in rows.items()}
        db.session.remove()
    return {"email": email, "counts": counts, "agency_ids": [a["id"] for a in rows["agency"]]}


# ----- the measurement ------------------------------------------------------------------------------

def login(app, email: str):
    """A test client logged in through the real login form, CSRF token taken from the page."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    if not match:
        raise SystemExit("no CSRF token on the login page")
    response = client.post("/login", data={"csrf_token": match.group(1), "email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
    return client


class QueryCounter:
    """Counts the SQL statements the app sends (to spot N+1s)."""

    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args):
        self.count += 1


def measure(client, urls: list[str], counter: QueryCounter, profiler: cProfile.Profile | None):
    """Warm up, then time each request: wall-clock and this process's CPU milliseconds, SQL statements."""
    for url in urls[:WARM_UP]:
        if client.get(url).status_code != 200:
            raise SystemExit(f"{url}: not 200")
    times, cpu, statements = [], [], []
    for url in urls:
        before = counter.count
        if profiler:
            profiler.enable()
        started, cpu_started = clock.perf_counter(), clock.process_time()
        response = client.get(url)
        elapsed, cpu_elapsed = clock.perf_counter() - started, clock.process_time() - cpu_started
        if profiler:
            profiler.disable()
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code}")
        times.append(elapsed * 1000)
        cpu.append(cpu_elapsed * 1000)
        statements.append(counter.count - before)
    return times, cpu, statements


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def print_profiled(label: str, target: str, times: list[float], cpu: list[float], statements: list[int],
                   profiler: cProfile.Profile | None, top: int, pattern: str = r"csrn/|templates/|\(execute|\(fetch",
                   ) -> None:
    """One page's figures, then (if profiled) its busiest functions: by cumulative time among `pattern`'s, then by
    their own time (bench/profile_pages.py and bench/profile_intake.py)."""
    print(f"\n===== {label}: {target}\n  wall median {statistics.median(times):.2f} ms, "
          f"p95 {p95(times):.2f} ms; cpu median {statistics.median(cpu):.2f} ms; "
          f"{statistics.median(statements):.0f} SQL statements a request")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(pattern, top)
        stats.sort_stats("tottime").print_stats(top)
        print(out.getvalue())


def target_ms() -> float:
    """The p95 target at the current size: 10 ms at 10,000 services, twice that from 100,000."""
    return TARGET_MS * (2 if SERVICES >= 100_000 else 1)


def report(label: str, times: list[float], cpu: list[float], statements: list[int], extra: str = "") -> bool:
    median, high, target = statistics.median(times), p95(times), target_ms()
    ok = high < target
    print(f"  {label}{extra}\n"
          f"      wall median {median:6.1f} ms  p95 {high:6.1f} ms   {'ok' if ok else f'MISSES {target:.0f} ms'}\n"
          f"      cpu  median {statistics.median(cpu):6.1f} ms  p95 {p95(cpu):6.1f} ms   (this process only)   "
          f"{statistics.median(statements):.0f} SQL statements/request")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    parser.add_argument("--services", default=str(SERVICES),
                        help="services, comma-separated for several sizes (agencies: a fifth); default 10000")
    args = parser.parse_args()
    ok = True
    for size in (int(part) for part in args.services.split(",") if part.strip()):
        set_size(size)
        ok = run_size(args) and ok
    if not ok:
        print("  (a figure misses the target: run with --profile to see where the time goes)")
    return 0


def run_size(args) -> bool:
    """Fill a fresh database at the current size, measure search and agency page; whether both met the target."""
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    with bench_database() as (url, backend):
        started = clock.perf_counter()
        app = build_app(url)
        migrated = clock.perf_counter()
        data = fill(app, rng, now)
        filled = clock.perf_counter()
        counts = data["counts"]
        print(f"directory bench on {backend}: {counts['agency']:,} agencies, {counts['service']:,} services, "
              f"{counts['facet']:,} facets, {counts['rule']:,} schedule rules, {counts['location']:,} locations, "
              f"{counts['certificate']:,} certificates")
        print(f"  setup: migrate {migrated - started:.1f} s, bulk insert {filled - migrated:.1f} s")
        client = login(app, data["email"])
        with app.app_context():
            counter = QueryCounter(db.engine)
        found = client.get(SEARCH_URL).get_data(as_text=True)
        total = found.split('class="result-count">', 1)[1].split(" ", 1)[0] if "result-count" in found else "?"
        agency_urls = [f"/agencies/{rng.choice(data['agency_ids'])}" for _ in range(REQUESTS)]
        results = {}
        for name, urls in (("search", [SEARCH_URL] * REQUESTS), ("agency", agency_urls)):
            profiler = cProfile.Profile() if args.profile else None
            results[name] = (*measure(client, urls, counter, profiler), profiler)
        print(f"  {REQUESTS} requests each, in process, logged in as staff; target p95 < {target_ms():.0f} ms")
        ok = report(f"search {SEARCH_URL}", *results["search"][:3], extra=f"  ({total} results)")
        ok = report("agency page /agencies/<random id>", *results["agency"][:3]) and ok
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if args.profile:
            for name, (_, _, _, profiler) in results.items():
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("cumulative").print_stats(r"csrn/|templates/|\(execute|\(fetch", 30)
                stats.sort_stats("tottime").print_stats(15)
                print(f"\n----- profile: {name} ({REQUESTS} requests; the app's own functions, then the busiest) -----")
                print(out.getvalue())
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return ok


if __name__ == "__main__":
    sys.exit(main())

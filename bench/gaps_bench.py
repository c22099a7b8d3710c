"""The gap analysis at stress scale: the resource map and the demand report over 10,000 services and 100,000 referrals.

    .venv/bin/python bench/gaps_bench.py
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/gaps_bench.py

The directory and referrals come from bench/directory_bench.py and bench/referrals_bench.py; on top of them every
intake's needs and languages are written as rows (as `submit` writes them) and 8,000 unmet needs spread over the
past two years. Measured in this process through the Flask test client, logged in as a chair through the real login
form: `GET /gaps/` (the whole matrix, every column one grouped SELECT), and `GET /gaps/demand` (every table of the
past year, the percentiles, three monthly trends). Targets: the map's p95 under 150 ms, the demand report's under
300 ms. The `daily` roll-up is run first, as the nightly job leaves it (its time is printed): every day before today is
read from the roll-up, today from the records. `--raw` leaves it out (every day read from the records).
"""

from __future__ import annotations

import cProfile
import json
import os
import random
import statistics
import sys
import time as clock
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import directory_bench as directory  # noqa: E402
import referrals_bench as referrals  # noqa: E402
from sqlalchemy import select  # noqa: E402

from csrn.directory.models import ServiceType  # noqa: E402
from csrn.extensions import db  # noqa: E402
from csrn.intake.models import Intake, IntakeLanguage, IntakeNeed, UnmetNeed  # noqa: E402

RUNS = 40 if "--parts" not in sys.argv else 3
UNMET = 8_000
TARGETS = {"map": 150.0, "demand": 300.0}
SEED = 20261206


def fill_dimensions(app, rng: random.Random, now: datetime) -> dict[str, int]:
    """Every intake's needs and languages as rows, and unmet needs over two years."""
    with app.app_context():
        types = dict(db.session.execute(select(ServiceType.code, ServiceType.id)).tuples().all())
        needs, languages = [], []
        for intake_id, needs_json, languages_json in db.session.execute(
                select(Intake.id, Intake.needs_json, Intake.languages_json)):
            needs += [{"intake_id": intake_id, "service_type_id": types[code]}
                      for code in sorted(set(json.loads(needs_json))) if code in types]
            languages += [{"intake_id": intake_id, "language": code}
                          for code in sorted(set(json.loads(languages_json)))]
        for start in range(0, len(needs), 20_000):
            db.session.execute(IntakeNeed.__table__.insert(), needs[start:start + 20_000])
        for start in range(0, len(languages), 20_000):
            db.session.execute(IntakeLanguage.__table__.insert(), languages[start:start + 20_000])
        people = referrals.PEOPLE
        unmet = []
        for _ in range(UNMET):
            person = rng.choice(people)
            unmet.append(dict(intake_id=None, service_type_id=rng.choice(list(types.values())),
                              age_group=person["age_group"], gender=person["gender"],
                              citizenship=person["citizenship"], trafficking_type=person["trafficking_type"],
                              county=person["county"], recorded_on=(now - timedelta(days=rng.uniform(0, 730))).date(),
                              is_drill=False, found_in=rng.choice(("intake", "intake", "assessment"))))
        db.session.execute(UnmetNeed.__table__.insert(), unmet)
        db.session.commit()
        directory.settle(("intake_need", "intake_language", "unmet_need"))
        return {"needs": len(needs), "languages": len(languages), "unmet": len(unmet)}


def main() -> int:
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    with directory.bench_database() as (url, backend):
        started = clock.perf_counter()
        app = directory.build_app(url)
        listing = directory.fill(app, random.Random(directory.SEED), now)
        data = referrals.fill_referrals(app, random.Random(referrals.SEED), now)
        rows = fill_dimensions(app, rng, now)
        print(f"gaps bench on {backend}: {listing['counts']['service']:,} services, "
              f"{data['counts']['referral']:,} referrals, {rows['needs']:,} intake needs, "
              f"{rows['languages']:,} intake languages, {rows['unmet']:,} unmet needs "
              f"(setup {clock.perf_counter() - started:.0f} s)")
        if "--raw" not in sys.argv:  # as the `daily` pass leaves it: every day before today rolled up
            from csrn.gaps import rollup
            with app.app_context():
                began = clock.perf_counter()
                summary = rollup.roll_up(now)
                print(f"  roll-up from nothing: {summary} in {clock.perf_counter() - began:.1f} s")
        with app.app_context():
            counter = directory.QueryCounter(db.engine)
        chair = directory.login(app, data["chair"])
        print(f"  in process; {RUNS} runs each after {directory.WARM_UP} warm-up; ms; nearest-rank p95")
        for name, url in (("map", "/gaps/"), ("demand", "/gaps/demand")):
            if "--parts" in sys.argv and name == "map":
                continue
            profiler = cProfile.Profile() if "--profile" in sys.argv else None
            times, _cpu, statements = directory.measure(chair, [url] * RUNS, counter, profiler)
            if profiler is not None:
                referrals.print_profile(name, profiler)
            high = directory.p95(times)
            verdict = "ok" if high < TARGETS[name] else "MISSES"
            print(f"  GET {url:<14} median {statistics.median(times):7.1f}  p95 {high:7.1f}  "
                  f"< {TARGETS[name]:g} {verdict:<6}  {statistics.median(statements):.0f} SQL/run")
        if "--parts" in sys.argv:  # where the demand report's time goes, one call each
            from csrn.gaps import demand
            with app.app_context(), app.test_request_context("/"):
                period = demand.default_period(now)
                parts = [(f"needs_by {d}", lambda d=d: demand.needs_by(d, period)) for d in demand.DIMENSIONS]
                parts += [(f"unmet_by {d}", lambda d=d: demand.unmet_by(d, period)) for d in demand.DIMENSIONS]
                parts += [("declines", lambda: demand.declines(period)),
                          ("escalations", lambda: demand.escalations(period)),
                          ("percentiles type", lambda: demand.percentiles("service_type", period)),
                          ("percentiles agency", lambda: demand.percentiles("agency", period))]
                parts += [(f"monthly {n}", lambda n=n: demand.monthly(n, period)) for n in demand.TRENDS]
                for label, call in parts:
                    began = clock.perf_counter()
                    call()
                    print(f"    {label:<28} {1000 * (clock.perf_counter() - began):8.1f} ms")
        if "--raw" not in sys.argv:  # what each night's run costs: one more day
            with app.app_context():
                began = clock.perf_counter()
                rollup.roll_up(now + timedelta(days=1))
                print(f"  the next night's roll-up (one day): {1000 * (clock.perf_counter() - began):.0f} ms")
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

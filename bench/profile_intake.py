"""Where the intake's consent step (step 5) spends its time: GET and POST under cProfile, in process.

    .venv/bin/python bench/profile_intake.py                      # SQLite, 2,000 agencies (about 1,600 members)
    .venv/bin/python bench/profile_intake.py --requests 50 --top 25
    .venv/bin/python bench/profile_intake.py --no-profile         # timings only (cProfile roughly doubles them)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/profile_intake.py

Builds the directory benchmark's data (bench/directory_bench.py), logs in through the real login form as its staff
user (an agency member who may start intakes), walks a new intake through steps 1 to 4 with the same answers as the
load harness's mix (bench/load.py), then times step 5: the page (GET), a valid submission naming three agencies
(POST, answered 303), and an invalid one (POST, answered 422 with the whole form again) — and step 1's page beside
them, a step with no list, for what any step costs. For each it prints the median
and p95 wall time, the CPU time of this process, the SQL statements a request, the app's own functions by cumulative
time and the busiest functions by their own time. Issue 24: the consent step lists every member agency.
"""

from __future__ import annotations

import argparse
import cProfile
import random
import re
import sys
import time as clock
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import directory_bench as directory  # noqa: E402
from load import CONSENT, CSRF, PERSON  # noqa: E402

RECEIVER = re.compile(r'name="receiver" value="(\d+)"()')
AGENCY_BOX = re.compile(r'name="consent_agencies" type="checkbox" value="(\d+)"|'
                        r'type="checkbox" name="consent_agencies" value="(\d+)"')


def _token(page: str) -> str:
    match = CSRF.search(page)
    if not match:
        raise SystemExit("no CSRF token on the page")
    return match.group(1)


def _first(pattern: re.Pattern, page: str) -> list[str]:
    return [a or b for a, b in pattern.findall(page)]


def walk_to_consent(client) -> str:
    """Steps 1 to 4 of a new intake through the real forms; the path of step 5."""
    answers = {1: {"urgency": PERSON["urgency"], "county": PERSON["county"]},
               2: {key: PERSON[key] for key in ("alias", "age_group", "gender", "citizenship", "trafficking_type")},
               3: {"needs": PERSON["needs"]}, 4: {}}
    path = "/intake/new"
    for number in range(1, 5):
        page = client.get(path).get_data(as_text=True)
        form = {"csrf_token": _token(page), **answers[number]}
        if number == 4:
            receivers = _first(RECEIVER, page)
            if not receivers:
                raise SystemExit("step 4 offers no receiver")
            form["receiver"] = receivers[0]
        response = client.post(path, data=form)
        if response.status_code != 303:
            raise SystemExit(f"step {number}: {response.status_code}, not 303")
        path = urllib.parse.urlsplit(response.headers["Location"]).path
    return path


def timed(client, counter, profiler, method: str, path: str, data: dict | None, expect: int):
    """One request: wall ms, CPU ms, SQL statements."""
    before = counter.count
    if profiler:
        profiler.enable()
    started, cpu_started = clock.perf_counter(), clock.process_time()
    response = client.open(path, method=method, data=data)
    elapsed, cpu_elapsed = clock.perf_counter() - started, clock.process_time() - cpu_started
    if profiler:
        profiler.disable()
    if response.status_code != expect:
        raise SystemExit(f"{method} {path}: {response.status_code}, not {expect}")
    return elapsed * 1000, cpu_elapsed * 1000, counter.count - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=directory.SERVICES, help="services (agencies: a fifth)")
    parser.add_argument("--requests", type=int, default=30, help="requests of each kind")
    parser.add_argument("--top", type=int, default=20, help="rows of each profile table")
    parser.add_argument("--no-profile", action="store_true", help="time without cProfile")
    args = parser.parse_args()
    directory.set_size(args.services)
    rng = random.Random(directory.SEED)
    with directory.bench_database() as (url, backend):
        started = clock.perf_counter()
        app = directory.build_app(url)
        data = directory.fill(app, rng, datetime.now(UTC))
        with app.app_context():
            from sqlalchemy import func, select

            from csrn.agencies.models import Agency
            from csrn.extensions import db
            members = db.session.scalar(select(func.count()).where(Agency.membership_status == "member"))
            counter = directory.QueryCounter(db.engine)
        print(f"consent step on {backend}: {data['counts']['agency']:,} agencies ({members:,} members), "
              f"{data['counts']['service']:,} services (setup {clock.perf_counter() - started:.0f} s); "
              f"{args.requests} requests of each kind")
        client = directory.login(app, data["email"])
        path = walk_to_consent(client)
        page = client.get(path).get_data(as_text=True)
        boxes = _first(AGENCY_BOX, page)
        print(f"  step 5 lists {len(boxes):,} agencies as checkboxes; the page is {len(page) / 1024:,.0f} KiB")
        named = boxes[:: max(1, len(boxes) // 3)][:3]

        def valid():
            return {"csrf_token": _token(client.get(path).get_data(as_text=True)), **CONSENT,
                    "consent_agencies": named}

        def invalid():
            # consent given but not how, nor with whom nor what: answered 422 with the whole form again
            return {"csrf_token": _token(client.get(path).get_data(as_text=True)), "consent": "yes",
                    "consent_agencies": named[:1] + ["999999"]}

        kinds = [("GET step 1 (a short step, for comparison)", "GET", None, 200), ("GET step 5", "GET", None, 200),
                 ("POST step 5 (valid, 3 agencies named)", "POST", valid, 303),
                 ("POST step 5 (invalid: 422 re-rendered)", "POST", invalid, 422)]
        for label, method, make, expect in kinds:
            target = path.rsplit("/", 1)[0] + "/1" if "step 1" in label else path
            for _ in range(3):  # warm up
                timed(client, counter, None, method, target, make() if make else None, expect)
            profiler = None if args.no_profile else cProfile.Profile()
            times, cpu, statements = [], [], []
            for _ in range(args.requests):
                wall, used, count = timed(client, counter, profiler, method, target, make() if make else None, expect)
                times.append(wall)
                cpu.append(used)
                statements.append(count)
            directory.print_profiled(label + (" (under cProfile)" if profiler else ""), target, times, cpu,
                                     statements, profiler, args.top,
                                     r"csrn/|templates/|wtforms/|\(execute|\(fetch")
        with app.app_context():
            from csrn.extensions import db
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a page's time goes: the directory search, an agency page and `/account/` under cProfile, in process.

    .venv/bin/python bench/profile_pages.py                      # SQLite, 10,000 services, 200 requests a page
    .venv/bin/python bench/profile_pages.py --services 100000 --requests 50 --top 25
    .venv/bin/python bench/profile_pages.py --pages search       # only some pages (search, agency, account)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/profile_pages.py

Builds the directory benchmark's data (bench/directory_bench.py), logs in through the real form as its staff user,
then for each page: warms up, runs the requests through the Flask test client with cProfile on, and prints the
median and p95 wall time, the SQL statements per request, the app's own functions by cumulative time and the
busiest functions by their own time. Kept beside the benchmarks: issue 24 wants the profiles of any page that
misses its target reported.
"""

from __future__ import annotations

import argparse
import cProfile
import random
import sys
import time as clock
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import directory_bench as directory  # noqa: E402

PAGES = ("search", "agency", "account")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=directory.SERVICES, help="services (agencies: a fifth)")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--top", type=int, default=20, help="rows of each profile table")
    parser.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of {', '.join(PAGES)}")
    args = parser.parse_args()
    directory.set_size(args.services)
    wanted = [name.strip() for name in args.pages.split(",") if name.strip()]
    rng = random.Random(directory.SEED)
    with directory.bench_database() as (url, backend):
        started = clock.perf_counter()
        app = directory.build_app(url)
        data = directory.fill(app, rng, datetime.now(UTC))
        print(f"profile on {backend}: {data['counts']['agency']:,} agencies, {data['counts']['service']:,} services "
              f"(setup {clock.perf_counter() - started:.0f} s); {args.requests} requests a page")
        client = directory.login(app, data["email"])
        with app.app_context():
            from csrn.extensions import db
            counter = directory.QueryCounter(db.engine)
        urls = {
            "search": [directory.SEARCH_URL] * args.requests,
            "agency": [f"/agencies/{rng.choice(data['agency_ids'])}" for _ in range(args.requests)],
            "account": ["/account/"] * args.requests,
        }
        for name in wanted:
            profiler = cProfile.Profile()
            times, cpu, statements = directory.measure(client, urls[name], counter, profiler)
            directory.print_profiled(name, urls[name][0], times, cpu, statements, profiler, args.top)
        with app.app_context():
            from csrn.extensions import db
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

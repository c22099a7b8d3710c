"""Login and reset timing (SECURITY A5): does a known e-mail answer faster or slower than an unknown one?

    .venv/bin/python bench/login_timing.py                   # SQLite file in a temporary directory
    .venv/bin/python bench/login_timing.py --tries 500
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/login_timing.py

Through the Flask test client in this process, with the production argon2 parameters (argon2-cffi's
defaults, as `make run` uses): a wrong password for a known e-mail against an unknown e-mail, and a reset
request for a known e-mail against an unknown one. The pairs are interleaved (known, unknown, unknown,
known, ...) so that drift in the machine's load falls on both alike. The rate limits are reset between
tries (outside the timing): they would otherwise refuse the tries, and a refusal does no work.

Not a test: it prints the figures (for the README) and judges nothing. The suite proves the equal work
itself (tests/test_auth_login.py counts the argon2 calls of each path).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time as clock
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for folder in (ROOT, BENCH):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import directory_bench as directory  # noqa: E402

from csrn.auth import operations as auth_ops  # noqa: E402
from csrn.extensions import db, limiter  # noqa: E402
from csrn.roles import STAFF  # noqa: E402

KNOWN = "known.officer@bench.example"
UNKNOWN = "nobody.at.all@bench.example"
WRONG = "not the password of anyone here 7"
WARM_UP = 5


def create_known_user(app) -> None:
    """The one account whose e-mail the timing compares against an unknown one."""
    with app.app_context():
        auth_ops.create_user(None, KNOWN, "Known Officer", [STAFF], None, datetime.now(UTC),
                             password=directory.PASSWORD)
        db.session.commit()


def csrf_client(app, page: str):
    """A test client and the CSRF token of its session, taken from the page."""
    client = app.test_client()
    html = client.get(page).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    if not match:
        raise SystemExit(f"no CSRF token on {page}")
    return client, match.group(1)


def timed_post(client, url: str, data: dict, wanted: int) -> float:
    """POST once with fresh rate limits; the wall-clock milliseconds it took."""
    limiter.reset()
    started = clock.perf_counter()
    response = client.post(url, data=data)
    elapsed = clock.perf_counter() - started
    if response.status_code != wanted:
        raise SystemExit(f"POST {url} {data.get('email')}: {response.status_code}, not {wanted}")
    return elapsed * 1000


def compare(client, token: str, url: str, fields: dict, wanted: int, tries: int) -> dict[str, list[float]]:
    """Time `tries` posts for the known and the unknown e-mail, interleaved; warm-up posts are not kept."""
    times = {"known": [], "unknown": []}
    order = ("known", "unknown")
    for index in range(WARM_UP + tries):
        pair = order if index % 2 == 0 else order[::-1]  # alternate who goes first
        for who in pair:
            email = KNOWN if who == "known" else UNKNOWN
            elapsed = timed_post(client, url, {"csrf_token": token, "email": email, **fields}, wanted)
            if index >= WARM_UP:
                times[who].append(elapsed)
    return times


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def report(label: str, times: dict[str, list[float]]) -> None:
    """Print median and p95 of each path and how far apart the medians are."""
    known, unknown = statistics.median(times["known"]), statistics.median(times["unknown"])
    print(f"  {label}")
    for who in ("known", "unknown"):
        print(f"      {who:7} e-mail  median {statistics.median(times[who]):7.1f} ms   p95 {p95(times[who]):7.1f} ms")
    print(f"      unknown - known: {unknown - known:+.1f} ms ({(unknown - known) / known:+.1%} of the known median)")


def main() -> int:
    """Build a database with one user, time both paths of login and of the reset request, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=200, help="timed requests per e-mail and form")
    args = parser.parse_args()
    with directory.bench_database() as (url, backend):
        app = directory.build_app(url)
        create_known_user(app)
        cost = {key: app.config[f"ARGON2_{key.upper()}"] for key in ("time_cost", "memory_cost", "parallelism")}
        print(f"login timing on {backend}: {args.tries} tries per path, argon2id {cost}")
        client, token = csrf_client(app, "/login")
        report("login with a wrong password (422, the same page for both)",
               compare(client, token, "/login", {"password": WRONG}, 422, args.tries))
        client, token = csrf_client(app, "/reset")
        report("reset request (200, the same page for both)",
               compare(client, token, "/reset", {}, 200, args.tries))
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

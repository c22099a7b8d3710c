"""The load harness: CSRN under gunicorn beside a bare Flask page, each page's throughput as a share of the bare one's.

    make bench-load                 # SQLite; and PostgreSQL too when BENCH_DATABASE_URL is set:
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres make bench-load

What it does, per database: fills the directory benchmark's data (2,000 agencies, 10,000 services); starts the app
under gunicorn (2 sync workers, loopback) with **development settings** — production's needs get in the way of a
loopback benchmark (https-only Secure cookies, the required second factor of every user, a shared rate-limit store),
and none of them changes what a page costs to render; starts `bench/minimal_page.py` (12 rows from the same
database, also 2 sync workers); logs in through the real login form; then drives each page with Debian's `wrk`
(installed with apt-get when missing and run as root), 16 connections for 5 seconds, **alternating** with the bare
page, twice, and reports req/s, p50/p95/p99, errors and each page's throughput as a ratio of the bare page's (the
ratio is what the README records: absolute numbers vary with the machine). It ends with each worker's resident
memory. Zero errors is part of the result: a page that answers anything but 2xx/3xx counts as an error.

Not yet measured here: the inbox and a mix with intake submission and acceptance (the bench user is a staff member
of a sending agency, and the form rate limits have no benchmark-only bypass yet).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import directory_bench as directory  # noqa: E402

CONNECTIONS = 16
SECONDS = 5
ROUNDS = 2
WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
        return shutil.which("wrk")
    raise SystemExit("wrk is needed: apt-get install wrk (as root)")


def serve(module: str, port: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "sync",
                             "--bind", f"127.0.0.1:{port}", "--log-level", "warning", module],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(url: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"the server for {url} stopped: {server.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def log_in(base: str, email: str) -> str:
    """The session cookie of a login through the real form (its CSRF token taken from the page)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": directory.PASSWORD}).encode()
    answer = opener.open(f"{base}/login", data=form)
    if "/login" in answer.geturl():
        raise SystemExit("the bench user could not log in")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def drive(wrk: str, url: str, cookie: str = "") -> dict:
    command = [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "10s",
               "-s", str(ROOT / "bench" / "wrk_report.lua"), url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    found = json.loads(output.strip().splitlines()[-1])
    found["rps"] = found["requests"] / (found["duration_us"] / 1e6)
    return found


def resident_mb(server: subprocess.Popen) -> list[float]:
    output = subprocess.run(["ps", "-o", "rss=", "--ppid", str(server.pid)], capture_output=True, text=True).stdout
    return [int(line) / 1024 for line in output.split()]


def run(url: str, backend: str, wrk: str) -> None:
    started = time.perf_counter()
    app = directory.build_app(url)
    data = directory.fill(app, random.Random(directory.SEED), datetime.now(UTC))
    with app.app_context():
        from csrn.extensions import db
        db.session.remove()
        db.engine.dispose()
    print(f"load harness on {backend}: {data['counts']['agency']:,} agencies, {data['counts']['service']:,} "
          f"services (setup {time.perf_counter() - started:.0f} s); gunicorn, {WORKERS} sync workers each; wrk "
          f"{CONNECTIONS} connections × {SECONDS} s, alternating with the bare page, {ROUNDS} rounds", flush=True)
    env = {**os.environ, "DATABASE_URL": url, "CSRN_ENV": "development", "FLASK_DEBUG": "0"}
    app_port, bare_port = free_port(), free_port()
    servers = [serve("app:app", app_port, env), serve("bench.minimal_page:app", bare_port, env)]
    try:
        base, bare = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}/"
        wait_for(f"{base}/login", servers[0])
        wait_for(bare, servers[1])
        cookie = log_in(base, data["email"])
        agency = data["agency_ids"][0]
        pages = [("directory search", directory.SEARCH_URL), ("agency page", f"/agencies/{agency}"),
                 ("dashboard", "/"), ("/account/", "/account/"), ("/oncall/now", "/oncall/now")]
        drive(wrk, bare)  # warm both up
        drive(wrk, base + "/account/", cookie)
        print(f"  {'page':<18} {'req/s':>8} {'bare req/s':>10} {'ratio':>6} {'p50':>7} {'p95':>7} {'p99':>7} errors")
        for label, path in pages:
            mine, theirs = [], []
            for _ in range(ROUNDS):
                theirs.append(drive(wrk, bare))
                mine.append(drive(wrk, base + path, cookie))
            rps = statistics.mean(r["rps"] for r in mine)
            bare_rps = statistics.mean(r["rps"] for r in theirs)
            errors = sum(r["errors"] + r["bad_status"] for r in mine)
            worst = max(mine, key=lambda r: r["p99"])
            print(f"  {label:<18} {rps:8.1f} {bare_rps:10.1f} {rps / bare_rps:6.1%} {worst['p50'] / 1000:6.1f}ms "
                  f"{worst['p95'] / 1000:6.1f}ms {worst['p99'] / 1000:6.1f}ms {errors}", flush=True)
        memory = ", ".join(f"{mb:.0f} MB" for mb in resident_mb(servers[0]))
        print(f"  app workers' resident memory after the run: {memory}")
        print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def main() -> int:
    wrk = ensure_wrk()
    with directory.bench_database() as (url, backend):
        run(url, backend, wrk)
    return 0


if __name__ == "__main__":
    sys.exit(main())

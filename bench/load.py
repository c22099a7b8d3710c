"""The load harness: CSRN under gunicorn beside a bare Flask page, each page's throughput as a share of the bare one's.

    make bench-load                                     # everything: every page and the mix, 16 and 64
                                                        # connections, SQLite and PostgreSQL
    .venv/bin/python bench/load.py --pages search,account --db sqlite --duration 5 --connections 16
    BENCH_DATABASE_URL=postgresql://postgres@db.example:5432/postgres .venv/bin/python bench/load.py --db postgresql

Pages (`--pages`, comma-separated; default all): search, agency, dashboard, inbox, account, oncall and mix.

What it does, per database: fills the directory benchmark's data (2,000 agencies, 10,000 services) and adds the
harness's users (a staff member for the pages; a receiver whose agency has 25 pending offers, for the inbox; the
mix's senders and receivers); starts the app under gunicorn (2 sync workers, loopback) with **development
settings**, and `bench/minimal_page.py` beside it (12 rows from the same database, also 2 sync workers). Development,
not production, for three reasons: the mix needs BENCH_UNLIMITED_USERS (the harness's users pass the form rate limits,
everyone else stays limited), which production refuses to start with; production's Secure cookies, required second
factor and shared rate-limit store would need https, an authenticator per user and a Redis on a loopback benchmark;
and none of them changes what a page costs to render. Every user logs in through the real login form.

Each page is driven by Debian's `wrk` (installed with apt-get when missing and run as root) for `--duration` seconds
at each of `--connections`, **alternating** with the bare page, `--rounds` times; at more connections the runs last
longer (up to a minute) when the page's throughput at fewer would answer each connection fewer than five times — wrk
counts no request still waiting at the end, so a short run at 64 connections would leave the slowest out (a row that
has under three answers a connection says so). A request waiting more than 10 s is an error (wrk's timeout, and the
mix's).

The mix is a Python load generator (threads, one per simulated user, the standard library's HTTP client). At `n`
connections it is `n` users, an eighth of them (at least two) receivers: senders fill in the six-step intake through
the real forms (CSRF token taken from each page, consent given, the receiver chosen) and send it; receivers watch their
inbox, open each offer and accept it. Each round is a window of `--mix-duration` seconds (an intake is 13 requests);
between windows, while the bare page is measured, the users wait where they are and go on in the next (so a round is
not a fresh start of every intake at step 1); as with wrk, a request still running at the end of a window is not
counted. It reports each step's requests per second, p50/p95/p99 and errors, intakes sent and offers accepted per
second, and the mix's requests per second as a share of the bare page's (at as many connections), alternating the same
way.

Errors, counted on every page and step: an answer other than 2xx/3xx, a socket error or timeout, and in the mix also a
form that was refused (a 422 where a redirect was due) or an acceptance that did not happen. Zero errors is part of the
result. It ends with each app worker's resident memory and the load average.

With BENCH_DATABASE_URL set, that server is PostgreSQL's (else postgresql://postgres@127.0.0.1:5432/postgres): the
harness creates a database of its own on it (csrn_bench_<random>) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookies
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import directory_bench as directory  # noqa: E402

WORKERS = 2
TIMEOUT = 10  # seconds: a request waiting longer is an error, in wrk and in the mix alike
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PAGE_KEYS = ("search", "agency", "dashboard", "inbox", "account", "oncall")
MIX = "mix"
INBOX_OFFERS = 25
PASSWORD = directory.PASSWORD
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
SUBMISSION_KEY = re.compile(r'name="submission_key" value="([^"]+)"')
OFFER_LINK = re.compile(r'href="/referrals/(\d+)"')
# The intake's answers: a person every case-management provider admits ("unknown" never excludes), so the mix's
# receivers are always among the matches the form offers.
PERSON = {"urgency": "routine", "county": "", "alias": "B.K.", "age_group": "unknown", "gender": "unknown",
          "citizenship": "unknown", "trafficking_type": "unknown", "needs": ["case_management"]}
CONSENT = {"consent": "yes", "consent_how": "verbal", "consent_with": ["receiver"],
           "consent_categories": ["identity", "contact"], "safe_channel": "Only through the shelter's phone.",
           "contact_phone": "+1 555 010 0199", "narrative": "Met at the clinic; needs a case manager this week."}


# ----- servers and wrk -----------------------------------------------------------------------------

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


def serve(module: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    """gunicorn on loopback, its log (warnings and the app's errors) in a file: a pipe nobody reads would fill and
    stop the workers."""
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class",
                                 "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", module],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink)


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def wait_for(url: str, server: subprocess.Popen, log: Path) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"the server for {url} stopped:\n{tail(log)}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def drive(wrk: str, url: str, connections: int, seconds: float, cookie: str = "") -> dict:
    """One wrk run: requests per second, latency percentiles (µs), socket errors and non-2xx/3xx answers."""
    command = [wrk, f"-t{min(2, connections)}", f"-c{connections}", f"-d{math.ceil(seconds)}s",
               "--timeout", f"{TIMEOUT}s", "-s", str(ROOT / "bench" / "wrk_report.lua"), url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    found = json.loads(output.strip().splitlines()[-1])
    found["rps"] = found["requests"] / (found["duration_us"] / 1e6)
    return found


def resident_mb(server: subprocess.Popen) -> list[float]:
    output = subprocess.run(["ps", "-o", "rss=", "--ppid", str(server.pid)], capture_output=True, text=True).stdout
    return [int(line) / 1024 for line in output.split()]


# ----- a browser, for logging in and for the mix ----------------------------------------------------

class Browser:
    """One user's browser: its cookies, a fresh connection per request (gunicorn's sync workers close each one),
    redirects not followed (each is a request of its own, timed as such)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        """Status, Location and body; raises OSError (or http.client's errors) when the socket fails."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            for line in response.headers.get_all("Set-Cookie") or []:
                self._keep(line)
            return response.status, response.headers.get("Location", ""), text
        finally:
            connection.close()

    def _keep(self, line: str) -> None:
        """A Set-Cookie line (its Secure flag ignored: loopback is plain http, and development sets none)."""
        parsed = http.cookies.SimpleCookie()
        parsed.load(line)
        for name, morsel in parsed.items():
            if morsel["max-age"] == "0" or "1970" in morsel["expires"] or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def log_in(self, email: str) -> None:
        """Through the real login form, its CSRF token taken from the page."""
        status, _, page = self.request("GET", "/login")
        token = CSRF.search(page)
        if status != 200 or not token:
            raise RuntimeError(f"the login page answered {status}")
        status, location, _ = self.request("POST", "/login", {"csrf_token": token.group(1), "email": email,
                                                                "password": PASSWORD})
        if status not in (302, 303) or "/login" in location:
            raise RuntimeError(f"{email} could not log in ({status})")


def log_in_all(port: int, emails: list[str]) -> tuple[dict[str, Browser], list[float]]:
    """Every user logged in through the form, eight at a time; the logins' times in seconds."""
    browsers, times, lock = {}, [], threading.Lock()
    queue = list(emails)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                email = queue.pop()
            browser, started = Browser(port), time.perf_counter()
            browser.log_in(email)
            with lock:
                times.append(time.perf_counter() - started)
                browsers[email] = browser

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = set(emails) - set(browsers)
    if missing:
        raise SystemExit(f"could not log in: {', '.join(sorted(missing))}")
    return browsers, times


# ----- the data the harness adds ----------------------------------------------------------------------

@dataclass
class People:
    staff: str  # the directory benchmark's staff member: every page but the inbox
    inbox: str  # a case manager whose agency has INBOX_OFFERS pending offers
    senders: list[str]
    receivers: list[tuple[str, int]]  # (e-mail, agency id): one per agency, each among every intake's matches

    def everyone(self) -> list[str]:
        return [self.staff, self.inbox, *self.senders, *(email for email, _ in self.receivers)]


def add_people(app, staff: str, senders: int, receivers: int, now: datetime) -> People:
    """The mix's users, and the inbox's: receivers at agencies every intake of PERSON matches (the top matches), the
    inbox's agency one more of them with INBOX_OFFERS offers sent to it through the intake's own operations."""
    from sqlalchemy import select

    from csrn.agencies.models import Agency
    from csrn.auth import operations as auth_ops
    from csrn.auth.models import User
    from csrn.extensions import db
    from csrn.intake import operations as intake_ops
    from csrn.roles import CASE_MANAGER

    with app.app_context():
        matched = [m.candidate.agency_id for m in intake_ops.match_case_management(PERSON, now)]
        if len(matched) < receivers + 1:
            raise SystemExit(f"only {len(matched)} agencies match the mix's person; {receivers + 1} are needed")
        taken = set(matched[: receivers + 1])
        sending = db.session.scalars(select(Agency.id).where(Agency.membership_status == "member",
                                                             Agency.id.not_in(taken))
                                     .order_by(Agency.id).limit(senders)).all()
        first = None

        def user(email: str, agency_id: int):
            nonlocal first
            made = auth_ops.create_user(None, email, email.split("@")[0], [CASE_MANAGER], agency_id, now,
                                        password=None if first else PASSWORD)
            if first is None:
                first = made
            made.password_hash = first.password_hash  # one argon2 hash for all: the same password
            return made

        inbox_agency = matched[receivers]
        inbox = user("bench-inbox@example.org", inbox_agency)
        people = People(
            staff=staff, inbox=inbox.email,
            senders=[user(f"bench-sender-{n}@example.org", sending[n % len(sending)]).email
                     for n in range(senders)],
            receivers=[(user(f"bench-receiver-{n}@example.org", agency_id).email, agency_id)
                       for n, agency_id in enumerate(matched[:receivers])])
        db.session.commit()
        sender = db.session.scalar(select(User).where(User.email == people.senders[0]))
        for _ in range(INBOX_OFFERS):
            draft = intake_ops.start_draft(sender, {**PERSON, **CONSENT, "receiver": inbox_agency}, now)
            intake_ops.submit(sender, draft, draft.submission_key, now)
        db.session.remove()
    return people


# ----- the mix ------------------------------------------------------------------------------------

class Stopped(Exception):
    """The mix is over: no new request is started."""


class Gate:
    """Opens the mix's users for one timed window at a time: between windows (while the bare page is measured) no
    request starts and the users wait where they are, in the middle of an intake or not, to go on in the next."""

    def __init__(self):
        self.lock = threading.Condition()
        self.until = 0.0  # the open window's end
        self.running = 0  # requests started and not yet answered
        self.over = False

    def enter(self) -> float:
        """Wait for an open window; count a request as started; answer the window's end."""
        with self.lock:
            while not self.over and time.perf_counter() >= self.until:
                self.lock.wait(0.05)
            if self.over:
                raise Stopped
            self.running += 1
            return self.until

    def leave(self) -> None:
        with self.lock:
            self.running -= 1
            self.lock.notify_all()

    def window(self, seconds: float) -> None:
        """Open for `seconds`, then wait until every request started in it has answered."""
        with self.lock:
            self.until = time.perf_counter() + seconds
            self.lock.notify_all()
        time.sleep(seconds)
        with self.lock:
            while self.running:
                self.lock.wait(0.05)

    def close(self) -> None:
        with self.lock:
            self.over = True
            self.lock.notify_all()


@dataclass
class Steps:
    """Each step's latencies (seconds) and errors, in one thread; merged after the run. As wrk does, a request that
    answers after the end of its window is not counted (nor timed), only its error if it fails."""

    gate: Gate | None = None
    times: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)  # the first few errors, to say what they were
    late: int = 0
    sent: int = 0
    accepted: int = 0

    def call(self, browser: Browser, step: str, method: str, path: str, form: dict | None = None,
             expect: tuple[int, ...] = (200,)) -> tuple[int, str, str] | None:
        """One request, timed under `step`; None (and an error counted) unless it answered as `expect`."""
        until = self.gate.enter()
        started = time.perf_counter()
        try:
            answer = browser.request(method, path, form)
        except (OSError, http.client.HTTPException) as exc:
            answer, failure = None, f"{type(exc).__name__}: {exc}"
        finally:
            self.gate.leave()
        ended = time.perf_counter()
        self.errors.setdefault(step, 0)
        if ended <= until:
            self.times.setdefault(step, []).append(ended - started)
        else:
            self.late += 1
        if answer is None or answer[0] not in expect:
            self.error(step, failure if answer is None else f"answered {answer[0]} to {method} {path}")
            return None
        return answer

    def error(self, step: str, what: str) -> None:
        self.errors[step] = self.errors.get(step, 0) + 1
        if len(self.samples) < 5:
            self.samples.append(f"{step}: {what}")

    def merge(self, other: Steps) -> None:
        for step in other.errors:
            self.times.setdefault(step, []).extend(other.times.get(step, []))
            self.errors[step] = self.errors.get(step, 0) + other.errors[step]
        self.samples += other.samples[: max(0, 5 - len(self.samples))]
        self.late += other.late
        self.sent += other.sent
        self.accepted += other.accepted


def send_intake(browser: Browser, steps: Steps, receiver: int) -> None:
    """One intake through the six steps, as a person fills it in, then sent; stops at the first failed step."""
    answers = {1: {"urgency": PERSON["urgency"], "county": PERSON["county"]},
               2: {key: PERSON[key] for key in ("alias", "age_group", "gender", "citizenship", "trafficking_type")},
               3: {"needs": PERSON["needs"]}, 4: {"receiver": receiver}, 5: CONSENT}
    path = "/intake/new"
    for number in range(1, 6):
        page = steps.call(browser, f"intake step {number} (GET)", "GET", path)
        token = page and CSRF.search(page[2])
        if not token:
            return
        done = steps.call(browser, f"intake step {number} (POST)", "POST", path,
                          {"csrf_token": token.group(1), **answers[number]}, expect=(303,))
        if not done:
            return
        path = urllib.parse.urlsplit(done[1]).path
    preview = steps.call(browser, "intake preview (GET)", "GET", path)
    token, key = preview and CSRF.search(preview[2]), preview and SUBMISSION_KEY.search(preview[2])
    if not (token and key):
        return
    sent = steps.call(browser, "intake send (POST)", "POST", path.rsplit("/", 1)[0] + "/send",
                      {"csrf_token": token.group(1), "submission_key": key.group(1)}, expect=(303,))
    if sent and steps.call(browser, "sent page (GET)", "GET", urllib.parse.urlsplit(sent[1]).path):
        steps.sent += 1


def accept_offers(browser: Browser, steps: Steps) -> None:
    """Open the inbox; open and accept each offer in it; wait a moment when it is empty (a person's inbox refresh)."""
    inbox = steps.call(browser, "inbox (GET)", "GET", "/referrals/inbox")
    offers = list(dict.fromkeys(OFFER_LINK.findall(inbox[2]))) if inbox else []
    if not offers:
        time.sleep(0.2)
    for referral in offers:
        page = steps.call(browser, "offer page (GET)", "GET", f"/referrals/{referral}")
        token = page and CSRF.search(page[2])
        if not token:
            continue
        done = steps.call(browser, "accept (POST)", "POST", f"/referrals/{referral}/accept",
                          {"csrf_token": token.group(1)}, expect=(303,))
        shown = done and steps.call(browser, "accepted referral (GET)", "GET", urllib.parse.urlsplit(done[1]).path)
        if shown and "Accepted." in shown[2]:
            steps.accepted += 1
        elif shown:
            steps.error("accept (POST)", f"referral {referral} was not accepted")  # the flash on the page says why


def run_mix(browsers: dict[str, Browser], people: People, users: int, seconds: float, rounds: int,
            between) -> Steps:
    """`users` simulated users, an eighth of them (at least two) receivers, the rest senders, each sender sending to
    the receivers in turn; `rounds` windows of `seconds`, with `between()` called before each (the bare page's run)
    while the users wait. No request starts outside a window; one still running at its end is waited for (not to weigh
    on the bare page) but not counted. Answers the merged steps."""
    receivers = people.receivers[: max(2, users // 8)]
    senders = people.senders[: users - len(receivers)]
    gate, results = Gate(), []

    def user(steps: Steps, act):
        try:
            while True:
                act()
        except Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - a fault of the harness is reported, not lost with its thread
            steps.error("the harness itself", repr(exc))
        finally:
            results.append(steps)

    def sender(index: int, email: str):
        steps, turn = Steps(gate), [index]

        def one_intake():
            send_intake(browsers[email], steps, receivers[turn[0] % len(receivers)][1])
            turn[0] += 1

        user(steps, one_intake)

    def receiver(email: str):
        steps = Steps(gate)
        user(steps, lambda: accept_offers(browsers[email], steps))

    threads = [threading.Thread(target=sender, args=(i, email), daemon=True) for i, email in enumerate(senders)]
    threads += [threading.Thread(target=receiver, args=(email,), daemon=True) for email, _ in receivers]
    for thread in threads:
        thread.start()
    try:
        for _ in range(rounds):
            between()
            gate.window(seconds)
    finally:
        gate.close()
    for thread in threads:
        thread.join()
    merged = Steps()
    for steps in results:
        merged.merge(steps)
    return merged


# ----- the report ---------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-round(share * 100) * len(ordered) // 100) - 1)] if ordered else float("nan")


HEADER = (f"  {'page':<27} {'conns':>5} {'secs':>4} {'req/s':>8} {'bare req/s':>10} {'ratio':>7} {'p50':>8} {'p95':>8} "
          f"{'p99':>8} errors")
# Too few answers per connection: wrk (and the mix) count no request still waiting at the end, so the slowest are left
# out of the percentiles.
SHORT = "  (under 3 answers a connection: the slowest left out)"
MIX_LABEL = "intake and acceptance mix"
# The mix's steps in the order a sender, then a receiver, takes them.
STEP_ORDER = [f"intake step {n} ({verb})" for n in range(1, 6) for verb in ("GET", "POST")] + [
    "intake preview (GET)", "intake send (POST)", "sent page (GET)", "inbox (GET)", "offer page (GET)",
    "accept (POST)", "accepted referral (GET)"]


def line(label: str, connections: int | str, seconds: float | None, rps: float, bare: float | None, p50: float,
         p95: float, p99: float, errors: int) -> str:
    """One row; latencies in milliseconds."""
    shares = f"{bare:10.1f} {rps / bare:7.1%}" if bare else f"{'':>10} {'':>7}"
    times = " ".join(f"{'-':>8}" if value != value else f"{value:6.1f}ms" for value in (p50, p95, p99))  # NaN: none
    length = f"{seconds:.0f}" if seconds else ""
    return f"  {label:<27} {connections!s:>5} {length:>4} {rps:8.1f} {shares} {times} {errors}"


def run_length(least: float, connections: int, rps: float | None, most: float = 60) -> float:
    """Seconds for each connection to be answered about five times at the throughput seen at fewer connections (wrk
    counts no request still waiting at the end: a short run at many connections would leave the slowest out)."""
    return least if not rps else max(least, math.ceil(min(most, 5 * connections / rps)))  # wrk takes whole seconds


@dataclass
class Summary:
    """The figures the README records: (page, connections) → ratio, p95 (ms), errors."""

    backend: str
    rows: dict[tuple[str, int], tuple[float, float, int]] = field(default_factory=dict)
    memory: list[float] = field(default_factory=list)


# ----- one database -------------------------------------------------------------------------------

def pages_for(people: People, data: dict) -> dict[str, tuple[str, str, str]]:
    """key → (label, user, path)."""
    agency = data["agency_ids"][0]
    return {"search": ("directory search", people.staff, directory.SEARCH_URL),
            "agency": ("agency page", people.staff, f"/agencies/{agency}"),
            "dashboard": ("dashboard", people.staff, "/"),
            "inbox": (f"inbox ({INBOX_OFFERS} offers)", people.inbox, "/referrals/inbox"),
            "account": ("/account/", people.staff, "/account/"),
            "oncall": ("/oncall/now", people.staff, "/oncall/now")}


def run(url: str, backend: str, wrk: str, options: argparse.Namespace) -> Summary:
    started = time.perf_counter()
    app = directory.build_app(url)
    now = datetime.now(UTC)
    data = directory.fill(app, random.Random(directory.SEED), now)
    most = max(options.connections)
    wants_mix = MIX in options.pages
    receivers = max(2, most // 8) if wants_mix else 0
    people = add_people(app, data["email"], most - receivers if wants_mix else 1, receivers, now)
    with app.app_context():
        from csrn.extensions import db
        db.session.remove()
        db.engine.dispose()
    print(f"\nload harness on {backend}: {data['counts']['agency']:,} agencies, {data['counts']['service']:,} "
          f"services (setup {time.perf_counter() - started:.0f} s); gunicorn, {WORKERS} sync workers each, "
          f"development settings; {options.duration:g} s per run, alternating with the bare page, {options.rounds} "
          f"rounds; {os.cpu_count()} CPUs", flush=True)
    env = {**os.environ, "DATABASE_URL": url, "CSRN_ENV": "development", "FLASK_DEBUG": "0",
           "BENCH_UNLIMITED_USERS": ",".join(people.everyone())}
    app_port, bare_port = free_port(), free_port()
    logs = Path(tempfile.mkdtemp(prefix="csrn-load-"))
    app_log, bare_log = logs / "app.log", logs / "bare.log"
    servers = [serve("app:app", app_port, env, app_log), serve("bench.minimal_page:app", bare_port, env, bare_log)]
    summary = Summary(backend)
    try:
        base, bare = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}/"
        wait_for(f"{base}/login", servers[0], app_log)
        wait_for(bare, servers[1], bare_log)
        emails = [people.staff, people.inbox] + (people.senders + [e for e, _ in people.receivers] if wants_mix
                                                 else [])
        browsers, logins = log_in_all(app_port, emails)
        print(f"  logins through the form: {len(logins)}, p50 {percentile(logins, .5) * 1000:.0f} ms, "
              f"p95 {percentile(logins, .95) * 1000:.0f} ms, 0 errors")
        drive(wrk, bare, 16, 2)  # warm both up
        drive(wrk, base + "/account/", 16, 2, browsers[people.staff].header())
        print(HEADER)
        pages = pages_for(people, data)
        for key in (k for k in PAGE_KEYS if k in options.pages):
            label, email, path = pages[key]
            rps = None
            for connections in options.connections:
                seconds = run_length(options.duration, connections, rps)
                mine, theirs = [], []
                for _ in range(options.rounds):
                    theirs.append(drive(wrk, bare, connections, seconds))
                    mine.append(drive(wrk, base + path, connections, seconds, browsers[email].header()))
                rps = statistics.mean(r["rps"] for r in mine)
                bare_rps = statistics.mean(r["rps"] for r in theirs)
                errors = sum(r["errors"] + r["bad_status"] for r in mine)
                worst = max(mine, key=lambda r: r["p99"])
                short = SHORT if min(r["requests"] for r in mine) < 3 * connections else ""
                print(line(label, connections, seconds, rps, bare_rps, worst["p50"] / 1000, worst["p95"] / 1000,
                           worst["p99"] / 1000, errors) + short, flush=True)
                summary.rows[(label, connections)] = (rps / bare_rps, worst["p95"] / 1000, errors)
        if wants_mix:
            rps = None
            for connections in options.connections:
                rps = mix_run(wrk, bare, browsers, people, connections,
                              run_length(options.mix_duration, connections, rps, 120), options, summary)
        summary.memory = resident_mb(servers[0])
        print(f"  app workers' resident memory after the run: {', '.join(f'{mb:.0f} MB' for mb in summary.memory)}")
        print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        logged = tail(app_log)
        if logged.strip():
            print(f"  the app logged (last lines of {app_log}):\n{logged}")
        else:
            shutil.rmtree(logs, ignore_errors=True)
    return summary


def mix_run(wrk: str, bare: str, browsers: dict, people: People, users: int, seconds: float,
            options: argparse.Namespace, summary: Summary) -> float:
    """The mix at `users` simulated users for `seconds`, alternating with the bare page at as many connections;
    answers the mix's requests per second."""
    theirs = []
    total = run_mix(browsers, people, users, seconds, options.rounds,
                    lambda: theirs.append(drive(wrk, bare, users, options.duration)))
    wall = seconds * options.rounds
    bare_rps = statistics.mean(r["rps"] for r in theirs)
    every = [t for values in total.times.values() for t in values]
    errors = sum(total.errors.values())
    rps = len(every) / wall
    receivers = max(2, users // 8)
    short = SHORT if len(every) < 3 * users * options.rounds else ""
    print(line(MIX_LABEL, users, seconds, rps, bare_rps, *(percentile(every, s) * 1000 for s in (.5, .95, .99)),
               errors) + short)
    print(f"    {users - receivers} senders and {receivers} receivers: {total.sent / wall:.2f} intakes sent/s, "
          f"{total.accepted / wall:.2f} offers accepted/s ({total.sent} sent, {total.accepted} accepted in "
          f"{wall:.0f} s; {total.late} requests answered after the end of a window, not counted); each step:")
    for step in sorted(total.times, key=lambda s: STEP_ORDER.index(s) if s in STEP_ORDER else len(STEP_ORDER)):
        values = total.times[step]
        print(line("    " + step, "", None, len(values) / wall, None,
                   *(percentile(values, s) * 1000 for s in (.5, .95, .99)), total.errors[step]))
    for sample in total.samples:
        print(f"    error: {sample}")
    summary.rows[(MIX_LABEL, users)] = (rps / bare_rps, percentile(every, .95) * 1000, errors)
    return rps


# ----- databases ----------------------------------------------------------------------------------

@contextmanager
def database(kind: str):
    """A fresh database of the kind: a SQLite file, or a database of the harness's own on the PostgreSQL server."""
    saved = os.environ.get("BENCH_DATABASE_URL")
    if kind == "sqlite":
        os.environ.pop("BENCH_DATABASE_URL", None)
    else:
        os.environ["BENCH_DATABASE_URL"] = saved or DEFAULT_PG_SERVER
    try:
        with directory.bench_database() as found:
            yield found
    finally:
        if saved is None:
            os.environ.pop("BENCH_DATABASE_URL", None)
        else:
            os.environ["BENCH_DATABASE_URL"] = saved


def postgres_reachable() -> str | None:
    """None if the PostgreSQL server answers, else why not."""
    from sqlalchemy import create_engine, text

    from csrn.config import normalise_database_url

    engine = create_engine(normalise_database_url(os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG_SERVER))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: skip PostgreSQL
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


def print_summary(summaries: list[Summary]) -> None:
    """The ratios side by side, as the README's table records them."""
    if not summaries:
        return
    print("\nsummary: share of the bare page's req/s (p95, errors)")
    keys = list(dict.fromkeys(key for s in summaries for key in s.rows))
    print(f"  {'page':<27} {'conns':>5} " + " ".join(f"{s.backend.split(' ')[0]:>26}" for s in summaries))
    for label, connections in keys:
        cells = []
        for s in summaries:
            found = s.rows.get((label, connections))
            cells.append(f"{found[0]:6.1%} ({found[1]:6.0f} ms, {found[2]})" if found else "")
        print(f"  {label:<27} {connections:>5} " + " ".join(f"{c:>26}" for c in cells))
    for s in summaries:
        print(f"  {s.backend}: workers' resident memory {', '.join(f'{mb:.0f} MB' for mb in s.memory)}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", default=",".join((*PAGE_KEYS, MIX)),
                        help=f"comma-separated, of {', '.join((*PAGE_KEYS, MIX))} (default: all)")
    parser.add_argument("--db", default="sqlite,postgresql",
                        help="sqlite, postgresql or both (default; PostgreSQL is skipped with a note when its server "
                             "does not answer, unless asked for alone)")
    parser.add_argument("--duration", type=float, default=5, help="seconds per run (default 5)")
    parser.add_argument("--connections", default="16,64",
                        help="comma-separated connection counts, each a run of its own (default 16,64)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations with the bare page (default 2)")
    parser.add_argument("--mix-duration", type=float, default=20,
                        help="seconds per run of the mix (default 20: an intake takes a user many requests)")
    options = parser.parse_args(argv)
    options.pages = [p.strip() for p in options.pages.split(",") if p.strip()]
    unknown = set(options.pages) - {*PAGE_KEYS, MIX}
    options.db = [d.strip().lower() for d in options.db.split(",") if d.strip()]
    options.connections = sorted({int(c) for c in options.connections.split(",") if c.strip()})
    if unknown or not options.pages:
        parser.error(f"--pages: unknown {', '.join(sorted(unknown)) or 'nothing given'}")
    if set(options.db) - {"sqlite", "postgresql"} or not options.db:
        parser.error("--db: sqlite, postgresql or both")
    if not options.connections or min(options.connections) < 1:
        parser.error("--connections: positive numbers")
    if MIX in options.pages and min(options.connections) < 3:
        parser.error("--connections: the mix needs at least 3 users (2 receivers and a sender)")
    return options


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    # Stopped by a signal, it still stops its servers and drops its PostgreSQL database (the `finally`s); SIGINT too
    # when started in the background, where the shell leaves it ignored.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    wrk = ensure_wrk()
    summaries = []
    for kind in options.db:
        if kind == "postgresql":
            why = postgres_reachable()
            if why and options.db == ["postgresql"]:
                raise SystemExit(f"PostgreSQL does not answer: {why}")
            if why:
                print(f"\nPostgreSQL skipped: the server does not answer ({why}); set BENCH_DATABASE_URL")
                continue
        with database(kind) as (url, backend):
            summaries.append(run(url, backend, wrk, options))
    print_summary(summaries)
    return 0


if __name__ == "__main__":
    sys.exit(main())

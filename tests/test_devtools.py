"""`make run`'s clock: the scheduled jobs beside the development server, the development mailbox (development only,
SECURITY A6), PORT for the links, and a demo emergency that escalates within the first minutes."""

from __future__ import annotations

import shutil
import subprocess
import threading
from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from flask import url_for
from sqlalchemy import select

from csrn import create_app
from csrn.auth.models import User
from csrn.cli import (
    ScheduledJob,
    development_jobs,
    in_url_context,
    last_daily_run,
    run_schedule,
    serve_with_jobs,
    tick_summaries,
)
from csrn.config import ROOT, ConfigurationError, DevelopmentConfig
from csrn.extensions import db
from csrn.notify.devmail import PER_PAGE, deliver_to_mailbox
from csrn.notify.models import OutboxMessage
from csrn.notify.operations import notify, queue_mail
from csrn.referrals.models import Offer, Referral
from csrn.referrals.operations import escalation_pass
from tests.conftest import NOW, Browser

LIVE_TOKEN = "SENTINEL-DEV-TOKEN-3kQ9vT7xLm2Pw8Rz"
DEV_ENV = ("CSRN_ENV", "CSRN_BASE_URL", "PORT", "MAIL_SERVER", "CSRN_REQUIRE_2FA", "SECRET_KEY", "CSRN_ENCRYPTION_KEY",
           "TRUSTED_HOSTS", "DATABASE_URL")


# ----- the schedule: tick every minute, daily once a day, stopped with the server ----------------------------

class FakeTime:
    """A clock that moves only when the schedule waits; after `waits` waits it sets the stop event."""

    def __init__(self, start: datetime, stop: threading.Event, waits: int):
        self.now, self.stop, self.left, self.asked = start, stop, waits, []

    def clock(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        assert self.left > 0, "the schedule went on waiting after it was told to stop"
        self.asked.append(seconds)
        self.now += timedelta(seconds=seconds)
        self.left -= 1
        if self.left == 0:
            self.stop.set()


def recording_job(name: str, every: timedelta, runs: list, due: datetime = NOW) -> ScheduledJob:
    """A job that notes (name, now) each time it runs."""
    def run(now: datetime) -> str:
        runs.append((name, now))
        return f"{name} done"
    return ScheduledJob(name, every, run, due)


def test_the_schedule_runs_tick_every_minute_and_daily_once_then_stops():
    """Six minutes of the clock: tick at each minute, daily once at the start, one line per run; the loop returns
    as soon as it is stopped."""
    runs, lines = [], []
    stop = threading.Event()
    fake = FakeTime(NOW, stop, waits=6)
    jobs = [recording_job("tick", timedelta(minutes=1), runs), recording_job("daily", timedelta(days=1), runs)]
    run_schedule(jobs, stop, clock=fake.clock, wait=fake.wait, echo=lines.append)
    ticks = [at for name, at in runs if name == "tick"]
    assert ticks == [NOW + timedelta(minutes=n) for n in range(6)]
    assert [at for name, at in runs if name == "daily"] == [NOW]
    assert fake.asked == [60.0] * 6  # it sleeps until the next job is due, never busy-loops
    assert len(lines) == len(runs) and all(": " in line and line.endswith("done") for line in lines)
    assert jobs[1].due == NOW + timedelta(days=1)


def test_a_failing_job_is_logged_and_the_clock_goes_on():
    """An exception in one run is reported on its line; the other job still runs, and it runs again next time."""
    runs, lines = [], []
    stop = threading.Event()
    fake = FakeTime(NOW, stop, waits=2)

    def broken(now):
        runs.append(("broken", now))
        raise RuntimeError("database away")

    jobs = [ScheduledJob("tick", timedelta(minutes=1), broken, NOW),
            recording_job("daily", timedelta(days=1), runs)]
    run_schedule(jobs, stop, clock=fake.clock, wait=fake.wait, echo=lines.append)
    assert [name for name, _ in runs] == ["broken", "daily", "broken"]
    assert "tick: FAILED" in lines[0]


def test_the_jobs_start_with_the_server_and_stop_with_it(app, capsys):
    """serve_with_jobs starts the jobs' thread before serving; when the server stops (Ctrl-C here), the thread is
    stopped and joined: nothing outlives the server."""
    ran = threading.Event()
    seen = {}

    def job(now):
        ran.set()
        return "ok"

    def fake_serve(host, port, wsgi_app, threaded):
        assert ran.wait(30), "the jobs never ran while the server was up"
        seen.update(host=host, port=port, app=wsgi_app, threaded=threaded,
                    alive=[t for t in threading.enumerate() if t.name == "csrn-jobs" and t.is_alive()])
        raise KeyboardInterrupt

    serve_with_jobs(app, "127.0.0.1", 5055, [ScheduledJob("tick", timedelta(minutes=1), job, NOW)],
                    serve=fake_serve)
    assert (seen["host"], seen["port"], seen["app"], seen["threaded"]) == ("127.0.0.1", 5055, app, True)
    assert len(seen["alive"]) == 1
    assert not any(t.name == "csrn-jobs" and t.is_alive() for t in threading.enumerate())
    assert "Scheduled jobs stopped." in capsys.readouterr().out


def test_development_jobs_run_tick_and_daily_as_the_cli_does(app, tmp_path):
    """The server's tick and daily are the CLI's jobs, in a URL context; daily leaves a stamp, so a restart within a
    day does not run it again, and runs it at once when the stamp is a day old (or missing or unreadable)."""
    stamp = tmp_path / "daily-stamp.txt"
    tick, daily = development_jobs(app, NOW, stamp)
    assert (tick.name, tick.due, tick.every) == ("tick", NOW, timedelta(minutes=1))
    assert (daily.name, daily.due, daily.every) == ("daily", NOW, timedelta(days=1))
    line = tick.run(NOW)
    assert "escalations:" in line and "outbox:" in line and "\n" not in line
    assert "daily: " in daily.run(NOW)
    assert last_daily_run(stamp) == NOW

    _, daily = development_jobs(app, NOW + timedelta(hours=2), stamp)
    assert daily.due == NOW + timedelta(days=1)
    _, daily = development_jobs(app, NOW + timedelta(days=3), stamp)
    assert daily.due == NOW + timedelta(days=1)  # overdue: runs at the first turn
    stamp.write_text("not a time\n")
    _, daily = development_jobs(app, NOW + timedelta(hours=2), stamp)
    assert daily.due == NOW + timedelta(hours=2)


def test_serve_dev_refuses_outside_development(runner):
    """`csrn serve-dev` is a development tool: in test (and production) it refuses before serving anything."""
    result = runner.invoke(args=["csrn", "serve-dev", "--port", "5055"])
    assert result.exit_code == 1
    assert "development only" in result.output


# ----- the development mailbox -------------------------------------------------------------------------------

@pytest.fixture
def dev_app(database_url, monkeypatch):
    """An app as `make run` builds it (CSRN_ENV=development, no mail server, PORT=5055), on the suite's database."""
    for name in DEV_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "5055")
    config = DevelopmentConfig()
    config.SQLALCHEMY_DATABASE_URI = database_url
    return create_app(config)


@pytest.fixture
def production_app(database_url, monkeypatch):
    """An app built from a complete production environment, on the suite's database."""
    for name in DEV_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in {"CSRN_ENV": "production", "SECRET_KEY": "p" * 48,
                        "CSRN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                        "CSRN_BASE_URL": "https://csrn.example.org", "TRUSTED_HOSTS": "localhost",
                        "DATABASE_URL": database_url, "CSRN_SINGLE_PROCESS": "1",
                        "MAIL_SERVER": "smtp.example.org"}.items():
        monkeypatch.setenv(name, value)
    return create_app()


def _queue(app, *messages) -> None:
    with app.app_context():
        for to, subject, body in messages:
            queue_mail(to, subject, body, NOW)
        db.session.commit()


def _login(app, email) -> Browser:
    browser = Browser(app.test_client())
    browser.login(email)
    return browser


def test_tick_in_development_delivers_the_outbox_to_the_mailbox(dev_app):
    """Development without SMTP: tick marks due mail sent (delivered to the mailbox), not later mail; with a mail
    server configured it sends by SMTP as in production (nothing delivered to the mailbox)."""
    _queue(dev_app, ("a@example.org", "Now", "body"))
    with dev_app.app_context():
        queue_mail("b@example.org", "Later", "body", NOW).next_attempt_at = NOW + timedelta(minutes=5)
        db.session.commit()
    line = in_url_context(dev_app, tick_summaries)(NOW)
    assert "outbox: 1 delivered to the development mailbox" in line
    with dev_app.app_context():
        states = {m.subject: (m.status, m.sent_at) for m in db.session.scalars(select(OutboxMessage))}
        assert states == {"Now": ("sent", NOW), "Later": ("pending", None)}
    dev_app.config["MAIL_SERVER"] = "127.0.0.1"
    with dev_app.app_context(), pytest.raises(RuntimeError):
        deliver_to_mailbox(NOW)


def test_tick_outside_development_leaves_mail_for_smtp(app):
    """In test (as in production) with no mail server, tick sends nothing and marks nothing: mail stays pending."""
    _queue(app, ("a@example.org", "Hello", "body"))
    line = in_url_context(app, tick_summaries)(NOW)
    assert "outbox: 0 sent, 0 deferred, 0 failed" in line
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage.status)).all() == ["pending"]
        with pytest.raises(RuntimeError):
            deliver_to_mailbox(NOW)


def test_the_mailbox_shows_an_admin_every_message_with_its_body_newest_first(dev_app, create_user):
    """Admin: recipient, subject, status and body of every message, newest first, paginated."""
    admin = create_user(roles=("admin",), agency_id=None)
    _queue(dev_app, *[(f"person{n}@example.org", f"Message number {n:02d}", f"Body {n:02d}: {LIVE_TOKEN}")
                      for n in range(PER_PAGE + 2)])
    browser = _login(dev_app, admin.email)
    first = browser.get("/dev/mailbox/")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    newest, oldest = f"Message number {PER_PAGE + 1:02d}", "Message number 00"
    assert newest in html and oldest not in html
    assert f"Body {PER_PAGE + 1:02d}: {LIVE_TOKEN}" in html and f"person{PER_PAGE + 1}@example.org" in html
    assert "pending" in html
    assert html.index(newest) < html.index(f"Message number {PER_PAGE:02d}")
    second = browser.get("/dev/mailbox/?page=2").get_data(as_text=True)
    assert oldest in second and "Body 00:" in second


def test_the_mailbox_shows_other_users_only_their_own_mail(dev_app, create_user):
    """Anyone else reads only what was sent to them (A6: a body with a live link is for its recipient)."""
    staff = create_user(roles=("staff",))
    _queue(dev_app, (staff.email.upper(), "For you", "Your body"), ("someone@example.org", "Not yours", LIVE_TOKEN))
    html = _login(dev_app, staff.email).get("/dev/mailbox/").get_data(as_text=True)
    assert "For you" in html and "Your body" in html
    assert "Not yours" not in html and LIVE_TOKEN not in html


def test_the_mailbox_needs_a_login(dev_app):
    """Anonymous visitors are sent to log in, and see no mail."""
    _queue(dev_app, ("someone@example.org", "Secret", LIVE_TOKEN))
    response = dev_app.test_client().get("/dev/mailbox/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert LIVE_TOKEN not in response.get_data(as_text=True)


def test_the_mailbox_does_not_exist_in_test_or_production(app, dev_app, production_app, create_user):
    """SECURITY A6: in test and production the route is not registered (404 for an admin too); in development it is,
    and it still answers 404 should the environment say otherwise."""
    admin = create_user(roles=("admin",), agency_id=None)
    _queue(app, ("someone@example.org", "Secret", LIVE_TOKEN))
    for other in (app, production_app):
        assert "devmail.index" not in other.view_functions
        assert other.test_client().get("/dev/mailbox/").status_code == 404
    response = _login(app, admin.email).get("/dev/mailbox/")
    assert response.status_code == 404 and LIVE_TOKEN not in response.get_data(as_text=True)
    assert "devmail.index" in dev_app.view_functions
    browser = _login(dev_app, admin.email)
    assert browser.get("/dev/mailbox/").status_code == 200
    dev_app.config["CSRN_ENV"] = "production"
    response = browser.get("/dev/mailbox/")
    assert response.status_code == 404 and LIVE_TOKEN not in response.get_data(as_text=True)


# ----- PORT: where `make run` serves is where the links point ------------------------------------------------

def test_port_sets_the_links_in_development(dev_app, create_user):
    """With PORT=5055 and no CSRN_BASE_URL, links sent out (mail bodies, the jobs' URL context) point to port 5055."""
    assert dev_app.config["CSRN_BASE_URL"] == "http://127.0.0.1:5055"
    user = create_user(roles=("staff",))
    with dev_app.app_context():
        notify([db.session.get(User, user.id)], "Something happened", "/referrals/", NOW)
        db.session.commit()
        body = db.session.scalar(select(OutboxMessage.body).where(OutboxMessage.to_addr == user.email))
    assert "http://127.0.0.1:5055/referrals/" in body
    assert in_url_context(dev_app, lambda now: iter([url_for("auth.login", _external=True)]))(NOW) == (
        "http://127.0.0.1:5055/login")


def test_port_defaults_to_5000_and_never_overrides_csrn_base_url(monkeypatch):
    """No PORT: port 5000. CSRN_BASE_URL, when set, wins over PORT. A PORT that is no port is refused."""
    for name in DEV_ENV:
        monkeypatch.delenv(name, raising=False)
    assert DevelopmentConfig().CSRN_BASE_URL == "http://127.0.0.1:5000"
    monkeypatch.setenv("PORT", "5001")
    assert DevelopmentConfig().CSRN_BASE_URL == "http://127.0.0.1:5001"
    monkeypatch.setenv("CSRN_BASE_URL", "http://csrn.test:8080/")
    assert DevelopmentConfig().CSRN_BASE_URL == "http://csrn.test:8080"
    monkeypatch.delenv("CSRN_BASE_URL")
    for bad in ("http", "0", "70000", "50 01"):
        monkeypatch.setenv("PORT", bad)
        with pytest.raises(ConfigurationError, match="PORT"):
            DevelopmentConfig()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_passes_port_to_every_command():
    """`make run PORT=5001` (dry run: nothing executed) serves on 5001 and gives PORT=5001 to every flask command,
    so the demo's links and the server's agree."""
    result = subprocess.run(["make", "-n", "-C", str(ROOT), "run", "PORT=5001"], capture_output=True, text=True,
                            timeout=60, check=True)
    flask_lines = [line for line in result.stdout.splitlines() if "flask --app app" in line]
    assert len(flask_lines) == 3
    assert all(line.startswith("PORT=5001 ") for line in flask_lines)
    assert "csrn serve-dev --host 127.0.0.1 --port 5001" in flask_lines[-1]
    assert "http://127.0.0.1:5001" in result.stdout and ":5000" not in result.stdout


# ----- the demo escalates within the first minutes -----------------------------------------------------------

def test_the_demo_has_an_emergency_that_escalates_a_few_minutes_after_seeding(ctx, monkeypatch, tmp_path):
    """seed-demo places an unanswered emergency to the 24/7 hotline whose deadline falls 3 minutes after seeding:
    a tick two minutes in leaves it pending, the tick five minutes in escalates it (the sender is told)."""
    import csrn.demo

    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    csrn.demo.seed(password="demo password for tests", force=True, now=NOW)
    officer = db.session.scalar(User.by_email("officer@demo.example"))
    hotline = db.session.scalar(User.by_email("hotline@demo.example")).agency_id
    referral = db.session.scalars(select(Referral).where(Referral.created_by_id == officer.id,
                                                         Referral.urgency == "emergency")).one()
    offer = db.session.scalars(select(Offer).where(Offer.referral_id == referral.id)).one()
    assert (offer.agency_id, offer.state) == (hotline, "pending")
    assert offer.deadline_at == NOW + timedelta(minutes=3)

    escalation_pass(NOW + timedelta(minutes=2))
    db.session.refresh(offer)
    assert offer.state == "pending"
    escalation_pass(NOW + timedelta(minutes=5))
    db.session.refresh(offer)
    assert offer.state == "expired"
    mail = db.session.scalars(select(OutboxMessage.subject).where(OutboxMessage.to_addr == officer.email,
                                                                  OutboxMessage.created_at == NOW + timedelta(
                                                                      minutes=5))).all()
    assert mail, "the sender was not told of the escalation"


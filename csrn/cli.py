"""The `flask --app app csrn ...` commands: admin creation, demo data and the scheduled jobs."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from werkzeug.serving import run_simple

from csrn.audit import operations as audit
from csrn.audit.models import AuditEvent
from csrn.audit.operations import verify_chain
from csrn.auth import operations as auth_ops
from csrn.auth.models import User
from csrn.auth.passwords import password_problem
from csrn.clock import parse_now, utcnow
from csrn.config import INSTANCE
from csrn.demo import DemoRefused, database_has_data, seed, write_logins
from csrn.extensions import db
from csrn.hsds import access as hsds_access
from csrn.hsds import export as hsds_export
from csrn.hsds import importer as hsds_importer
from csrn.lifecycle import backup, keys, retention
from csrn.locks import job_lock
from csrn.notify.devmail import deliver_to_mailbox, mailbox_active
from csrn.notify.operations import send_pending
from csrn.oncall.operations import coverage_report
from csrn.referrals.operations import escalation_pass
from csrn.roles import ADMIN
from csrn.settings.operations import get_settings

log = logging.getLogger(__name__)

# An AppGroup, so every command runs in an app context however it is invoked (tests included).
csrn_cli = AppGroup("csrn", help="CSRN administration and scheduled jobs.")

# Each module adds (name, "module:function") here; the function takes `now` and returns a summary.
TICK_JOBS: list = [
    ("password reset requests", "csrn.auth.operations:answer_reset_requests"),  # before the outbox is sent
    ("escalations", "csrn.referrals.operations:escalation_pass"),
    ("drills", "csrn.drills.operations:tick_drills"),  # each drill's escalations, on its own clock
]
DAILY_JOBS: list = [
    ("certificate and agreement expiry reminders", "csrn.agencies.operations:expiry_reminders"),
    ("directory confirmation links", "csrn.directory.operations:stale_reminders"),
    ("intake drafts unused for 7 days", "csrn.intake.operations:purge_drafts"),
    ("protocol review reminders", "csrn.protocols.operations:review_reminders"),
    ("volunteer renewals", "csrn.volunteers.operations:renewal_pass"),
    ("on-call gaps in the next 7 days", "csrn.oncall.operations:gap_alert"),
    ("used public-form stamps", "csrn.volunteers.operations:purge_form_stamps"),
    ("services flagged by declines", "csrn.gaps.operations:flag_declined_services"),
    ("demand report roll-up", "csrn.gaps.rollup:roll_up"),
    ("retention purge", "csrn.lifecycle.retention:purge_job"),
]


def _with_url_context(func_):
    """Jobs build links (url_for) outside any request: give them one rooted at CSRN_BASE_URL."""
    @wraps(func_)
    def wrapped(*args, **kwargs):
        with current_app.test_request_context("/", base_url=current_app.config["CSRN_BASE_URL"]):
            return func_(*args, **kwargs)

    return wrapped


def _resolve(job):
    """A job given as "module:function" (imported when run) or as the function itself."""
    if isinstance(job, str):
        module, _, name = job.partition(":")
        return getattr(importlib.import_module(module), name)
    return job


def _check_now(ctx, param, value: str | None) -> str | None:
    """Refuse a naive or unreadable --now as a usage error (a message, not a traceback)."""
    try:
        parse_now(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


FUTURE_TOLERANCE = timedelta(minutes=5)


def _as_of(now_text: str | None) -> datetime:
    """The time a job runs as of. In production never in the future: a purge or a roll-up run ahead of time could
    not be undone (a case purged before its period ran out, days counted before they were over)."""
    now = parse_now(now_text)
    if current_app.config.get("CSRN_ENV") == "production" and now > utcnow() + FUTURE_TOLERANCE:
        raise click.ClickException("--now may not be in the future in production.")
    return now


def _now_option(func_):
    return click.option("--now", "now_text", default=None, callback=_check_now,
                        help="Run as if it were this ISO time (with offset).")(func_)


@csrn_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_admin(email: str, name: str, password_stdin: bool) -> None:
    """Create an administrator account (the only way the first account comes to be)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, [email, name, get_settings().name])
    if problem:
        raise click.ClickException(problem)
    if db.session.scalar(User.by_email(email)) is not None:
        raise click.ClickException(f"A user with the e-mail {email} already exists.")
    now = parse_now(None)
    user = auth_ops.create_user(None, email, name, [ADMIN], None, now, password=password)
    db.session.commit()
    click.echo(f"Administrator {user.email} created.")


@csrn_cli.command("seed-demo")
@click.option("--password", default=None, help="One password for every demo login (else random).")
@click.option("--force", is_flag=True, help="Load the demo even though the database holds data.")
@click.option("--if-empty", is_flag=True, help="Do nothing, quietly, when the database holds data.")
@_with_url_context
def seed_demo(password: str | None, force: bool, if_empty: bool) -> None:
    """Load the fictional demo task force and save its logins to instance/demo-logins.txt."""
    if current_app.config["CSRN_ENV"] == "production":
        raise click.ClickException("seed-demo refuses to run in production.")
    if if_empty and database_has_data():
        click.echo("The database already holds data; demo not loaded.")
        return
    try:
        logins = seed(password=password, force=force, now=parse_now(None))
    except DemoRefused as exc:
        raise click.ClickException(str(exc)) from exc
    path = write_logins(logins)
    click.echo(f"Demo task force loaded; logins saved to {path}.")


@csrn_cli.command("tick")
@_now_option
@_with_url_context
def tick(now_text: str | None) -> None:
    """The every-minute job: escalations and the outbox."""
    for line in tick_summaries(_as_of(now_text)):
        click.echo(line)


def tick_summaries(now: datetime) -> Iterator[str]:
    """Run the every-minute jobs as of `now` (with an app and URL context), one summary line per job as each ends.
    Each job holds its lock while it runs: a second `tick` at the same time (another host) skips it."""
    for name, job in TICK_JOBS:
        yield _locked(name, lambda job=job: _resolve(job)(now))
    yield _locked("outbox", lambda: _send_outbox(now))


def _send_outbox(now: datetime) -> str:
    if mailbox_active():  # development without a mail server: the mail is read at /dev/mailbox
        return f"{deliver_to_mailbox(now)['sent']} delivered to the development mailbox (no MAIL_SERVER)"
    counts = send_pending(now)
    return f"{counts['sent']} sent, {counts['deferred']} deferred, {counts['failed']} failed"


def _locked(name: str, run: Callable[[], object]) -> str:
    with job_lock(name) as held:
        if not held:
            return f"{name}: skipped, another run is doing it"
        return f"{name}: {run()}"


@csrn_cli.command("escalate")
@_now_option
@_with_url_context
def escalate(now_text: str | None) -> None:
    """Run the escalation pass alone (it also runs in `tick`)."""
    click.echo(escalation_pass(_as_of(now_text)))


@csrn_cli.command("check-coverage")
@click.option("--days", default=14, type=click.IntRange(1, 90), show_default=True, help="How many days ahead.")
@_now_option
def check_coverage(days: int, now_text: str | None) -> None:
    """List every interval a 24/7 kind has no primary (and no backup) on call; exit 1 when a primary is missing."""
    now = _as_of(now_text)
    lines, missing_primary = coverage_report(now, days)
    for line in lines:
        click.echo(line)
    if missing_primary:
        sys.exit(1)


@csrn_cli.command("daily")
@_now_option
@_with_url_context
def daily(now_text: str | None) -> None:
    """The daily job: reminders, expiries, reviews due, volunteer renewals and unused drafts purged."""
    for line in daily_summaries(_as_of(now_text)):
        click.echo(line)


def daily_summaries(now: datetime) -> Iterator[str]:
    """Run the daily jobs as of `now` (with an app and URL context), one summary line per job as each ends."""
    for name, job in DAILY_JOBS:
        yield _locked(name, lambda job=job: _resolve(job)(now))
    yield f"daily: {len(DAILY_JOBS)} job(s) run at {now.isoformat()}"


@csrn_cli.command("purge")
@_now_option
@_with_url_context
def purge(now_text: str | None) -> None:
    """The retention purge alone (also part of `daily`): identifying fields of every person whose referrals all
    ended longer ago than the retention period, and of declined or withdrawn volunteer applications."""
    click.echo(retention.purge_job(_as_of(now_text)))


@csrn_cli.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every encrypted value under the first key of CSRN_ENCRYPTION_KEY (the older keys listed after it
    still decrypt meanwhile); resumable: run it again after an interruption."""
    click.echo(keys.rotate(log=click.echo))


@csrn_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """A consistent copy of the running SQLite database at PATH (a new file), while writes go on."""
    try:
        click.echo(backup.backup(path))
    except backup.BackupRefused as exc:
        raise click.ClickException(str(exc)) from exc


@csrn_cli.command("export-hsds")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def export_hsds(path: Path) -> None:
    """The public directory as an Open Referral HSDS 3.0 data package (CSV files and datapackage.json) in PATH."""
    if path.exists() and any(path.iterdir()):
        raise click.ClickException(f"{path} is not empty: give a new or empty folder.")
    now = utcnow()
    written = hsds_export.write(hsds_export.build(now), path)
    audit.record(None, "hsds.exported", object_type="directory", fields=[name for name, n in written.items() if n],
                 now=now)
    db.session.commit()
    click.echo(f"HSDS 3.0 package written to {path}: " + ", ".join(
        f"{n} {name}" for name, n in written.items() if n))


@csrn_cli.command("import-hsds")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def import_hsds(path: Path) -> None:
    """Import an Open Referral HSDS 3.0 package (a folder or .zip of CSV files with datapackage.json, or a .json file
    of organizations or services): new organizations become listed community resources; exit 1 if it is refused."""
    now = utcnow()
    try:
        checked = hsds_importer.read_and_check(path)
    except hsds_importer.PackageRefused as refused:
        db.session.rollback()
        click.echo(f"Refused: nothing of {path.name} was imported.", err=True)
        for problem in refused.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    total = hsds_importer.count_objects(checked)
    try:
        with click.progressbar(length=total, label="Importing", file=sys.stderr,
                               show_pos=True) as bar:
            report = hsds_importer.import_checked(None, checked, now, progress=bar.update)
    except hsds_importer.PackageRefused as refused:
        click.echo(f"Refused: nothing of {path.name} was imported.", err=True)
        for problem in refused.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    for line in report.lines():
        click.echo(line)


api_token_cli = AppGroup("api-token", help="HSDS API tokens of outside systems (also at /admin/api-tokens/).")
csrn_cli.add_command(api_token_cli)


@api_token_cli.command("create")
@click.argument("name")
def api_token_create(name: str) -> None:
    """Issue an HSDS API token for the outside system NAME and print it (shown this once: only its hash is kept)."""
    try:
        raw, _ = hsds_access.issue_token(None, name, utcnow())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(raw)


@api_token_cli.command("revoke")
@click.argument("name")
def api_token_revoke(name: str) -> None:
    """Revoke the live HSDS API token of the outside system NAME: it gets 401 from then on."""
    if hsds_access.revoke_token(None, name, utcnow()) is None:
        raise click.ClickException(f"No live API token is called {name!r}.")
    click.echo(f"API token {name!r} revoked.")


@csrn_cli.command("verify-audit")
def verify_audit() -> None:
    """Check the audit log's hash chain; exit 1 at the first broken event."""
    intact, broken = verify_chain()
    total = db.session.scalar(select(func.count()).select_from(_audit_model()))
    if not intact:
        click.echo(f"Audit chain BROKEN at event {broken} ({total} events).")
        sys.exit(1)
    click.echo(f"Audit chain intact ({total} events).")


def _audit_model():
    return AuditEvent


# ----- development: the server and the scheduled jobs in one process (`make run`) ----------------------------

TICK_EVERY = timedelta(minutes=1)
DAILY_EVERY = timedelta(days=1)
DAILY_STAMP = INSTANCE / "dev-daily-last-run.txt"  # git-ignored, beside the development database
STOP_TIMEOUT_SECONDS = 30


@dataclass
class ScheduledJob:
    """A job the development server runs every so often; `run(now)` does it and returns a one-line summary."""

    name: str
    every: timedelta
    run: Callable[[datetime], str]
    due: datetime


def run_schedule(jobs: list[ScheduledJob], stop: threading.Event, clock: Callable[[], datetime] = utcnow,
                 wait: Callable[[float], object] | None = None, echo: Callable[[str], None] = click.echo) -> None:
    """Run each job whenever it is due, one line printed per run, until `stop` is set. A failed run is logged and
    the job runs again at its next turn: one bad minute never stops the clock."""
    wait = wait or stop.wait
    while not stop.is_set():
        now = clock()
        for job in jobs:
            if job.due > now or stop.is_set():
                continue
            try:
                summary = job.run(now)
            except Exception:  # noqa: BLE001 - logged with its traceback; the other jobs go on
                log.exception("scheduled job %s failed", job.name)
                summary = "FAILED (traceback above); it runs again at its next turn"
            echo(f"[{now.astimezone():%H:%M:%S}] {job.name}: {summary}")
            job.due = now + job.every
        wait(max(0.0, (min(job.due for job in jobs) - clock()).total_seconds()))


def in_url_context(app: Flask, summaries: Callable[[datetime], Iterator[str]]) -> Callable[[datetime], str]:
    """A job run as the CLI runs it — its own app context and a URL context rooted at CSRN_BASE_URL — with its
    summaries joined on one line."""
    def run(now: datetime) -> str:
        with app.test_request_context("/", base_url=app.config["CSRN_BASE_URL"]):
            return "; ".join(summaries(now))

    return run


def last_daily_run(stamp: Path) -> datetime | None:
    """When the development server last ran `daily` (None when never, or the stamp is unreadable)."""
    try:
        text = stamp.read_text(encoding="utf-8").strip()
        when = datetime.fromisoformat(text)
    except (OSError, ValueError):
        return None
    return when if when.tzinfo is not None else None


def development_jobs(app: Flask, now: datetime, stamp: Path = DAILY_STAMP) -> list[ScheduledJob]:
    """`tick` now and every minute after; `daily` now unless it ran less than a day ago (the stamp file says when),
    then once a day — so restarting the server does not send the daily reminders again."""
    def daily(at: datetime) -> str:
        summary = in_url_context(app, daily_summaries)(at)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(at.isoformat() + "\n", encoding="utf-8")
        return summary

    last = last_daily_run(stamp)
    daily_due = now if last is None else min(last + DAILY_EVERY, now + DAILY_EVERY)
    return [ScheduledJob("tick", TICK_EVERY, in_url_context(app, tick_summaries), now),
            ScheduledJob("daily", DAILY_EVERY, daily, daily_due)]


def serve_with_jobs(app: Flask, host: str, port: int, jobs: list[ScheduledJob],
                    serve: Callable[..., None] = run_simple) -> None:
    """Serve the app until it stops (Ctrl-C), the jobs running beside it in a thread; they stop with the server,
    so nothing outlives it."""
    stop = threading.Event()
    worker = threading.Thread(target=run_schedule, args=(jobs, stop), name="csrn-jobs", daemon=True)
    worker.start()
    try:
        serve(host, port, app, threaded=True)
    except KeyboardInterrupt:
        pass  # Werkzeug returns on Ctrl-C by itself; a stop signal raised elsewhere lands here
    finally:
        stop.set()
        worker.join(STOP_TIMEOUT_SECONDS)
        click.echo("Scheduled jobs stopped." if not worker.is_alive()
                   else "A scheduled job was still running; it ends with the process.")


@csrn_cli.command("serve-dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), envvar="PORT", default=5000, show_default=True,
              help="Port to listen on (also read from PORT, which sets the links' port too).")
def serve_dev(host: str, port: int) -> None:
    """Development only: serve the app and run `tick` every minute and `daily` once a day beside it."""
    app = current_app._get_current_object()
    if app.config["CSRN_ENV"] != "development":
        raise click.ClickException("serve-dev is for development only. In production run gunicorn, and `tick` and "
                                   "`daily` from cron or systemd timers (README: Production).")
    base = app.config["CSRN_BASE_URL"]
    if not base.endswith(f":{port}"):
        click.echo(f"Note: links use CSRN_BASE_URL={base}, not port {port} (set PORT={port} to match).")
    # `kill` (SIGTERM) stops it as Ctrl-C does: the server returns, then the jobs stop.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    click.echo("Scheduled jobs: tick every minute, daily once a day (a line each run).")
    serve_with_jobs(app, host, port, development_jobs(app, utcnow()))


def register_cli(app: Flask) -> None:
    """Attach the `csrn` command group to the app."""
    app.cli.add_command(csrn_cli)

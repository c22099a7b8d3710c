"""The `flask --app app csrn ...` commands: admin creation, demo data and the scheduled jobs."""

from __future__ import annotations

import importlib
import sys
from functools import wraps

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from csrn.audit.models import AuditEvent
from csrn.audit.operations import verify_chain
from csrn.auth import operations as auth_ops
from csrn.auth.models import User
from csrn.auth.passwords import password_problem
from csrn.clock import parse_now
from csrn.demo import DemoRefused, database_has_data, seed, write_logins
from csrn.extensions import db
from csrn.notify.operations import send_pending
from csrn.oncall.operations import coverage_report
from csrn.referrals.operations import escalation_pass
from csrn.roles import ADMIN
from csrn.settings.operations import get_settings

# An AppGroup, so every command runs in an app context however it is invoked (tests included).
csrn_cli = AppGroup("csrn", help="CSRN administration and scheduled jobs.")

# Each module adds (name, "module:function") here; the function takes `now` and returns a summary.
TICK_JOBS: list = [
    ("password reset requests", "csrn.auth.operations:answer_reset_requests"),  # before the outbox is sent
    ("escalations", "csrn.referrals.operations:escalation_pass"),
]
DAILY_JOBS: list = [
    ("certificate and agreement expiry reminders", "csrn.agencies.operations:expiry_reminders"),
    ("directory confirmation links", "csrn.directory.operations:stale_reminders"),
    ("intake drafts unused for 7 days", "csrn.intake.operations:purge_drafts"),
    ("protocol review reminders", "csrn.protocols.operations:review_reminders"),
    ("volunteer renewals", "csrn.volunteers.operations:renewal_pass"),
    ("on-call gaps in the next 7 days", "csrn.oncall.operations:gap_alert"),
    ("used public-form stamps", "csrn.volunteers.operations:purge_form_stamps"),
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
    now = parse_now(now_text)
    for name, job in TICK_JOBS:
        click.echo(f"{name}: {_resolve(job)(now)}")
    counts = send_pending(now)
    click.echo(f"outbox: {counts['sent']} sent, {counts['deferred']} deferred, {counts['failed']} failed")


@csrn_cli.command("escalate")
@_now_option
@_with_url_context
def escalate(now_text: str | None) -> None:
    """Run the escalation pass alone (it also runs in `tick`)."""
    click.echo(escalation_pass(parse_now(now_text)))


@csrn_cli.command("check-coverage")
@click.option("--days", default=14, type=click.IntRange(1, 90), show_default=True, help="How many days ahead.")
@_now_option
def check_coverage(days: int, now_text: str | None) -> None:
    """List every interval a 24/7 kind has no primary (and no backup) on call; exit 1 when a primary is missing."""
    now = parse_now(now_text)
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
    now = parse_now(now_text)
    for name, job in DAILY_JOBS:
        click.echo(f"{name}: {_resolve(job)(now)}")
    click.echo(f"daily: {len(DAILY_JOBS)} job(s) run at {now.isoformat()}")


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


def register_cli(app: Flask) -> None:
    """Attach the `csrn` command group to the app."""
    app.cli.add_command(csrn_cli)

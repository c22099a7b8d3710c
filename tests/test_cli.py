"""SECURITY A7 and the CLI: create-admin without a terminal, seed-demo's refusals and contents, --now."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

import csrn.demo
from csrn.agencies.models import AGENCY_TYPES, MEMBERSHIP_STATUSES, Agency
from csrn.auth.models import User
from csrn.config import ROOT
from csrn.extensions import db
from csrn.settings.models import TaskForceSettings

ADMIN_PASSWORD = "violet lanterns drift over quiet harbours"
DEMO_PASSWORD = "demo passphrase for the test suite"


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def demo_instance(monkeypatch, tmp_path):
    """Send the demo logins file to a temporary folder instead of the repository's instance/."""
    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    return tmp_path


# ----- create-admin ------------------------------------------------------------------------------

def test_create_admin_reads_the_password_from_stdin(app, runner):
    """`create-admin --email E --password-stdin` works with no terminal and makes an admin of no agency."""
    result = runner.invoke(
        args=["csrn", "create-admin", "--email", "First.Admin@Example.org", "--password-stdin"],
        input=ADMIN_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "first.admin@example.org" in result.output
    with app.app_context():
        user = db.session.scalar(User.by_email("first.admin@example.org"))
        assert user is not None
        assert user.roles == {"admin"}
        assert user.agency_id is None
        assert user.active
        assert user.password_hash.startswith("$argon2id$")
        PasswordHasher().verify(user.password_hash, ADMIN_PASSWORD)


@pytest.mark.parametrize(
    "password",
    ["short", "password1234", "trafficking2026", "aaaaaaaaaaaaaaaa", ""],
    ids=["short", "common", "themed", "repetitive", "empty"],
)
def test_create_admin_refuses_a_weak_password(app, runner, password):
    """A weak password is refused with a message, and no account is created."""
    result = runner.invoke(
        args=["csrn", "create-admin", "--email", "weak@example.org", "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code == 1
    assert "Error:" in result.output
    assert _count(app, User) == 0


def test_create_admin_refuses_the_admins_own_email_as_password(app, runner):
    """A2: create-admin gives zxcvbn the e-mail and name too: the e-mail address is no password."""
    email = "ottoline.brackenbury@example.org"
    result = runner.invoke(args=["csrn", "create-admin", "--email", email, "--password-stdin"], input=email + "\n")
    assert result.exit_code == 1
    assert "This password would be easy to guess." in result.output
    assert _count(app, User) == 0


def test_create_admin_refuses_an_existing_email(app, runner, create_user):
    """An existing e-mail is not overwritten or given admin rights."""
    user = create_user(roles=("staff",))
    result = runner.invoke(
        args=["csrn", "create-admin", "--email", user.email.upper(), "--password-stdin"],
        input=ADMIN_PASSWORD + "\n",
    )
    assert result.exit_code == 1
    assert "already exists" in result.output
    with app.app_context():
        assert db.session.get(User, user.id).roles == {"staff"}


@pytest.fixture
def default_session_mode():
    """Give sessions SQLAlchemy's default join mode (conftest's teardown sets an unknown one)."""
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")


@pytest.mark.concurrency
def test_create_admin_in_a_real_process_without_terminal(committed_app, default_session_mode):
    """`flask --app app csrn create-admin --password-stdin` with a pipe for stdin, as from a script."""
    url = committed_app.config["SQLALCHEMY_DATABASE_URI"]
    env = {key: value for key, value in os.environ.items() if key not in {"CSRN_ENV", "SECRET_KEY"}}
    env.update({"DATABASE_URL": url, "CSRN_ENV": "development"})
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "csrn", "create-admin",
         "--email", "script@example.org", "--password-stdin"],
        cwd=ROOT, env=env, input=ADMIN_PASSWORD + "\n", capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    with committed_app.app_context():
        user = db.session.scalar(User.by_email("script@example.org"))
        assert user is not None and user.roles == {"admin"}
        db.session.remove()


# ----- seed-demo ---------------------------------------------------------------------------------

def test_seed_demo_refuses_production_by_config(app, runner, monkeypatch, demo_instance):
    """seed-demo refuses to run when CSRN_ENV is production, and writes nothing."""
    monkeypatch.setitem(app.config, "CSRN_ENV", "production")
    result = runner.invoke(args=["csrn", "seed-demo", "--password", DEMO_PASSWORD, "--force"])
    assert result.exit_code == 1
    assert "production" in result.output
    assert _count(app, Agency) == 0
    assert _count(app, User) == 0
    assert not (demo_instance / "demo-logins.txt").exists()


def test_seed_demo_refuses_a_production_app(monkeypatch, tmp_path, database_url, demo_instance):
    """An app built from a production environment refuses seed-demo too."""
    from cryptography.fernet import Fernet

    from csrn import create_app

    for name, value in {
        "CSRN_ENV": "production",
        "SECRET_KEY": "q" * 48,
        "CSRN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CSRN_BASE_URL": "https://csrn.example.org",
        "TRUSTED_HOSTS": "csrn.example.org",
        "DATABASE_URL": database_url,
        "CSRN_SINGLE_PROCESS": "1",  # one CLI process: the per-process limit store is allowed
    }.items():
        monkeypatch.setenv(name, value)
    production = create_app()
    result = production.test_cli_runner().invoke(args=["csrn", "seed-demo", "--password", DEMO_PASSWORD])
    assert result.exit_code == 1
    assert "refuses to run in production" in result.output
    assert _count(production, Agency) == 0
    assert not (demo_instance / "demo-logins.txt").exists()


def test_seed_demo_refuses_a_database_with_data(app, runner, create_agency, demo_instance):
    """Without --force, seed-demo leaves a database that already holds data alone."""
    create_agency(name="Real Agency")
    result = runner.invoke(args=["csrn", "seed-demo", "--password", DEMO_PASSWORD])
    assert result.exit_code == 1
    assert "--force" in result.output
    assert _count(app, Agency) == 1
    assert _count(app, User) == 0
    assert not (demo_instance / "demo-logins.txt").exists()


def test_seed_demo_if_empty_does_nothing_on_a_database_with_data(app, runner, create_user, demo_instance):
    """`make run` calls `seed-demo --if-empty` on every start: quietly nothing once data exists."""
    create_user(roles=("staff",))
    result = runner.invoke(args=["csrn", "seed-demo", "--if-empty", "--password", DEMO_PASSWORD])
    assert result.exit_code == 0
    assert "not loaded" in result.output
    assert _count(app, Agency) == 1
    assert _count(app, User) == 1
    assert not (demo_instance / "demo-logins.txt").exists()


def _demo_user(email: str) -> User:
    user = db.session.scalar(User.by_email(email))
    assert user is not None, f"demo account {email} missing"
    return user


def test_seed_demo_creates_the_demo_task_force(app, runner, demo_instance):
    """seed-demo loads ~25 agencies of every type and status, the six named logins, and a logins file."""
    result = runner.invoke(args=["csrn", "seed-demo", "--password", DEMO_PASSWORD])
    assert result.exit_code == 0, result.output
    logins = demo_instance / "demo-logins.txt"
    assert str(logins) in result.output

    with app.app_context():
        agencies = db.session.scalars(select(Agency)).all()
        assert 20 <= len(agencies) <= 30
        assert {agency.agency_type for agency in agencies} == set(AGENCY_TYPES)
        assert {agency.membership_status for agency in agencies} == set(MEMBERSHIP_STATUSES)

        officer = _demo_user("officer@demo.example")
        assert officer.roles == {"staff"}
        assert officer.agency.agency_type == "law_enforcement"

        case_manager = _demo_user("casemanager@demo.example")
        assert case_manager.roles == {"case_manager"}
        assert case_manager.agency.agency_type == "victim_service_provider"

        agency_admin = _demo_user("agencyadmin@demo.example")
        assert agency_admin.roles == {"agency_admin", "case_manager"}
        assert agency_admin.agency_id == case_manager.agency_id

        assert "chair" in _demo_user("chair@demo.example").roles
        assert "admin" in _demo_user("admin@demo.example").roles

        outsider = _demo_user("outsider@demo.example")
        assert outsider.roles == {"case_manager"}
        assert outsider.agency_id not in {case_manager.agency_id, officer.agency_id}
        assert outsider.agency.agency_type != "law_enforcement"

        for email in ("officer@demo.example", "chair@demo.example", "admin@demo.example"):
            PasswordHasher().verify(_demo_user(email).password_hash, DEMO_PASSWORD)
            assert _demo_user(email).active

        settings = db.session.get(TaskForceSettings, 1)
        assert settings is not None
        assert settings.timezone not in {"", "UTC"}
        ZoneInfo(settings.timezone)  # a real, named zone
        assert settings.counties

    text = logins.read_text(encoding="utf-8")
    for email in ("officer@demo.example", "casemanager@demo.example", "agencyadmin@demo.example",
                  "chair@demo.example", "admin@demo.example", "outsider@demo.example"):
        assert email in text
    assert DEMO_PASSWORD in text
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600


def test_seed_demo_random_passwords_differ_and_log_in(app, runner, demo_instance):
    """Without --password each login gets its own random password, and the file's password works."""
    result = runner.invoke(args=["csrn", "seed-demo"])
    assert result.exit_code == 0, result.output
    lines = (demo_instance / "demo-logins.txt").read_text(encoding="utf-8").splitlines()
    passwords = {}
    for line in lines:
        parts = line.split()
        if parts and parts[0].endswith("@demo.example"):
            passwords[parts[0]] = parts[1]
    assert len(passwords) >= 6
    assert len(set(passwords.values())) == len(passwords)
    with app.app_context():
        PasswordHasher().verify(_demo_user("chair@demo.example").password_hash, passwords["chair@demo.example"])


def test_seed_demo_if_empty_loads_an_empty_database(app, runner, demo_instance):
    """On the first `make run` the database is empty and --if-empty loads the demo."""
    result = runner.invoke(args=["csrn", "seed-demo", "--if-empty", "--password", DEMO_PASSWORD])
    assert result.exit_code == 0, result.output
    assert _count(app, User) >= 6
    assert (demo_instance / "demo-logins.txt").exists()


# ----- tick and daily: --now -------------------------------------------------------------------

def test_daily_accepts_now_with_offset(runner):
    """`daily --now` takes an ISO time with offset and runs as of that instant (in UTC)."""
    result = runner.invoke(args=["csrn", "daily", "--now", "2026-03-08T02:30:00-06:00"])
    assert result.exit_code == 0, result.output
    assert "2026-03-08T08:30:00+00:00" in result.output


def test_tick_accepts_now_with_offset(runner):
    """`tick --now` takes an ISO time with offset and reports on the outbox."""
    result = runner.invoke(args=["csrn", "tick", "--now", "2026-03-08T02:30:00+01:00"])
    assert result.exit_code == 0, result.output
    assert "outbox:" in result.output


@pytest.mark.parametrize("job", ["tick", "daily"])
@pytest.mark.parametrize("value", ["2026-03-08T02:30:00", "2026-03-08", "next tuesday"])
def test_jobs_refuse_a_naive_or_invalid_now(runner, job, value):
    """A time without offset is ambiguous (DST nights): refused with a message, and the job does not run."""
    result = runner.invoke(args=["csrn", job, "--now", value])
    assert result.exit_code == 2
    assert "--now" in result.output
    assert "outbox:" not in result.output and "daily:" not in result.output

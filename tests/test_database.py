"""SECURITY R3, R6, R7, R8 and the shared column types, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Float, cast, create_engine, func, literal, null, select, text, union_all
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from csrn import create_app
from csrn.agencies import operations as agency_ops
from csrn.agencies.models import Agency
from csrn.auth.models import User, UserRole
from csrn.concurrency import StaleEdit
from csrn.config import TestConfig as _TestConfig
from csrn.database import (
    PG_LOCK_TIMEOUT_MS,
    PG_STATEMENT_TIMEOUT_MS,
    SQLITE_BUSY_TIMEOUT_MS,
    configure_engine,
    engine_options,
)
from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from csrn.notify.operations import queue_mail
from csrn.types import DecryptionError
from tests.conftest import NOW, csrf_from


def backend(database_url: str) -> str:
    """The suite database's backend name: sqlite or postgresql."""
    return make_url(database_url).get_backend_name()


def _agency(**fields) -> Agency:
    values = {
        "name": "Constraint Test Agency",
        "agency_type": "legal",
        "membership_status": "member",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Agency(**values)


# ----- R3: constraints as the last line -----------------------------------------------------------

def test_foreign_keys_are_enforced(ctx):
    """A user pointing at an agency that does not exist is refused by the database (SQLite included)."""
    db.session.add(User(email="ghost@example.org", name="Ghost", agency_id=987_654, created_at=NOW,
                        active=True, session_version=1))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("column, value", [("membership_status", "vip"), ("agency_type", "cartel")])
def test_agency_state_check_constraints(ctx, column, value):
    """States are strings with CHECK constraints: an unknown state cannot be stored."""
    db.session.add(_agency(**{column: value}))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_role_check_constraint(ctx, create_user):
    """A role outside the known list cannot be stored, even bypassing User.set_roles."""
    user = create_user(roles=("staff",))
    db.session.add(UserRole(user_id=user.id, role="superuser"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_agency_name_is_not_null(ctx):
    """An agency without a name is refused by the database."""
    db.session.add(_agency(name=None))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_valid_rows_are_accepted(ctx, create_user):
    """The constraints refuse bad rows only: the same rows with valid values are stored."""
    agency = _agency()
    db.session.add(agency)
    db.session.flush()
    db.session.add(User(email="real@example.org", name="Real", agency_id=agency.id, created_at=NOW,
                        active=True, session_version=1))
    db.session.flush()


# ----- R6: engine settings per database ----------------------------------------------------------

def test_engine_options_per_backend():
    """PostgreSQL gets pool_pre_ping and both timeouts; SQLite a busy timeout and cross-thread use."""
    pg = engine_options("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert pg["pool_pre_ping"] is True
    assert f"statement_timeout={PG_STATEMENT_TIMEOUT_MS}" in pg["connect_args"]["options"]
    assert f"lock_timeout={PG_LOCK_TIMEOUT_MS}" in pg["connect_args"]["options"]
    sqlite = engine_options("sqlite:////tmp/x.sqlite3")
    assert sqlite["connect_args"]["check_same_thread"] is False
    assert sqlite["connect_args"]["timeout"] * 1000 == SQLITE_BUSY_TIMEOUT_MS


def test_sqlite_pragmas_on_a_file_database(tmp_path):
    """An app on a SQLite file runs with WAL, foreign keys on and a busy timeout."""
    config = _TestConfig()
    config.SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path}/pragmas.sqlite3"
    app = create_app(config)
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    with app.app_context():
        db.engine.dispose()


def test_sqlite_write_transactions_begin_immediate(tmp_path):
    """Transactions begin IMMEDIATE: a second writer waits for the first instead of failing mid-way."""
    url = f"sqlite:///{tmp_path}/immediate.sqlite3"
    engine = create_engine(url, **engine_options(url))
    configure_engine(engine)
    try:
        with engine.connect() as first:
            first.execute(text("SELECT 1"))  # begins; IMMEDIATE takes the write lock now
            with engine.connect() as second:
                second.connection.driver_connection.execute("PRAGMA busy_timeout=50")
                with pytest.raises(OperationalError, match="locked"):
                    second.execute(text("SELECT 1"))  # a deferred BEGIN would have succeeded
            first.rollback()
        with engine.connect() as third:  # and the lock is gone once the first transaction ends
            assert third.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_suite_database_settings(ctx, database_url):
    """The suite's own database runs with its backend's settings (pragmas, or timeouts and pre-ping)."""
    if backend(database_url) == "sqlite":
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    else:
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == f"{PG_STATEMENT_TIMEOUT_MS // 1000}s"
        assert db.session.execute(text("SHOW lock_timeout")).scalar() == f"{PG_LOCK_TIMEOUT_MS // 1000}s"
        assert db.engine.pool._pre_ping is True


# ----- R8: database down -------------------------------------------------------------------------

UNREACHABLE = {
    "sqlite-missing-directory": "sqlite:////nonexistent-dir/x/db.sqlite3",
    "postgresql-closed-port": "postgresql+psycopg://postgres@127.0.0.1:1/test",
}
LEAKS = ("Traceback", "OperationalError", "sqlalchemy", "sqlite3", "psycopg", "nonexistent-dir", "127.0.0.1:1")


@pytest.fixture
def own_database():
    """Let apps built in the test use their own database, not the suite's rolled-back connection."""
    factory = db.session.session_factory
    saved = dict(factory.kw)
    factory.configure(bind=None, join_transaction_mode="conditional_savepoint")
    yield
    factory.kw.clear()
    factory.kw.update(saved)


@pytest.fixture(params=list(UNREACHABLE), ids=list(UNREACHABLE))
def down_app(request, own_database):
    """An app whose database cannot be reached (never by stopping the shared server)."""
    config = _TestConfig()
    config.SQLALCHEMY_DATABASE_URI = UNREACHABLE[request.param]
    config.WTF_CSRF_ENABLED = False  # the login page itself cannot render its token without a database
    app = create_app(config)
    yield app
    with app.app_context():
        db.engine.dispose()


def _assert_styled_503(response):
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "<h1>Service unavailable</h1>" in body
    assert "css/csrn.css" in body  # the app's layout, not a bare server error
    for leak in LEAKS:
        assert leak not in body, leak
    return body


def test_healthz_reports_an_unreachable_database(down_app):
    """/healthz answers 503 with database unavailable."""
    response = down_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"


def test_login_with_database_down_is_a_503_and_logs_nobody_in(down_app):
    """A login attempt while the database is down: a styled 503, and the visitor stays anonymous."""
    client = down_app.test_client()
    response = client.post("/login", data={"email": "chair@demo.example", "password": "whatever it is 123"})
    _assert_styled_503(response)
    with client.session_transaction() as session:
        assert "_user_id" not in session
    after = client.get("/agencies/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")


def test_pages_with_database_down_are_a_styled_503(down_app):
    """A logged-in page while the database is down is a 503 page in the app's style, no traceback."""
    client = down_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1:1"
        session["_fresh"] = True
        session["sid"] = "a-session-id"  # a logged-in cookie has one; without it nobody is looked up at all
    body = _assert_styled_503(client.get("/agencies/"))
    assert "Try again" in body
    htmx = client.get("/agencies/", headers={"HX-Request": "true"})
    assert htmx.status_code == 503
    assert "Traceback" not in htmx.get_data(as_text=True)


def test_healthz_ok(client):
    """/healthz answers 200 with the database ok when it is reachable."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


# ----- Column types ------------------------------------------------------------------------------

def test_utc_datetime_returns_aware_utc(ctx):
    """UTCDateTime stores any aware time and reads it back as the same instant in UTC."""
    chicago_evening = datetime(2026, 3, 8, 21, 45, 30, tzinfo=timezone(timedelta(hours=-6)))
    agency = _agency(created_at=chicago_evening, updated_at=NOW)
    db.session.add(agency)
    db.session.commit()
    db.session.expire_all()
    created, updated = db.session.execute(
        select(Agency.created_at, Agency.updated_at).where(Agency.id == agency.id)
    ).one()
    assert created.tzinfo is UTC and updated.tzinfo is UTC
    assert created == chicago_evening
    assert created.hour == 3 and created.day == 9
    assert updated == NOW
    # Comparisons in SQL work on the UTC instant too.
    assert db.session.scalar(select(Agency.id).where(Agency.created_at > datetime(2026, 3, 9, 3, 0, tzinfo=UTC)))


def test_utc_datetime_refuses_naive_datetimes(ctx):
    """A naive datetime is refused: nobody can tell which zone it meant."""
    db.session.add(_agency(created_at=datetime(2026, 3, 8, 21, 45)))
    with pytest.raises(StatementError, match="naive"):
        db.session.flush()
    db.session.rollback()


SENTINEL_BODY = "Reset link: https://csrn.example.org/reset/SENTINEL-PLAINTEXT-7f3a9c"


def _raw_body(message_id: int) -> str:
    return db.session.execute(text("SELECT body FROM outbox_message WHERE id = :id"), {"id": message_id}).scalar()


@pytest.fixture
def encryption_keys(app, monkeypatch):
    """Return a function that switches the app's CSRN_ENCRYPTION_KEY (the cipher is rebuilt)."""

    def use(keys: str) -> None:
        monkeypatch.setitem(app.config, "CSRN_ENCRYPTION_KEY", keys)
        app.extensions.pop("csrn_fernet", None)

    yield use
    app.extensions.pop("csrn_fernet", None)  # rebuilt from the restored configuration


def test_encrypted_text_stores_ciphertext(ctx):
    """EncryptedText leaves no plaintext in the database, and the ORM reads the plaintext back."""
    message = queue_mail("someone@example.org", "Reset", SENTINEL_BODY, NOW)
    db.session.commit()
    raw = _raw_body(message.id)
    assert "SENTINEL-PLAINTEXT" not in raw
    assert raw.startswith("gAAAAA")  # a Fernet token
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).body == SENTINEL_BODY


def test_encryption_key_rotation(app, encryption_keys):
    """Data written with key A stays readable when the keys become "B,A"; new writes use B."""
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with app.app_context():
        encryption_keys(key_a)
        old = queue_mail("a@example.org", "Old", "written under A", NOW)
        db.session.commit()
        old_id = old.id

    with app.app_context():
        encryption_keys(f"{key_b},{key_a}")
        assert db.session.get(OutboxMessage, old_id).body == "written under A"
        new = queue_mail("b@example.org", "New", "written under B", NOW)
        db.session.commit()
        new_id = new.id
        new_raw = _raw_body(new_id)
    assert Fernet(key_b.encode()).decrypt(new_raw.encode()) == b"written under B"

    with app.app_context():
        encryption_keys(key_b)  # A retired too early: old data cannot be read, and says so
        assert db.session.get(OutboxMessage, new_id).body == "written under B"
        with pytest.raises(DecryptionError):
            db.session.get(OutboxMessage, old_id)


# ----- R7: optimistic concurrency ----------------------------------------------------------------

def test_second_edit_with_the_same_version_is_refused(app, create_agency, create_user):
    """Two edits loaded at the same version: the second raises StaleEdit and overwrites nothing."""
    agency_id = create_agency(name="Original Name")
    chair = create_user(roles=("chair",))
    with app.app_context():
        seen = db.session.get(Agency, agency_id).version
    with app.app_context():
        actor = db.session.get(User, chair.id)
        agency_ops.update_agency(actor, db.session.get(Agency, agency_id), {"name": "First Edit"}, seen, NOW)
    with app.app_context():
        actor = db.session.get(User, chair.id)
        agency = db.session.get(Agency, agency_id)
        assert agency.version == seen + 1
        with pytest.raises(StaleEdit):
            agency_ops.update_agency(actor, agency, {"name": "Second Edit", "phone": "555 0100"}, seen, NOW)
        db.session.rollback()
    with app.app_context():
        agency = db.session.get(Agency, agency_id)
        assert agency.name == "First Edit"
        assert agency.phone == ""
        assert agency.version == seen + 1


def _edit_form(browser, agency_id):
    page = browser.get(f"/agencies/{agency_id}/edit").get_data(as_text=True)
    version = page.split('name="version"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    return {
        "csrf_token": csrf_from(page),
        "version": version,
        "agency_type": "legal",
        "membership_status": "member",
        "county": "",
        "description": "",
        "phone": "",
        "website": "",
        "internal_notes": "",
    }


def test_two_chairs_editing_one_agency(app, login_as, create_agency):
    """Two people edit one agency: the second save is told to reload, and the first save stands."""
    agency_id = create_agency(name="Shared Agency")
    first, second = login_as(roles=("chair",)), login_as(roles=("chair",))
    first_form, second_form = _edit_form(first, agency_id), _edit_form(second, agency_id)
    assert first_form["version"] == second_form["version"]

    saved = first.client.post(f"/agencies/{agency_id}/edit", data={**first_form, "name": "First Chair's Name"})
    assert saved.status_code in (302, 303)
    refused = second.client.post(f"/agencies/{agency_id}/edit", data={**second_form, "name": "Second Name"})
    assert refused.status_code == 422
    assert "Reload" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Agency, agency_id).name == "First Chair's Name"



@pytest.mark.parametrize(("values", "fraction", "expected"), [
    ([7.0], 0.5, 7.0), ([7.0], 0.9, 7.0), ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5), ([4.0, 1.0, 3.0, 2.0], 0.9, 3.7),
    ([10.0, None, 20.0], 0.5, 15.0), ([None], 0.5, None), ([], 0.5, None)])
def test_percentile_cont_is_postgresqls_on_either_database(ctx, values, fraction, expected):
    """The demand report's percentiles: PostgreSQL's own ordered-set aggregate, and the aggregate of the same name
    the app registers on SQLite, give the same answer (NULLs left out, nothing: NULL)."""
    parts = [select(cast(null() if v is None else literal(v), Float).label("m")) for v in values]
    rows = (union_all(*parts) if len(parts) > 1 else parts[0] if parts else
            select(cast(null(), Float).label("m")).where(literal(1) == 0)).subquery()
    if db.session.get_bind().dialect.name == "postgresql":
        found = db.session.scalar(select(func.percentile_cont(fraction).within_group(rows.c.m)))
    else:
        found = db.session.scalar(select(func.percentile_cont(rows.c.m, fraction)))
    assert (found is None and expected is None) or found == pytest.approx(expected)

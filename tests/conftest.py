"""Fixtures: the app on SQLite (or PostgreSQL via TEST_DATABASE_URL), rollback per test, factories."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, date, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url

from csrn import create_app
from csrn.clock import utcnow
from csrn.config import TestConfig, normalise_database_url
from csrn.extensions import db, limiter

PASSWORD = "correct horse battery staple 42"
NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
    engine.dispose()


def make_database_url(tmp_dir) -> str:
    """A fresh database URL for the suite: TEST_DATABASE_URL, or a WAL SQLite file in tmp."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return normalise_database_url(url)
    return f"sqlite:///{tmp_dir}/csrn-test.sqlite3"


def build_app(url: str, **overrides):
    """Create a test app on the given database, with migrations applied."""
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = url
    app = create_app(config)
    app.config.update(overrides)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The suite's database, emptied before use."""
    url = make_database_url(tmp_path_factory.mktemp("db"))
    _drop_everything(url)
    return url


@pytest.fixture(scope="session")
def app(database_url):
    """The app under test, migrated once for the whole session."""
    return build_app(database_url)


@pytest.fixture(autouse=True)
def _rollback(request, app):
    """Run each test inside a transaction that is rolled back afterwards."""
    limiter.reset()
    if request.node.get_closest_marker("concurrency") or request.node.get_closest_marker("e2e"):
        yield
        return
    # No app context stays pushed during the test: each request pushes its own, as in production
    # (a shared one would share `g` and the ORM session across requests).
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        db.session.remove()
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
            db.session.configure(bind=None, join_transaction_mode="conditional_savepoint")
        transaction.rollback()
        connection.close()


def task_force_today(app, at: datetime | None = None) -> date:
    """The task force's calendar date at `at` (default now): the date the app judges by, never the machine's."""
    from csrn.agencies.operations import local_date

    with app.app_context():
        return local_date(at or utcnow())


@pytest.fixture
def today(app) -> date:
    """Today in the task force's zone (between midnight UTC and midnight there, the machine's date is wrong)."""
    return task_force_today(app)


@pytest.fixture
def ctx(app):
    """An application context for calling operations directly."""
    with app.app_context():
        yield


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


# ----- factories -------------------------------------------------------------------------------

@pytest.fixture
def create_agency(app):
    """Return a function that creates an agency (committed to the test's transaction)."""
    from csrn.agencies.models import Agency

    def factory(name=None, agency_type="victim_service_provider", membership_status="member", **fields):
        with app.app_context():
            agency = Agency(
                name=name or f"Agency {uuid.uuid4().hex[:8]}",
                agency_type=agency_type,
                membership_status=membership_status,
                county=fields.pop("county", "Alder"),
                description=fields.pop("description", ""),
                phone=fields.pop("phone", ""),
                website=fields.pop("website", ""),
                internal_notes=fields.pop("internal_notes", ""),
                created_at=NOW,
                updated_at=NOW,
                **fields,
            )
            db.session.add(agency)
            db.session.commit()
            return agency.id

    return factory


@pytest.fixture
def create_user(app, create_agency):
    """Return a function that creates a user with roles; returns a plain record of it."""
    from csrn.auth import operations as auth_ops

    def factory(roles=("staff",), agency_id="new", email=None, password=PASSWORD, active=True):
        if agency_id == "new":
            agency_id = create_agency()
        with app.app_context():
            user = auth_ops.create_user(
                None,
                email or f"user-{uuid.uuid4().hex[:10]}@example.org",
                "Test User",
                list(roles),
                agency_id,
                NOW,
                password=password,
            )
            user.active = active
            db.session.commit()
            return UserRecord(user.id, user.email, agency_id, tuple(roles))

    return factory


class UserRecord:
    """What a test needs to know about a created user, usable outside an app context."""

    def __init__(self, id, email, agency_id, roles):  # noqa: A002
        self.id, self.email, self.agency_id, self.roles = id, email, agency_id, roles

    def __repr__(self):
        return f"<UserRecord {self.email} {self.roles}>"


CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_from(html: str) -> str:
    """Pull a CSRF token out of a rendered page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


class Browser:
    """A test client that carries the CSRF token like a browser does."""

    def __init__(self, client):
        self.client = client

    def token(self, page="/login") -> str:
        response = self.client.get(page)
        if response.status_code in (301, 302):
            response = self.client.get("/")
        return csrf_from(response.get_data(as_text=True))

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, page=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(page or url))
        return self.client.post(url, data=data, **kwargs)

    def login(self, email, password=PASSWORD):
        response = self.post("/login", {"email": email, "password": password}, page="/login")
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    def logout(self):
        return self.post("/logout", page="/")


def logged_in(app, email: str, password: str = PASSWORD) -> Browser:
    """A client logged in as the user with this e-mail, through the real login form."""
    browser = Browser(app.test_client())
    browser.login(email, password)
    return browser


def page_text(response) -> str:
    """A page's text as a person reads it: tags dropped, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


@pytest.fixture
def browser(client):
    """A CSRF-aware client, not logged in."""
    return Browser(client)


@pytest.fixture
def login_as(app, create_user):
    """Return a function: log a new client in as a new user with these roles."""

    def factory(roles=("staff",), agency_id="new", **kwargs):
        user = create_user(roles=roles, agency_id=agency_id, **kwargs)
        b = Browser(app.test_client())
        b.login(user.email)
        b.user = user
        return b

    return factory


# ----- separate databases for tests that commit from several threads ---------------------------

@pytest.fixture
def committed_app(tmp_path, database_url):
    """An app on a database of its own (a new SQLite file or a new PostgreSQL database), dropped after."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        new_url = f"sqlite:///{tmp_path}/committed.sqlite3"
        app = build_app(new_url)
        yield app
        with app.app_context():
            db.engine.dispose()
        return
    name = f"csrn_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    new_url = url.set(database=name).render_as_string(hide_password=False)
    app = build_app(new_url)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def upload_dir(app, tmp_path, monkeypatch):
    """Uploads go to a fresh folder for the test."""
    folder = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(folder))
    return folder


def stored_files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

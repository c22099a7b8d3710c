"""Pages that cost a few milliseconds (issue 24): a fixed, small number of queries per page whatever it lists, "open
now" computed once per distinct set of hours, per-request lookups read once, and on SQLite pages that read in
parallel (a GET's transactions begin DEFERRED; one that writes runs again IMMEDIATE)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import time as dt_time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url

from csrn.auth.models import UserSession
from csrn.clock import utcnow
from csrn.database import configure_engine, engine_options
from csrn.extensions import db
from tests.conftest import NOW, PASSWORD, Browser


def is_sqlite(app) -> bool:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite"


@contextmanager
def counted(app):
    """Count the SQL statements the app sends (BEGIN, SAVEPOINT and their ends left out)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def shown(statements: list[str]) -> str:
    return "\n".join(s[:100].replace("\n", " ") for s in statements)


# ----- SQLite: pages read in parallel -------------------------------------------------------------------------

def _committed_user(app):
    """A staff user of a member agency, committed, and a browser logged in as them."""
    from csrn.agencies.models import Agency
    from csrn.auth import operations as auth_ops

    now = utcnow()
    with app.app_context():
        agency = Agency(name="Parallel Agency", agency_type="legal", membership_status="member", county="Alder",
                        description="", phone="", website="", internal_notes="", created_at=now, updated_at=now)
        db.session.add(agency)
        db.session.flush()
        user = auth_ops.create_user(None, "parallel@example.org", "Pat Parallel", ["staff"], agency.id, now,
                                    password=PASSWORD)
        db.session.commit()
        user_id = user.id
        db.session.remove()
    browser = Browser(app.test_client())
    browser.login("parallel@example.org")
    return user_id, browser


@contextmanager
def write_lock_held(app):
    """Another process's write transaction, open (SQLite: BEGIN IMMEDIATE holds the database's write lock)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    other = create_engine(url, **engine_options(url))
    configure_engine(other)
    try:
        with other.connect() as conn:
            conn.execute(text("SELECT 1"))  # begins IMMEDIATE: the write lock is taken
            yield
            conn.rollback()
    finally:
        other.dispose()


@pytest.mark.concurrency
def test_a_page_reads_while_another_connection_holds_the_write_lock(committed_app):
    """A GET that only reads neither waits for a writer nor blocks one: before, every page took SQLite's write lock."""
    if not is_sqlite(committed_app):
        pytest.skip("SQLite's locking")
    _, browser = _committed_user(committed_app)
    with write_lock_held(committed_app):
        started = time.monotonic()
        response = browser.get("/account/")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert "Pat Parallel" in response.get_data(as_text=True)
    assert elapsed < 3  # the busy timeout is 10 s: an IMMEDIATE BEGIN would have waited for it, then failed


@pytest.mark.concurrency
def test_a_get_that_writes_runs_again_and_its_write_lands(committed_app):
    """A GET reaching a write (the session's last-seen touch) is answered once, in full, and the write is kept."""
    user_id, browser = _committed_user(committed_app)
    with committed_app.app_context():
        row = db.session.scalar(select(UserSession).where(UserSession.user_id == user_id))
        row.last_seen_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        db.session.remove()
    response = browser.get("/account/")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("<h1>Your account</h1>") == 1
    with committed_app.app_context():
        seen = db.session.scalar(select(UserSession.last_seen_at).where(UserSession.user_id == user_id))
        db.session.remove()
    assert seen > utcnow() - timedelta(seconds=30)


# ----- a fixed, small number of queries per page --------------------------------------------------------------

@pytest.fixture
def create_service(app):
    from tests.directory_factories import make_service_factory

    return make_service_factory(app)


OFFICE_HOURS = [(day, dt_time(9), dt_time(17)) for day in range(5)]


def _agency_with_services(create_agency, create_service, count: int, **fields) -> int:
    agency_id = create_agency(name="Harbor Light Advocacy")
    for n in range(count):
        create_service(agency_id, name=f"Harbor service {n}", description="Case management for survivors.",
                       weekly=OFFICE_HOURS, facets={"language": ["en", "es"], "age": ["25_plus"],
                                                     "county": ["Alder"]}, open_slots=n % 4, **fields)
    return agency_id


SEARCH = "/directory/?service_type=case_management&language=es"

# What any logged-in page reads: the user with their roles, agency and session record (one query), the settings,
# the unread notification count. A search adds its reference lists (service types, genders), the page's ids and
# total, its services, facets and hours, the holidays and which agencies are certified.
SEARCH_QUERIES = 11
ACCOUNT_QUERIES = 5
AGENCY_PAGE_QUERIES = 11


def test_a_search_page_costs_the_same_few_queries_for_3_results_or_25(app, login_as, create_agency, create_service):
    """A page of results is read in a fixed number of queries (no query per result, no count query apart)."""
    browser = login_as()
    _agency_with_services(create_agency, create_service, 3)
    with counted(app) as few:
        assert browser.get(SEARCH).status_code == 200
    _agency_with_services(create_agency, create_service, 22)
    with counted(app) as many:
        page = browser.get(SEARCH).get_data(as_text=True)
    assert "25 services found." in page and page.count('class="result"') == 20
    assert len(many) == len(few) <= SEARCH_QUERIES, shown(many)
    with counted(app) as next_page:
        page = browser.get(SEARCH + "&page=2").get_data(as_text=True)
    assert page.count('class="result"') == 5 and len(next_page) <= SEARCH_QUERIES


def test_a_search_statement_is_built_once_per_shape_and_takes_its_values_each_time(app, login_as, create_agency,
                                                                                    create_service):
    """Searches of one shape (the same filters set, a text of one word) share one statement, built once; the
    values reach it each time: each search finds its own services, and only them."""
    from csrn.directory import operations as ops

    browser = login_as()
    harbor = create_agency(name="Harbor Light Advocacy")
    create_service(harbor, name="Harbor night shelter", facets={"language": ["es"], "age": ["25_plus"]})
    create_service(harbor, type_code="civil_legal", name="Harbor legal desk", facets={"language": ["es"]})
    lakeside = create_agency(name="Lakeside Legal Aid")
    create_service(lakeside, type_code="civil_legal", name="Immigration clinic",
                   facets={"language": ["fr"], "age": ["18_24"]})
    ops._page_statement.cache_clear()
    searches = {
        "q=harbor&service_type=case_management&language=es&age=25_plus": ["Harbor night shelter"],
        "q=clinic&service_type=civil_legal&language=fr&age=18_24": ["Immigration clinic"],
        "q=harbor&service_type=civil_legal&language=es&age=25_plus": ["Harbor legal desk"],  # no age stated
        "q=harbor&service_type=civil_legal&language=fr&age=25_plus": [],
    }
    for query, titles in searches.items():
        page = browser.get(f"/directory/?{query}").get_data(as_text=True)
        shown_titles = [name for name in ("Harbor night shelter", "Harbor legal desk", "Immigration clinic")
                        if name in page]
        assert shown_titles == titles, query
    assert ops._page_statement.cache_info().misses == 1
    assert ops._page_statement.cache_info().hits == len(searches) - 1


def test_a_search_past_the_last_page_still_says_how_many_were_found(app, login_as, create_agency, create_service):
    """Past the last page the window count sees no rows: the total is counted apart, and still right."""
    browser = login_as()
    _agency_with_services(create_agency, create_service, 3)
    page = browser.get(SEARCH + "&page=4").get_data(as_text=True)
    assert "3 services found." in page and 'class="result"' not in page


def test_open_now_is_worked_out_once_per_distinct_set_of_hours(app, login_as, create_agency, create_service,
                                                               monkeypatch):
    """Twenty results with the same office hours ask the schedule engine once, not twenty times."""
    from csrn.directory import operations as ops

    browser = login_as()
    _agency_with_services(create_agency, create_service, 20)
    asked = []
    real = ops._opening_status
    monkeypatch.setattr(ops, "_opening_status", lambda *args: asked.append(args) or real(*args))
    page = browser.get(SEARCH).get_data(as_text=True)
    assert page.count('class="result"') == 20
    assert len(asked) == 1


def test_open_now_filter_reads_hours_as_rows_and_pages_them(app, ctx, create_agency, create_service):
    """The "open now" filter over many services: the right ones, in order, a page at a time, with the total."""
    from csrn.directory import operations as ops

    agency_id = create_agency(name="Always Open Shelter")
    always = [create_service(agency_id, name=f"Night line {n}", is_24_7=True) for n in range(5)]
    create_service(agency_id, name="No hours")
    first = ops.search(ops.Filters(open_now=True), NOW, page=1, per_page=3)
    second = ops.search(ops.Filters(open_now=True), NOW, page=2, per_page=3)
    assert first.total == second.total == 5
    assert [s.id for s in first.items + second.items] == always
    assert first.items[0].title == "Night line 0" and first.items[0].agency.name == "Always Open Shelter"


def test_account_page_is_a_handful_of_queries(app, login_as):
    """`/account/`, the cost of being logged in: the user and their session record are one query."""
    browser = login_as()
    browser.get("/account/")
    with counted(app) as seen:
        assert browser.get("/account/").status_code == 200
    assert len(seen) <= ACCOUNT_QUERIES, shown(seen)
    assert sum("FROM app_user" in s and "user_session" in s for s in seen) == 1
    assert not any(s.lstrip().upper().startswith("UPDATE") for s in seen)  # touched at most once a minute


def test_agency_page_queries_do_not_grow_with_its_services(app, login_as, create_agency, create_service):
    """An agency's page with 2 services or 12 costs the same queries (services, facets, hours: one each)."""
    browser = login_as()
    few = _agency_with_services(create_agency, create_service, 2)
    many = _agency_with_services(create_agency, create_service, 12)
    browser.get(f"/agencies/{few}")
    with counted(app) as seen_few:
        assert browser.get(f"/agencies/{few}").status_code == 200
    with counted(app) as seen_many:
        page = browser.get(f"/agencies/{many}").get_data(as_text=True)
    assert page.count('class="service"') == 12
    assert len(seen_many) == len(seen_few) <= AGENCY_PAGE_QUERIES, shown(seen_many)
    assert sum("FROM holiday" in s for s in seen_many) == 1
    standing = [s for s in seen_many if "mou_renewal_on >=" in s]  # the agreement, asked with certification
    assert len(standing) == 1 and "FROM certificate" in standing[0], shown(seen_many)

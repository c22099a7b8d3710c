"""Directory pages: search with and without JavaScript, capacity, services, locations, confirmation links.

The P5 sentinel sweep and the CSV export are in test_directory_outputs.py.
"""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from csrn.agencies.models import Agency, Certificate
from csrn.auth import tokens
from csrn.auth.models import AuthToken, User
from csrn.clock import utcnow
from csrn.directory import operations as ops
from csrn.directory.models import CapacityConfirmation, Location, Service
from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from tests.directory_factories import make_location_factory, make_service_factory, set_settings, type_id
from tests.referral_factories import RENEWAL, SIGNED, core_course, new_user

HTMX = {"HX-Request": "true"}
RESULTS = {"HX-Request": "true", "HX-Target": "results"}


@pytest.fixture
def create_service(app):
    return make_service_factory(app)


@pytest.fixture
def create_location(app):
    return make_location_factory(app)


def html(response) -> str:
    return response.get_data(as_text=True)


def result_count(page: str) -> int:
    return page.count('<li class="result">')


def is_full_page(page: str) -> bool:
    return "<html" in page.lower()


# ----- search: without JavaScript, with htmx, paginated ---------------------------------------------

def make_receivable(app, agency_id: int) -> None:
    """Give an agency what `can_receive_referrals` asks: a current agreement and a certified user."""
    with app.app_context():
        agency = db.session.get(Agency, agency_id)
        agency.mou_signed_on, agency.mou_renewal_on = SIGNED, RENEWAL
        holder = new_user(agency_id)
        db.session.add(Certificate(user_id=holder.id, agency_id=agency_id, course_id=core_course().id,
                                   completed_on=SIGNED, expires_on=None, status="verified", recorded_at=utcnow()))
        db.session.commit()


@pytest.fixture
def searchable(app, create_agency, create_service):
    harbor = create_agency(name="Harbor Light Shelter")
    make_receivable(app, harbor)
    create_service(harbor, type_code="emergency_shelter", description="Beds for tonight", open_slots=2)
    create_service(create_agency(name="Valley Legal Aid"), type_code="civil_legal", description="Vacatur help")
    return harbor


def test_search_works_without_javascript(login_as, searchable):
    """A plain GET with query parameters returns the whole page: the form, kept values and the results."""
    page = html(login_as().get("/directory/?q=harbor&service_type=emergency_shelter&accepting=1"))
    assert is_full_page(page) and '<form method="get"' in page
    assert 'value="harbor"' in page and 'value="emergency_shelter" selected' in page
    assert 'id="accepting" name="accepting" value="1" checked' in page
    assert "1 service found." in page and "Harbor Light Shelter" in page and "Valley Legal Aid" not in page
    assert f'href="/agencies/{searchable}#service-' in page


def test_accepting_referrals_lists_only_providers_that_can_receive_them(app, login_as, create_agency,
                                                                       create_service, searchable):
    """"Accepting referrals" says what it does: providers that can receive referrals (the one rule), with open
    slots. A shelter with beds whose agency is not certified is not listed, nor a certified one that is full."""
    create_service(create_agency(name="Uncertified Beds"), type_code="emergency_shelter", open_slots=6)
    full = create_agency(name="Full Certified Shelter")
    make_receivable(app, full)
    create_service(full, type_code="emergency_shelter", open_slots=0)
    page = html(login_as().get("/directory/?service_type=emergency_shelter&accepting=1"))
    assert "Accepting referrals (can receive them, with open slots)" in page
    assert "Harbor Light Shelter" in page and "1 service found." in page
    assert "Uncertified Beds" not in page and "Full Certified Shelter" not in page
    everyone = html(login_as().get("/directory/?service_type=emergency_shelter"))
    assert "Uncertified Beds" in everyone and "Full Certified Shelter" in everyone


def test_search_with_htmx_returns_the_results_fragment(login_as, searchable):
    """htmx targeting #results gets only the fragment; the answer varies on HX-Request."""
    b = login_as()
    response = b.get("/directory/?q=LEGAL", headers=RESULTS)
    page = html(response)
    assert response.status_code == 200 and "HX-Request" in response.headers.get("Vary", "")
    assert not is_full_page(page) and "<form" not in page
    assert "1 service found." in page and "Valley Legal Aid" in page and "Harbor Light" not in page
    # The search form asks htmx to push the URL so the search can be shared.
    assert 'hx-push-url="true"' in html(b.get("/directory/"))


def test_search_ignores_unknown_filter_values(login_as, searchable):
    page = html(login_as().get("/directory/?service_type=nonsense&age=ancient&county=Atlantis&language=xx"))
    assert "2 services found." in page


def test_search_paginates_twenty_at_a_time(login_as, create_agency, create_service):
    agency_id = create_agency(name="Many Services Agency")
    for number in range(25):
        create_service(agency_id, name=f"Group {number:02d}")
    b = login_as()
    first = html(b.get("/directory/?q=many"))
    assert "25 services found." in first and result_count(first) == 20
    assert "Page 1 of 2" in first and "page=2" in first
    second = html(b.get("/directory/?q=many&page=2"))
    assert result_count(second) == 5 and "Page 2 of 2" in second
    fragment = html(b.get("/directory/?q=many&page=2", headers=RESULTS))
    assert result_count(fragment) == 5 and not is_full_page(fragment)


def test_search_needs_a_login(client):
    response = client.get("/directory/")
    assert response.status_code in (302, 401) and "/login" in response.headers.get("Location", "/login")


def test_community_resources_are_marked(login_as, create_agency, create_service):
    create_service(create_agency(name="Neighbourhood Pantry", membership_status="listed"), type_code="food_clothing")
    b = login_as()
    assert "Neighbourhood Pantry" not in html(b.get("/directory/"))
    page = html(b.get("/directory/?community=1"))
    assert "Neighbourhood Pantry" in page and "Community resource · not in the network" in page


# ----- capacity ------------------------------------------------------------------------------------------

@pytest.fixture
def shelter(create_agency, create_service):
    agency_id = create_agency(name="Capacity Shelter")
    service_id = create_service(agency_id, type_code="emergency_shelter", open_slots=1, waitlist=0,
                                confirmed_at=utcnow() - timedelta(days=40))
    return agency_id, service_id


def _service(app, service_id) -> Service:
    with app.app_context():
        service = db.session.get(Service, service_id)
        db.session.expunge(service)
        return service


def test_inline_capacity_update_with_htmx(app, login_as, shelter):
    """htmx: the fragment only, with "Saved."; the numbers are confirmed as of now and recorded."""
    agency_id, service_id = shelter
    b = login_as(roles=("agency_admin",), agency_id=agency_id)
    editor = b.get(f"/directory/services/{service_id}/capacity", headers=HTMX)
    assert editor.status_code == 200 and not is_full_page(html(editor)) and 'name="open_slots"' in html(editor)
    response = b.post(f"/directory/services/{service_id}/capacity", {"open_slots": "4", "waitlist": "2"},
                      page=f"/agencies/{agency_id}", headers=HTMX)
    page = html(response)
    assert response.status_code == 200 and "Saved." in page and not is_full_page(page)
    assert f'id="capacity-{service_id}"' in page and "(stale)" not in page
    assert "HX-Request" in response.headers.get("Vary", "")
    service = _service(app, service_id)
    assert (service.open_slots, service.waitlist) == (4, 2)
    assert utcnow() - service.capacity_confirmed_at < timedelta(minutes=1)
    with app.app_context():
        row = db.session.scalar(select(CapacityConfirmation).where(CapacityConfirmation.agency_id == agency_id))
        assert row.method == "inline" and row.user_id == b.user.id


def test_capacity_update_without_javascript_redirects(app, login_as, shelter):
    agency_id, service_id = shelter
    b = login_as(roles=("agency_admin",), agency_id=agency_id)
    form = b.get(f"/directory/services/{service_id}/capacity")
    assert form.status_code == 200 and is_full_page(html(form))
    response = b.post(f"/directory/services/{service_id}/capacity", {"open_slots": "0", "waitlist": "3"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/agencies/{agency_id}")
    assert (_service(app, service_id).open_slots, _service(app, service_id).waitlist) == (0, 3)
    assert "Capacity updated." in html(b.get(f"/agencies/{agency_id}"))


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_invalid_capacity_is_422_and_changes_nothing(app, login_as, shelter, headers):
    agency_id, service_id = shelter
    b = login_as(roles=("agency_admin",), agency_id=agency_id)
    response = b.post(f"/directory/services/{service_id}/capacity", {"open_slots": "-1", "waitlist": "0"},
                      page=f"/agencies/{agency_id}", headers=headers)
    page = html(response)
    assert response.status_code == 422 and 'name="open_slots"' in page
    assert is_full_page(page) is (not headers)
    assert "Saved." not in page
    assert _service(app, service_id).open_slots == 1


@pytest.mark.parametrize("roles", [("agency_admin",), ("case_manager",), ("staff",)])
def test_other_agencies_get_404_for_capacity(login_as, shelter, roles):
    agency_id, service_id = shelter
    b = login_as(roles=roles)
    assert b.get(f"/directory/services/{service_id}/capacity").status_code == 404
    assert b.get(f"/directory/services/{service_id}/capacity", headers=HTMX).status_code == 404
    response = b.post(f"/directory/services/{service_id}/capacity", {"open_slots": "9", "waitlist": "0"},
                      page="/directory/", headers=HTMX)
    assert response.status_code == 404
    assert b.post(f"/directory/agencies/{agency_id}/confirm", {}, page="/directory/").status_code == 404


def test_plain_staff_of_the_agency_cannot_update_capacity(login_as, shelter):
    agency_id, service_id = shelter
    b = login_as(roles=("staff",), agency_id=agency_id)
    assert b.get(f"/directory/services/{service_id}/capacity").status_code == 404


def test_case_managers_update_capacity_but_do_not_edit_services(app, login_as, shelter):
    agency_id, service_id = shelter
    b = login_as(roles=("case_manager",), agency_id=agency_id)
    response = b.post(f"/directory/services/{service_id}/capacity", {"open_slots": "7", "waitlist": "0"},
                      page=f"/agencies/{agency_id}")
    assert response.status_code == 303 and _service(app, service_id).open_slots == 7
    assert b.get(f"/directory/services/{service_id}/edit").status_code == 404
    assert b.post(f"/directory/services/{service_id}/edit", {"name": "x"}, page="/directory/").status_code == 404
    assert b.get(f"/directory/agencies/{agency_id}/services/new").status_code == 404
    profile = html(b.get(f"/agencies/{agency_id}"))
    assert "Update capacity" in profile and "Edit this service" not in profile


def test_the_agency_confirms_all_entries_in_one_step(app, login_as, shelter):
    agency_id, service_id = shelter
    b = login_as(roles=("case_manager",), agency_id=agency_id)
    response = b.post(f"/directory/agencies/{agency_id}/confirm", {}, page=f"/agencies/{agency_id}")
    assert response.status_code == 303
    assert utcnow() - _service(app, service_id).capacity_confirmed_at < timedelta(minutes=1)


@pytest.mark.parametrize(("days", "stale"), [(31, True), (29, False)])
def test_stale_after_30_days_everywhere(login_as, create_agency, create_service, days, stale):
    """Unconfirmed for more than 30 days: marked stale in search results, on the profile and in print."""
    agency_id = create_agency(name="Freshness Agency")
    create_service(agency_id, open_slots=2, confirmed_at=utcnow() - timedelta(days=days))
    b = login_as()
    assert ("Stale: not confirmed in 30 days" in html(b.get("/directory/?q=freshness"))) is stale
    assert ("(stale)" in html(b.get(f"/agencies/{agency_id}"))) is stale
    assert ("<small>stale</small>" in html(b.get("/directory/print?q=freshness"))) is stale


# ----- services -------------------------------------------------------------------------------------------

def service_form(app, **overrides) -> dict:
    with app.app_context():
        shelter_type = type_id("emergency_shelter")
    data = {
        "service_type_id": str(shelter_type), "name": "Youth crisis beds", "description": "Twelve beds.",
        "status": "active", "cost": "free", "how_to_refer": "Call the hotline.", "accessibility": "Step-free",
        "ages": ["minor", "18_24"], "genders": ["female", "non_binary"], "citizenship": [],
        "trafficking": ["sex", "labour"], "languages": ["en", "es"], "interpretation": ["vi"],
        "counties": ["Birch"], "closed_on_holidays": "y", "closures": "", "open_slots": "3", "waitlist": "1",
        "opens_0": "09:00", "closes_0": "17:00", "opens_4": "22:00", "closes_4": "02:00",
    }
    data.update(overrides)
    return data


@pytest.fixture
def directory_agency(app, create_agency):
    set_settings(app, counties=["Alder", "Birch"])
    return create_agency(name="Editing Agency")


def _only_service(app, agency_id) -> Service:
    with app.app_context():
        services = db.session.scalars(select(Service).where(Service.agency_id == agency_id)).all()
        assert len(services) == 1
        for service in services:
            service.facets, service.rules  # noqa: B018 - load before leaving the context
            db.session.expunge(service)
        return services[0]


def test_agency_admin_adds_a_service_with_facets_and_hours(app, login_as, directory_agency):
    b = login_as(roles=("agency_admin",), agency_id=directory_agency)
    assert b.get(f"/directory/agencies/{directory_agency}/services/new").status_code == 200
    data = service_form(app, closures="2026-12-24 to 2026-12-26 Winter break\n\n2027-01-01")
    response = b.post(f"/directory/agencies/{directory_agency}/services/new", data)
    assert response.status_code == 303, html(response)[:2000]
    service = _only_service(app, directory_agency)
    assert service.name == "Youth crisis beds" and service.open_slots == 3 and service.waitlist == 1
    assert service.values("age") == ["18_24", "minor"] and service.values("gender") == ["female", "non_binary"]
    assert service.values("citizenship") == [] and service.values("trafficking") == ["labour", "sex"]
    assert service.values("language") == ["en", "es"] and service.values("interpretation") == ["vi"]
    assert service.values("county") == ["Birch"]
    weekly = sorted((r.weekday, r.opens, r.closes) for r in service.rules if r.kind == "weekly")
    assert weekly == [(0, time(9), time(17)), (4, time(22), time(2))]
    closed = sorted((r.start_date.isoformat(), r.end_date.isoformat(), r.note)
                    for r in service.rules if r.kind == "closed")
    assert closed == [("2026-12-24", "2026-12-26", "Winter break"), ("2027-01-01", "2027-01-01", "")]
    assert service.capacity_confirmed_at is not None
    profile = html(b.get(f"/agencies/{directory_agency}"))
    assert "Youth crisis beds" in profile and "Friday: 22:00–02:00 (next day)" in profile
    assert "English, Spanish" in profile and "interpreters for Vietnamese" in profile
    edit = html(b.get(f"/directory/services/{service.id}/edit"))
    assert "2026-12-24 to 2026-12-26 Winter break" in edit and 'value="22:00"' in edit


@pytest.mark.parametrize(("closures", "message"), [
    ("2026-13-40", "Line 1: write a date like 2026-12-24"),
    ("2026-12-01\nnext tuesday", "Line 2: write a date like 2026-12-24"),
    ("2026-12-26 to 2026-12-24", "Line 1: the end date comes before the start date."),
])
def test_bad_closures_are_refused(app, login_as, directory_agency, closures, message):
    b = login_as(roles=("agency_admin",), agency_id=directory_agency)
    response = b.post(f"/directory/agencies/{directory_agency}/services/new", service_form(app, closures=closures))
    assert response.status_code == 422 and message in html(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(Service.id)).where(Service.agency_id == directory_agency)) == 0


def test_only_an_opening_time_is_refused(app, login_as, directory_agency):
    b = login_as(roles=("agency_admin",), agency_id=directory_agency)
    response = b.post(f"/directory/agencies/{directory_agency}/services/new", service_form(app, opens_2="10:00"))
    assert response.status_code == 422
    assert "Give both the opening and the closing time, or neither." in html(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(Service.id)).where(Service.agency_id == directory_agency)) == 0


@pytest.mark.parametrize("roles", [("agency_admin",), ("staff",), ("case_manager",), ("admin",)])
def test_other_agencies_cannot_add_or_edit_services(app, login_as, directory_agency, create_service, roles):
    service_id = create_service(directory_agency, name="Untouched")
    b = login_as(roles=roles)
    assert b.get(f"/directory/agencies/{directory_agency}/services/new").status_code == 404
    assert b.post(f"/directory/agencies/{directory_agency}/services/new", service_form(app),
                  page="/directory/").status_code == 404
    assert b.get(f"/directory/services/{service_id}/edit").status_code == 404
    assert b.post(f"/directory/services/{service_id}/edit", service_form(app, version="1"),
                  page="/directory/").status_code == 404
    assert _only_service(app, directory_agency).name == "Untouched"


def test_a_chair_edits_any_agencys_service(app, login_as, directory_agency, create_service):
    service_id = create_service(directory_agency, name="Old name")
    chair = login_as(roles=("chair",))
    assert chair.get(f"/directory/services/{service_id}/edit").status_code == 200
    response = chair.post(f"/directory/services/{service_id}/edit", service_form(app, name="Chair's name",
                                                                                  version="1"))
    assert response.status_code == 303
    assert _only_service(app, directory_agency).name == "Chair's name"


def test_two_editors_the_second_is_told_to_reload(app, login_as, directory_agency, create_service):
    """R7: both load version 1; the first save wins, the second gets 422 and overwrites nothing."""
    service_id = create_service(directory_agency, name="Original", open_slots=5)
    first = login_as(roles=("agency_admin",), agency_id=directory_agency)
    second = login_as(roles=("chair",))
    for b in (first, second):
        assert 'name="version" type="hidden" value="1"' in html(b.get(f"/directory/services/{service_id}/edit"))
    saved = first.post(f"/directory/services/{service_id}/edit",
                       service_form(app, name="First editor", open_slots="6", version="1"))
    assert saved.status_code == 303
    refused = second.post(f"/directory/services/{service_id}/edit",
                          service_form(app, name="Second editor", open_slots="0", genders=["male"], version="1"))
    assert refused.status_code == 422
    assert "Someone else changed this record" in html(refused)
    service = _only_service(app, directory_agency)
    assert service.name == "First editor" and service.open_slots == 6 and service.version == 2
    assert service.values("gender") == ["female", "non_binary"]


def test_a_missing_version_is_refused_too(app, login_as, directory_agency, create_service):
    service_id = create_service(directory_agency, name="Original")
    b = login_as(roles=("agency_admin",), agency_id=directory_agency)
    response = b.post(f"/directory/services/{service_id}/edit", service_form(app, name="No version"))
    assert response.status_code == 422 and _only_service(app, directory_agency).name == "Original"


# ----- locations -------------------------------------------------------------------------------------------

LOCATION = {"name": "Drop-in centre", "address_1": "12 Elm Street", "address_2": "", "city": "Springfield",
            "state": "IL", "postal_code": "62701", "county": "Alder", "visibility": "members"}


def _locations(app, agency_id) -> list[Location]:
    with app.app_context():
        rows = db.session.scalars(select(Location).where(Location.agency_id == agency_id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_agency_admin_creates_edits_and_deletes_a_location(app, login_as, directory_agency):
    b = login_as(roles=("agency_admin",), agency_id=directory_agency)
    assert b.get(f"/directory/agencies/{directory_agency}/locations/new").status_code == 200
    assert b.post(f"/directory/agencies/{directory_agency}/locations/new", LOCATION).status_code == 303
    (location,) = _locations(app, directory_agency)
    assert (location.address_1, location.visibility, location.county) == ("12 Elm Street", "members", "Alder")
    edit_url = f"/directory/locations/{location.id}/edit"
    assert "12 Elm Street" in html(b.get(edit_url))
    changed = {**LOCATION, "address_1": "14 Elm Street", "visibility": "confidential", "version": "1"}
    assert b.post(edit_url, changed).status_code == 303
    (location,) = _locations(app, directory_agency)
    assert (location.address_1, location.visibility) == ("14 Elm Street", "confidential")
    stale = b.post(edit_url, {**changed, "address_1": "Overwritten", "version": "1"})
    assert stale.status_code == 422 and "Someone else changed this record" in html(stale)
    delete_url = f"/directory/locations/{location.id}/delete"
    confirm = b.get(delete_url)
    assert confirm.status_code == 200 and "Remove “Drop-in centre”?" in html(confirm)
    assert len(_locations(app, directory_agency)) == 1  # GET removes nothing
    assert b.post(delete_url, {}).status_code == 303
    assert _locations(app, directory_agency) == []


def test_a_chair_may_edit_locations(login_as, directory_agency, create_location):
    location_id = create_location(directory_agency, "public", "Front door", "1 Main Street")
    chair = login_as(roles=("chair",))
    assert chair.get(f"/directory/locations/{location_id}/edit").status_code == 200


@pytest.mark.parametrize(("roles", "same_agency"), [
    (("agency_admin",), False), (("staff",), False), (("case_manager",), False), (("admin",), False),
    (("staff",), True), (("case_manager",), True),
])
def test_only_the_agencys_admins_manage_its_locations(app, login_as, directory_agency, create_location, roles,
                                                      same_agency):
    location_id = create_location(directory_agency, "confidential", "Safe house", "7 Quiet Road")
    b = login_as(roles=roles, agency_id=directory_agency if same_agency else "new")
    assert b.get(f"/directory/agencies/{directory_agency}/locations/new").status_code == 404
    assert b.post(f"/directory/agencies/{directory_agency}/locations/new", LOCATION,
                  page="/directory/").status_code == 404
    for action in ("edit", "delete"):
        assert b.get(f"/directory/locations/{location_id}/{action}").status_code == 404
        assert b.post(f"/directory/locations/{location_id}/{action}", {**LOCATION, "version": "1"},
                      page="/directory/").status_code == 404
    assert [loc.address_1 for loc in _locations(app, directory_agency)] == ["7 Quiet Road"]


# ----- confirmation links (A6, AC5) ---------------------------------------------------------------------------

@pytest.fixture
def link_world(app, create_agency, create_service, monkeypatch):
    """A stale agency whose point of contact was mailed a link by the daily job; returns (agency, services, path)."""
    monkeypatch.setitem(app.config, "CSRN_BASE_URL", "https://csrn.example.org")
    agency_id = create_agency(name="Linked Shelter", poc_email="poc@linked.example.org")
    long_ago = utcnow() - timedelta(days=45)
    full = create_service(agency_id, type_code="emergency_shelter", open_slots=0, confirmed_at=long_ago)
    other = create_service(agency_id, type_code="case_management", open_slots=None, confirmed_at=long_ago)
    with app.app_context():
        ops.stale_reminders(utcnow())
        body = db.session.scalar(select(OutboxMessage.body).where(OutboxMessage.to_addr == "poc@linked.example.org"))
    match = re.search(r"https://csrn\.example\.org(/directory/confirm/[A-Za-z0-9_-]{43})\s", body)
    assert match, body
    return agency_id, (full, other), match.group(1)


def _all_counts(app) -> dict:
    with app.app_context():
        return {table.name: db.session.scalar(select(func.count()).select_from(table))
                for table in db.metadata.sorted_tables if table.name not in ("audit_event",)}


def test_the_link_page_changes_nothing(app, browser, link_world):
    """AC5: opening the link (no login) shows one POST button and changes no row."""
    agency_id, (full, other), path = link_world
    before = _all_counts(app)
    response = browser.get(path)
    page = html(response)
    assert response.status_code == 200 and "Linked Shelter" in page
    assert page.count('type="submit"') == 1 and f'name="slots_{full}"' in page
    assert _all_counts(app) == before
    assert _service(app, full).capacity_confirmed_at < utcnow() - timedelta(days=44)
    with app.app_context():
        assert db.session.scalar(select(AuthToken.used_at).where(AuthToken.agency_id == agency_id)) is None


def test_the_link_confirms_every_service_once(app, browser, link_world):
    agency_id, (full, other), path = link_world
    response = browser.post(path, {f"slots_{full}": "5", f"slots_{other}": ""}, page=path)
    assert response.status_code == 200 and "Thank you" in html(response) and "1 correction" in html(response)
    for service_id in (full, other):
        assert utcnow() - _service(app, service_id).capacity_confirmed_at < timedelta(minutes=1)
    assert _service(app, full).open_slots == 5 and _service(app, other).open_slots is None
    with app.app_context():
        row = db.session.scalar(select(CapacityConfirmation).where(CapacityConfirmation.agency_id == agency_id))
        assert row.method == "link" and row.user_id is None
        assert db.session.scalar(select(AuthToken.used_at).where(AuthToken.agency_id == agency_id)) is not None
    # Replayed: the link works once.
    replay = browser.post(path, {f"slots_{full}": "9"}, page="/login")
    assert replay.status_code == 404 and "This link cannot be used" in html(replay)
    assert browser.get(path).status_code == 404
    assert _service(app, full).open_slots == 5


def test_a_tampered_link_is_404(app, browser, link_world):
    agency_id, (full, other), path = link_world
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")
    assert browser.get(tampered).status_code == 404
    assert browser.post(tampered, {f"slots_{full}": "5"}, page="/login").status_code == 404
    assert browser.get("/directory/confirm/" + "x" * 300).status_code == 404
    assert _service(app, full).open_slots == 0
    assert browser.get(path).status_code == 200  # the real one still works


def test_an_expired_link_is_404(app, browser, create_agency, create_service):
    agency_id = create_agency(name="Expired Link Agency")
    service_id = create_service(agency_id, confirmed_at=None)
    with app.app_context():
        raw = tokens.issue_for_agency("capacity", db.session.get(Agency, agency_id),
                                      utcnow() - timedelta(days=7, minutes=1))
        db.session.commit()
    assert browser.get(f"/directory/confirm/{raw}").status_code == 404
    assert browser.post(f"/directory/confirm/{raw}", {}, page="/login").status_code == 404
    assert _service(app, service_id).capacity_confirmed_at is None


def test_a_token_of_another_purpose_is_404(app, browser, create_user):
    user = create_user()
    with app.app_context():
        raw = tokens.issue("invite", db.session.get(User, user.id), None, utcnow())
        db.session.commit()
    assert browser.get(f"/directory/confirm/{raw}").status_code == 404


@pytest.mark.parametrize("value", ["²", "-1", "10001", "3.5", "lots", "١٢"])
def test_odd_slot_corrections_are_ignored_but_still_confirm(app, browser, link_world, value):
    """A correction that is not a plain number 0–10000 changes nothing; the confirmation still happens."""
    agency_id, (full, other), path = link_world
    response = browser.post(path, {f"slots_{full}": value}, page=path)
    assert response.status_code == 200 and "Thank you" in html(response)
    assert _service(app, full).open_slots == 0
    assert utcnow() - _service(app, full).capacity_confirmed_at < timedelta(minutes=1)

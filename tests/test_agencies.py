"""Agencies: list, profile, create (chairs), edit (chairs everything, agency admins their own profile)."""

import pytest
from sqlalchemy import select

from csrn.agencies import operations as ops
from csrn.agencies.models import Agency
from csrn.audit.models import AuditEvent
from csrn.concurrency import StaleEdit
from csrn.extensions import db
from tests.conftest import NOW

VALID = {
    "name": "Harborview Legal Clinic",
    "description": "Free civil legal help.",
    "agency_type": "legal",
    "county": "",
    "phone": "+1 555 010 2000",
    "website": "https://harborview.example.org",
    "membership_status": "applicant",
    "mou_signed_on": "",
    "mou_renewal_on": "",
    "internal_notes": "Met at the spring meeting.",
}


def test_chair_creates_an_agency(login_as, app):
    """A chair's valid form creates the agency, audits it and lands on its profile."""
    b = login_as(roles=("chair",))
    response = b.post("/agencies/new", VALID)
    assert response.status_code == 303
    with app.app_context():
        agency = db.session.scalar(select(Agency).where(Agency.name == "Harborview Legal Clinic"))
        assert agency.membership_status == "applicant"
        assert len(agency.uuid) == 36
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "agency.create"))
        assert "internal_notes" in event.fields and "Met at" not in event.fields
    page = b.get(response.headers["Location"]).get_data(as_text=True)
    assert "Harborview Legal Clinic" in page and "Agency “Harborview Legal Clinic” created." in page


@pytest.mark.parametrize("roles", [("staff",), ("case_manager",), ("agency_admin",), ("admin",)])
def test_only_chairs_create_agencies(login_as, roles):
    """Everyone but a chair is refused the create page and its POST."""
    b = login_as(roles=roles)
    assert b.get("/agencies/new").status_code == 403
    assert b.post("/agencies/new", VALID, page="/").status_code == 403


def test_invalid_submission_answers_422_and_keeps_answers(login_as):
    """A bad website and a missing name: 422, an error summary linking to fields, answers kept."""
    b = login_as(roles=("chair",))
    response = b.post("/agencies/new", {**VALID, "name": "", "website": "javascript:alert(1)"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert 'href="#name"' in html and 'href="#website"' in html
    assert "Free civil legal help." in html and "Met at the spring meeting." in html


def test_renewal_before_signing_is_refused(login_as, create_agency):
    """Agreement dates must be in order."""
    agency_id = create_agency()
    b = login_as(roles=("chair",))
    response = b.post(f"/agencies/{agency_id}/agreement",
                      {"mou_signed_on": "2026-05-01", "mou_signatory": "A. Director", "mou_renewal_on": "2026-01-01"})
    assert response.status_code == 422
    assert "on or after the signing date" in response.get_data(as_text=True)


def test_agency_admin_edits_own_profile_but_not_membership(login_as, app, create_agency):
    """An agency admin saves their profile; status, notes and agreement fields posted are ignored (AC3)."""
    agency_id = create_agency(name="Own Agency", membership_status="applicant")
    b = login_as(roles=("agency_admin",), agency_id=agency_id)
    form = b.get(f"/agencies/{agency_id}/edit").get_data(as_text=True)
    assert "membership_status" not in form
    response = b.post(
        f"/agencies/{agency_id}/edit",
        {"name": "Own Agency Renamed", "description": "d", "agency_type": "legal", "county": "",
         "phone": "", "website": "", "version": "1",
         "membership_status": "member", "internal_notes": "sneaky", "mou_signed_on": "2026-01-01",
         "agency_id": "999", "id": "999"},
    )
    assert response.status_code == 303
    with app.app_context():
        agency = db.session.get(Agency, agency_id)
        assert agency.name == "Own Agency Renamed"
        assert agency.membership_status == "applicant"
        assert agency.internal_notes == "" and agency.mou_signed_on is None


@pytest.mark.parametrize("roles", [("agency_admin",), ("staff",), ("case_manager",), ("admin",)])
def test_edit_of_another_agency_is_404(login_as, create_agency, roles):
    """Other agencies' users cannot even learn the edit page exists."""
    other = create_agency()
    b = login_as(roles=roles)
    assert b.get(f"/agencies/{other}/edit").status_code == 404
    assert b.post(f"/agencies/{other}/edit", {"name": "x"}, page="/").status_code == 404


def test_internal_notes_shown_to_chairs_and_own_admins_only(login_as, create_agency):
    """Internal notes appear for chairs and the agency's admins, not for other staff."""
    agency_id = create_agency(internal_notes="Needs follow-up on MOU")
    assert "Needs follow-up" in login_as(roles=("chair",)).get(f"/agencies/{agency_id}").get_data(as_text=True)
    own = login_as(roles=("agency_admin",), agency_id=agency_id)
    assert "Needs follow-up" in own.get(f"/agencies/{agency_id}").get_data(as_text=True)
    staff_same = login_as(roles=("staff",), agency_id=agency_id)
    assert "Needs follow-up" not in staff_same.get(f"/agencies/{agency_id}").get_data(as_text=True)
    other = login_as(roles=("case_manager",))
    assert "Needs follow-up" not in other.get(f"/agencies/{agency_id}").get_data(as_text=True)


def test_profile_visible_to_any_logged_in_user_and_404_when_missing(login_as, create_agency):
    """Shared object: any member reads the profile; an unknown id is 404."""
    agency_id = create_agency(name="Shared Profile Agency")
    b = login_as(roles=("staff",))
    assert "Shared Profile Agency" in b.get(f"/agencies/{agency_id}").get_data(as_text=True)
    assert b.get("/agencies/99999999").status_code == 404


def test_search_escapes_wildcards(login_as, create_agency):
    """`%` and `_` are literal; an SQL-looking string finds nothing extra (V4)."""
    create_agency(name="Plain Agency One")
    create_agency(name="100% Volunteer Agency")
    b = login_as(roles=("staff",))
    html = b.get("/agencies/?q=%25").get_data(as_text=True)
    assert "100% Volunteer Agency" in html and "Plain Agency One" not in html
    assert "Plain Agency One" not in b.get("/agencies/?q=_").get_data(as_text=True)
    assert "No agencies match" in b.get("/agencies/?q=' OR 1=1--").get_data(as_text=True)


def test_list_filters_and_paginates(login_as, create_agency, app):
    """Status filter narrows; more than a page of agencies paginates."""
    for index in range(30):
        create_agency(name=f"Paged Agency {index:02d}", membership_status="prospect")
    create_agency(name="Suspended One", membership_status="suspended")
    b = login_as(roles=("staff",))
    first = b.get("/agencies/?q=Paged").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Paged Agency 00" in first and "Paged Agency 29" not in first
    second = b.get("/agencies/?q=Paged&page=2").get_data(as_text=True)
    assert "Paged Agency 29" in second
    suspended = b.get("/agencies/?status=suspended").get_data(as_text=True)
    assert "Suspended One" in suspended and "Paged Agency" not in suspended


def test_htmx_request_gets_the_fragment(login_as):
    """The same URL answers the list fragment to htmx, with Vary: HX-Request."""
    b = login_as(roles=("staff",))
    response = b.get("/agencies/", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "<html" not in html and ("<table" in html or "No agencies match" in html)
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" in b.get("/agencies/").get_data(as_text=True)


def test_two_editors_second_is_told_to_reload(login_as, app, create_agency):
    """Two chairs load the form; the second save is refused with a reload message (R7)."""
    agency_id = create_agency(name="Contended Agency")
    first, second = login_as(roles=("chair",)), login_as(roles=("chair",))
    data = {**VALID, "name": "First Save", "version": "1", "membership_status": "member"}
    assert first.post(f"/agencies/{agency_id}/edit", data).status_code == 303
    response = second.post(f"/agencies/{agency_id}/edit", {**data, "name": "Second Save"})
    assert response.status_code == 422
    assert "Someone else changed this record" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Agency, agency_id).name == "First Save"


def test_update_agency_operation_checks_version(ctx, create_agency):
    """The operation itself refuses a stale version."""
    agency = db.session.get(Agency, create_agency())
    ops.update_agency(None, agency, {"name": "New name"}, 1, NOW)
    with pytest.raises(StaleEdit):
        ops.update_agency(None, agency, {"name": "Newer name"}, 1, NOW)
    assert agency.name == "New name"


def test_nul_character_refused_with_message(login_as):
    """A NUL in a text field is a message, not a 500 (V3)."""
    b = login_as(roles=("chair",))
    response = b.post("/agencies/new", {**VALID, "description": "abc\x00def"})
    assert response.status_code == 422
    assert "NUL character" in response.get_data(as_text=True)

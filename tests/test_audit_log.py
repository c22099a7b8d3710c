"""The audit log searched by those it is for (SECURITY L1): administrators by actor, agency, action, object and date,
with htmx and a plain GET, and as CSV after a fresh log-in; an agency's admins read the entries about their own
agency — who opened their clients' details — and nothing about another agency; chairs and case managers read none.
Searching and exporting are audited."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from csrn.audit import operations as audit
from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.referrals import operations as referral_ops
from tests.conftest import logged_in
from tests.referral_factories import consent_answers, make_chair, make_provider, make_sender, new_user, send_intake
from tests.test_accounts import set_session_times


@pytest.fixture
def scene(app):
    with app.app_context():
        now = utcnow()
        harbor = make_provider("Harbor House", now=now)
        other = make_provider("Other Shelter", now=now)
        harbor_admin = new_user(harbor.agency_id, ("agency_admin",))
        other_admin = new_user(other.agency_id, ("agency_admin",))
        officer = make_sender()
        admin = new_user(None, ("admin",))
        chair = make_chair()
        referral = send_intake(officer, now, receiver=harbor.agency_id, **consent_answers())
        referral_ops.accept(harbor.case_manager, referral, now + timedelta(minutes=1))
        # Another agency's own business: an admin there invites someone.
        invited = new_user(other.agency_id, ("staff",))
        audit.record(db.session.get(User, other_admin.id), "user.invited", invited, fields=["email", "roles"],
                     now=now)
        db.session.commit()
        return {"referral": referral.id, "harbor_cm": harbor.case_manager_emails[0],
                "harbor_admin": harbor_admin.email, "other_admin": other_admin.email, "admin": admin.email,
                "admin_id": admin.id, "chair": chair.email, "officer": officer.email, "invited": invited.id}


def results(response) -> str:
    """The results part of a log page (not the search form's choices)."""
    return response.get_data(as_text=True).split('id="audit-results"', 1)[1].replace("<wbr>", "")


def _opened(app, scene) -> None:
    """Harbor's case manager opens the person's details (audited as such)."""
    assert logged_in(app, scene["harbor_cm"]).get(f"/referrals/{scene['referral']}").status_code == 200


def test_administrators_search_the_whole_log(app, scene):
    _opened(app, scene)
    admin = logged_in(app, scene["admin"])
    page = results(admin.get("/admin/audit/?action=referral.viewed_identifying"))
    assert "Opened a person&#39;s identifying details" in page and scene["harbor_cm"] in page
    assert f"Referral {scene['referral']}" in page and "1 entry found" in page
    by_object = results(admin.get(f"/admin/audit/?object_type=user&object_id={scene['invited']}"))
    assert "User: invited" in by_object and "email, roles" in by_object
    by_actor = results(admin.get(f"/admin/audit/?actor={scene['other_admin'][:8]}"))
    assert "User: invited" in by_actor and "Opened a person" not in by_actor
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    assert "No entry matches this search." in admin.get(f"/admin/audit/?from={tomorrow}").get_data(as_text=True)
    assert "Give the dates as YYYY-MM-DD." in admin.get("/admin/audit/?from=yesterday").get_data(as_text=True)
    fragment = admin.get("/admin/audit/?action=user.invited", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "User: invited" in fragment
    with app.app_context():
        viewed = db.session.scalars(select(AuditEvent.fields).where(
            AuditEvent.action == "audit.viewed", AuditEvent.actor_id == scene["admin_id"])).all()
        assert "action" in viewed and "actor" in viewed and "from" in viewed


def test_the_export_needs_a_fresh_log_in_and_is_audited(app, scene):
    _opened(app, scene)
    admin = logged_in(app, scene["admin"])
    response = admin.get("/admin/audit/export.csv?action=referral.viewed_identifying")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:5] == ["id", "when", "actor", "actor_agency_id", "action"]
    assert {row[4] for row in rows[1:]} == {"referral.viewed_identifying"} and len(rows) == 2
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.fields).where(AuditEvent.action == "audit.exported")) == "action"
    set_session_times(app, scene["admin_id"], reauthenticated_ago=timedelta(minutes=11))
    stale = admin.get("/admin/audit/export.csv")
    assert stale.status_code == 302 and stale.headers["Location"].startswith("/account/reauthenticate")


def test_an_agency_admin_reads_who_opened_their_clients_details_and_nothing_of_another_agency(app, scene):
    _opened(app, scene)
    harbor = logged_in(app, scene["harbor_admin"])
    whole = harbor.get("/admin/audit/agency").get_data(as_text=True)
    assert "Audit log of Harbor House" in whole and "Agency audit log" in whole  # in the Admin menu
    page = results(harbor.get("/admin/audit/agency"))
    assert "Opened a person&#39;s identifying details" in page and scene["harbor_cm"] in page
    assert "User: invited" not in page and scene["other_admin"] not in page
    other = results(logged_in(app, scene["other_admin"]).get("/admin/audit/agency"))
    assert "User: invited" in other and "Opened a person" not in other
    # Their search stays inside their agency whatever they ask for.
    probe = results(harbor.get(f"/admin/audit/agency?object_type=user&object_id={scene['invited']}"))
    assert "No entry matches this search." in probe


@pytest.mark.parametrize("who", ["chair", "harbor_cm", "officer"])
def test_chairs_and_everyone_else_read_no_log(app, scene, who):
    browser = logged_in(app, scene[who])
    assert browser.get("/admin/audit/").status_code == 403
    assert browser.get("/admin/audit/export.csv").status_code == 403
    assert browser.get("/admin/audit/agency").status_code == 403

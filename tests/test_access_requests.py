"""Invitations and role grants into an agency from outside it (DESIGN §2, SECURITY A6; issue 14 item 1).

The outside test's path — an administrator or a chair invites themself (or anyone) into an agency as a case
manager, opens the link shown and reads its referrals — is closed: from outside an agency, an invitation, a role
grant or a reactivation waits for one of its agency admins, and has no effect until approved. A chair or an
administrator may invite the first agency admin of an agency that has none (every chair is told). In production the
invitation link is never shown on screen.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from csrn.audit.models import AuditEvent
from csrn.auth import operations as ops
from csrn.auth.models import AccessRequest, AuthToken, User
from csrn.extensions import db
from csrn.notify.models import Notification
from tests.conftest import NOW, PASSWORD, Browser
from tests.test_accounts import (
    INVITE_LINK_RE,
    NEW_PASSWORD,
    invite,
    mail_to,
    path_of,
    user_id_by_email,
    user_row,
)


@pytest.fixture
def agency(create_agency, login_as):
    """An agency with its agency admin logged in (the approver), and its id."""
    agency_id = create_agency(name=f"Shelter {uuid.uuid4().hex[:6]}")
    return agency_id, login_as(roles=("agency_admin",), agency_id=agency_id)


def requests_of(app, agency_id: int) -> list[dict]:
    with app.app_context():
        return [dict(id=r.id, kind=r.kind, state=r.state, email=r.email, roles=r.role_set, user_id=r.user_id,
                     requested_by=r.requested_by_id, decided_by=r.decided_by_id)
                for r in db.session.scalars(select(AccessRequest).where(AccessRequest.agency_id == agency_id)
                                            .order_by(AccessRequest.id))]


def notices_of(app, user_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Notification.text).where(Notification.user_id == user_id)))


def audit_rows(app, action: str) -> list[tuple]:
    with app.app_context():
        return [(e.actor_id, e.object_type, e.object_id, e.fields) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def decide(b: Browser, request_id: int, decision: str):
    return b.post(f"/users/requests/{request_id}/{decision}", page=f"/users/requests/{request_id}/{decision}")


def can_log_in(app, email: str, password: str = NEW_PASSWORD) -> bool:
    response = Browser(app.test_client()).post("/login", {"email": email, "password": password}, page="/login")
    return response.status_code == 302


# ----- the invite-yourself path, closed ------------------------------------------------------------------

@pytest.mark.parametrize("roles", [("chair",), ("admin",)])
@pytest.mark.parametrize("asked", [["case_manager"], ["staff"], ["agency_admin"], ["case_manager", "agency_admin"]])
def test_an_outsider_invitation_makes_no_account_and_sends_no_link_until_approved(app, agency, login_as, roles,
                                                                                  asked):
    """A chair or an administrator inviting (say, themself at another address) into an agency that has an agency
    admin: the page shows no link, no account or token exists, nothing is mailed to the address, the address cannot
    log in or reset; the request waits and the agency's admins are told."""
    agency_id, approver = agency
    outsider = login_as(roles=roles, agency_id=None if "admin" in roles else "new")
    email = f"me-again-{uuid.uuid4().hex[:6]}@example.org"
    response = invite(outsider, email, agency_id, asked)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/invitation/" not in html and "waits for the approval" in html
    assert user_id_by_email(app, email) is None
    assert mail_to(app, email) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuthToken)) == 0
    Browser(app.test_client()).post("/reset", {"email": email}, page="/reset")
    assert mail_to(app, email) == [] and not can_log_in(app, email, PASSWORD)
    [request_] = requests_of(app, agency_id)
    assert (request_["kind"], request_["state"], request_["email"], request_["roles"]) == (
        "invite", "pending", email, set(asked))
    assert any("waits for your approval" in text for text in notices_of(app, approver.user.id))
    assert mail_to(app, approver.user.email)  # told by mail too (a sentence and a link)
    listing = approver.get("/users/requests").get_data(as_text=True)
    assert email in listing and f"/users/requests/{request_['id']}/approve" in listing
    assert audit_rows(app, "user.invite_requested")[0][:3] == (outsider.user.id, "access_request",
                                                               str(request_["id"]))


def test_approval_creates_the_account_sends_the_link_and_shows_who_invited_and_who_approved(app, agency, login_as):
    """The agency admin approves: the account exists with the roles asked for, the invitation is mailed (the
    link works), the users page and the audit log show the chair who invited and the admin who approved."""
    agency_id, approver = agency
    chair = login_as(roles=("chair",))
    email = f"approved-{uuid.uuid4().hex[:6]}@example.org"
    invite(chair, email, agency_id, ["case_manager"], name="Casey Approved")
    [request_] = requests_of(app, agency_id)
    confirm = approver.get(f"/users/requests/{request_['id']}/approve")
    assert confirm.status_code == 200 and email in confirm.get_data(as_text=True)
    assert requests_of(app, agency_id)[0]["state"] == "pending"  # the GET changed nothing
    response = decide(approver, request_["id"], "approve")
    assert response.status_code == 200
    user_id = user_id_by_email(app, email)
    row = user_row(app, user_id)
    assert row["roles"] == {"case_manager"} and row["agency_id"] == agency_id and row["password_hash"] is None
    link = INVITE_LINK_RE.search(mail_to(app, email)[0][1]).group(0)
    visitor = Browser(app.test_client())
    assert visitor.post(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                        page=path_of(link)).status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.invited_by_id, user.approved_by_id) == (chair.user.id, approver.user.id)
        chair_name = db.session.get(User, chair.user.id).name
    for page in ("/users/", f"/users/{user_id}"):
        html = approver.get(page).get_data(as_text=True)
        assert "approved by" in html and chair_name in html
    assert requests_of(app, agency_id)[0] | {} == {**request_, "state": "approved", "user_id": user_id,
                                                   "decided_by": approver.user.id}
    assert audit_rows(app, "user.invite_approved") == [(approver.user.id, "user", str(user_id),
                                                        "agency_id,email,roles")]
    assert audit_rows(app, "access_request.approved")[0][0] == approver.user.id
    assert any("was approved" in text for text in notices_of(app, chair.user.id))


def test_refusal_changes_nothing_and_tells_who_asked(app, agency, login_as):
    """Refused: no account, no mail to the address, the request is marked refused; the chair is told."""
    agency_id, approver = agency
    chair = login_as(roles=("chair",))
    email = f"refused-{uuid.uuid4().hex[:6]}@example.org"
    invite(chair, email, agency_id, ["staff"])
    [request_] = requests_of(app, agency_id)
    assert decide(approver, request_["id"], "refuse").status_code == 303
    assert requests_of(app, agency_id)[0]["state"] == "refused"
    assert user_id_by_email(app, email) is None and mail_to(app, email) == []
    assert any("was refused" in text for text in notices_of(app, chair.user.id))
    # Decided once: a second approval is refused, and nothing is created.
    response = decide(approver, request_["id"], "approve")
    assert response.status_code == 303
    assert "decided already" in approver.get("/users/requests").get_data(as_text=True)
    assert user_id_by_email(app, email) is None


@pytest.mark.parametrize("who", ["staff_of_agency", "other_agency_admin", "chair", "admin", "requester"])
def test_only_the_agencys_own_admins_decide(app, agency, login_as, create_user, who):
    """Its staff are refused by role (403); another agency's admin, a chair, an administrator and the person who
    asked get 404 on the request, GET and POST, and nothing changes."""
    agency_id, _ = agency
    chair = login_as(roles=("chair",))
    invite(chair, f"someone-{uuid.uuid4().hex[:6]}@example.org", agency_id, ["staff"])
    [request_] = requests_of(app, agency_id)
    viewer = {
        "staff_of_agency": lambda: login_as(roles=("staff",), agency_id=agency_id),
        "other_agency_admin": lambda: login_as(roles=("agency_admin",)),
        "chair": lambda: login_as(roles=("chair",)),
        "admin": lambda: login_as(roles=("admin",), agency_id=None),
        "requester": lambda: chair,
    }[who]()
    expected = 403 if who == "staff_of_agency" else 404
    for decision in ("approve", "refuse"):
        assert viewer.get(f"/users/requests/{request_['id']}/{decision}").status_code == expected
        assert decide(viewer, request_["id"], decision).status_code == expected
    assert requests_of(app, agency_id)[0]["state"] == "pending"


def test_the_operations_refuse_a_decision_by_anyone_but_the_agencys_admins(app, agency, create_user, ctx):
    """Without the views: an outsider's approve raises NotAllowed and changes nothing."""
    agency_id, _ = agency
    chair = db.session.get(User, create_user(roles=("chair",)).id)
    request_ = ops.invite_user(chair, "direct-request@example.org", "Direct", agency_id, {"case_manager"}, NOW).request
    for actor in (chair, db.session.get(User, create_user(roles=("admin",), agency_id=None).id)):
        with pytest.raises(ops.NotAllowed):
            ops.approve_request(actor, request_, NOW)
    assert db.session.get(AccessRequest, request_.id).state == "pending"
    assert db.session.scalar(User.by_email("direct-request@example.org")) is None


def test_an_agency_without_an_agency_admin_cannot_be_asked(app, login_as, create_agency):
    """Nobody could approve: inviting staff or a case manager into it from outside is refused (422) — only its
    first agency admin may be invited."""
    agency_id = create_agency()
    chair = login_as(roles=("chair",))
    response = invite(chair, "nobody-to-ask@example.org", agency_id, ["case_manager"])
    assert response.status_code == 422 and "no agency admin to approve" in response.get_data(as_text=True)
    assert requests_of(app, agency_id) == [] and user_id_by_email(app, "nobody-to-ask@example.org") is None


# ----- the first agency admin ---------------------------------------------------------------------------

def test_the_first_agency_admin_is_invited_at_once_every_chair_is_told_and_it_is_audited(app, login_as, create_agency,
                                                                                         create_user):
    """A chair invites the first agency admin of an agency with none: the account and link at once, each chair
    notified, `user.first_agency_admin` audited. A second agency admin invited next waits for the first."""
    agency_id = create_agency(name="Brand New Clinic")
    other_chair = create_user(roles=("chair",))
    chair = login_as(roles=("chair",))
    email = f"first-{uuid.uuid4().hex[:6]}@example.org"
    response = invite(chair, email, agency_id, ["agency_admin"])
    assert response.status_code == 200 and "Every chair has been told" in response.get_data(as_text=True)
    user_id = user_id_by_email(app, email)
    assert user_row(app, user_id)["roles"] == {"agency_admin"} and mail_to(app, email)
    for chair_id in (chair.user.id, other_chair.id):
        assert any("first agency admin of Brand New Clinic" in text for text in notices_of(app, chair_id))
    assert audit_rows(app, "user.first_agency_admin") == [(chair.user.id, "user", str(user_id), "roles")]
    second = f"second-{uuid.uuid4().hex[:6]}@example.org"
    assert "waits for the approval" in invite(chair, second, agency_id, ["agency_admin"]).get_data(as_text=True)
    assert user_id_by_email(app, second) is None
    assert [r["kind"] for r in requests_of(app, agency_id)] == ["invite"]


# ----- role grants and reactivation from outside ----------------------------------------------------------

def test_an_outsider_role_grant_waits_removal_applies_and_approval_grants(app, agency, login_as, create_user):
    """A chair adds case manager to the agency's staff member: unchanged until the agency admin approves; an
    administrator's chair role for them waits the same way; a removal by a chair applies at once."""
    agency_id, approver = agency
    target = create_user(roles=("staff", "case_manager"), agency_id=agency_id)
    chair = login_as(roles=("chair",))
    response = chair.post(f"/users/{target.id}/roles", {"roles": ["staff", "agency_admin"]}, page=f"/users/{target.id}")
    assert response.status_code == 303
    assert "waits for the approval" in chair.get(response.headers["Location"]).get_data(as_text=True)
    assert user_row(app, target.id)["roles"] == {"staff"}  # case manager removed at once, agency admin asked for
    admin = login_as(roles=("admin",), agency_id=None)
    assert admin.post(f"/users/{target.id}/roles", {"roles": ["staff", "chair"]},
                      page=f"/users/{target.id}").status_code == 303
    assert user_row(app, target.id)["roles"] == {"staff"}
    pending = requests_of(app, agency_id)
    assert [(r["kind"], r["roles"]) for r in pending] == [("roles", {"agency_admin"}), ("roles", {"chair"})]
    for request_ in pending:
        assert decide(approver, request_["id"], "approve").status_code == 303
    assert user_row(app, target.id)["roles"] == {"staff", "agency_admin", "chair"}
    page = approver.get(f"/users/{target.id}").get_data(as_text=True)
    assert "Requests from outside the agency" in page and "Approved by" in page


def test_an_outsider_reactivation_waits_for_approval(app, agency, login_as, create_user):
    """A chair may deactivate an agency's user at once (it opens nothing), but reactivating them waits."""
    agency_id, approver = agency
    target = create_user(roles=("case_manager",), agency_id=agency_id)
    chair = login_as(roles=("chair",))
    assert chair.post(f"/users/{target.id}/deactivate").status_code == 303
    assert not user_row(app, target.id)["active"]
    assert chair.post(f"/users/{target.id}/reactivate").status_code == 303
    assert not user_row(app, target.id)["active"]
    [request_] = requests_of(app, agency_id)
    assert request_["kind"] == "reactivate"
    assert decide(approver, request_["id"], "approve").status_code == 303
    assert user_row(app, target.id)["active"]


def test_an_outsider_cannot_resend_an_invitation_they_did_not_send(app, agency, login_as):
    """The agency admin's invitee: a chair sees no resend button and a POST is refused (no new link)."""
    agency_id, approver = agency
    invite(approver, "insider-invitee@example.org", agency_id, ["staff"])
    user_id = user_id_by_email(app, "insider-invitee@example.org")
    chair = login_as(roles=("chair",))
    assert "resend-invitation" not in chair.get(f"/users/{user_id}").get_data(as_text=True)
    response = chair.post(f"/users/{user_id}/resend-invitation", page=f"/users/{user_id}")
    assert response.status_code == 303 and len(mail_to(app, "insider-invitee@example.org")) == 1


def test_a_request_is_void_when_the_person_who_asked_may_no_longer_ask(app, agency, login_as, create_user):
    """A chair who lost the role since: approving their invitation or their reactivation is refused, and nothing is
    granted (the requests stay, to be refused)."""
    agency_id, approver = agency
    chair = login_as(roles=("chair",))
    assert invite(chair, "late@example.org", agency_id, ["staff"]).status_code == 200
    sleeper = create_user(roles=("staff",), agency_id=agency_id, active=False)
    assert chair.post(f"/users/{sleeper.id}/reactivate").status_code == 303
    with app.app_context():
        db.session.get(User, chair.user.id).set_roles({"staff"})
        db.session.commit()
    for request_ in requests_of(app, agency_id):
        assert decide(approver, request_["id"], "approve").status_code == 303
        assert "may no longer grant this" in approver.get("/users/requests").get_data(as_text=True)
    assert user_id_by_email(app, "late@example.org") is None and not user_row(app, sleeper.id)["active"]
    assert [r["state"] for r in requests_of(app, agency_id)] == ["pending", "pending"]


# ----- a volunteer's one-person provider --------------------------------------------------------------------

def test_nobody_is_invited_into_a_volunteers_provider(app, login_as, create_agency, create_user):
    """The provider of a pro bono volunteer holds their account only: it is not offered, and an invitation into
    it (even as its first agency admin) is refused."""
    provider = create_agency(name="Pro bono Ada")
    create_user(roles=("volunteer",), agency_id=provider)
    for roles in (("chair",), ("admin",)):
        outsider = login_as(roles=roles, agency_id=None)
        assert f'value="{provider}"' not in outsider.get("/users/invite").get_data(as_text=True)
        response = invite(outsider, f"intruder-{uuid.uuid4().hex[:4]}@example.org", provider, ["agency_admin"])
        assert response.status_code == 422
    assert requests_of(app, provider) == []


@pytest.mark.parametrize("roles", [("chair",), ("admin",)])
def test_a_volunteers_account_changes_only_through_the_vetting(app, login_as, create_agency, create_user, roles):
    """Neither a chair nor an administrator adds a role to a volunteer's account (the page says it cannot be
    changed; a POST is refused)."""
    provider = create_agency(name="Pro bono Ben")
    volunteer = create_user(roles=("volunteer",), agency_id=provider)
    outsider = login_as(roles=roles, agency_id=None)
    assert "You cannot change this account" in outsider.get(f"/users/{volunteer.id}").get_data(as_text=True)
    response = outsider.post(f"/users/{volunteer.id}/roles", {"roles": ["case_manager"]}, page=f"/users/{volunteer.id}")
    assert response.status_code == 422
    assert user_row(app, volunteer.id)["roles"] == {"volunteer"} and requests_of(app, provider) == []


# ----- production: links by e-mail only ---------------------------------------------------------------------

def test_in_production_the_invitation_link_is_never_shown(app, agency, login_as, monkeypatch):
    """CSRN_ENV=production without a mail server: the inviter, the resender and the approver see no link; the
    mail carries it."""
    monkeypatch.setitem(app.config, "CSRN_ENV", "production")
    agency_id, approver = agency
    response = invite(approver, "prod-invitee@example.org", agency_id, ["staff"])
    assert response.status_code == 200 and "/invitation/" not in response.get_data(as_text=True)
    user_id = user_id_by_email(app, "prod-invitee@example.org")
    resent = approver.post(f"/users/{user_id}/resend-invitation")
    assert resent.status_code == 200 and "/invitation/" not in resent.get_data(as_text=True)
    chair = login_as(roles=("chair",))
    invite(chair, "prod-asked@example.org", agency_id, ["staff"])
    approved = decide(approver, requests_of(app, agency_id)[0]["id"], "approve")
    assert approved.status_code == 200 and "/invitation/" not in approved.get_data(as_text=True)
    for email in ("prod-invitee@example.org", "prod-asked@example.org"):
        assert INVITE_LINK_RE.search(mail_to(app, email)[-1][1])


def test_in_development_without_mail_the_inviter_still_sees_the_link(app, agency):
    """As before: development and test, no mail server: the link is shown to the inviter once."""
    agency_id, approver = agency
    assert INVITE_LINK_RE.search(invite(approver, "dev@example.org", agency_id, ["staff"]).get_data(as_text=True))

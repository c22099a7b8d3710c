"""User management (/users): who sees whom, role changes within what one may grant, deactivation,
second-factor resets, resent invitations, and the audit rows every change writes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from csrn.audit.models import AuditEvent
from csrn.auth import operations as ops
from csrn.auth import twofactor
from csrn.auth.models import User
from csrn.extensions import db
from tests.conftest import NOW, PASSWORD, Browser
from tests.test_accounts import (
    INVITE_LINK_RE,
    NEW_PASSWORD,
    RESET_LINK_RE,
    audit_actions,
    code_for,
    enrol_directly,
    invite,
    is_anonymous,
    live_sessions,
    mail_to,
    path_of,
    replay,
    request_reset,
    user_id_by_email,
    user_row,
)

ACTIONS = ("deactivate", "reactivate", "reset-second-factor", "resend-invitation")


def logged_in(app, user) -> Browser:
    b = Browser(app.test_client())
    b.login(user.email)
    return b


def set_roles(b: Browser, user_id: int, roles):
    return b.post(f"/users/{user_id}/roles", {"roles": list(roles)}, page=f"/users/{user_id}")


def events_about(app, user_id: int) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "user", AuditEvent.object_id == str(user_id))
            .order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return events


# ----- who may open /users -----------------------------------------------------------------------

@pytest.mark.parametrize("roles", [("staff",), ("case_manager",)])
def test_users_pages_are_403_for_staff_and_case_managers(app, login_as, create_user, roles):
    """Staff and case managers reach none of user management, even for their own agency's users."""
    b = login_as(roles=roles)
    colleague = create_user(roles=("staff",), agency_id=b.user.agency_id)
    for url in ("/users/", "/users/invite", f"/users/{colleague.id}", f"/users/{colleague.id}/deactivate"):
        assert b.get(url).status_code == 403, url
    assert b.post(f"/users/{colleague.id}/deactivate", page="/").status_code == 403
    assert b.post(f"/users/{colleague.id}/roles", {"roles": ["agency_admin"]}, page="/").status_code == 403
    assert b.post("/users/invite", {"email": "z@example.org", "name": "Z", "agency_id": str(b.user.agency_id),
                                    "roles": ["staff"]}, page="/").status_code == 403
    assert user_row(app, colleague.id)["active"] and user_id_by_email(app, "z@example.org") is None


def test_agency_admin_sees_only_their_agency(app, login_as, create_user):
    """The list holds their agency's users only; another agency's user is 404 everywhere."""
    b = login_as(roles=("agency_admin",))
    own = create_user(roles=("staff",), agency_id=b.user.agency_id)
    other = create_user(roles=("staff",))
    listing = b.get("/users/").get_data(as_text=True).replace("<wbr>", "")
    assert own.email in listing and other.email not in listing
    fragment = b.get(f"/users/?q={other.email}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-label="E-mail"' not in fragment and "No users match" in fragment  # no row, only the answer
    assert b.get(f"/users/{own.id}").status_code == 200
    assert b.get(f"/users/{other.id}").status_code == 404
    assert set_roles(b, other.id, ["case_manager"]).status_code == 404
    for action in ACTIONS:
        assert b.get(f"/users/{other.id}/{action}").status_code == 404, action
        assert b.post(f"/users/{other.id}/{action}", page="/users/").status_code == 404, action
    assert user_row(app, other.id)["active"] and user_row(app, other.id)["roles"] == {"staff"}
    assert events_about(app, other.id)[-1].action == "user.create"


def test_agency_admin_without_an_agency_sees_nobody(app, login_as, create_user):
    """An agency admin who belongs to no agency does not see the users who belong to none (admins)."""
    admin = create_user(roles=("admin",), agency_id=None)
    b = login_as(roles=("agency_admin",), agency_id=None)
    listing = b.get("/users/").get_data(as_text=True).replace("<wbr>", "")
    assert admin.email not in listing
    assert b.get(f"/users/{admin.id}").status_code == 404


def test_chairs_and_admins_see_every_agency(login_as, create_user):
    """Chairs and admins manage users in every agency."""
    a, b = create_user(roles=("staff",)), create_user(roles=("case_manager",))
    for roles in (("chair",), ("admin",)):
        viewer = login_as(roles=roles)
        listing = viewer.get("/users/").get_data(as_text=True).replace("<wbr>", "")
        assert a.email in listing and b.email in listing
        assert viewer.get(f"/users/{a.id}").status_code == 200


# ----- roles -------------------------------------------------------------------------------------

def test_agency_admin_changes_roles_within_their_grant(app, login_as, create_user):
    """Staff to case manager and agency admin: saved and audited by field name."""
    b = login_as(roles=("agency_admin",))
    target = create_user(roles=("staff",), agency_id=b.user.agency_id)
    page = b.get(f"/users/{target.id}").get_data(as_text=True)
    assert 'value="chair"' not in page and 'value="admin"' not in page
    response = set_roles(b, target.id, ["case_manager", "agency_admin"])
    assert response.status_code == 303
    assert user_row(app, target.id)["roles"] == {"case_manager", "agency_admin"}
    event = events_about(app, target.id)[-1]
    assert event.action == "user.roles_changed" and event.fields == "roles" and event.actor_id == b.user.id


@pytest.mark.parametrize("roles", [["chair"], ["admin"], ["staff", "chair"], ["staff", "admin"]])
def test_agency_admin_cannot_grant_chair_or_admin(app, login_as, create_user, roles):
    """The roles form refuses chair and admin from an agency admin; nothing changes, nothing is audited."""
    b = login_as(roles=("agency_admin",))
    target = create_user(roles=("staff",), agency_id=b.user.agency_id)
    response = set_roles(b, target.id, roles)
    assert response.status_code == 422
    assert user_row(app, target.id)["roles"] == {"staff"}
    assert "user.roles_changed" not in audit_actions(app, object_id=target.id)


def test_set_roles_operation_refuses_chair_even_without_the_form(app, create_user, ctx):
    """The operation checks the grant itself, whatever the form offered."""
    actor_record = create_user(roles=("agency_admin",))
    target_record = create_user(roles=("staff",), agency_id=actor_record.agency_id)
    actor, target = db.session.get(User, actor_record.id), db.session.get(User, target_record.id)
    with pytest.raises(ops.NotAllowed):
        ops.set_roles(actor, target, {"staff", "chair"}, NOW)
    with pytest.raises(ops.NotAllowed):
        ops.set_roles(actor, target, {"admin"}, NOW)
    assert target.roles == {"staff"}


def test_chair_cannot_grant_chair_but_admin_can(app, login_as, create_user):
    """Only an admin grants chair or admin: to a person of no agency at once; to an agency's user only with the
    approval of one of its agency admins (tests/test_access_requests.py has the approval itself)."""
    agency_admin = login_as(roles=("agency_admin",))
    target = create_user(roles=("staff",), agency_id=agency_admin.user.agency_id)
    chair = login_as(roles=("chair",))
    assert set_roles(chair, target.id, ["staff", "chair"]).status_code == 422
    assert user_row(app, target.id)["roles"] == {"staff"}
    admin = login_as(roles=("admin",), agency_id=None)
    assert set_roles(admin, target.id, ["staff", "chair"]).status_code == 303
    assert user_row(app, target.id)["roles"] == {"staff"}  # asked for, not granted
    loner = create_user(roles=("chair",), agency_id=None)
    assert set_roles(admin, loner.id, ["chair", "admin"]).status_code == 303
    assert user_row(app, loner.id)["roles"] == {"chair", "admin"}


def test_agency_admin_cannot_change_a_chair_of_their_agency(app, login_as, create_user):
    """A chair in the agency admin's own agency is beyond their grant: shown, not changeable."""
    b = login_as(roles=("agency_admin",))
    chair = create_user(roles=("chair", "staff"), agency_id=b.user.agency_id)
    page = b.get(f"/users/{chair.id}").get_data(as_text=True)
    assert "You cannot change this account" in page
    assert set_roles(b, chair.id, ["case_manager"]).status_code == 422
    assert user_row(app, chair.id)["roles"] == {"chair", "staff"}


# ----- deactivation ------------------------------------------------------------------------------

def test_deactivation_confirms_on_get_then_ends_sessions_at_once(app, login_as, create_user):
    """GET shows a confirmation and changes nothing; POST deactivates and logs the person out everywhere."""
    b = login_as(roles=("agency_admin",))
    target = create_user(roles=("staff",), agency_id=b.user.agency_id)
    victim = logged_in(app, target)
    saved = replay(app, victim.client)
    confirm = b.get(f"/users/{target.id}/deactivate")
    assert confirm.status_code == 200 and target.email in confirm.get_data(as_text=True)
    assert user_row(app, target.id)["active"] and not is_anonymous(victim.client)

    response = b.post(f"/users/{target.id}/deactivate")
    assert response.status_code == 303 and response.headers["Location"] == f"/users/{target.id}"
    assert not user_row(app, target.id)["active"]
    assert is_anonymous(victim.client) and is_anonymous(saved)
    assert live_sessions(app, target.id) == 0
    refused = Browser(app.test_client()).post("/login", {"email": target.email, "password": PASSWORD},
                                              page="/login")
    assert refused.status_code == 422
    event = next(event for event in events_about(app, target.id) if event.action == "user.deactivated")
    assert event.fields == "active" and event.actor_id == b.user.id

    assert b.post(f"/users/{target.id}/reactivate").status_code == 303
    assert user_row(app, target.id)["active"]
    assert events_about(app, target.id)[-1].action == "user.reactivated"
    assert Browser(app.test_client()).login(target.email).status_code == 302


def test_agency_admin_cannot_deactivate_a_chair_of_their_agency(app, login_as, create_user):
    """Refused: the chair stays active and logged in, and no deactivation is audited."""
    b = login_as(roles=("agency_admin",))
    chair = create_user(roles=("chair",), agency_id=b.user.agency_id)
    chair_browser = logged_in(app, chair)
    response = b.post(f"/users/{chair.id}/deactivate", page=f"/users/{chair.id}")
    assert response.status_code == 303
    page = b.get(response.headers["Location"]).get_data(as_text=True)
    assert "You may not deactivate this account." in page
    assert user_row(app, chair.id)["active"] and not is_anonymous(chair_browser.client)
    assert "user.deactivated" not in audit_actions(app, object_id=chair.id)


def test_deactivation_retires_invitation_and_reset_links(app, login_as, create_user, browser):
    """A deactivated account's outstanding links no longer set a password."""
    b = login_as(roles=("agency_admin",))
    response = invite(b, "not-yet@example.org", b.user.agency_id, ["staff"])
    invitation = INVITE_LINK_RE.search(response.get_data(as_text=True)).group(0)
    invited = user_id_by_email(app, "not-yet@example.org")
    member = create_user(roles=("staff",), agency_id=b.user.agency_id)
    request_reset(browser, member.email)
    reset = RESET_LINK_RE.search(mail_to(app, member.email)[0][1]).group(0)
    for user_id in (invited, member.id):
        assert b.post(f"/users/{user_id}/deactivate").status_code == 303
    hash_before = user_row(app, member.id)["password_hash"]
    for link in (invitation, reset):
        visitor = Browser(app.test_client())
        response = visitor.get(path_of(link))
        assert response.status_code == 404 and "cannot be used" in response.get_data(as_text=True)
        response = visitor.post(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, page="/login")
        assert response.status_code == 404
    assert user_row(app, invited)["password_hash"] is None
    assert user_row(app, member.id)["password_hash"] == hash_before


def test_nobody_deactivates_themself(app, login_as):
    """An admin cannot lock themself out by mistake."""
    b = login_as(roles=("agency_admin",))
    b.post(f"/users/{b.user.id}/deactivate", page=f"/users/{b.user.id}")
    assert user_row(app, b.user.id)["active"] and not is_anonymous(b.client)


# ----- second-factor reset -----------------------------------------------------------------------

@pytest.mark.parametrize("roles", [("agency_admin",), ("chair",)])
def test_only_admins_reset_a_second_factor(app, login_as, create_user, roles):
    """Agency admins and chairs are refused; the second factor and sessions stay."""
    b = login_as(roles=roles)
    target = create_user(roles=("staff",), agency_id=b.user.agency_id)
    secret, _ = enrol_directly(app, target.id)
    assert "reset-second-factor" not in b.get(f"/users/{target.id}").get_data(as_text=True)
    response = b.post(f"/users/{target.id}/reset-second-factor", page=f"/users/{target.id}")
    assert response.status_code == 303
    assert user_row(app, target.id)["totp_secret"] == secret
    assert "user.second_factor_reset" not in audit_actions(app, object_id=target.id)


def test_admin_resets_a_second_factor(app, login_as, create_user, monkeypatch):
    """An admin's reset removes the authenticator and recovery codes and ends the person's sessions;
    they log in without a code and (where required) must enrol again."""
    target = create_user(roles=("staff",))
    secret, _ = enrol_directly(app, target.id)
    victim = Browser(app.test_client())
    victim.login(target.email)
    victim.post("/login/code", {"code": code_for(secret)}, page="/login/code")
    assert not is_anonymous(victim.client)

    admin = login_as(roles=("admin",), agency_id=None)
    assert "reset-second-factor" in admin.get(f"/users/{target.id}").get_data(as_text=True)
    assert admin.get(f"/users/{target.id}/reset-second-factor").status_code == 200
    assert user_row(app, target.id)["totp_secret"] == secret  # the confirm page changed nothing
    assert admin.post(f"/users/{target.id}/reset-second-factor").status_code == 303
    row = user_row(app, target.id)
    assert row["totp_secret"] is None and row["totp_pending_secret"] is None
    assert is_anonymous(victim.client)
    event = events_about(app, target.id)[-1]
    assert event.action == "user.second_factor_reset" and event.fields == "totp_secret"
    assert secret not in event.fields

    monkeypatch.setitem(app.config, "CSRN_REQUIRE_2FA", True)
    again = Browser(app.test_client())
    assert again.login(target.email).headers["Location"] == "/"
    assert again.get("/").headers["Location"] == "/account/two-factor"
    with app.app_context():
        assert twofactor.remaining_recovery_codes(db.session.get(User, target.id)) == 0


# ----- resent invitations ------------------------------------------------------------------------

def test_resent_invitation_retires_the_earlier_link(app, login_as):
    """A new invitation link replaces the old one; the old one cannot be used."""
    b = login_as(roles=("agency_admin",))
    response = invite(b, "resend@example.org", b.user.agency_id, ["staff"])
    first = INVITE_LINK_RE.search(response.get_data(as_text=True)).group(0)
    user_id = user_id_by_email(app, "resend@example.org")
    assert b.get(f"/users/{user_id}/resend-invitation").status_code == 200
    response = b.post(f"/users/{user_id}/resend-invitation")
    assert response.status_code == 200
    second = INVITE_LINK_RE.search(response.get_data(as_text=True)).group(0)
    assert first != second
    visitor = Browser(app.test_client())
    assert visitor.get(path_of(first)).status_code == 404
    assert visitor.get(path_of(second)).status_code == 200
    assert "user.invite_resent" in audit_actions(app, object_id=user_id)


# ----- audit: field names, never values ----------------------------------------------------------

def test_every_change_is_audited_with_field_names_only(app, login_as, create_user):
    """Invite, role change, deactivate, reactivate, resend and second-factor reset each write an audit row
    naming the fields changed and never their values."""
    admin = login_as(roles=("agency_admin", "admin"))  # the agency's own admin: changes apply at once
    response = invite(admin, "audited.person@example.org", admin.user.agency_id, ["staff"], name="Audrey Audit")
    assert response.status_code == 200
    invited = user_id_by_email(app, "audited.person@example.org")
    admin.post(f"/users/{invited}/resend-invitation")
    set_roles(admin, invited, ["case_manager"])
    admin.post(f"/users/{invited}/deactivate")
    admin.post(f"/users/{invited}/reactivate")
    enrolled = create_user(roles=("staff",))
    secret, _ = enrol_directly(app, enrolled.id)
    admin.post(f"/users/{enrolled.id}/reset-second-factor")

    events = events_about(app, invited) + [
        event for event in events_about(app, enrolled.id) if event.action == "user.second_factor_reset"
    ]
    by_action = {event.action: event for event in events}
    expected = {
        "user.create": "agency_id,email,name,roles",
        "user.invite": "agency_id,email,roles",
        "user.invite_resent": "",
        "user.roles_changed": "roles",
        "user.deactivated": "active",
        "user.reactivated": "active",
        "user.second_factor_reset": "totp_secret",
    }
    for action, fields in expected.items():
        assert action in by_action, action
        assert by_action[action].fields == fields, action
        assert by_action[action].actor_id == admin.user.id, action
    values = ("audited.person", "Audrey", "case_manager", "staff", "True", "False", secret)
    for event in events:
        assert not any(value in event.fields for value in values), (event.action, event.fields)

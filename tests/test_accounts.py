"""Accounts (issue 3): invitations, passwords (A2), resets (A5/A6), two-factor (A3), lockout (A4),
session cookies and lifetime (S1–S3), fresh re-authentication (A8) and the account page.

User management (/users) is in test_users_admin.py.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import event, func, select, text

from csrn.audit.models import AuditEvent
from csrn.auth import operations as auth_ops
from csrn.auth import twofactor
from csrn.auth.models import AuthToken, RecoveryCode, User, UserSession
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from csrn.settings.operations import get_settings
from tests.conftest import NOW, PASSWORD, Browser

NEW_PASSWORD = "violet lantern orchard 7 quietly"
OTHER_ADDRESS = {"REMOTE_ADDR": "10.0.0.2"}
TOKEN_RE = r"([A-Za-z0-9_-]{40,})"
INVITE_LINK_RE = re.compile(r"http://localhost/invitation/" + TOKEN_RE)
RESET_LINK_RE = re.compile(r"http://localhost/reset/" + TOKEN_RE)
CSRF_VALUE_RE = re.compile(r'("X-CSRFToken": "|name="csrf_token" (?:type="hidden" )?value=")[^"]+')


# ----- helpers (also imported by test_users_admin.py) -------------------------------------------

def mail_to(app, email: str) -> list[tuple[str, str]]:
    """(subject, body) of every outbox message to this address, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_addr == email).order_by(OutboxMessage.id)
        ).all()
        return [(row.subject, row.body) for row in rows]


def outbox_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(OutboxMessage.id)))


def audit_actions(app, object_id=None, actor_id=None) -> list[str]:
    with app.app_context():
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if object_id is not None:
            query = query.where(AuditEvent.object_type == "user", AuditEvent.object_id == str(object_id))
        if actor_id is not None:
            query = query.where(AuditEvent.actor_id == actor_id)
        return list(db.session.scalars(query))


def audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)))


def user_row(app, user_id: int) -> dict:
    """A plain snapshot of a user row."""
    with app.app_context():
        user = db.session.get(User, user_id)
        return {
            "email": user.email, "active": user.active, "roles": set(user.roles), "agency_id": user.agency_id,
            "password_hash": user.password_hash, "session_version": user.session_version,
            "totp_secret": user.totp_secret, "totp_pending_secret": user.totp_pending_secret,
        }


def user_id_by_email(app, email: str) -> int | None:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def live_sessions(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(UserSession.id)).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        )


def set_session_times(app, user_id: int, *, created_ago=None, last_seen_ago=None, reauthenticated_ago=None):
    """Time travel: move the user's session rows into the past (found by user id)."""
    now = utcnow()
    with app.app_context():
        for row in db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)):
            if created_ago is not None:
                row.created_at = now - created_ago
            if last_seen_ago is not None:
                row.last_seen_at = now - last_seen_ago
            if reauthenticated_ago is not None:
                row.reauthenticated_at = now - reauthenticated_ago
        db.session.commit()


def last_seen(app, user_id: int):
    with app.app_context():
        return db.session.scalar(
            select(UserSession.last_seen_at).where(UserSession.user_id == user_id).order_by(UserSession.id.desc())
        )


def expire_tokens(app, user_id: int) -> None:
    """Time travel: every token of the user expired a minute ago."""
    with app.app_context():
        for token in db.session.scalars(select(AuthToken).where(AuthToken.user_id == user_id)):
            token.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()


def enrol_directly(app, user_id: int) -> tuple[str, list[str]]:
    """Give the user a second factor without the UI; return (secret, recovery codes)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        user.totp_pending_secret = twofactor.new_secret()
        twofactor.enable(user, NOW)
        codes = twofactor.new_recovery_codes(user, NOW)
        secret = user.totp_secret
        db.session.commit()
    return secret, codes


def code_for(secret: str, offset: int = 0) -> str:
    """The TOTP code of the current step (+offset steps), from the wall clock the app uses.

    Only offsets 0 and +1 are used: should the clock cross a step boundary between computing the
    code and the app checking it, these stay inside the app's ±1 step window.
    """
    return pyotp.TOTP(secret).at(utcnow(), counter_offset=offset)


def wrong_code(secret: str) -> str:
    """A six-digit code that matches none of the steps the app would accept now."""
    totp = pyotp.TOTP(secret)
    near = {totp.at(utcnow(), counter_offset=offset) for offset in range(-3, 4)}
    return next(code for code in (f"{n:06d}" for n in range(0, 10**6, 7919)) if code not in near)


def normalised(html: str) -> str:
    """A page with its per-request CSRF tokens blanked, for comparing two answers."""
    return CSRF_VALUE_RE.sub(r"\1", html)


def is_anonymous(client) -> bool:
    """Whether this client's cookie no longer logs anyone in."""
    response = client.get("/account/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def replay(app, client):
    """A new client carrying a copy of another client's session cookie."""
    copy = app.test_client()
    copy.set_cookie("csrn_session", client.get_cookie("csrn_session").value)
    return copy


def invite(b: Browser, email: str, agency_id, roles, name="Invited Person"):
    """POST the invitation form."""
    data = {"email": email, "name": name, "agency_id": str(agency_id if agency_id is not None else 0),
            "roles": list(roles)}
    return b.post("/users/invite", data)


def invitation_link(app, login_as):
    """Have an agency admin invite a staff member; return (inviter browser, invited e-mail, link)."""
    b = login_as(roles=("agency_admin",))
    email = f"invitee-{uuid.uuid4().hex[:10]}@example.org"
    response = invite(b, email, b.user.agency_id, ["staff"])
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    match = INVITE_LINK_RE.search(response.get_data(as_text=True))
    assert match, "the inviter was not shown the link"
    return b, email, match.group(0)


def path_of(link: str) -> str:
    return link.removeprefix("http://localhost")


# ----- invitations -------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["staff", "case_manager", "agency_admin"])
def test_agency_admin_invites_into_own_agency(app, login_as, role):
    """An agency admin invites staff, case managers and agency admins into their own agency; audited."""
    b = login_as(roles=("agency_admin",))
    page = b.get("/users/invite").get_data(as_text=True)
    assert 'value="chair"' not in page and 'value="admin"' not in page
    email = f"new-{role}@example.org"
    response = invite(b, email, b.user.agency_id, [role])
    assert response.status_code == 200
    user_id = user_id_by_email(app, email)
    row = user_row(app, user_id)
    assert row["roles"] == {role} and row["agency_id"] == b.user.agency_id
    assert row["password_hash"] is None and row["active"]
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.invite"))
        assert event.actor_id == b.user.id and event.object_id == str(user_id)
        assert event.fields == "agency_id,email,roles"
        assert email not in event.fields and role not in event.fields


def test_agency_admin_cannot_invite_into_another_agency(app, login_as, create_agency):
    """Another agency's id answers 422 and no account is made."""
    other = create_agency()
    b = login_as(roles=("agency_admin",))
    response = invite(b, "elsewhere@example.org", other, ["staff"])
    assert response.status_code == 422
    assert user_id_by_email(app, "elsewhere@example.org") is None
    assert outbox_count(app) == 0


@pytest.mark.parametrize("roles", [["chair"], ["admin"], ["staff", "chair"], ["agency_admin", "admin"]])
def test_agency_admin_cannot_invite_a_chair_or_admin(app, login_as, roles):
    """Granting chair or admin in an invitation is refused; nothing is made or sent."""
    b = login_as(roles=("agency_admin",))
    before = audit_count(app)
    response = invite(b, "climber@example.org", b.user.agency_id, roles)
    assert response.status_code == 422
    assert user_id_by_email(app, "climber@example.org") is None
    assert outbox_count(app) == 0 and audit_count(app) == before


def test_chair_invites_the_first_agency_admin_of_an_agency_without_one(app, login_as, create_agency):
    """A chair of one agency invites the first agency admin of another, which has none (more in
    tests/test_access_requests.py)."""
    other = create_agency()
    b = login_as(roles=("chair",))
    response = invite(b, "newadmin@example.org", other, ["agency_admin"])
    assert response.status_code == 200
    row = user_row(app, user_id_by_email(app, "newadmin@example.org"))
    assert row["agency_id"] == other and row["roles"] == {"agency_admin"}


@pytest.mark.parametrize("roles", [["chair"], ["admin"]])
def test_chair_cannot_invite_a_chair_or_admin(app, login_as, create_agency, roles):
    """Only admins grant chair or admin."""
    other = create_agency()
    b = login_as(roles=("chair",))
    assert invite(b, "peer@example.org", other, roles).status_code == 422
    assert user_id_by_email(app, "peer@example.org") is None


def test_admin_invites_a_chair_and_an_admin(app, login_as, create_agency):
    """An admin grants chair and admin to people of no agency at once; into an agency without an agency admin to
    approve, nobody can be invited as chair."""
    agency = create_agency()
    b = login_as(roles=("admin",), agency_id=None)
    assert invite(b, "chair@example.org", None, ["chair"]).status_code == 200
    assert invite(b, "admin2@example.org", None, ["admin"]).status_code == 200
    assert user_row(app, user_id_by_email(app, "chair@example.org"))["roles"] == {"chair"}
    admin = user_row(app, user_id_by_email(app, "admin2@example.org"))
    assert admin["roles"] == {"admin"} and admin["agency_id"] is None
    refused = invite(b, "chair-in-agency@example.org", agency, ["chair"])
    assert refused.status_code == 422 and "no agency admin to approve" in refused.get_data(as_text=True)
    assert user_id_by_email(app, "chair-in-agency@example.org") is None


def test_invite_operation_refuses_chair_even_without_the_form(app, create_user, ctx):
    """The operation itself checks the roles, whatever the form offered."""
    from csrn.auth import operations as ops

    actor_record = create_user(roles=("agency_admin",))
    actor = db.session.get(User, actor_record.id)
    with pytest.raises(ops.NotAllowed):
        ops.invite_user(actor, "direct@example.org", "Direct", actor.agency_id, {"chair"}, NOW)
    with pytest.raises(ops.NotAllowed):
        ops.invite_user(actor, "direct@example.org", "Direct", actor.agency_id + 1000, {"staff"}, NOW)


def test_invitation_link_shown_once_mailed_from_base_url_and_hidden_on_the_outbox(app, login_as, monkeypatch):
    """No SMTP: the inviter sees the link once; the mail carries the same link built from CSRN_BASE_URL;
    the outbox page and the user's page never show the token."""
    b, email, link = invitation_link(app, login_as)
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 32 random bytes
    messages = mail_to(app, email)
    assert len(messages) == 1 and link in messages[0][1]
    user_id = user_id_by_email(app, email)
    assert token not in b.get(f"/users/{user_id}").get_data(as_text=True)
    assert token not in b.get("/users/").get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalar(select(AuthToken.token_hash).where(AuthToken.user_id == user_id))
        assert stored != token and len(stored) == 64  # hashed

    admin = login_as(roles=("admin",), agency_id=None)
    outbox = admin.get("/admin/outbox/").get_data(as_text=True).replace("<wbr>", "")  # addresses wrap at @ and dots
    assert email in outbox and "Your invitation" in outbox
    assert token not in outbox and "/invitation/" not in outbox

    # The link comes from CSRN_BASE_URL, not from the Host the inviter used.
    monkeypatch.setitem(app.config, "CSRN_BASE_URL", "https://csrn.example.org")
    response = invite(b, "second@example.org", b.user.agency_id, ["staff"])
    assert "https://csrn.example.org/invitation/" in response.get_data(as_text=True)
    assert "https://csrn.example.org/invitation/" in mail_to(app, "second@example.org")[0][1]


def test_with_smtp_configured_the_inviter_never_sees_the_link(app, login_as, monkeypatch):
    """With mail configured, the link only goes by e-mail."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.example.org")
    b = login_as(roles=("agency_admin",))
    response = invite(b, "mailed@example.org", b.user.agency_id, ["staff"])
    assert response.status_code == 200
    assert "/invitation/" not in response.get_data(as_text=True)
    assert INVITE_LINK_RE.search(mail_to(app, "mailed@example.org")[0][1])


def test_opening_an_invitation_changes_nothing(app, login_as):
    """GET of the link shows the form and leaves token, account, sessions and audit log as they were."""
    _, email, link = invitation_link(app, login_as)
    user_id = user_id_by_email(app, email)
    before = (user_row(app, user_id), audit_count(app), live_sessions(app, user_id))
    visitor = Browser(app.test_client())
    for _ in range(2):
        response = visitor.get(path_of(link))
        assert response.status_code == 200 and email in response.get_data(as_text=True)
    assert (user_row(app, user_id), audit_count(app), live_sessions(app, user_id)) == before
    with app.app_context():
        assert db.session.scalar(select(AuthToken.used_at).where(AuthToken.user_id == user_id)) is None


def test_invited_user_sets_a_password_and_lands_logged_in(app, login_as):
    """Accepting sets the password (argon2id) and logs in; the link then cannot be used again."""
    _, email, link = invitation_link(app, login_as)
    visitor = Browser(app.test_client())
    response = visitor.post(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert visitor.get("/").status_code == 200
    assert visitor.get("/account/").status_code == 200
    user_id = user_id_by_email(app, email)
    assert user_row(app, user_id)["password_hash"].startswith("$argon2id$")
    assert "user.invitation_accepted" in audit_actions(app, object_id=user_id)

    # used twice: both the GET and a POST say the link cannot be used, and nothing changes
    again = Browser(app.test_client())
    response = again.get(path_of(link))
    assert response.status_code == 404 and "cannot be used" in response.get_data(as_text=True)
    hash_before = user_row(app, user_id)["password_hash"]
    other = "another chosen passphrase 99"
    response = again.post(path_of(link), {"password": other, "confirm": other}, page="/login")
    assert response.status_code == 404
    assert user_row(app, user_id)["password_hash"] == hash_before
    assert is_anonymous(again.client)


def test_expired_invitation_cannot_be_used(app, login_as):
    """After its 7 days the link fails on GET and POST."""
    _, email, link = invitation_link(app, login_as)
    user_id = user_id_by_email(app, email)
    expire_tokens(app, user_id)
    visitor = Browser(app.test_client())
    response = visitor.get(path_of(link))
    assert response.status_code == 404 and "cannot be used" in response.get_data(as_text=True)
    response = visitor.post(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, page="/login")
    assert response.status_code == 404
    assert user_row(app, user_id)["password_hash"] is None


def test_invitation_with_required_two_factor_leads_to_enrolment(app, login_as, monkeypatch):
    """Where two-factor is required, the new user reaches enrolment before anything else."""
    _, email, link = invitation_link(app, login_as)
    monkeypatch.setitem(app.config, "CSRN_REQUIRE_2FA", True)
    visitor = Browser(app.test_client())
    response = visitor.post(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    response = visitor.get(response.headers["Location"])
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"


# ----- A2: password rules ------------------------------------------------------------------------

WEAK_PASSWORDS = {
    "short": "short pass",
    "eleven": "abcdefghij1",
    "common": "qwertyuiop12",
    "repeated-words": "monkey monkey monkey",
    "themed": "trafficking2024!",
    "password1234": "password1234",
    "task-force": "TaskForce2025!!",
    "too-long": "a sentence of words " * 51 + "abcde",
}


def accept_with(app, login_as, password):
    _, email, link = invitation_link(app, login_as)
    visitor = Browser(app.test_client())
    response = visitor.post(path_of(link), {"password": password, "confirm": password})
    return response, email, visitor


@pytest.mark.parametrize("password", list(WEAK_PASSWORDS.values()), ids=list(WEAK_PASSWORDS))
def test_weak_passwords_are_refused(app, login_as, password):
    """A2: short, common, repetitive, themed and over-long (1,025 characters) passwords are refused with 422."""
    if "sentence" in password:
        assert len(password) == 1025
    response, email, visitor = accept_with(app, login_as, password)
    assert response.status_code == 422
    assert "There is a problem" in response.get_data(as_text=True)
    assert user_row(app, user_id_by_email(app, email))["password_hash"] is None
    assert is_anonymous(visitor.client)


PERSON = {"email": "ottoline.brackenbury@saltmarsh.example", "name": "Ottoline Brackenbury",
          "agency": "Saltmarsh Refuge Collective", "task force": "Anti-Trafficking Task Force"}


@pytest.mark.parametrize("detail", list(PERSON))
def test_the_persons_own_details_are_refused_as_a_password(app, login_as, create_agency, detail):
    """A2: the invited person's e-mail, name, agency name and the task force's name (zxcvbn's user inputs)
    are refused as a password, with zxcvbn's advice as the message."""
    with app.app_context():
        assert get_settings().name == PERSON["task force"]
    inviter = login_as(roles=("agency_admin",), agency_id=create_agency(name=PERSON["agency"]))
    response = invite(inviter, PERSON["email"], inviter.user.agency_id, ["staff"], name=PERSON["name"])
    link = INVITE_LINK_RE.search(response.get_data(as_text=True)).group(0)
    visitor = Browser(app.test_client())
    response = visitor.post(path_of(link), {"password": PERSON[detail], "confirm": PERSON[detail]})
    assert response.status_code == 422
    assert "This password would be easy to guess." in response.get_data(as_text=True)
    assert user_row(app, user_id_by_email(app, PERSON["email"]))["password_hash"] is None


def test_changing_the_password_to_ones_own_email_is_refused(app, create_user):
    """A2: the change-password form knows who is asking: the user's own e-mail address is refused."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    response = b.post("/account/password", {"current_password": PASSWORD, "password": user.email,
                                            "confirm": user.email})
    assert response.status_code == 422
    assert "This password would be easy to guess." in response.get_data(as_text=True)
    assert Browser(app.test_client()).login(user.email).status_code == 302  # the old password still works


def test_zxcvbns_warning_is_shown_beside_the_field(app, login_as):
    """A2: a refused password says why, in zxcvbn's words, and what would be better."""
    response, _, _ = accept_with(app, login_as, "qwertyuiop12")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This is similar to a commonly used password." in html
    assert "Add another word or two. Uncommon words are better." in html


def test_long_passphrase_with_spaces_and_emoji_is_accepted(app, login_as):
    """A2: a 64-character passphrase with spaces and emoji is accepted, and logs in afterwards."""
    passphrase = "🦉 owls gather quietly under the old cedar bridge at dusk 🌙 tonight"
    passphrase = passphrase[:64]
    assert len(passphrase) == 64 and " " in passphrase
    response, email, _ = accept_with(app, login_as, passphrase)
    assert response.status_code == 302
    fresh = Browser(app.test_client())
    assert fresh.login(email, passphrase).headers["Location"] == "/"


def test_exactly_1024_characters_is_accepted(app, login_as):
    """The upper bound is 1,024 characters, inclusive."""
    password = ("a sentence of words " * 52)[:1024]
    response, _, _ = accept_with(app, login_as, password)
    assert response.status_code == 302


# ----- A5/A6: password reset ---------------------------------------------------------------------

def answer_reset_requests(app) -> str:
    """Run `tick`'s reset job: the links of waiting requests are queued as mail."""
    with app.app_context():
        return auth_ops.answer_reset_requests(utcnow())


def request_reset(b: Browser, email: str, **kwargs):
    """Ask for a reset link at /reset, then let `tick`'s job answer (as it does within the minute)."""
    response = b.post("/reset", {"email": email}, page="/reset", **kwargs)
    answer_reset_requests(b.client.application)
    return response


def statements_of(app, send) -> list[str]:
    """The SQL statements (text, not values) the app sends while `send()` runs."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))  # the suite's numbered savepoints

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        send()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def reset_link_for(app, browser, email) -> str:
    assert request_reset(browser, email).status_code == 200
    match = RESET_LINK_RE.search(mail_to(app, email)[-1][1])
    assert match
    return match.group(0)


def test_reset_answers_alike_for_known_and_unknown_emails(app, browser, create_user):
    """A5: identical status and body; only the known address gets mail."""
    user = create_user()
    known = request_reset(browser, user.email)
    unknown = request_reset(browser, "nobody-here@example.org")
    assert known.status_code == unknown.status_code == 200
    assert normalised(known.get_data(as_text=True)) == normalised(unknown.get_data(as_text=True))
    assert len(mail_to(app, user.email)) == 1
    assert mail_to(app, "nobody-here@example.org") == []
    assert outbox_count(app) == 1


def test_reset_request_does_the_same_work_for_known_and_unknown_emails(app, browser, create_user):
    """A5: the request sends the very same SQL for a known and an unknown address (no look-up, no token, no
    mail: a stopwatch cannot tell them apart); `tick` then queues the one link, for the known address only."""
    user = create_user()
    token = browser.token("/reset")
    work = {}
    for email in (user.email, "nobody-here@example.org"):
        send = lambda email=email: browser.client.post("/reset", data={"email": email, "csrf_token": token})  # noqa: E731
        work[email] = statements_of(app, send)
    assert work[user.email] == work["nobody-here@example.org"]
    assert not any("app_user" in statement or "outbox" in statement for statement in work[user.email])
    assert outbox_count(app) == 0
    assert answer_reset_requests(app) == "2 answered, 1 link(s) queued"
    assert len(mail_to(app, user.email)) == 1 and outbox_count(app) == 1
    assert RESET_LINK_RE.search(mail_to(app, user.email)[0][1])
    assert answer_reset_requests(app) == "0 answered, 0 link(s) queued"  # each request is answered once
    actions = audit_actions(app)
    assert actions.count("auth.reset_requested") == 2
    assert "auth.reset_link_queued" in audit_actions(app, object_id=user.id)
    assert "auth.reset_requested_unknown" in actions


def test_tick_answers_reset_requests_before_sending_the_outbox(app, browser, create_user, runner):
    """`flask csrn tick` runs the reset job (so a link goes out in the same minute)."""
    user = create_user()
    browser.post("/reset", {"email": user.email}, page="/reset")
    result = runner.invoke(args=["csrn", "tick"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "password reset requests: 1 answered, 1 link(s) queued"
    assert len(mail_to(app, user.email)) == 1


def test_a_reset_request_for_an_account_deactivated_meanwhile_sends_nothing(app, browser, create_user):
    """`tick` looks the address up when it answers: an account deactivated since the request gets no link."""
    user = create_user()
    browser.post("/reset", {"email": user.email}, page="/reset")
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert answer_reset_requests(app) == "1 answered, 0 link(s) queued"
    assert mail_to(app, user.email) == []


def test_reset_link_works_once_and_not_after_expiry(app, browser, create_user):
    """A6: the link sets a new password once; a second use and an expired link fail."""
    user = create_user()
    link = reset_link_for(app, browser, user.email)
    assert browser.get(path_of(link)).status_code == 200
    response = browser.post(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert Browser(app.test_client()).login(user.email, NEW_PASSWORD).status_code == 302

    response = browser.get(path_of(link))
    assert response.status_code == 404 and "cannot be used" in response.get_data(as_text=True)
    third = "yet another good passphrase"
    assert browser.post(path_of(link), {"password": third, "confirm": third}, page="/login").status_code == 404
    assert Browser(app.test_client()).post(
        "/login", {"email": user.email, "password": third}, page="/login").status_code == 422

    expired = reset_link_for(app, browser, user.email)
    expire_tokens(app, user.id)
    response = browser.get(path_of(expired))
    assert response.status_code == 404 and "cannot be used" in response.get_data(as_text=True)
    assert browser.post(path_of(expired), {"password": third, "confirm": third}, page="/login").status_code == 404


def test_a_new_reset_link_retires_the_earlier_one(app, browser, create_user):
    """Only the newest reset link works."""
    user = create_user()
    first = reset_link_for(app, browser, user.email)
    second = reset_link_for(app, browser, user.email)
    assert first != second
    assert browser.get(path_of(first)).status_code == 404
    assert browser.get(path_of(second)).status_code == 200


def test_reset_requested_with_a_hostile_host_sends_nothing(app, browser, create_user):
    """A6: `Host: evil.example` answers 400 and queues no mail."""
    user = create_user()
    token = browser.token("/reset")
    # The cookie goes along too, so that only the Host header is wrong (not the CSRF check).
    browser.client.set_cookie("csrn_session", browser.client.get_cookie("csrn_session").value,
                              domain="evil.example")
    response = browser.client.post("/reset", data={"email": user.email, "csrf_token": token},
                                   headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert b"security token" not in response.get_data()
    assert b"evil.example" not in response.get_data()
    answer_reset_requests(app)
    assert outbox_count(app) == 0


def test_reset_link_is_built_from_base_url(app, browser, create_user, monkeypatch):
    """A6: the mailed link uses CSRN_BASE_URL."""
    monkeypatch.setitem(app.config, "CSRN_BASE_URL", "https://csrn.example.org")
    user = create_user()
    request_reset(browser, user.email)
    assert "https://csrn.example.org/reset/" in mail_to(app, user.email)[0][1]


def test_reset_ends_sessions_and_does_not_log_in(app, browser, create_user):
    """A reset ends every existing session (an old client is anonymous) and logs no one in."""
    user = create_user()
    old = Browser(app.test_client())
    old.login(user.email)
    assert not is_anonymous(old.client)
    link = reset_link_for(app, browser, user.email)
    browser.post(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert is_anonymous(old.client)
    assert is_anonymous(browser.client)
    assert live_sessions(app, user.id) == 0
    assert "auth.password_reset" in audit_actions(app, object_id=user.id)


def test_reset_never_skips_the_second_factor(app, browser, create_user):
    """With two-factor enrolled, logging in after a reset still asks for the code."""
    user = create_user()
    secret, _ = enrol_directly(app, user.id)
    link = reset_link_for(app, browser, user.email)
    response = browser.post(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login"
    response = browser.login(user.email, NEW_PASSWORD)
    assert response.headers["Location"].startswith("/login/code")
    assert is_anonymous(browser.client)
    response = browser.post("/login/code?next=/", {"code": code_for(secret)}, page="/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert not is_anonymous(browser.client)


def test_reset_refuses_a_weak_password(app, browser, create_user):
    """The reset form applies A2 too, and the link stays usable after a refusal."""
    user = create_user()
    link = reset_link_for(app, browser, user.email)
    assert browser.post(path_of(link), {"password": "password1234", "confirm": "password1234"}).status_code == 422
    assert browser.get(path_of(link)).status_code == 200


# ----- A3: two-factor ----------------------------------------------------------------------------

def test_enrolment_shows_secret_and_qr_then_recovery_codes_once(app, login_as):
    """GET shows the key as text and a server-drawn SVG QR; a right code turns two-factor on and
    shows ten recovery codes once (stored hashed)."""
    b = login_as(roles=("case_manager",))
    page = b.get("/account/two-factor")
    assert page.status_code == 200
    pending = user_row(app, b.user.id)["totp_pending_secret"]
    html = page.get_data(as_text=True)
    assert " ".join(pending[i:i + 4] for i in range(0, len(pending), 4)) in html
    assert '<img src="/account/two-factor/qr.svg"' in html
    qr = b.get("/account/two-factor/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert b"<svg" in qr.get_data()[:200]

    response = b.post("/account/two-factor", {"code": wrong_code(pending)})
    assert response.status_code == 422
    assert user_row(app, b.user.id)["totp_secret"] is None

    response = b.post("/account/two-factor", {"code": code_for(pending)})
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor/recovery-codes"
    row = user_row(app, b.user.id)
    assert row["totp_secret"] == pending and row["totp_pending_secret"] is None
    shown = b.get("/account/two-factor/recovery-codes")
    assert shown.status_code == 200
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", shown.get_data(as_text=True))
    assert len(codes) == len(set(codes)) == 10
    again = b.get("/account/two-factor/recovery-codes")
    assert again.status_code == 302 and again.headers["Location"] == "/account/"
    assert not any(code in again.get_data(as_text=True) for code in codes)
    with app.app_context():
        hashes = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == b.user.id)).all()
    assert len(hashes) == 10 and not set(codes) & set(hashes)
    assert "account.second_factor_enrolled" in audit_actions(app, object_id=b.user.id)

    # Login now needs the code; the enrolment's code cannot be used again.
    other = Browser(app.test_client())
    response = other.login(b.user.email)
    assert response.headers["Location"].startswith("/login/code")
    assert is_anonymous(other.client)
    response = other.post("/login/code", {"code": code_for(pending, 1)}, page="/login/code")
    assert response.status_code == 302
    assert not is_anonymous(other.client)


def session_cookie_contents(app, client) -> str:
    """What the signed session cookie says, as text (signed is not encrypted: anyone holding it can read it)."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    return json.dumps(app.session_interface.get_signing_serializer(app).loads(cookie))


def waiting_codes(app, user_id: int) -> tuple[str | None, str | None]:
    """(stored text, decrypted text) of the codes waiting on the user's newest session record."""
    with app.app_context():
        row = db.session.scalar(select(UserSession).where(UserSession.user_id == user_id)
                                .order_by(UserSession.id.desc()))
        stored = db.session.scalar(text("SELECT recovery_codes_to_show FROM user_session WHERE id = :id"),
                                   {"id": row.id})
        return stored, row.recovery_codes_to_show


def shown_codes(response) -> list[str]:
    """The recovery codes on a page."""
    return re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", response.get_data(as_text=True))


def test_new_recovery_codes_wait_encrypted_on_the_server_never_in_the_cookie(app, login_as):
    """A3: between enrolment (or making new codes) and the page that shows them, the ten codes are on the
    session record, encrypted, and nowhere in the cookie; shown once, they are gone from the server too."""
    b = login_as(roles=("case_manager",))
    b.get("/account/two-factor")
    pending = user_row(app, b.user.id)["totp_pending_secret"]
    assert b.post("/account/two-factor", {"code": code_for(pending)}).status_code == 302
    cookie = session_cookie_contents(app, b.client)
    stored, decrypted = waiting_codes(app, b.user.id)
    codes = shown_codes(b.get("/account/two-factor/recovery-codes"))
    assert len(codes) == 10 and decrypted.split("\n") == codes
    assert not any(code in cookie or code in stored for code in codes)
    assert waiting_codes(app, b.user.id) == (None, None)

    # New codes, not looked at before logging out: they end with the session.
    assert b.post("/account/two-factor/recovery-codes/new", {}).status_code == 302
    assert waiting_codes(app, b.user.id)[1] is not None
    assert not any(code in session_cookie_contents(app, b.client) for code in waiting_codes(app, b.user.id)[1].split())
    b.logout()
    assert waiting_codes(app, b.user.id) == (None, None)


def test_same_code_twice_recovery_code_once_wrong_codes_refused(app, create_user):
    """A3: a TOTP code works once; a recovery code works once; wrong codes are refused."""
    user = create_user()
    secret, recovery = enrol_directly(app, user.id)

    def attempt(code):
        b = Browser(app.test_client())
        b.login(user.email)
        response = b.post("/login/code", {"code": code}, page="/login/code")
        return response, b

    response, wrong = attempt(wrong_code(secret))
    assert response.status_code == 422 and is_anonymous(wrong.client)
    response, garbage = attempt("abcdef")
    assert response.status_code == 422 and is_anonymous(garbage.client)

    code = code_for(secret)
    response, first = attempt(code)
    assert response.status_code == 302 and not is_anonymous(first.client)
    response, second = attempt(code)
    assert response.status_code == 422
    assert "used already" in response.get_data(as_text=True)
    assert is_anonymous(second.client)

    response, with_recovery = attempt(recovery[0].upper().replace("-", " "))  # typed loosely
    assert response.status_code == 302 and not is_anonymous(with_recovery.client)
    response, reused = attempt(recovery[0])
    assert response.status_code == 422 and is_anonymous(reused.client)
    with app.app_context():
        left = twofactor.remaining_recovery_codes(db.session.get(User, user.id))
    assert left == 9
    actions = audit_actions(app, object_id=user.id)
    assert actions.count("auth.second_factor_failed") == 4


def test_code_step_without_a_password_is_refused(app, client, create_user):
    """/login/code without a correct password first sends back to login."""
    user = create_user()
    secret, _ = enrol_directly(app, user.id)
    response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    b = Browser(client)
    response = b.post("/login/code", {"code": code_for(secret)}, page="/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert is_anonymous(client)


def test_wrong_codes_lock_the_code_step(app, create_user):
    """A3: code verification is rate limited: after six wrong codes even the right one is refused."""
    user = create_user()
    secret, _ = enrol_directly(app, user.id)
    b = Browser(app.test_client())
    b.login(user.email)
    for _ in range(6):
        assert b.post("/login/code", {"code": wrong_code(secret)}, page="/login/code").status_code == 422
    response = b.post("/login/code", {"code": code_for(secret)}, page="/login/code")
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)
    assert is_anonymous(b.client)


def test_required_two_factor_allows_nothing_before_enrolment(app, login_as, monkeypatch):
    """A3: with CSRN_REQUIRE_2FA a user without a second factor reaches only enrolment and logout."""
    monkeypatch.setitem(app.config, "CSRN_REQUIRE_2FA", True)
    b = login_as(roles=("agency_admin",))
    assert "Demo mode" not in app.test_client().get("/login").get_data(as_text=True)
    for url in ("/", "/agencies/", "/account/", "/account/password", "/users/", "/users/invite",
                f"/agencies/{b.user.agency_id}"):
        response = b.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"] == "/account/two-factor", url
    response = b.post("/users/invite", {"email": "x@example.org", "name": "X", "agency_id": str(b.user.agency_id),
                                        "roles": ["staff"]}, page="/account/two-factor")
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"
    assert user_id_by_email(app, "x@example.org") is None
    page = b.get("/account/two-factor")
    assert page.status_code == 200 and "requires two-factor" in page.get_data(as_text=True)
    assert b.get("/account/two-factor/qr.svg").status_code == 200
    response = b.post("/logout", page="/account/two-factor")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert is_anonymous(b.client)


def test_required_two_factor_sends_htmx_requests_to_enrolment_by_hx_redirect(app, login_as, monkeypatch):
    """An htmx request (a poll, a search) before enrolment never gets the enrolment page swapped in."""
    monkeypatch.setitem(app.config, "CSRN_REQUIRE_2FA", True)
    b = login_as(roles=("staff",))
    response = b.get("/agencies/", headers={"HX-Request": "true", "X-CSRN-Background": "1"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/account/two-factor"
    assert "<form" not in response.get_data(as_text=True)


def test_required_two_factor_is_satisfied_by_enrolment(app, login_as, monkeypatch):
    """After enrolling, the pages open."""
    monkeypatch.setitem(app.config, "CSRN_REQUIRE_2FA", True)
    b = login_as(roles=("staff",))
    b.get("/account/two-factor")
    pending = user_row(app, b.user.id)["totp_pending_secret"]
    assert b.post("/account/two-factor", {"code": code_for(pending)}).status_code == 302
    assert b.get("/account/two-factor/recovery-codes").status_code == 200
    assert b.get("/agencies/").status_code == 200
    assert b.get("/").status_code == 200


# ----- A4: lockout -------------------------------------------------------------------------------

def login_attempt(b: Browser, email, password, **kwargs):
    return b.post("/login", {"email": email, "password": password}, page="/login", **kwargs)


def test_seventh_attempt_from_one_address_is_refused_even_with_the_right_password(app, create_user):
    """A4: six wrong passwords, then the right one from the same address: 429 and a message;
    the same account from another address still logs in."""
    user = create_user()
    b = Browser(app.test_client())
    for _ in range(6):
        assert login_attempt(b, user.email, "wrong password again").status_code == 422
    response = login_attempt(b, user.email, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)
    assert is_anonymous(b.client)

    elsewhere = Browser(app.test_client())
    response = login_attempt(elsewhere, user.email, PASSWORD, environ_base=OTHER_ADDRESS)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert elsewhere.get("/account/", environ_base=OTHER_ADDRESS).status_code == 200


def test_lockout_also_applies_to_unknown_emails_with_the_same_message(app, create_user):
    """A4/A5: an unknown e-mail is locked out the same way, with the same answer."""
    user = create_user()
    answers = {}
    for email in (user.email, "nobody-at-all@example.org"):
        b = Browser(app.test_client())
        for _ in range(6):
            login_attempt(b, email, "wrong password again")
        answers[email] = login_attempt(b, email, "wrong password again")
    known, unknown = answers[user.email], answers["nobody-at-all@example.org"]
    assert known.status_code == unknown.status_code == 429
    known_html = normalised(known.get_data(as_text=True)).replace(user.email, "EMAIL")
    unknown_html = normalised(unknown.get_data(as_text=True)).replace("nobody-at-all@example.org", "EMAIL")
    assert known_html == unknown_html
    assert "Too many failed attempts" in known_html


# ----- S1: cookies -------------------------------------------------------------------------------

def test_session_cookie_flags_and_no_remember_me(app, create_user):
    """S1: HttpOnly and SameSite=Lax; not Secure in test (Secure in production); never a remember cookie."""
    from csrn.config import ProductionConfig

    user = create_user()
    enrolled = create_user()
    secret, _ = enrol_directly(app, enrolled.id)
    set_cookies = []
    b = Browser(app.test_client())
    response = b.post("/login", {"email": user.email, "password": PASSWORD, "remember": "y",
                                 "remember_me": "1"}, page="/login")
    assert response.status_code == 302
    set_cookies += response.headers.getlist("Set-Cookie")
    set_cookies += b.get("/account/").headers.getlist("Set-Cookie")
    c = Browser(app.test_client())
    set_cookies += c.login(enrolled.email).headers.getlist("Set-Cookie")
    set_cookies += c.post("/login/code", {"code": code_for(secret), "remember": "y"},
                          page="/login/code").headers.getlist("Set-Cookie")
    session_cookies = [cookie for cookie in set_cookies if cookie.startswith("csrn_session=")]
    assert session_cookies
    for cookie in session_cookies:
        flags = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "httponly" in flags and "samesite=lax" in flags
        assert "secure" not in flags
    # Only the session and the device cookie (A4), which logs nobody in (tests/test_device_cookies.py).
    assert all(cookie.startswith(("csrn_session=", "csrn_device=")) for cookie in set_cookies), set_cookies
    for client in (b.client, c.client):
        assert client.get_cookie("remember_token") is None
        assert client.get_cookie("csrn_session") is not None
    assert ProductionConfig.SESSION_COOKIE_SECURE is True


# ----- S2: server-side session invalidation ------------------------------------------------------

def test_cookie_replayed_after_logout_is_anonymous(app, create_user):
    """S2: logout ends the session server-side; a copy of the cookie is anonymous."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    copy_before = replay(app, b.client)
    assert not is_anonymous(copy_before)
    saved = app.test_client()
    saved.set_cookie("csrn_session", b.client.get_cookie("csrn_session").value)
    b.logout()
    assert is_anonymous(saved)
    assert live_sessions(app, user.id) == 0


def test_cookie_replayed_after_deactivation_is_anonymous(app, login_as, create_user):
    """S2: an agency admin's deactivation ends the target's sessions at once."""
    admin = login_as(roles=("agency_admin",))
    target = create_user(roles=("staff",), agency_id=admin.user.agency_id)
    victim = Browser(app.test_client())
    victim.login(target.email)
    saved = replay(app, victim.client)
    assert admin.get(f"/users/{target.id}/deactivate").status_code == 200
    assert admin.post(f"/users/{target.id}/deactivate").status_code == 303
    assert is_anonymous(saved) and is_anonymous(victim.client)


def test_cookie_replayed_after_password_change_elsewhere_is_anonymous(app, create_user):
    """S2/A8: a password change on one client ends the others, but keeps the one that changed it."""
    user = create_user()
    first = Browser(app.test_client())
    first.login(user.email)
    saved = replay(app, first.client)
    second = Browser(app.test_client())
    second.login(user.email)
    response = second.post("/account/password", {"current_password": PASSWORD, "password": NEW_PASSWORD,
                                                 "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert is_anonymous(first.client) and is_anonymous(saved)
    assert not is_anonymous(second.client)
    assert second.get("/agencies/").status_code == 200
    assert live_sessions(app, user.id) == 1
    assert Browser(app.test_client()).login(user.email, NEW_PASSWORD).status_code == 302
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.password_changed"))
        assert event.fields == "password_hash"


def test_wrong_current_password_changes_nothing(app, create_user):
    """The current password is checked before a change."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    before = user_row(app, user.id)["password_hash"]
    response = b.post("/account/password", {"current_password": "not my password at all",
                                            "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert user_row(app, user.id)["password_hash"] == before


# ----- S3: idle and absolute timeouts ------------------------------------------------------------

def test_idle_31_minutes_is_anonymous_29_minutes_is_not(app, create_user):
    """S3: 30 minutes idle ends the session."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    set_session_times(app, user.id, last_seen_ago=timedelta(minutes=29))
    assert b.get("/agencies/").status_code == 200
    set_session_times(app, user.id, last_seen_ago=timedelta(minutes=31))
    response = b.get("/agencies/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    # and it stays ended: coming back does not revive it
    set_session_times(app, user.id, last_seen_ago=timedelta(minutes=1))
    assert is_anonymous(b.client)


def test_absolute_timeout_of_12_hours(app, create_user):
    """S3: twelve hours after login the session ends even if it was active a minute ago."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    set_session_times(app, user.id, created_ago=timedelta(hours=11, minutes=58), last_seen_ago=timedelta(minutes=1))
    assert b.get("/agencies/").status_code == 200
    set_session_times(app, user.id, created_ago=timedelta(hours=12, minutes=1), last_seen_ago=timedelta(minutes=1))
    assert is_anonymous(b.client)


def test_background_polling_does_not_keep_a_session_alive(app, create_user):
    """S3: `X-CSRN-Background: 1` does not move last_seen_at, ordinary requests do; an inbox left
    polling times out after 30 minutes, and htmx then gets HX-Redirect to the login page."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    background = {"X-CSRN-Background": "1", "HX-Request": "true"}

    set_session_times(app, user.id, last_seen_ago=timedelta(minutes=2))
    before = last_seen(app, user.id)
    assert b.get("/agencies/", headers=background).status_code == 200
    assert last_seen(app, user.id) == before
    assert b.get("/agencies/").status_code == 200
    assert last_seen(app, user.id) > utcnow() - timedelta(seconds=30)

    set_session_times(app, user.id, last_seen_ago=timedelta(minutes=29))
    for _ in range(3):
        assert b.get("/agencies/", headers=background).status_code == 200
    set_session_times(app, user.id, last_seen_ago=timedelta(minutes=31))
    response = b.get("/agencies/", headers=background)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"
    assert "<form" not in response.get_data(as_text=True)
    assert is_anonymous(b.client)


def test_htmx_request_on_an_expired_session_gets_hx_redirect(app, create_user):
    """S3: an ordinary htmx request on an idle-expired session answers 401 with HX-Redirect."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    set_session_times(app, user.id, last_seen_ago=timedelta(minutes=31))
    response = b.get("/agencies/", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"


# ----- A8: fresh re-authentication ---------------------------------------------------------------

@pytest.mark.parametrize("url", ["/account/password", "/account/email", "/account/two-factor"])
def test_stale_session_is_sent_to_reauthenticate(app, create_user, url):
    """A8: after 10 minutes, password and e-mail changes and two-factor enrolment ask for the password again."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    assert b.get(url).status_code == 200  # fresh from login
    before = user_row(app, user.id)
    set_session_times(app, user.id, reauthenticated_ago=timedelta(minutes=11))
    response = b.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/account/reauthenticate?next={url}"
    posted = b.post(url, {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                          "email": "changed@example.org"}, page="/account/")
    assert posted.status_code == 302 and posted.headers["Location"].startswith("/account/reauthenticate")
    assert user_row(app, user.id) == before

    response = b.post(f"/account/reauthenticate?next={url}", {"password": "not my password at all"})
    assert response.status_code == 422
    assert b.get(url).status_code == 302
    response = b.post(f"/account/reauthenticate?next={url}", {"password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == url
    assert b.get(url).status_code == 200


def test_required_enrolment_from_a_stale_session_asks_for_the_password_first(app, create_user, monkeypatch):
    """A8 with A3: a user who must enrol, idle past the freshness window, is asked for the password (not
    sent round in circles), then enrols; the QR code is not shown to the stale session either."""
    monkeypatch.setitem(app.config, "CSRN_REQUIRE_2FA", True)
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    set_session_times(app, user.id, reauthenticated_ago=timedelta(minutes=11))
    assert b.get("/").headers["Location"] == "/account/two-factor"
    response = b.get("/account/two-factor")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/reauthenticate?next=/account/two-factor"
    assert b.get("/account/two-factor/qr.svg").status_code == 302
    assert user_row(app, user.id)["totp_pending_secret"] is None
    assert b.get("/account/reauthenticate?next=/account/two-factor").status_code == 200
    response = b.post("/account/reauthenticate?next=/account/two-factor", {"password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"
    assert b.get("/account/two-factor").status_code == 200
    pending = user_row(app, user.id)["totp_pending_secret"]
    response = b.post("/account/two-factor", {"code": code_for(pending)})
    assert response.headers["Location"] == "/account/two-factor/recovery-codes"
    assert user_row(app, user.id)["totp_secret"] == pending


def test_email_change_after_reauthentication(app, create_user):
    """A8: after re-authenticating the e-mail changes, the old address is told, the change is audited."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    set_session_times(app, user.id, reauthenticated_ago=timedelta(minutes=11))
    b.post("/account/reauthenticate?next=/account/email", {"password": PASSWORD})
    response = b.post("/account/email", {"email": "New.Address@Example.org"})
    assert response.status_code == 303
    assert user_row(app, user.id)["email"] == "new.address@example.org"
    assert [subject for subject, _ in mail_to(app, user.email)] == ["Your CSRN e-mail address was changed"]
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.email_changed"))
        assert event.fields == "email" and "new.address" not in event.fields


def test_reauthentication_with_two_factor_needs_the_code(app, create_user):
    """A8: a user with two-factor re-enters a code as well as the password."""
    user = create_user()
    secret, recovery = enrol_directly(app, user.id)
    b = Browser(app.test_client())
    b.login(user.email)
    b.post("/login/code", {"code": code_for(secret)}, page="/login/code")
    set_session_times(app, user.id, reauthenticated_ago=timedelta(minutes=11))
    url = "/account/reauthenticate?next=/account/password"
    assert b.post(url, {"password": PASSWORD}).status_code == 422
    assert b.get("/account/password").status_code == 302
    response = b.post(url, {"password": PASSWORD, "code": recovery[1]})
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    assert b.get("/account/password").status_code == 200


HOSTILE_NEXT = ["https://evil.example", "//evil.example", "/\\evil.example", "https:evil.example",
                "%2F%2Fevil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_after_the_code_step_and_reauthentication_stays_local(app, create_user, target):
    """A9: the second-factor step and re-authentication never follow ?next= off the site."""
    user = create_user()
    secret, _ = enrol_directly(app, user.id)
    b = Browser(app.test_client())
    b.post(f"/login?next={target}", {"email": user.email, "password": PASSWORD}, page="/login")
    response = b.post(f"/login/code?next={target}", {"code": code_for(secret)}, page="/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    response = b.post(f"/account/reauthenticate?next={target}", {"password": PASSWORD, "code": code_for(secret, 1)})
    assert response.status_code == 302 and response.headers["Location"] == "/account/"


# ----- /account: active sessions -----------------------------------------------------------------

def test_account_lists_sessions_and_ends_another_of_your_own(app, create_user):
    """/account lists live sessions; ending one logs that other client out, this one stays."""
    user = create_user()
    here = Browser(app.test_client())
    here.login(user.email)
    there = Browser(app.test_client())
    there.post("/login", {"email": user.email, "password": PASSWORD}, page="/login",
               environ_base=OTHER_ADDRESS)
    page = here.get("/account/").get_data(as_text=True)
    assert "This browser" in page and "10.0.0.2" in page
    ids = re.findall(r'action="/account/sessions/(\d+)/end"', page)
    assert len(ids) == 1
    confirm = here.get(f"/account/sessions/{ids[0]}/end")
    assert confirm.status_code == 200 and "10.0.0.2" in confirm.get_data(as_text=True)
    assert not is_anonymous(there.client)  # the GET confirm page ended nothing
    response = here.post(f"/account/sessions/{ids[0]}/end")
    assert response.status_code == 303
    assert is_anonymous(there.client)
    assert not is_anonymous(here.client)
    page = here.get("/account/").get_data(as_text=True)
    assert "10.0.0.2" not in page and not re.findall(r'action="/account/sessions/(\d+)/end"', page)
    assert "account.session_ended" in audit_actions(app, actor_id=user.id)


def test_ending_another_users_session_is_404(app, create_user):
    """Another user's session id answers 404 on GET and POST, and stays alive."""
    me, them = create_user(), create_user()
    mine = Browser(app.test_client())
    mine.login(me.email)
    theirs = Browser(app.test_client())
    theirs.login(them.email)
    with app.app_context():
        their_id = db.session.scalar(select(UserSession.id).where(UserSession.user_id == them.id))
    assert mine.get(f"/account/sessions/{their_id}/end").status_code == 404
    assert mine.post(f"/account/sessions/{their_id}/end", page="/account/").status_code == 404
    assert mine.get("/account/sessions/99999999/end").status_code == 404
    assert not is_anonymous(theirs.client)


def test_log_out_everywhere_else(app, create_user):
    """Ending the other sessions keeps this one."""
    user = create_user()
    here, there = Browser(app.test_client()), Browser(app.test_client())
    here.login(user.email)
    there.login(user.email)
    assert here.post("/account/sessions/end-others").status_code == 303
    assert is_anonymous(there.client) and not is_anonymous(here.client)

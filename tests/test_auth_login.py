"""Login and logout (the skeleton's part of accounts)."""

from collections import Counter

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from csrn.audit.models import AuditEvent
from csrn.extensions import db
from tests.conftest import PASSWORD, Browser


def test_login_then_logout_with_post(client, create_user, app):
    """A user logs in at /login and out with a POST; the login is audited."""
    user = create_user(roles=("staff",))
    b = Browser(client)
    response = b.login(user.email)
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/logout").status_code == 405  # never a GET
    response = b.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'  # not "cookies": the device cookie stays
    assert client.get("/").status_code == 302
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)).all()
        assert "auth.login" in actions and "auth.logout" in actions


def test_cookie_replayed_after_logout_is_anonymous(app, create_user):
    """Logout ends the session on the server: an old cookie copied before logout no longer works (S2)."""
    user = create_user(roles=("staff",))
    first = app.test_client()
    Browser(first).login(user.email)
    cookie = first.get_cookie("csrn_session").value
    Browser(first).logout()
    replay = app.test_client()
    replay.set_cookie("csrn_session", cookie)
    assert replay.get("/").status_code == 302


def test_wrong_password_and_unknown_email_answer_alike(browser, create_user):
    """Same status and message whether or not the e-mail is known."""
    user = create_user(roles=("staff",))
    known = browser.post("/login", {"email": user.email, "password": "wrong password here"})
    unknown = browser.post("/login", {"email": "nobody@example.org", "password": "wrong password here"})
    assert known.status_code == unknown.status_code == 422
    for response in (known, unknown):
        assert "The e-mail address or password is not right." in response.get_data(as_text=True)


@pytest.fixture
def argon2_calls(monkeypatch) -> Counter:
    """Count argon2-cffi's hash() and verify() calls; each still does its real work."""
    calls = Counter()
    for name in ("hash", "verify"):
        original = getattr(PasswordHasher, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(PasswordHasher, name, counting)
    return calls


def test_known_and_unknown_emails_cost_one_argon2_verification_each(browser, create_user, argon2_calls):
    """A5: every failed login does exactly one argon2 verification and, after the first, no hashing.

    The work, not the time, is what is compared (a timing assertion would be flaky; bench/login_timing.py
    measures the time). The unknown e-mail verifies against one dummy hash made once per process.
    """
    known = create_user(roles=("staff",))
    invited = create_user(roles=("staff",), password=None)  # no password yet: nothing real to verify
    inactive = create_user(roles=("staff",), active=False)
    browser.post("/login", {"email": "first-ever@example.org", "password": "wrong password here"})
    attempts = {
        "unknown": "nobody@example.org",
        "another unknown": "nobody-else@example.org",
        "known, wrong password": known.email,
        "invited, no password yet": invited.email,
        "inactive": inactive.email,
    }
    for what, email in attempts.items():
        argon2_calls.clear()
        response = browser.post("/login", {"email": email, "password": "wrong password here"})
        assert response.status_code == 422, what
        assert argon2_calls == Counter(verify=1), f"{what}: {dict(argon2_calls)}"
    argon2_calls.clear()
    browser.login(known.email)
    assert argon2_calls == Counter(verify=1), "the right password (no rehash due)"


def test_inactive_user_cannot_log_in(browser, create_user):
    """A deactivated account is refused like a wrong password."""
    user = create_user(roles=("staff",), active=False)
    response = browser.post("/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 422 and "not right" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "//evil.example", "/\\evil.example", "https:evil.example",
     "%2F%2Fevil.example", "javascript:alert(1)"],
)
def test_next_only_leads_to_local_paths(browser, create_user, target):
    """?next= never leads off the site (A9)."""
    user = create_user(roles=("staff",))
    response = browser.post(f"/login?next={target}", {"email": user.email, "password": PASSWORD}, page="/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_local_path_is_followed(browser, create_user):
    """A local ?next= is honoured."""
    user = create_user(roles=("staff",))
    response = browser.post("/login?next=/agencies/", {"email": user.email, "password": PASSWORD}, page="/login")
    assert response.headers["Location"] == "/agencies/"


def test_login_page_says_demo_mode(client):
    """Without required two-factor the login page says so."""
    assert "Demo mode: two-factor is optional" in client.get("/login").get_data(as_text=True)


def test_new_session_at_login(app, create_user):
    """Whatever was in the session before login is gone after it."""
    user = create_user(roles=("staff",))
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    Browser(client).login(user.email)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_htmx_request_when_logged_out_gets_hx_redirect(client):
    """An htmx request without a session is told to go to the login page, not given a login form."""
    response = client.get("/agencies/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"
    assert "<form" not in response.get_data(as_text=True)


def test_the_login_form_masks_the_password_and_types_the_email(client):
    """The password input is a password input (never type="None", which browsers show as text)."""
    import re

    html = client.get("/login").get_data(as_text=True)
    password = re.search(r'<input[^>]*id="password"[^>]*>', html).group(0)
    email = re.search(r'<input[^>]*id="email"[^>]*>', html).group(0)
    assert 'type="password"' in password, password
    assert 'type="email"' in email, email
    assert '"None"' not in html

"""Device cookies (SECURITY A4, S1, HD1; issue 14 item 2): attackers rotating addresses lock out untrusted clients,
never the officer's own browser; the cookie logs nobody in; logout keeps it.

The attackers are test clients whose REMOTE_ADDR differs on every attempt, as an outside tester's many loopback
source addresses did.
"""

from __future__ import annotations

from itsdangerous import URLSafeSerializer

from csrn.auth.models import User
from csrn.extensions import db
from tests.conftest import PASSWORD, Browser, csrf_from

DEVICE = "csrn_device"
HOME = {"REMOTE_ADDR": "198.51.100.7"}  # the officer's usual address
FRESH = {"REMOTE_ADDR": "198.51.100.99"}  # a new browser at an address no attacker used


def attempt(b: Browser, email: str, password: str, environ: dict):
    """One login POST from this browser at this address (the CSRF token fetched from the same address)."""
    token_page = b.client.get("/login", environ_base=environ)
    return b.client.post("/login", data={"csrf_token": csrf_from(token_page.get_data(as_text=True)),
                                         "email": email, "password": password}, environ_base=environ)


def known_browser(app, email: str) -> Browser:
    """A browser that logged in to the account (so holds its device cookie), then logged out."""
    b = Browser(app.test_client())
    response = attempt(b, email, PASSWORD, HOME)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    b.client.post("/logout", data={"csrf_token": b.token("/")}, environ_base=HOME)
    assert b.client.get("/account/", environ_base=HOME).status_code == 302  # logged out
    assert b.client.get_cookie(DEVICE, path="/login") is not None
    return b


def rotate_attack(app, email: str, attempts: int = 40) -> None:
    """Wrong passwords for the account, each from a new address and a new browser (no cookie), as fast as allowed."""
    for number in range(attempts):
        address = {"REMOTE_ADDR": f"10.66.{number // 200}.{number % 200 + 1}"}
        response = attempt(Browser(app.test_client()), email, f"wrong guess number {number}", address)
        assert response.status_code in (422, 429), response.status_code


def test_after_a_rotating_attack_the_known_browser_still_logs_in_and_a_fresh_one_is_locked_out(app, create_user):
    """A4: forty wrong passwords from forty addresses hold the per-account limit down: a fresh browser, even with
    the right password from an address never used, is refused 429; the officer's browser from before logs in."""
    user = create_user()
    officer = known_browser(app, user.email)
    rotate_attack(app, user.email)
    refused = attempt(Browser(app.test_client()), user.email, PASSWORD, FRESH)
    assert refused.status_code == 429 and "Too many failed attempts" in refused.get_data(as_text=True)
    response = attempt(officer, user.email, PASSWORD, HOME)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert officer.client.get("/account/", environ_base=HOME).status_code == 200
    # From another address too: the cookie, not the address, is what the browser is known by.
    officer.client.post("/logout", data={"csrf_token": officer.token("/")})
    assert attempt(officer, user.email, PASSWORD, {"REMOTE_ADDR": "203.0.113.50"}).status_code == 302


def test_the_known_browser_has_its_own_limit_which_does_not_lock_out_anyone_else(app, create_user):
    """The device's six wrong passwords lock that browser (its 7th try, right, is refused) and count against
    nobody else: a fresh browser at the same address still logs in."""
    user = create_user()
    officer = known_browser(app, user.email)
    for _ in range(6):
        assert attempt(officer, user.email, "not my password at all", HOME).status_code == 422
    assert attempt(officer, user.email, PASSWORD, HOME).status_code == 429
    assert attempt(Browser(app.test_client()), user.email, PASSWORD, HOME).status_code == 302


def test_a_device_cookie_exempts_only_its_own_account(app, create_user):
    """A browser known to account A gets no exemption when it tries account B, which attackers locked out."""
    a, b = create_user(), create_user()
    browser = known_browser(app, a.email)
    rotate_attack(app, b.email)
    assert attempt(browser, b.email, PASSWORD, HOME).status_code == 429
    assert attempt(browser, a.email, PASSWORD, HOME).status_code == 302


def test_a_tampered_or_forged_device_cookie_counts_as_an_untrusted_browser(app, create_user):
    """A changed signature, or a cookie signed with another key, is ignored: the browser is locked out like any."""
    user = create_user()
    officer = known_browser(app, user.email)
    real = officer.client.get_cookie(DEVICE, path="/login").value
    rotate_attack(app, user.email)
    with app.app_context():
        user_id = db.session.scalar(User.by_email(user.email)).id
    forged = URLSafeSerializer("not-the-key", salt="csrn-device-cookie").dumps([[user_id, "nonce", 2_000_000_000]])
    for value in (real[:-2] + ("AA" if not real.endswith("AA") else "BB"), forged):
        intruder = Browser(app.test_client())
        intruder.client.set_cookie(DEVICE, value, path="/login")
        assert attempt(intruder, user.email, PASSWORD, FRESH).status_code == 429


def test_the_device_cookie_logs_nobody_in_and_is_httponly_strict_and_scoped_to_login(app, create_user):
    """S1: the cookie alone (no session) is anonymous; its flags: HttpOnly, SameSite=Strict, Path=/login, a year;
    Secure where the session cookie is."""
    user = create_user()
    b = Browser(app.test_client())
    response = attempt(b, user.email, PASSWORD, HOME)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{DEVICE}="))
    flags = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert {"httponly", "samesite=strict", "path=/login", "max-age=31536000"} <= set(flags)
    assert "secure" not in flags
    alone = app.test_client()
    alone.set_cookie(DEVICE, b.client.get_cookie(DEVICE, path="/login").value, path="/login")
    assert alone.get("/account/").status_code == 302
    assert alone.get("/login").status_code == 200  # the login form, not a session


def test_the_device_cookie_is_secure_where_the_session_cookie_is(app, create_user, monkeypatch):
    """Production sets SESSION_COOKIE_SECURE: the device cookie follows it."""
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    user = create_user()
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    # Over https Flask-WTF also checks the Referer is this site.
    response = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                           data={"csrf_token": csrf_from(page.get_data(as_text=True)), "email": user.email,
                                 "password": PASSWORD})
    assert response.status_code == 302
    device = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{DEVICE}="))
    assert "secure" in [part.strip().lower() for part in device.split(";")[1:]]


def test_logout_clears_cache_and_storage_expires_the_session_cookie_and_keeps_the_device_cookie(app, create_user):
    """HD1: Clear-Site-Data is "cache", "storage" (no "cookies"); the session cookie is expired by one Set-Cookie;
    the device cookie is neither cleared nor touched, and still serves the next login."""
    user = create_user()
    b = Browser(app.test_client())
    b.login(user.email)
    device_before = b.client.get_cookie(DEVICE, path="/login").value
    response = b.logout()
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    cookies = response.headers.getlist("Set-Cookie")
    session_cookies = [c for c in cookies if c.startswith("csrn_session=")]
    assert len(session_cookies) == 1
    assert session_cookies[0].startswith("csrn_session=;") and "Max-Age=0" in session_cookies[0]
    assert not any(c.startswith(f"{DEVICE}=") for c in cookies)
    assert b.client.get_cookie(DEVICE, path="/login").value == device_before
    assert b.client.get("/account/").status_code == 302

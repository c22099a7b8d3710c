"""SECURITY R10 and S1: production refuses unsafe settings; cookies, HSTS and key rotation."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from csrn import create_app
from csrn.config import (
    DEVELOPMENT_ENCRYPTION_KEY,
    DEVELOPMENT_SECRET_KEY,
    ROOT,
    ConfigurationError,
    DevelopmentConfig,
    load_config,
)
from csrn.config import TestConfig as _TestConfig
from tests.conftest import Browser

PROD_HOST = "csrn.example.org"
GOOD_SECRET = "s" * 20 + "-production-secret-key-0123456789"
ENV_NAMES = (
    "CSRN_ENV", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "CSRN_ENCRYPTION_KEY", "CSRN_BASE_URL",
    "TRUSTED_HOSTS", "DATABASE_URL", "CSRN_REQUIRE_2FA", "CSRN_PROXY_HOPS", "RATELIMIT_STORAGE_URI",
    "CSRN_SINGLE_PROCESS", "MAIL_SERVER",
)
SHARED_STORE = "redis://127.0.0.1:6379/0"  # only named: nothing here connects to it


def production_env(tmp_path, **overrides) -> dict[str, str]:
    """A complete, valid production environment (values overridable, None removes one)."""
    env = {
        "CSRN_ENV": "production",
        "SECRET_KEY": GOOD_SECRET,
        "CSRN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CSRN_BASE_URL": f"https://{PROD_HOST}",
        "TRUSTED_HOSTS": PROD_HOST,
        "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3",
        "RATELIMIT_STORAGE_URI": SHARED_STORE,
        "MAIL_SERVER": "smtp.example.org",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


@pytest.fixture
def set_env(monkeypatch):
    """Replace every CSRN setting in os.environ with exactly the given ones."""

    def apply(values: dict[str, str]) -> None:
        for name in ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply


# ----- load_config("production") refuses -----------------------------------------------------

@pytest.mark.parametrize("missing", ["SECRET_KEY", "CSRN_ENCRYPTION_KEY", "CSRN_BASE_URL", "TRUSTED_HOSTS"])
def test_production_refuses_a_missing_setting(set_env, tmp_path, missing):
    """Each of the four required settings, missing alone, stops production from starting."""
    set_env(production_env(tmp_path, **{missing: None}))
    with pytest.raises(ConfigurationError, match=missing):
        load_config("production")


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CSRN_ENCRYPTION_KEY", "CSRN_BASE_URL", "TRUSTED_HOSTS"])
def test_production_refuses_an_empty_setting(set_env, tmp_path, missing):
    """An empty value counts as missing."""
    set_env(production_env(tmp_path, **{missing: ""}))
    with pytest.raises(ConfigurationError, match=missing):
        load_config("production")


@pytest.mark.parametrize(
    "secret",
    ["short", "x" * 31, DEVELOPMENT_SECRET_KEY],
    ids=["short", "31-characters", "development-default"],
)
def test_production_refuses_a_weak_or_default_secret_key(set_env, tmp_path, secret):
    """SECRET_KEY needs 32+ characters and must not be the development default."""
    set_env(production_env(tmp_path, SECRET_KEY=secret))
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_config("production")


@pytest.mark.parametrize(
    "keys",
    [DEVELOPMENT_ENCRYPTION_KEY, "{new}," + DEVELOPMENT_ENCRYPTION_KEY, "{new} , " + DEVELOPMENT_ENCRYPTION_KEY],
    ids=["alone", "as-old-key", "with-spaces"],
)
def test_production_refuses_the_development_encryption_key(set_env, tmp_path, keys):
    """The fixed development encryption key is refused, even as an old key kept for rotation."""
    set_env(production_env(tmp_path, CSRN_ENCRYPTION_KEY=keys.format(new=Fernet.generate_key().decode())))
    with pytest.raises(ConfigurationError, match="CSRN_ENCRYPTION_KEY"):
        load_config("production")


@pytest.mark.parametrize(
    "keys",
    ["not-a-fernet-key", "{new},not-a-fernet-key", "x" * 44, "{new}," + "A" * 43],
    ids=["garbage", "garbage-as-old-key", "44-characters-not-base64", "43-characters"],
)
def test_production_refuses_an_encryption_key_that_is_not_a_fernet_key(set_env, tmp_path, keys):
    """R10: every CSRN_ENCRYPTION_KEY entry must be a Fernet key, found at start-up, not at the first write;
    the message never repeats the key."""
    set_env(production_env(tmp_path, CSRN_ENCRYPTION_KEY=keys.format(new=Fernet.generate_key().decode())))
    with pytest.raises(ConfigurationError, match="CSRN_ENCRYPTION_KEY: key . of . is not a Fernet key") as raised:
        load_config("production")
    assert "not-a-fernet-key" not in str(raised.value) and "AAAA" not in str(raised.value)


@pytest.mark.parametrize("fallbacks", [DEVELOPMENT_SECRET_KEY, "r" * 40 + "," + DEVELOPMENT_SECRET_KEY],
                         ids=["alone", "among-others"])
def test_production_refuses_the_development_key_among_the_secret_key_fallbacks(set_env, tmp_path, fallbacks):
    """R10: a cookie signed with the published development key must not be accepted as a retired key's."""
    set_env(production_env(tmp_path, SECRET_KEY_FALLBACKS=fallbacks))
    with pytest.raises(ConfigurationError, match="SECRET_KEY_FALLBACKS"):
        load_config("production")


@pytest.mark.parametrize("store", [None, "", "memory://"], ids=["unset", "empty", "memory"])
def test_production_refuses_a_per_process_rate_limit_store_unless_one_process_is_declared(set_env, tmp_path, store):
    """A4: with memory:// each worker counts attempts alone, so production needs a shared store, unless
    CSRN_SINGLE_PROCESS=1 says one process serves everything (a shared store needs no declaration)."""
    set_env(production_env(tmp_path, RATELIMIT_STORAGE_URI=store))
    with pytest.raises(ConfigurationError, match="RATELIMIT_STORAGE_URI.*CSRN_SINGLE_PROCESS=1"):
        load_config("production")
    set_env(production_env(tmp_path, RATELIMIT_STORAGE_URI=store, CSRN_SINGLE_PROCESS="1"))
    assert load_config("production").RATELIMIT_STORAGE_URI == "memory://"
    set_env(production_env(tmp_path))
    assert load_config("production").RATELIMIT_STORAGE_URI == SHARED_STORE


def test_production_without_a_mail_server_starts_with_a_warning(set_env, tmp_path, caplog):
    """With no MAIL_SERVER production starts, but says in its log that no mail will reach anyone."""
    set_env(production_env(tmp_path, MAIL_SERVER=None))
    with caplog.at_level(logging.WARNING, logger="csrn.config"):
        load_config("production")
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "No MAIL_SERVER is configured" in caplog.records[0].getMessage()
    caplog.clear()
    set_env(production_env(tmp_path))
    with caplog.at_level(logging.WARNING, logger="csrn.config"):
        load_config("production")
    assert not caplog.records


def test_production_refuses_a_plain_http_base_url(set_env, tmp_path):
    """Links sent by e-mail must be https in production."""
    set_env(production_env(tmp_path, CSRN_BASE_URL=f"http://{PROD_HOST}"))
    with pytest.raises(ConfigurationError, match="CSRN_BASE_URL"):
        load_config("production")


def test_unknown_environment_is_refused(set_env):
    """A typo in CSRN_ENV does not silently fall back to development."""
    set_env({"CSRN_ENV": "prod"})
    with pytest.raises(ConfigurationError, match="CSRN_ENV"):
        load_config()


def test_production_accepts_a_complete_environment(set_env, tmp_path):
    """With everything set, production loads with Secure cookies, HSTS and required 2FA."""
    set_env(production_env(tmp_path, CSRN_REQUIRE_2FA="false"))
    config = load_config()
    assert config.CSRN_ENV == "production"
    assert config.SESSION_COOKIE_SECURE is True
    assert config.HSTS is True
    assert config.CSRN_REQUIRE_2FA is True  # not something an environment variable can turn off
    assert config.TRUSTED_HOSTS == [PROD_HOST]


# ----- importing `app` the way gunicorn does ---------------------------------------------------

def _import_app(env: dict[str, str], code: str = "import app") -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in ENV_NAMES}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_importing_app_in_production_without_secret_key_fails(tmp_path):
    """`gunicorn app:app` with CSRN_ENV=production and no SECRET_KEY does not start."""
    result = _import_app(production_env(tmp_path, SECRET_KEY=None))
    assert result.returncode != 0
    assert "ConfigurationError" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_importing_app_in_production_with_the_memory_limit_store_fails(tmp_path):
    """`gunicorn app:app` in production with the default memory:// rate-limit store does not start (A4)."""
    result = _import_app(production_env(tmp_path, RATELIMIT_STORAGE_URI=None))
    assert result.returncode != 0
    assert "ConfigurationError" in result.stderr
    assert "RATELIMIT_STORAGE_URI" in result.stderr


def test_importing_app_in_production_with_everything_set_starts(tmp_path):
    """With every setting, the app imports and answers with HSTS and production flags."""
    code = (
        "import app\n"
        "a = app.app\n"
        f"r = a.test_client().get('/healthz', base_url='https://{PROD_HOST}')\n"
        "print(r.status_code, a.config['SESSION_COOKIE_SECURE'], a.config['CSRN_REQUIRE_2FA'],"
        " a.config['CSRN_ENV'])\n"
        "print(r.headers.get('Strict-Transport-Security'))\n"
    )
    result = _import_app(production_env(tmp_path), code)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()[-2:]
    assert first == "200 True True production"
    assert second.startswith("max-age=")


# ----- the running app: cookies, HSTS, trusted hosts -------------------------------------------

def _app_on(database_url, config):
    config.SQLALCHEMY_DATABASE_URI = database_url
    return create_app(config)


def _session_cookie_header(app, base_url: str) -> str:
    response = app.test_client().get("/login", base_url=base_url)
    assert response.status_code == 200
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("csrn_session=")]
    assert cookies, "the login page sets the session cookie (it holds the CSRF token)"
    return cookies[0]


def test_production_app_sends_secure_cookies_and_hsts(set_env, tmp_path, database_url):
    """Production: Secure, HttpOnly, SameSite=Lax session cookie and HSTS on every response."""
    set_env(production_env(tmp_path))
    app = _app_on(database_url, load_config())
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["CSRN_REQUIRE_2FA"] is True
    cookie = _session_cookie_header(app, f"https://{PROD_HOST}")
    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    client = app.test_client()
    for path in ("/healthz", "/login", "/no-such-page"):
        response = client.get(path, base_url=f"https://{PROD_HOST}")
        assert response.headers.get("Strict-Transport-Security", "").startswith("max-age="), path
    # Only the configured host is served.
    assert client.get("/healthz", base_url="https://evil.example").status_code == 400


def test_development_cookies_are_not_secure(set_env, database_url):
    """Development serves plain http: a Secure cookie would never come back and login would fail."""
    set_env({})
    app = _app_on(database_url, DevelopmentConfig())
    assert app.config["CSRN_ENV"] == "development"
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["CSRN_REQUIRE_2FA"] is False
    cookie = _session_cookie_header(app, "http://127.0.0.1:5000")
    assert "Secure" not in cookie
    assert "; HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    response = app.test_client().get("/healthz", base_url="http://127.0.0.1:5000")
    assert "Strict-Transport-Security" not in response.headers


def test_test_config_is_not_production_like(app):
    """The suite itself runs with ordinary cookies and without HSTS."""
    assert app.config["CSRN_ENV"] == "test"
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["HSTS"] is False


# ----- SECRET_KEY rotation ---------------------------------------------------------------------

OLD_KEY = "old-secret-key-" + "o" * 40
NEW_KEY = "new-secret-key-" + "n" * 40


def _app_with_keys(set_env, database_url, secret: str, fallbacks: str = ""):
    set_env({"SECRET_KEY": secret, "SECRET_KEY_FALLBACKS": fallbacks} if fallbacks else {"SECRET_KEY": secret})
    return _app_on(database_url, _TestConfig())


def test_secret_key_fallbacks_keep_sessions_alive_through_rotation(set_env, database_url, create_user):
    """A session signed with the old key still works after rotation when the old key is a fallback."""
    user = create_user(roles=("staff",))
    old_app = _app_with_keys(set_env, database_url, OLD_KEY)
    browser = Browser(old_app.test_client())
    browser.login(user.email)
    assert browser.get("/agencies/").status_code == 200
    cookie = browser.client.get_cookie("csrn_session").value

    rotated = _app_with_keys(set_env, database_url, NEW_KEY, fallbacks=OLD_KEY)
    assert rotated.config["SECRET_KEY_FALLBACKS"] == [OLD_KEY]
    client = rotated.test_client()
    client.set_cookie("csrn_session", cookie)
    assert client.get("/agencies/").status_code == 200

    # Without the fallback the old cookie is worthless: the visitor is anonymous.
    plain = _app_with_keys(set_env, database_url, NEW_KEY)
    client = plain.test_client()
    client.set_cookie("csrn_session", cookie)
    response = client.get("/agencies/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")

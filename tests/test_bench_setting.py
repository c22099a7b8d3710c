"""The load harness's pass through the rate limits (BENCH_UNLIMITED_USERS): production refuses it, and elsewhere it
lets only the listed users through, the limits staying on for everyone else."""

from __future__ import annotations

import pytest

from csrn.config import ConfigurationError, load_config
from tests.conftest import PASSWORD, Browser, csrf_from
from tests.test_config import production_env

LOGIN_LIMIT = 30  # csrn/auth/views.py: "30 per minute" on POST /login, per address
INTAKE_LIMIT = 60  # csrn/intake/views.py: "60 per minute" on POST /intake/new, per address


@pytest.fixture
def set_env(monkeypatch):
    """Replace the environment's CSRN settings with exactly the given ones (test_config's fixture, plus this one)."""
    from tests.test_config import ENV_NAMES

    def apply(values: dict[str, str]) -> None:
        for name in (*ENV_NAMES, "BENCH_UNLIMITED_USERS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply


def test_production_refuses_the_bench_setting(set_env, tmp_path):
    """A production environment that is valid in every other way does not start with the setting present."""
    set_env(production_env(tmp_path))
    load_config("production")  # the environment alone is valid
    set_env(production_env(tmp_path, BENCH_UNLIMITED_USERS="bench-sender-1@example.org"))
    with pytest.raises(ConfigurationError, match="BENCH_UNLIMITED_USERS"):
        load_config("production")


def test_development_reads_the_bench_setting_as_lower_case_addresses(set_env):
    """Development accepts the setting: a comma-separated list of e-mail addresses."""
    set_env({"CSRN_ENV": "development", "BENCH_UNLIMITED_USERS": " Bench-One@Example.org, bench-two@example.org ,"})
    assert load_config().BENCH_UNLIMITED_USERS == ["bench-one@example.org", "bench-two@example.org"]


def test_unset_the_bench_setting_lists_nobody(set_env):
    """Without the variable nobody passes the limits."""
    set_env({"CSRN_ENV": "development"})
    assert load_config().BENCH_UNLIMITED_USERS == []


@pytest.fixture
def bench_user(app, create_user, monkeypatch):
    """A user named in BENCH_UNLIMITED_USERS (in mixed case, as someone might type it), and another who is not."""
    listed = create_user(roles=("case_manager",))
    other = create_user(roles=("case_manager",))
    monkeypatch.setitem(app.config, "BENCH_UNLIMITED_USERS", [listed.email.upper()])
    return listed, other


def _login_posts(app, email: str, times: int) -> list[int]:
    """POST the real login form `times` times from one address (one fresh browser each), answering the statuses."""
    statuses = []
    for _ in range(times):
        client = app.test_client()
        token = csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
        statuses.append(response.status_code)
    return statuses


def test_the_listed_user_logs_in_past_the_login_limit_and_another_user_is_still_limited(app, bench_user):
    """One more login than the limit allows: the listed user gets in every time; then another user, from the same
    address, is refused (the address used up its logins: the bench user's did not count, or the other's would not
    have reached the limit first)."""
    listed, other = bench_user
    assert _login_posts(app, listed.email, LOGIN_LIMIT + 1) == [302] * (LOGIN_LIMIT + 1)
    statuses = _login_posts(app, other.email, LOGIN_LIMIT + 1)
    assert statuses[:LOGIN_LIMIT] == [302] * LOGIN_LIMIT
    assert statuses[LOGIN_LIMIT] == 429


def _intake_posts(app, email: str, times: int) -> list[int]:
    """Log in through the form, then POST step 1 of a new intake `times` times (left empty: answered 422)."""
    browser = Browser(app.test_client())
    browser.login(email)
    token = csrf_from(browser.get("/intake/new").get_data(as_text=True))
    return [browser.client.post("/intake/new", data={"csrf_token": token}).status_code for _ in range(times)]


def test_the_listed_user_passes_the_intake_form_limit_and_another_user_is_still_limited(app, bench_user):
    """Past the intake form's limit the listed user's submissions are still answered (422: the form is empty), while
    another user's, from the same address, are refused with 429."""
    listed, other = bench_user
    assert set(_intake_posts(app, listed.email, INTAKE_LIMIT + 1)) == {422}
    statuses = _intake_posts(app, other.email, INTAKE_LIMIT + 1)
    assert set(statuses[:INTAKE_LIMIT]) == {422}
    assert statuses[INTAKE_LIMIT] == 429


def test_without_the_setting_the_same_user_is_limited(app, create_user):
    """The limits themselves are on in this suite: the listed user's own pass is the setting, nothing else."""
    user = create_user(roles=("case_manager",))
    assert _login_posts(app, user.email, LOGIN_LIMIT + 1)[LOGIN_LIMIT] == 429

"""Browser tests: a live server on a database of its own, driven in Debian's chromium by Playwright."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from flask import Blueprint, abort, render_template_string
from werkzeug.serving import make_server

from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from tests.conftest import build_app, task_force_today

DEMO_PASSWORD = "demo password for browser tests"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    """Mark every browser test `e2e`; skip them (visibly) where they cannot run, fail under CI."""
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    reason = None
    if os.environ.get("TEST_DATABASE_URL"):
        reason = "browser tests run in the SQLite pass only"
    elif not os.path.exists(chromium) and os.environ.get("CI") != "true":
        reason = f"chromium not found at {chromium} (set CHROMIUM_PATH); under CI=true this fails"
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


# A test-only page with htmx requests that fail, to prove errors are shown (SECURITY H6).
probe = Blueprint("e2e_probe", __name__)


@probe.get("/__e2e__/errors")
def errors_page():
    """A page whose buttons make htmx requests answering 500 and 503."""
    return render_template_string(
        '{% extends "base.html" %}{% block content %}<h1>Error probe</h1>'
        '<div id="target">unchanged</div>'
        '<form method="post" action="/__e2e__/boom"><button id="boom" hx-post="/__e2e__/boom" '
        'hx-target="#target">Fail with 500</button></form>{% endblock %}'
    )


@probe.post("/__e2e__/boom")
def boom():
    """Fail like a bug would."""
    abort(500)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """A migrated, demo-seeded app on a database of its own, for the live server."""
    from csrn.demo import seed

    path = tmp_path_factory.mktemp("e2e") / "e2e.sqlite3"
    app = build_app(f"sqlite:///{path}")
    app.register_blueprint(probe)  # the probe pages still need a login
    with app.app_context(), app.test_request_context("/"):
        seed(password=DEMO_PASSWORD, force=False, now=utcnow())
        db.session.remove()
    return app


@pytest.fixture
def today(live_app):
    """The live app's calendar date in the task force's zone (never the machine's date)."""
    return task_force_today(live_app)


@pytest.fixture(scope="session")
def live_server(live_app):
    """Serve the live app on a free port in a background thread."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, launched headless through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser context and page (phone-sized when a test asks for it)."""
    context = chromium.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


# A foreign national who speaks Vietnamese, consenting to share her alias with onward providers.
PERSON = {"urgency": "routine", "county": "Alder", "age_group": "25_plus", "gender": "female",
          "citizenship": "foreign", "trafficking_type": "labour", "languages": ["vi"],
          "needs": ["case_management", "immigration_legal", "interpretation"], "consent": "yes",
          "consent_how": "verbal", "consent_with": ["receiver", "onward"], "consent_categories": ["identity"],
          "alias": "E2E person"}


def new_referral_to_safe_harbor(live_app) -> int:
    """An officer's intake sent to Safe Harbor (the demo case manager's agency), through the real submit."""
    with live_app.app_context(), live_app.test_request_context("/"):
        officer = db.session.scalar(User.by_email("officer@demo.example"))
        receiver = db.session.scalar(User.by_email("casemanager@demo.example")).agency_id
        now = utcnow()
        draft = intake_ops.start_draft(officer, {}, now)
        intake_ops.save_draft(draft, {**PERSON, "consent_date": now.date().isoformat(), "receiver": receiver}, 5, now)
        referral_id = intake_ops.submit(officer, draft, draft.submission_key, now).id
        db.session.remove()
    return referral_id


def login(page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real login form."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/")


def nav_link(page, label: str):
    """A link of the header, as a person reaches it: in view, or in the menu that holds it (opened by a click), or
    behind Menu on a phone."""
    link = page.locator(f"header nav a:visible:text-is('{label}')")
    if link.count():
        return link.first
    narrow = page.locator("header .nav-narrow summary:visible")
    if narrow.count():
        narrow.first.click()
    else:
        for summary in page.locator("header .nav-wide summary:visible").all():
            summary.click()
            if page.locator(f"header nav a:visible:text-is('{label}')").count():
                break
            summary.click()  # close it again
    return page.locator(f"header nav a:visible:text-is('{label}')").first


def log_out(page) -> None:
    """Log out from the account menu (or Menu on a phone)."""
    button = page.locator("header nav button:visible:text-is('Log out')")
    if not button.count():
        page.locator("header summary:visible").last.click()
    page.locator("header nav button:visible:text-is('Log out')").first.click()
    page.wait_for_url("**/login")


def screenshot(page, name: str) -> Path:
    """Save a screenshot under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target

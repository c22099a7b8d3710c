"""Pro bono volunteers (issue 9): the public application and its spam protection, the private status link,
the chairs' vetting board and checklists, approval into the network, and expiry and renewal.

Real database, real requests through the test client, real SMTP for the one mail test. The views read the
wall clock, so view tests work in dates relative to `utcnow()`; operations tests pass their own `now`.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from itsdangerous import URLSafeTimedSerializer
from markupsafe import escape
from sqlalchemy import func, select

from csrn.agencies.models import Agency, Certificate, TrainingCourse
from csrn.agencies.operations import add_months, local_date
from csrn.auth.models import AuthToken, User
from csrn.clock import utcnow
from csrn.directory.models import Service, ServiceType
from csrn.directory.receiving import can_receive_referrals
from csrn.extensions import db
from csrn.intake import matching
from csrn.intake import operations as intake_ops
from csrn.notify.models import Notification, OutboxMessage
from csrn.volunteers import operations as ops
from csrn.volunteers.models import VettingItem, VolunteerApplication, VolunteerEvent
from tests.conftest import NOW, Browser, csrf_from, stored_files, task_force_today

HX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
HTML_AS_PDF = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
OTHER_ADDRESS = {"REMOTE_ADDR": "203.0.113.77"}
STATUS_PATH = re.compile(r"^/volunteer/status/([A-Za-z0-9_-]{43})$")
STATUS_LINK = re.compile(r"http://localhost/volunteer/status/([A-Za-z0-9_-]+)")
CSRF_VALUES = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+|("X-CSRFToken": ")[^"]+')
NON_CHAIRS = [("staff",), ("case_manager",), ("agency_admin",), ("admin",), ("volunteer",),
              ("staff", "case_manager", "agency_admin", "admin")]
ATTORNEY_ITEMS = ["identity", "licence", "background_check", "references", "core_training", "trauma_training",
                  "confidentiality", "interview"]
XSS_PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}"]
FREE_TEXT_FIELDS = ("name", "phone", "profession_other", "licence_number", "licence_jurisdiction", "language_pairs",
                    "availability", "reference1_name", "reference1_contact", "reference2_name", "reference2_contact")


MISSING = object()  # a `started` stamp left out of the post altogether


# ----- building applications -------------------------------------------------------------------------

def form_data(**overrides) -> dict:
    """A right application from an attorney, as the public form posts it."""
    data = {
        "name": "Ada Lawson",
        "email": f"ada-{uuid.uuid4().hex[:8]}@example.org",
        "phone": "555-0100",
        "profession": "attorney",
        "profession_other": "",
        "licence_number": "BAR-778812",
        "licence_jurisdiction": "State Bar of Alder",
        "languages": ["en", "es"],
        "language_pairs": "",
        "practice_areas": ["immigration", "family_law"],
        "hours_per_month": "6",
        "availability": "Weekday evenings",
        "reference1_name": "Judge Rivera",
        "reference1_contact": "rivera@example.org",
        "reference2_name": "Pat Moreno",
        "reference2_contact": "555-0199",
        "background_check_consent": "y",
        "confidentiality_acknowledged": "y",
    }
    data.update(overrides)
    return data


def values(**overrides) -> dict:
    """The same application as `submit_application` takes it (typed values)."""
    result = {
        "name": "Ada Lawson", "email": f"ada-{uuid.uuid4().hex[:8]}@example.org", "phone": "555-0100",
        "profession": "attorney", "profession_other": "", "licence_number": "BAR-778812",
        "licence_jurisdiction": "State Bar of Alder", "languages": ["en", "es"], "language_pairs": "",
        "practice_areas": ["immigration"], "hours_per_month": 6, "availability": "Weekday evenings",
        "reference1_name": "Judge Rivera", "reference1_contact": "rivera@example.org",
        "reference2_name": "Pat Moreno", "reference2_contact": "555-0199",
        "background_check_consent": True, "confidentiality_acknowledged": True,
    }
    result.update(overrides)
    return result


def send_application(client, data, environ_base=None, headers=None, started=None):
    """Open the public form like a browser (CSRF token, time stamp), then post the answers."""
    environ_base = environ_base or {}
    page = client.get("/volunteer/apply", environ_base=environ_base)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    stamp = re.search(r'name="started" type="hidden" value="([^"]*)"', html).group(1)
    payload = {"csrf_token": csrf_from(html), "started": stamp if started is None else started, **data}
    if started is MISSING:
        del payload["started"]
    return client.post("/volunteer/apply", data=payload, environ_base=environ_base, headers=headers or {})


def token_of(response) -> str:
    """The raw token of the status link a successful application redirects to."""
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    match = STATUS_PATH.match(response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


@pytest.fixture
def submit(app):
    """Return a function that files an application through the operation; returns (id, raw token)."""

    def factory(at=None, **overrides):
        with app.app_context():
            submitted = ops.submit_application(values(**overrides), at or utcnow())
            result = submitted.application.id, submitted.raw_token
            db.session.remove()
            return result

    return factory


@dataclass
class Courses:
    core: int
    trauma: int


@pytest.fixture
def courses(app) -> Courses:
    """A core course valid 24 months and a trauma-informed (not core) course valid 12 months."""
    with app.app_context():
        core = TrainingCourse(name=f"Core trafficking {uuid.uuid4().hex[:6]}", hours=8, valid_months=24,
                              is_core=True, active=True, created_at=NOW)
        trauma = TrainingCourse(name=f"Trauma-informed care {uuid.uuid4().hex[:6]}", hours=4, valid_months=12,
                                is_core=False, active=True, created_at=NOW)
        db.session.add_all([core, trauma])
        db.session.commit()
        result = Courses(core.id, trauma.id)
        db.session.remove()
        return result


@pytest.fixture
def chair(create_user):
    """A chair account (operations tests act as it)."""
    return create_user(roles=("chair",))


# ----- acting as a chair through the operations ----------------------------------------------------------

def vet(app, application_id, chair_id, now, courses: Courses, expiries=None, skip=(), done_on=None):
    """Record every checklist item (but `skip`) as done, training with the courses, expiring as given."""
    expiries = expiries or {}
    with app.app_context():
        actor = db.session.get(User, chair_id)
        application = db.session.get(VolunteerApplication, application_id)
        for item in application.items:
            if item.code in skip:
                continue
            course_id = {"core": courses.core, "any": courses.trauma}.get(item.course_kind)
            ops.record_item(actor, application, item, {
                "done_on": done_on or local_date(now) - timedelta(days=1), "notes": f"checked {item.code}",
                "expires_on": expiries.get(item.code), "course_id": course_id,
            }, None, now)
        db.session.remove()


def move(app, application_id, chair_id, to_status, now, reason="", service_type_id=None):
    """A chair moves the application (the operation, with the current version)."""
    with app.app_context():
        actor = db.session.get(User, chair_id)
        application = db.session.get(VolunteerApplication, application_id)
        ops.change_status(actor, application, to_status, reason, application.version, now,
                          service_type_id=service_type_id)
        db.session.remove()


def approve(app, application_id, chair_id, now, courses, expiries=None):
    """Vet every item, review and approve."""
    vet(app, application_id, chair_id, now, courses, expiries=expiries)
    move(app, application_id, chair_id, "in_review", now)
    move(app, application_id, chair_id, "approved", now)


# ----- reading what happened ---------------------------------------------------------------------------

def application_row(app, application_id) -> dict:
    with app.app_context():
        a = db.session.get(VolunteerApplication, application_id)
        row = {column.name: getattr(a, column.key) for column in VolunteerApplication.__table__.columns}
        db.session.remove()
        return row


def all_applications(app) -> list[dict]:
    with app.app_context():
        rows = [{"id": a.id, "email": a.email, "status": a.status, "name": a.name, "agency_id": a.agency_id,
                 "user_id": a.user_id, "fingerprint": a.fingerprint, "items": [i.code for i in a.items],
                 "status_token_hash": a.status_token_hash, "profession": a.profession}
                for a in db.session.scalars(select(VolunteerApplication).order_by(VolunteerApplication.id))]
        db.session.remove()
        return rows


def items_of(app, application_id) -> dict[str, dict]:
    """The checklist by item code."""
    with app.app_context():
        result = {
            item.code: {"id": item.id, "done_on": item.done_on, "notes": item.notes, "expires_on": item.expires_on,
                        "course_id": item.course_id, "file_name": item.file_name, "done_by_id": item.done_by_id,
                        "file_original_name": item.file_original_name, "reminded_for": item.reminded_for}
            for item in db.session.scalars(select(VettingItem).where(VettingItem.application_id == application_id)
                                           .order_by(VettingItem.sort_order))
        }
        db.session.remove()
        return result


def mail_to(app, address) -> list[tuple[str, str]]:
    """(subject, body) of the outbox messages to an address, oldest first."""
    with app.app_context():
        rows = [(m.subject, m.body) for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_addr == address).order_by(OutboxMessage.id))]
        db.session.remove()
        return rows


def notifications_of(app, user_id) -> list[tuple[str, str]]:
    with app.app_context():
        rows = [(n.text, n.link) for n in db.session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id))]
        db.session.remove()
        return rows


def counts(app) -> dict[str, int]:
    """Rows that an application or an approval creates."""
    with app.app_context():
        result = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                  for model in (VolunteerApplication, VettingItem, User, Agency, Service, Certificate, OutboxMessage,
                                Notification, AuthToken)}
        db.session.remove()
        return result


def receivable(app, application_id, at, service_code=None) -> bool:
    """can_receive_referrals for the volunteer's one-person provider at time `at`."""
    with app.app_context():
        application = db.session.get(VolunteerApplication, application_id)
        agency = db.session.get(Agency, application.agency_id)
        service_type_id = application.service_type_id
        if service_code:
            service_type_id = db.session.scalar(select(ServiceType.id).where(ServiceType.code == service_code))
        result = can_receive_referrals(agency, service_type_id, at)
        db.session.remove()
        return result


def statuses_on_board(html: str) -> dict[str, int]:
    """The count shown in each column heading of the board."""
    return {status: int(count) for status, count in
            re.findall(r'<h2 id="col-(\w+)">[^<]*<span class="[^"]*count[^"]*">(\d+)</span>', html)}


def card_names(html: str) -> set[str]:
    return set(re.findall(r'<h3><a href="/volunteers/\d+">([^<]*)</a></h3>', html))


def without_csrf(html: str) -> str:
    return CSRF_VALUES.sub(lambda m: (m.group(1) or m.group(2)) + "TOKEN", html)


# ----- the public form: GET, validation, a right application -------------------------------------------

def test_the_form_opens_without_an_account(client):
    """GET /volunteer/apply works anonymously and asks every question of the issue."""
    response = client.get("/volunteer/apply")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("name", "email", "phone", "profession", "licence_number", "licence_jurisdiction", "languages",
                 "language_pairs", "practice_areas", "hours_per_month", "availability", "reference1_name",
                 "reference1_contact", "reference2_name", "reference2_contact", "background_check_consent",
                 "confidentiality_acknowledged"):
        assert f'name="{name}"' in html, name
    for profession in ("attorney", "physician", "dentist", "nurse", "mental_health", "interpreter", "other"):
        assert f'name="profession" required type="radio" value="{profession}"' in html


def test_an_application_with_every_field_wrong_says_what_for_each_and_keeps_the_answers(app, client):
    """422, one message per field (summary linking to it), every typed answer still there, nothing created."""
    before = counts(app)
    response = send_application(client, {
        "name": "", "email": "not-an-email", "phone": "", "profession": "", "profession_other": "",
        "licence_number": "BAR-KEPT-1", "licence_jurisdiction": "Jurisdiction kept", "languages": ["bn"],
        "language_pairs": "Bengali to English kept", "practice_areas": ["housing_law"], "hours_per_month": "999",
        "availability": "Availability kept", "reference1_name": "", "reference1_contact": "", "reference2_name": "",
        "reference2_contact": "",
    })
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    messages = {
        "name": "Enter your full name.",
        "email": "Enter an e-mail address like name@example.org",
        "phone": "Enter a phone number we can reach you on.",
        "profession": "Choose your profession.",
        "hours_per_month": "Enter a number of hours from 1 to 200.",
        "reference1_name": "Name a first reference.",
        "reference1_contact": "Say how to reach your first reference.",
        "reference2_name": "Name a second reference.",
        "reference2_contact": "Say how to reach your second reference.",
        "background_check_consent": "Every volunteer is background checked; tick to consent.",
        "confidentiality_acknowledged": "Tick to acknowledge the confidentiality expectations.",
    }
    assert "There is a problem" in html
    for field, message in messages.items():
        assert message in html, field
        assert f'href="#{field}"' in html, field
    assert 'value="not-an-email"' in html
    assert 'value="999"' in html
    assert 'value="BAR-KEPT-1"' in html and 'value="Jurisdiction kept"' in html
    assert re.search(r">\s*Bengali to English kept</textarea>", html)
    assert re.search(r">\s*Availability kept</textarea>", html)
    assert re.search(r'<input checked id="languages-\d+" name="languages" type="checkbox" value="bn">', html)
    assert re.search(r'<input checked id="practice_areas-\d+" name="practice_areas" type="checkbox" '
                     r'value="housing_law">', html)
    assert counts(app) == before


@pytest.mark.parametrize("profession", ["attorney", "physician", "dentist", "nurse", "mental_health"])
def test_licensed_professions_need_a_licence_number_and_jurisdiction(app, client, profession):
    """Without licence number and jurisdiction a licensed professional is refused, the choice kept."""
    response = send_application(client, form_data(profession=profession, licence_number="", licence_jurisdiction=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter your licence or bar number: it is required for your profession." in html
    assert "Enter your licensing jurisdiction: it is required for your profession." in html
    assert re.search(rf'<input checked id="profession-\d" name="profession" required type="radio" '
                     rf'value="{profession}">', html)
    assert all_applications(app) == []
    # With both given, the same answers go through.
    response = send_application(app.test_client(), form_data(profession=profession))
    assert response.status_code == 303


def test_interpreters_need_language_pairs_and_two_languages(app, client):
    """An interpreter with one language and no pairs gets both messages; with them, no licence is asked."""
    response = send_application(client, form_data(profession="interpreter", languages=["es"], language_pairs="",
                                                  licence_number="", licence_jurisdiction=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the language pairs you work in." in html
    assert "Tick at least the two languages you interpret." in html
    assert "it is required for your profession" not in html
    assert all_applications(app) == []
    response = send_application(client, form_data(profession="interpreter", languages=["es", "en"],
                                                  language_pairs="Spanish ↔ English", licence_number="",
                                                  licence_jurisdiction=""))
    assert response.status_code == 303


def test_other_needs_the_profession_named(app, client):
    """"Other" without saying what is refused; named, it goes through without a licence."""
    response = send_application(client, form_data(profession="other", profession_other="", licence_number="",
                                                  licence_jurisdiction=""))
    assert response.status_code == 422
    assert "Say what your profession is." in response.get_data(as_text=True)
    assert all_applications(app) == []
    response = send_application(client, form_data(profession="other", profession_other="Social worker",
                                                  licence_number="", licence_jurisdiction=""))
    assert response.status_code == 303


def test_a_right_application_is_received_with_its_checklist_link_mail_and_chair_notification(app, client,
                                                                                           create_user):
    """303 to /volunteer/status/<token>; one application with the attorney checklist; the link by mail
    (token stored hashed); chairs told in the app, not by e-mail; the status page shows it."""
    chair = create_user(roles=("chair",))
    data = form_data()
    response = send_application(client, data)
    token = token_of(response)
    rows = all_applications(app)
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "applied" and row["email"] == data["email"] and row["profession"] == "attorney"
    assert row["items"] == ATTORNEY_ITEMS
    assert row["status_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(application_row(app, row["id"]))
    full = application_row(app, row["id"])
    assert full["languages"] == "en es" and full["practice_areas"] == "immigration family_law"
    assert full["hours_per_month"] == 6 and full["background_check_consent"] is True
    mails = mail_to(app, data["email"])
    assert len(mails) == 1
    assert f"http://localhost/volunteer/status/{token}" in mails[0][1]
    assert notifications_of(app, chair.id) == [("A new pro bono volunteer application arrived.",
                                                f"/volunteers/{row['id']}")]
    assert mail_to(app, chair.email) == []
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "your application was received" in html and "Applied" in html


@pytest.mark.parametrize(("profession", "extra", "has_licence", "has_language"), [
    ("attorney", {}, True, False),
    ("interpreter", {"languages": ["es", "en"], "language_pairs": "Spanish ↔ English"}, False, True),
    ("other", {"profession_other": "Social worker"}, False, False),
])
def test_the_checklist_follows_the_profession(app, client, profession, extra, has_licence, has_language):
    """Licence check for licensed professions, language assessment for interpreters, neither for others."""
    token_of(send_application(client, form_data(profession=profession, **extra)))
    codes = all_applications(app)[0]["items"]
    assert ("licence" in codes) is has_licence
    assert ("language_assessment" in codes) is has_language
    assert {"identity", "background_check", "references", "core_training", "trauma_training", "confidentiality",
            "interview"} <= set(codes)


def test_extra_posted_fields_are_ignored(app, client, create_agency, create_user):
    """AC3: status, agency, user, fingerprint, token hash and version posted by hand change nothing."""
    agency_id = create_agency()
    user = create_user()
    response = send_application(client, form_data(
        status="approved", agency_id=str(agency_id), user_id=str(user.id), fingerprint="f" * 64, version="99",
        status_token_hash="0" * 64, status_reason="forged", approved_at="2026-01-01T00:00:00+00:00", id="4242",
        service_type_id="1",
    ))
    token_of(response)
    row = application_row(app, all_applications(app)[0]["id"])
    assert row["status"] == "applied"
    assert row["agency_id"] is None and row["user_id"] is None and row["service_type_id"] is None
    assert row["fingerprint"] != "f" * 64 and row["status_token_hash"] != "0" * 64
    assert row["version"] == 1 and row["status_reason"] == "" and row["approved_at"] is None
    assert row["id"] != 4242


# ----- spam protection -----------------------------------------------------------------------------------

class HoneypotFinder(HTMLParser):
    """The data-honeypot input, and whether an ancestor is aria-hidden."""

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def __init__(self, html):
        super().__init__()
        self.stack: list[dict] = []
        self.found: list[tuple[dict, bool]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and "data-honeypot" in attrs:
            self.found.append((attrs, any(a.get("aria-hidden") == "true" for a in self.stack)))
        if tag not in self.VOID:
            self.stack.append(attrs)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()


def test_the_honeypot_is_marked_and_hidden_from_people_and_screen_readers(app, client):
    """The `website` input carries data-honeypot, is out of the tab order, in an aria-hidden, hidden wrapper."""
    finder = HoneypotFinder(client.get("/volunteer/apply").get_data(as_text=True))
    assert len(finder.found) == 1
    attrs, hidden = finder.found[0]
    assert attrs["name"] == "website" and attrs["tabindex"] == "-1" and attrs["autocomplete"] == "off"
    assert hidden
    css = (Path(app.static_folder) / "css" / "csrn.css").read_text(encoding="utf-8")
    assert re.search(r"\.hp-field\s*\{\s*display:\s*none", css)
    assert '<div class="hp-field" aria-hidden="true">' in client.get("/volunteer/apply").get_data(as_text=True)


def test_a_filled_honeypot_answers_like_a_success_and_keeps_nothing(app, client, create_user):
    """A bot that fills `website` gets 200 "received"; no application, no mail, no notification."""
    create_user(roles=("chair",))
    before = counts(app)
    response = send_application(client, form_data(website="http://spam.example"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Application received" in html and "There is a problem" not in html
    assert counts(app) == before


def test_a_form_sent_too_fast_is_refused_with_the_answers_kept(app, client, monkeypatch):
    """CSRN_FORM_MIN_SECONDS = 3: the page's own stamp sent at once, a fresh, missing, empty, tampered or forged
    stamp is refused 422, answers kept, nothing made; a stamp from 10 s ago is accepted."""
    monkeypatch.setitem(app.config, "CSRN_FORM_MIN_SECONDS", 3)
    serializer = URLSafeTimedSerializer(app.secret_key, salt="volunteer-form")

    def tampered():
        old = serializer.dumps([int(time.time()) - 10, uuid.uuid4().hex])
        # Change the signed value, not the signature's last character (whose spare bits may not count).
        return ("A" if old[0] != "A" else "B") + old[1:]

    def two_days_old():  # signed with the clock two days back: older than a stamp may be
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() - 2 * 86400)
        try:
            return serializer.dumps([int(real()) - 2 * 86400, uuid.uuid4().hex])
        finally:
            monkeypatch.setattr(time, "time", real)

    stamps = {  # made just before each post, so a slow run cannot age a "fresh" stamp past the minimum
        "the page's": lambda: None,
        "fresh": lambda: serializer.dumps([int(time.time()), uuid.uuid4().hex]),
        "old format": lambda: serializer.dumps(int(time.time()) - 10),
        "missing": lambda: MISSING,
        "empty": lambda: "",
        "tampered": tampered,
        "forged": lambda: URLSafeTimedSerializer("not-the-key", salt="volunteer-form").dumps(
            [int(time.time()) - 10, uuid.uuid4().hex]),
        "garbage": lambda: "garbage",
        "two days old": two_days_old,
    }
    before = counts(app)
    data = form_data(name="Quick Fingers")
    for name, stamp in stamps.items():
        response = send_application(client, data, started=stamp())
        assert response.status_code == 422, name
        html = response.get_data(as_text=True)
        assert "quicker than a person" in html, name
        assert 'value="Quick Fingers"' in html and f'value="{data["email"]}"' in html
        assert 'value="BAR-778812"' in html
        # A new stamp is served, so the person's next try (after a moment) goes through.
        assert re.search(r'name="started" type="hidden" value="[^"]+"', html)
    assert counts(app) == before
    token_of(send_application(client, data, started=serializer.dumps([int(time.time()) - 10, uuid.uuid4().hex])))
    assert len(all_applications(app)) == 1


def test_without_a_minimum_the_fresh_form_goes_through(app, client, monkeypatch):
    """Development and test: CSRN_FORM_MIN_SECONDS 0 means a fresh stamp is fine."""
    monkeypatch.setitem(app.config, "CSRN_FORM_MIN_SECONDS", 0)
    token_of(send_application(client, form_data()))


def stamp_of(client) -> tuple[str, str]:
    """Open the form once: (CSRF token, the page's stamp)."""
    html = client.get("/volunteer/apply").get_data(as_text=True)
    return csrf_from(html), re.search(r'name="started" type="hidden" value="([^"]*)"', html).group(1)


def test_a_form_stamp_is_good_for_one_submission_only(app, client):
    """One page load, one application: the same stamp posted again (other answers, another address) is refused
    422 with the answers kept and a new stamp, and creates and mails nothing; the new stamp then works."""
    token, stamp = stamp_of(client)
    first = form_data()
    token_of(client.post("/volunteer/apply", data={"csrf_token": token, "started": stamp, **first}))
    before = counts(app)
    for number in range(3):
        replay = form_data(name=f"Replayed Person {number}")
        response = client.post("/volunteer/apply", data={"csrf_token": token, "started": stamp, **replay})
        assert response.status_code == 422, number
        html = response.get_data(as_text=True)
        assert "sent already" in html and f'value="Replayed Person {number}"' in html
        assert mail_to(app, replay["email"]) == []
    assert counts(app) == before and len(all_applications(app)) == 1
    fresh = re.search(r'name="started" type="hidden" value="([^"]*)"', html).group(1)
    assert fresh != stamp
    token_of(client.post("/volunteer/apply", data={"csrf_token": token, "started": fresh, **form_data()}))
    assert len(all_applications(app)) == 2


def test_a_stamp_is_used_up_only_by_a_submission_that_was_accepted(app, client):
    """A post refused for a wrong answer does not use its stamp up: corrected and sent again with it, it goes
    through (the page re-served with the error carries a fresh stamp as well)."""
    token, stamp = stamp_of(client)
    data = form_data()
    wrong = client.post("/volunteer/apply", data={"csrf_token": token, "started": stamp, **data, "phone": ""})
    assert wrong.status_code == 422 and 'name="started" type="hidden" value="' in wrong.get_data(as_text=True)
    token_of(client.post("/volunteer/apply", data={"csrf_token": token, "started": stamp, **data}))


def test_used_stamps_are_forgotten_after_a_day(app):
    """The daily job drops used stamps older than a stamp may be (they are refused as stale anyway)."""
    from csrn.volunteers.models import FormStamp

    now = utcnow()
    with app.app_context():
        assert ops.claim_form_stamp("old-nonce", now - timedelta(days=2))
        assert ops.claim_form_stamp("new-nonce", now - timedelta(hours=2))
        assert not ops.claim_form_stamp("new-nonce", now)
        db.session.commit()
        assert ops.purge_form_stamps(now) == "1 used form stamp(s) forgotten"
        assert set(db.session.scalars(select(FormStamp.nonce))) == {"new-nonce"}


def test_the_public_form_mails_one_address_at_most_three_times_a_day(app):
    """Four applications naming one address (each from its own page load and address): three mails, then none;
    the fourth is still received (the chairs see it) and the withheld mail is audited."""
    victim = f"stranger-{uuid.uuid4().hex[:6]}@example.org"
    for number in range(4):
        client = app.test_client()
        response = send_application(client, form_data(name=f"Applicant {number}", email=victim),
                                    environ_base={"REMOTE_ADDR": f"203.0.113.{number + 10}"})
        token_of(response)
    assert len(mail_to(app, victim)) == 3
    assert len(all_applications(app)) == 4
    with app.app_context():
        from csrn.audit.models import AuditEvent

        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "volunteer.mail_withheld")) == 1


def test_the_link_request_mails_one_address_at_most_three_times_a_day(app, submit):
    """The application's mail and two link requests make three; further requests (from any address) mail nothing,
    and answer the same page; a day later the address may be mailed again."""
    email = f"asker-{uuid.uuid4().hex[:6]}@example.org"
    submit(email=email)
    pages = set()
    for number in range(5):
        b = Browser(app.test_client())
        environ = {"REMOTE_ADDR": f"198.51.100.{number + 20}"}
        token = csrf_from(b.client.get("/volunteer/status", environ_base=environ).get_data(as_text=True))
        response = b.client.post("/volunteer/status", data={"csrf_token": token, "email": email}, environ_base=environ)
        assert response.status_code == 200
        pages.add(without_csrf(response.get_data(as_text=True)))
    assert len(pages) == 1
    assert len(mail_to(app, email)) == 3
    with app.app_context():
        ops.request_status_link(email, utcnow() + timedelta(hours=25))
    assert len(mail_to(app, email)) == 4


def test_the_eleventh_post_in_a_minute_from_one_address_is_refused_even_if_right(app, client):
    """Every POST counts (wrong, honeypot): the 11th, a right one, gets 429 and creates nothing; another address
    still applies."""
    assert app.config.get("RATELIMIT_ENABLED", True)
    for number in range(9):
        assert send_application(client, form_data(name="")).status_code == 422, number
    assert send_application(client, form_data(website="spam")).status_code == 200
    data = form_data()
    response = send_application(client, data)
    assert response.status_code == 429
    assert "Too many requests" in response.get_data(as_text=True)
    assert all_applications(app) == []
    assert mail_to(app, data["email"]) == []
    # GET still answers (only POSTs are counted) ...
    assert client.get("/volunteer/apply").status_code == 200
    # ... and another address is not affected.
    token_of(send_application(app.test_client(), data, environ_base=OTHER_ADDRESS))
    assert len(all_applications(app)) == 1


def test_ten_posts_a_minute_are_allowed(app, client):
    """The limit is 10: the 10th post from an address is still answered normally."""
    for _ in range(9):
        assert send_application(client, form_data(phone="")).status_code == 422
    token_of(send_application(client, form_data()))


def test_the_same_application_twice_creates_one(app, client):
    """The same browser is sent back to its status page; another browser gets "already received"; one row."""
    data = form_data()
    first = send_application(client, data)
    token = token_of(first)
    again = send_application(client, data)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert "already received" in client.get(again.headers["Location"]).get_data(as_text=True)
    other = send_application(app.test_client(), data)
    assert other.status_code == 200
    html = other.get_data(as_text=True)
    assert "We already have this application" in html and token not in html
    # Spacing and case do not make it a different application either.
    respaced = send_application(app.test_client(), {**data, "name": "  ada   LAWSON ", "email": data["email"].upper()})
    assert respaced.status_code == 200 and "We already have this application" in respaced.get_data(as_text=True)
    assert len(all_applications(app)) == 1
    assert len(mail_to(app, data["email"])) == 1


def test_a_withdrawn_application_can_be_sent_again(app, client):
    """After withdrawing, the same answers make a new application (the duplicate check skips withdrawn)."""
    data = form_data()
    token = token_of(send_application(client, data))
    b = Browser(client)
    assert b.post(f"/volunteer/status/{token}/withdraw").status_code == 303
    token_of(send_application(app.test_client(), data))
    assert [row["status"] for row in all_applications(app)] == ["withdrawn", "applied"]


# ----- the status link -----------------------------------------------------------------------------------

def test_the_status_page_shows_stage_and_checklist_never_the_committees_words(app, client, submit, chair):
    """Stage and each item's state; the item notes and the hold reason stay with the committee."""
    application_id, token = submit()
    now = utcnow()
    with app.app_context():
        actor = db.session.get(User, chair.id)
        application = db.session.get(VolunteerApplication, application_id)
        identity = next(item for item in application.items if item.code == "identity")
        ops.record_item(actor, application, identity, {"done_on": local_date(now), "notes": "SENTINEL-NOTE-5521",
                                                       "expires_on": None, "course_id": None}, None, now)
        db.session.remove()
    move(app, application_id, chair.id, "on_hold", now, reason="SENTINEL-REASON-8830")
    response = client.get(f"/volunteer/status/{token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "On hold" in html
    assert re.search(r"<td data-label=\"Item\">Identity verified</td>"
                     r"<td data-label=\"State\"><span class=\"tag tag-good\">done</span>", html)
    assert re.search(r"<td data-label=\"Item\">Background check</td>"
                     r"<td data-label=\"State\"><span class=\"tag\">to do</span>", html)
    assert "SENTINEL-NOTE-5521" not in html and "SENTINEL-REASON-8830" not in html
    assert "Test User" not in html  # not who checked it either


def test_the_status_page_marks_expired_items(app, client, submit, chair, courses):
    """An approved volunteer whose background check has expired sees it as expired (through a link asked for
    again: the first one died 180 days after the approval, the application's last change)."""
    email = f"expired-{uuid.uuid4().hex[:6]}@example.org"
    application_id, token = submit(at=NOW - timedelta(days=400), email=email)
    approve(app, application_id, chair.id, NOW - timedelta(days=400), courses,
            expiries={"background_check": task_force_today(app, NOW) - timedelta(days=3)})
    assert client.get(f"/volunteer/status/{token}").status_code == 404
    Browser(app.test_client()).post("/volunteer/status", {"email": email})
    token = STATUS_LINK.search(mail_to(app, email)[-1][1]).group(1)
    html = client.get(f"/volunteer/status/{token}").get_data(as_text=True)
    assert re.search(r"<td data-label=\"Item\">Background check</td>"
                     r"<td data-label=\"State\"><span class=\"tag tag-warn\">expired</span>", html)


def set_updated_at(app, application_id, when) -> None:
    with app.app_context():
        db.session.get(VolunteerApplication, application_id).updated_at = when
        db.session.commit()


def test_a_status_link_expires_180_days_after_the_last_change_and_a_new_one_can_be_asked_for(app, client, submit):
    """179 days after the application last changed the link still opens; after 181 it is a 404 for the page and
    the withdrawal (nothing withdrawn); asking again by e-mail mails a new link that works (the old stays dead)."""
    email = f"old-{uuid.uuid4().hex[:6]}@example.org"
    application_id, token = submit(email=email)
    set_updated_at(app, application_id, utcnow() - timedelta(days=179))
    assert client.get(f"/volunteer/status/{token}").status_code == 200
    set_updated_at(app, application_id, utcnow() - timedelta(days=181))
    assert client.get(f"/volunteer/status/{token}").status_code == 404
    assert client.get(f"/volunteer/status/{token}/withdraw").status_code == 404
    b = Browser(app.test_client())
    assert b.post(f"/volunteer/status/{token}/withdraw", page="/volunteer/apply").status_code == 404
    assert application_row(app, application_id)["status"] == "applied"
    assert b.post("/volunteer/status", {"email": email}).status_code == 200
    new_token = STATUS_LINK.search(mail_to(app, email)[-1][1]).group(1)
    assert client.get(f"/volunteer/status/{new_token}").status_code == 200
    assert client.get(f"/volunteer/status/{token}").status_code == 404


def test_guessed_tampered_and_overlong_tokens_are_404(app, client, submit):
    """A random token, the real one with one character changed, cut or lengthened, and 5,000 characters: 404."""
    _, token = submit()
    assert client.get(f"/volunteer/status/{token}").status_code == 200
    changed = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for bad in (uuid.uuid4().hex + uuid.uuid4().hex[:11], changed, token[:-1], token + "x", "A" * 5000, "0"):
        assert client.get(f"/volunteer/status/{bad}").status_code == 404, bad[:20]
        assert client.get(f"/volunteer/status/{bad}/withdraw").status_code == 404, bad[:20]
        b = Browser(app.test_client())
        response = b.post(f"/volunteer/status/{bad}/withdraw", page="/volunteer/apply")
        assert response.status_code == 404, bad[:20]


def test_withdrawing_asks_first_and_needs_a_post_with_csrf(app, client, submit):
    """GET shows a confirmation and changes nothing; a POST without the token changes nothing; with it, withdrawn."""
    application_id, token = submit()
    page = client.get(f"/volunteer/status/{token}/withdraw")
    assert page.status_code == 200
    assert "Withdraw your application?" in page.get_data(as_text=True)
    assert application_row(app, application_id)["status"] == "applied"
    refused = client.post(f"/volunteer/status/{token}/withdraw", data={})
    assert refused.status_code == 400
    assert application_row(app, application_id)["status"] == "applied"
    response = Browser(client).post(f"/volunteer/status/{token}/withdraw")
    assert response.status_code == 303 and response.headers["Location"] == f"/volunteer/status/{token}"
    assert application_row(app, application_id)["status"] == "withdrawn"
    html = client.get(f"/volunteer/status/{token}").get_data(as_text=True)
    assert "Withdrawn" in html and "Withdraw my application" not in html


def test_withdrawing_as_an_approved_volunteer_closes_the_account_and_ends_referrals(app, client, submit, chair,
                                                                                   courses):
    """An approved volunteer who withdraws: status withdrawn, user deactivated, no longer receivable."""
    now = utcnow()
    application_id, token = submit(at=now - timedelta(days=2))
    approve(app, application_id, chair.id, now, courses)
    assert receivable(app, application_id, now)
    response = Browser(client).post(f"/volunteer/status/{token}/withdraw")
    assert response.status_code == 303
    row = application_row(app, application_id)
    assert row["status"] == "withdrawn"
    with app.app_context():
        assert db.session.get(User, row["user_id"]).active is False
        agency = db.session.get(Agency, row["agency_id"])
        assert agency.membership_status == "lapsed"  # out of the directory's member listing
        assert {service.status for service in db.session.scalars(
            select(Service).where(Service.agency_id == agency.id))} == {"inactive"}
        db.session.remove()
    assert not receivable(app, application_id, now)


def test_asking_for_the_link_again_never_reveals_whether_the_email_is_known(app, submit):
    """Same page for a known and an unknown address; a new link replaces the old; mail only to the known one."""
    email = f"known-{uuid.uuid4().hex[:6]}@example.org"
    application_id, old_token = submit(email=email)
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@example.org"
    answers = {}
    for address in (email, unknown):
        b = Browser(app.test_client())
        answers[address] = b.post("/volunteer/status", {"email": address})
    known_response, unknown_response = answers[email], answers[unknown]
    assert known_response.status_code == unknown_response.status_code == 200
    assert without_csrf(known_response.get_data(as_text=True)) == without_csrf(unknown_response.get_data(as_text=True))
    assert mail_to(app, unknown) == []
    mails = mail_to(app, email)
    assert len(mails) == 2
    new_token = STATUS_LINK.search(mails[-1][1]).group(1)
    assert new_token != old_token
    client = app.test_client()
    assert client.get(f"/volunteer/status/{old_token}").status_code == 404
    assert client.get(f"/volunteer/status/{new_token}").status_code == 200
    assert application_row(app, application_id)["status_token_hash"] == hashlib.sha256(new_token.encode()).hexdigest()


def test_the_link_request_form_validates_the_address(app):
    """A malformed address is a 422 with a message, and sends nothing."""
    before = counts(app)
    response = Browser(app.test_client()).post("/volunteer/status", {"email": "nope"})
    assert response.status_code == 422
    assert "Enter an e-mail address like name@example.org" in response.get_data(as_text=True)
    assert counts(app)["outbox_message"] == before["outbox_message"]


def test_asking_for_the_link_is_limited_per_address(app):
    """The 6th request a minute from one address is refused 429 and sends nothing; another address is served."""
    b = Browser(app.test_client())
    for _ in range(5):
        assert b.post("/volunteer/status", {"email": "someone@example.org"}).status_code == 200
    before = counts(app)
    assert b.post("/volunteer/status", {"email": "someone@example.org"}).status_code == 429
    assert counts(app) == before
    other = Browser(app.test_client())
    token = csrf_from(other.get("/volunteer/status", environ_base=OTHER_ADDRESS).get_data(as_text=True))
    response = other.client.post("/volunteer/status", data={"csrf_token": token, "email": "someone@example.org"},
                                 environ_base=OTHER_ADDRESS)
    assert response.status_code == 200


# ----- the vetting board ---------------------------------------------------------------------------------

def chair_only_requests(application_id: int, item_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/volunteers"),
        ("GET", f"/volunteers/{application_id}"),
        ("POST", f"/volunteers/{application_id}/items/{item_id}"),
        ("POST", f"/volunteers/{application_id}/items/{item_id}/clear"),
        ("GET", f"/volunteers/{application_id}/items/{item_id}/document"),
        ("POST", f"/volunteers/{application_id}/status"),
    ]


@pytest.mark.parametrize("roles", NON_CHAIRS, ids="+".join)
def test_only_chairs_reach_the_board_and_the_applications(app, login_as, submit, roles, upload_dir):
    """Every other role gets 403 (or 404) on every chair URL, htmx too, and nothing changes."""
    application_id, _ = submit()
    item_id = items_of(app, application_id)["identity"]["id"]
    user = login_as(roles=roles)
    token = csrf_from(user.get("/").get_data(as_text=True))
    before = application_row(app, application_id), items_of(app, application_id)
    for method, url in chair_only_requests(application_id, item_id):
        for headers in ({}, HX):
            data = {"csrf_token": token, f"item{item_id}-done_on": "2026-11-01", "to_status": "in_review",
                    "reason": "x", "version": "1"}
            response = user.client.open(url, method=method, headers=headers, data=data if method == "POST" else None)
            assert response.status_code in (403, 404), f"{method} {url} {headers}: {response.status_code}"
    assert (application_row(app, application_id), items_of(app, application_id)) == before


def test_anonymous_visitors_are_sent_to_log_in(app, client, submit):
    """The board and an application redirect an anonymous visitor to the login page."""
    application_id, _ = submit()
    for url in ("/volunteers", f"/volunteers/{application_id}"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url


def test_the_board_has_a_column_per_status_with_counts(app, login_as, submit, chair):
    """Applied 2, in review 1, on hold 1, declined 1, approved 0, renewal due 0; withdrawn leaves the board."""
    now = utcnow()
    ids = {name: submit(name=name)[0] for name in ("Applied One", "Applied Two", "Reviewing", "Held", "Declined",
                                                   "Gone")}
    move(app, ids["Reviewing"], chair.id, "in_review", now)
    move(app, ids["Held"], chair.id, "on_hold", now, reason="waiting for a reference")
    move(app, ids["Declined"], chair.id, "declined", now, reason="not a fit")
    with app.app_context():
        ops.withdraw(db.session.get(VolunteerApplication, ids["Gone"]), now)
        db.session.remove()
    b = login_as(roles=("chair",))
    response = b.get("/volunteers")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert statuses_on_board(html) == {"applied": 2, "in_review": 1, "approved": 0, "on_hold": 1, "declined": 1,
                                       "renewal_due": 0}
    assert card_names(html) == {"Applied One", "Applied Two", "Reviewing", "Held", "Declined"}
    held = html.index('id="col-on_hold"')
    assert html.index("Held", held) < html.index('id="col-declined"')


def test_the_board_filters_by_profession(app, login_as, submit):
    """?profession=interpreter shows only interpreters, and the counts follow."""
    submit(name="The Attorney")
    submit(name="The Interpreter", profession="interpreter", licence_number="", licence_jurisdiction="",
           languages=["es", "en"], language_pairs="Spanish ↔ English")
    b = login_as(roles=("chair",))
    html = b.get("/volunteers?profession=interpreter").get_data(as_text=True)
    assert card_names(html) == {"The Interpreter"}
    assert statuses_on_board(html)["applied"] == 1
    assert card_names(b.get("/volunteers").get_data(as_text=True)) == {"The Attorney", "The Interpreter"}
    # An unknown profession is ignored rather than an error.
    assert card_names(b.get("/volunteers?profession=wizard").get_data(as_text=True)) == {"The Attorney",
                                                                                         "The Interpreter"}


def test_the_board_filters_by_whole_language_codes(app, login_as, submit):
    """"am" (Amharic) never matches "mam" (Mam), "qu" never "quc"; codes in any position match."""
    submit(name="Speaks Mam", languages=["mam"])
    submit(name="Speaks Amharic", languages=["en", "am", "ti"])
    submit(name="Speaks Kiche", languages=["quc"])
    submit(name="Speaks Quechua", languages=["es", "qu"])
    b = login_as(roles=("chair",))

    def shown(code):
        return card_names(b.get(f"/volunteers?language={code}").get_data(as_text=True))

    assert shown("am") == {"Speaks Amharic"}
    assert shown("mam") == {"Speaks Mam"}
    assert shown("qu") == {"Speaks Quechua"}
    assert shown("quc") == {"Speaks Kiche"}
    assert shown("en") == {"Speaks Amharic"}
    assert shown("ti") == {"Speaks Amharic"}
    assert shown("es") == {"Speaks Quechua"}
    assert shown("bn") == set()
    assert len(shown("")) == 4


def test_the_board_filter_and_the_operation_agree_with_a_brute_force(app, submit):
    """ops.board(language=...) returns exactly the applications whose codes include it, for every code used."""
    stored = [["mam"], ["am", "ti"], ["quc"], ["qu", "es"], ["en"], ["bn", "ben"], ["es", "en", "yue"]]
    ids = [submit(languages=codes)[0] for codes in stored]
    with app.app_context():
        for code in {c for codes in stored for c in codes} | {"a", "m", "e", "n"}:
            found = {a.id for column in ops.board(language=code).columns.values() for a in column}
            expected = {i for i, codes in zip(ids, stored, strict=True) if code in codes}
            assert found == expected, code
        db.session.remove()


def test_cards_show_days_since_applied(app, login_as, submit):
    """Each card says how many days ago its application arrived."""
    now = utcnow()
    submit(name="Five Days", at=now - timedelta(days=5))
    submit(name="One Day", at=now - timedelta(days=1))
    submit(name="Today", at=now)
    html = login_as(roles=("chair",)).get("/volunteers").get_data(as_text=True)

    def card(name):
        start = html.index(f">{name}</a>")
        return html[start:html.index("</article>", start)]

    assert "5 days since applied" in card("Five Days")
    assert "1 day since applied" in card("One Day")
    assert "0 days since applied" in card("Today")


# ----- XSS ---------------------------------------------------------------------------------------------

@pytest.fixture
def smtp_server(app, monkeypatch):
    """A real SMTP server on 127.0.0.1 that keeps what it receives; the app is pointed at it."""

    class Collector:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.envelopes.append(envelope)
            return "250 Message accepted for delivery"

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
    monkeypatch.setitem(app.config, "MAIL_USERNAME", "")
    yield handler
    controller.stop()


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_payloads_in_every_free_text_field_are_escaped_on_every_page(app, client, login_as, payload):
    """On the board, the application page, its htmx panel and the applicant's status page: escaped, never raw."""
    data = form_data(profession="other", **dict.fromkeys(FREE_TEXT_FIELDS, payload))
    token = token_of(send_application(client, data))
    application_id = all_applications(app)[0]["id"]
    row = application_row(app, application_id)
    assert all(row[field] == payload for field in FREE_TEXT_FIELDS)
    b = login_as(roles=("chair",))
    escaped = str(escape(payload))
    pages = {
        "board": b.get("/volunteers").get_data(as_text=True),
        "application": b.get(f"/volunteers/{application_id}").get_data(as_text=True),
        "panel": b.client.post(f"/volunteers/{application_id}/status", headers=HX,
                               data={"csrf_token": b.token(f"/volunteers/{application_id}"), "to_status": "on_hold",
                                     "reason": payload, "version": "1"}).get_data(as_text=True),
        "status": client.get(f"/volunteer/status/{token}").get_data(as_text=True),
    }
    minimum = {"board": 2, "application": len(FREE_TEXT_FIELDS) + 1, "panel": 2, "status": 1}
    for name, html in pages.items():
        if payload != escaped:
            assert payload not in html, name
        assert html.count(escaped) >= minimum[name], (name, html.count(escaped))
    assert "<script>alert(1)</script>" not in "".join(pages.values())
    assert "<img src=x onerror" not in "".join(pages.values())
    assert f'<a href="/volunteers/{application_id}">{escaped}</a>' in pages["board"]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_the_mail_with_a_payload_in_the_name_is_plain_text(app, client, smtp_server, runner, payload):
    """The status-link mail goes out as text/plain only (no HTML part to run a payload in); subject untouched."""
    data = form_data(name=payload)
    token = token_of(send_application(client, data))
    result = runner.invoke(args=["csrn", "tick", "--now", utcnow().isoformat()])
    assert result.exit_code == 0, result.output
    messages = [message_from_bytes(e.content, policy=default_policy) for e in smtp_server.envelopes
                if data["email"] in e.rcpt_tos]
    assert len(messages) == 1
    message = messages[0]
    assert not message.is_multipart() and message.get_content_type() == "text/plain"
    body = message.get_content()
    assert f"Hello {payload}," in body  # as typed: text, not markup
    assert f"http://localhost/volunteer/status/{token}" in body
    assert payload not in message["Subject"]
    assert "<html" not in body.lower()


# ----- the checklist ---------------------------------------------------------------------------------------

def record_via_view(b, application_id, item_id, headers=None, **fields):
    """A chair records an item through the page's form (multipart when a document is attached)."""
    data = {f"item{item_id}-{name}": value for name, value in fields.items()}
    return b.post(f"/volunteers/{application_id}/items/{item_id}", data, page=f"/volunteers/{application_id}",
                  headers=headers or {})


def test_recording_an_item_keeps_date_notes_expiry_who_and_a_pdf(app, login_as, submit, upload_dir):
    """The licence item with a real PDF: done, who, notes, expiry; the file kept under a random name;
    the page and the history show it."""
    application_id, _ = submit()
    item = items_of(app, application_id)["licence"]
    b = login_as(roles=("chair",))
    today = task_force_today(app)
    response = record_via_view(b, application_id, item["id"], done_on=today.isoformat(), notes="Bar checked online",
                               expires_on=(today + timedelta(days=365)).isoformat(),
                               document=(io.BytesIO(PDF), "bar-card.pdf"))
    assert response.status_code == 303 and response.headers["Location"] == f"/volunteers/{application_id}"
    item = items_of(app, application_id)["licence"]
    assert item["done_on"] == today and item["notes"] == "Bar checked online"
    assert item["expires_on"] == today + timedelta(days=365) and item["done_by_id"] == b.user.id
    assert re.fullmatch(r"[0-9a-f]{32}", item["file_name"]) and item["file_original_name"] == "bar-card.pdf"
    assert stored_files(upload_dir) == [item["file_name"]]
    assert (upload_dir / item["file_name"]).read_bytes() == PDF
    html = b.get(f"/volunteers/{application_id}").get_data(as_text=True)
    assert "Bar checked online" in html and "bar-card.pdf" in html
    assert "recorded “Licence or bar membership verified”" in html
    still_needed = re.search(r"Still needed before approval:[^<]*", html).group(0)
    assert "Identity verified" in still_needed and "Licence or bar membership verified" not in still_needed


def test_a_renamed_html_file_is_refused_and_nothing_is_saved(app, login_as, submit, upload_dir):
    """HTML called .pdf: 422 with the message, the item stays to do, no file on disk."""
    application_id, _ = submit()
    item = items_of(app, application_id)["confidentiality"]
    b = login_as(roles=("chair",))
    response = record_via_view(b, application_id, item["id"], done_on=task_force_today(app).isoformat(),
                               notes="signed", document=(io.BytesIO(HTML_AS_PDF), "agreement.pdf"))
    assert response.status_code == 422
    assert "Upload a PDF, PNG or JPEG file." in response.get_data(as_text=True)
    after = items_of(app, application_id)["confidentiality"]
    assert after["done_on"] is None and after["file_name"] is None and after["notes"] == ""
    assert stored_files(upload_dir) == []


def test_an_item_without_a_date_is_refused(app, login_as, submit):
    """The done-on date is required."""
    application_id, _ = submit()
    item = items_of(app, application_id)["identity"]
    response = record_via_view(login_as(roles=("chair",)), application_id, item["id"], done_on="", notes="x")
    assert response.status_code == 422
    assert "Enter the date it was done." in response.get_data(as_text=True)
    assert items_of(app, application_id)["identity"]["done_on"] is None


def test_an_expiry_before_the_date_done_is_refused(app, login_as, submit):
    """An item cannot expire before it was done."""
    application_id, _ = submit()
    item = items_of(app, application_id)["background_check"]
    today = task_force_today(app)
    response = record_via_view(login_as(roles=("chair",)), application_id, item["id"], done_on=today.isoformat(),
                               expires_on=(today - timedelta(days=1)).isoformat())
    assert response.status_code == 422
    assert "The expiry date is before the date it was done." in response.get_data(as_text=True)
    assert items_of(app, application_id)["background_check"]["done_on"] is None


def test_training_items_need_a_course_and_the_core_item_a_core_course(app, login_as, submit, courses, upload_dir):
    """No course, or a non-core course on the core item: refused (no file left behind). The expiry follows the course,
    not what was typed."""
    application_id, _ = submit()
    items = items_of(app, application_id)
    b = login_as(roles=("chair",))
    done = task_force_today(app) - timedelta(days=10)
    core_id, trauma_id = items["core_training"]["id"], items["trauma_training"]["id"]
    response = record_via_view(b, application_id, core_id, done_on=done.isoformat(), course_id="0",
                               document=(io.BytesIO(PDF), "certificate.pdf"))
    assert response.status_code == 422
    assert "Choose the course the volunteer completed (a core course)." in response.get_data(as_text=True)
    response = record_via_view(b, application_id, core_id, done_on=done.isoformat(), course_id=str(courses.trauma))
    assert response.status_code == 422
    assert "(a core course)" in response.get_data(as_text=True)
    response = record_via_view(b, application_id, trauma_id, done_on=done.isoformat(), course_id="0")
    assert response.status_code == 422
    assert "Choose the course the volunteer completed." in response.get_data(as_text=True)
    items = items_of(app, application_id)
    assert items["core_training"]["done_on"] is None and items["trauma_training"]["done_on"] is None
    assert stored_files(upload_dir) == []

    typed = (done + timedelta(days=3000)).isoformat()
    assert record_via_view(b, application_id, core_id, done_on=done.isoformat(), course_id=str(courses.core),
                           expires_on=typed).status_code == 303
    assert record_via_view(b, application_id, trauma_id, done_on=done.isoformat(),
                           course_id=str(courses.trauma)).status_code == 303
    items = items_of(app, application_id)
    assert items["core_training"]["course_id"] == courses.core
    assert items["core_training"]["expires_on"] == add_months(done, 24) - timedelta(days=1)
    assert items["trauma_training"]["course_id"] == courses.trauma
    assert items["trauma_training"]["expires_on"] == add_months(done, 12) - timedelta(days=1)


def test_the_core_item_offers_only_core_courses(app, login_as, submit, courses):
    """The core item's course list holds the core course and not the trauma course."""
    application_id, _ = submit()
    core_item = items_of(app, application_id)["core_training"]["id"]
    html = login_as(roles=("chair",)).get(f"/volunteers/{application_id}").get_data(as_text=True)
    select_html = re.search(rf'<select[^>]*name="item{core_item}-course_id"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert f'value="{courses.core}"' in select_html and f'value="{courses.trauma}"' not in select_html


def test_clearing_an_item_makes_it_to_do_again(app, login_as, submit):
    """Clear: the item is to do again, its notes gone from the item, the history says who cleared it."""
    application_id, _ = submit()
    item = items_of(app, application_id)["interview"]
    b = login_as(roles=("chair",))
    assert record_via_view(b, application_id, item["id"], done_on=task_force_today(app).isoformat(),
                           notes="Good interview").status_code == 303
    assert items_of(app, application_id)["interview"]["done_on"] is not None
    response = b.post(f"/volunteers/{application_id}/items/{item['id']}/clear", page=f"/volunteers/{application_id}")
    assert response.status_code == 303
    cleared = items_of(app, application_id)["interview"]
    assert cleared["done_on"] is None and cleared["notes"] == "" and cleared["done_by_id"] is None
    assert "marked “Interview” as to do" in b.get(f"/volunteers/{application_id}").get_data(as_text=True)


def test_clearing_needs_csrf(app, login_as, submit):
    """A clear without the token changes nothing."""
    application_id, _ = submit()
    item = items_of(app, application_id)["interview"]
    b = login_as(roles=("chair",))
    record_via_view(b, application_id, item["id"], done_on=task_force_today(app).isoformat())
    response = b.client.post(f"/volunteers/{application_id}/items/{item['id']}/clear", data={})
    assert response.status_code == 400
    assert items_of(app, application_id)["interview"]["done_on"] is not None


def test_the_document_downloads_as_an_attachment_for_chairs_only(app, login_as, submit, upload_dir):
    """The PDF comes back as an attachment to a chair; 404 with another application's id or without a file."""
    application_id, _ = submit()
    other_id, _ = submit()
    item = items_of(app, application_id)["licence"]
    other_item = items_of(app, other_id)["licence"]
    b = login_as(roles=("chair",))
    record_via_view(b, application_id, item["id"], done_on=task_force_today(app).isoformat(),
                    document=(io.BytesIO(PDF), "bar-card.pdf"))
    url = f"/volunteers/{application_id}/items/{item['id']}/document"
    response = b.get(url)
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "bar-card.pdf" in response.headers["Content-Disposition"]
    assert response.mimetype == "application/pdf"
    assert b.get(f"/volunteers/{other_id}/items/{item['id']}/document").status_code == 404
    assert b.get(f"/volunteers/{application_id}/items/{other_item['id']}/document").status_code == 404
    assert b.get(f"/volunteers/{other_id}/items/{other_item['id']}/document").status_code == 404  # no file
    assert b.get(f"/volunteers/999999/items/{item['id']}/document").status_code == 404
    assert login_as(roles=("staff",)).get(url).status_code in (403, 404)
    assert app.test_client().get(url).status_code == 302


def test_an_item_posted_under_another_application_is_404_and_changes_nothing(app, login_as, submit):
    """Recording or clearing with a mismatched application id and item id: 404."""
    application_id, _ = submit()
    other_id, _ = submit()
    item = items_of(app, application_id)["identity"]
    b = login_as(roles=("chair",))
    response = record_via_view(b, other_id, item["id"], done_on=task_force_today(app).isoformat())
    assert response.status_code == 404
    response = b.post(f"/volunteers/{other_id}/items/{item['id']}/clear", page=f"/volunteers/{other_id}")
    assert response.status_code == 404
    assert items_of(app, application_id)["identity"]["done_on"] is None


# ----- status changes and approval ----------------------------------------------------------------------

def status_form_version(html: str) -> str:
    return re.search(r'id="version" name="version" type="hidden" value="(\d+)"', html).group(1)


def move_via_view(b, application_id, to_status, reason="", version=None, headers=None, **extra):
    """A chair sends the status form as the page has it (its version unless given)."""
    page = b.get(f"/volunteers/{application_id}").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "to_status": to_status, "reason": reason,
            "version": version if version is not None else status_form_version(page), **extra}
    return b.client.post(f"/volunteers/{application_id}/status", data=data, headers=headers or {})


@pytest.mark.parametrize("to_status", ["on_hold", "declined"])
def test_hold_and_decline_need_a_reason(app, login_as, submit, to_status):
    """Without a reason: 422 and the message; with one: moved, the reason on the history."""
    application_id, _ = submit()
    b = login_as(roles=("chair",))
    response = move_via_view(b, application_id, to_status, reason="   ")
    assert response.status_code == 422
    assert "Say why: the reason goes on the application&#39;s history." in response.get_data(as_text=True)
    assert application_row(app, application_id)["status"] == "applied"
    response = move_via_view(b, application_id, to_status, reason="References could not be reached")
    assert response.status_code == 303
    row = application_row(app, application_id)
    assert row["status"] == to_status and row["status_reason"] == "References could not be reached"
    html = b.get(f"/volunteers/{application_id}").get_data(as_text=True)
    assert "References could not be reached" in html


@pytest.mark.parametrize(("path", "forbidden"), [
    ((), "approved"),
    ((), "renewal_due"),
    ((("declined", "no"),), "on_hold"),
    ((("declined", "no"),), "approved"),
    ((("on_hold", "wait"),), "approved"),
])
def test_forbidden_transitions_are_refused(app, login_as, submit, chair, path, forbidden):
    """Through the page and through the operation: refused, the status unchanged."""
    application_id, _ = submit()
    for to_status, reason in path:
        move(app, application_id, chair.id, to_status, utcnow(), reason=reason)
    current = application_row(app, application_id)["status"]
    b = login_as(roles=("chair",))
    response = move_via_view(b, application_id, forbidden, reason="because")
    assert response.status_code == 422
    assert application_row(app, application_id)["status"] == current
    with app.app_context(), pytest.raises(ops.VettingError, match="cannot become"):
        application = db.session.get(VolunteerApplication, application_id)
        ops.change_status(db.session.get(User, chair.id), application, forbidden, "because", application.version,
                          utcnow())
    assert application_row(app, application_id)["status"] == current


def test_withdrawn_applications_cannot_be_moved_or_recorded(app, login_as, submit, chair):
    """After the applicant withdraws, no status change and no checklist entry."""
    application_id, _ = submit()
    with app.app_context():
        ops.withdraw(db.session.get(VolunteerApplication, application_id), utcnow())
        db.session.remove()
    b = login_as(roles=("chair",))
    item = items_of(app, application_id)["identity"]
    response = b.client.post(f"/volunteers/{application_id}/status",
                             data={"csrf_token": b.token(f"/volunteers/{application_id}"), "to_status": "in_review",
                                   "reason": "", "version": str(application_row(app, application_id)["version"])})
    assert response.status_code == 422
    assert "An application that is withdrawn cannot become in review." in response.get_data(as_text=True)
    response = record_via_view(b, application_id, item["id"], done_on=task_force_today(app).isoformat())
    assert response.status_code == 422
    assert "The applicant withdrew this application." in response.get_data(as_text=True)
    assert application_row(app, application_id)["status"] == "withdrawn"
    assert items_of(app, application_id)["identity"]["done_on"] is None


def test_approving_with_an_item_missing_is_refused_naming_it_and_creates_nothing(app, login_as, submit, chair,
                                                                                courses):
    """Every item but the interview and the references: 422 naming both; no user, agency, service or certificate."""
    now = utcnow()
    email = f"missing-{uuid.uuid4().hex[:6]}@example.org"
    application_id, _ = submit(email=email, name="Missing Items")
    vet(app, application_id, chair.id, now, courses, skip=("interview", "references"))
    move(app, application_id, chair.id, "in_review", now)
    b = login_as(roles=("chair",))
    before = counts(app)
    response = move_via_view(b, application_id, "approved")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Not every required item is done: Two references contacted; Interview." in html
    row = application_row(app, application_id)
    assert row["status"] == "in_review" and row["agency_id"] is None and row["user_id"] is None
    assert counts(app) == before
    with app.app_context():
        assert db.session.scalar(User.by_email(email)) is None
        assert db.session.scalar(select(Agency).where(Agency.name == "Missing Items")) is None
        db.session.remove()


def test_an_expired_item_also_blocks_approval(app, submit, chair, courses):
    """Done but expired counts as missing."""
    now = utcnow()
    application_id, _ = submit()
    vet(app, application_id, chair.id, now, courses, done_on=task_force_today(app, now) - timedelta(days=30),
        expiries={"background_check": task_force_today(app, now) - timedelta(days=1)})
    move(app, application_id, chair.id, "in_review", now)
    with pytest.raises(ops.VettingError, match="Background check"):
        move(app, application_id, chair.id, "approved", now)
    assert application_row(app, application_id)["status"] == "in_review"


def test_approval_brings_the_volunteer_into_the_network(app, login_as, submit, courses, monkeypatch):
    """An account with only the volunteer role and an invitation; a one-person member provider with an active
    pro bono service of the profession's type and the languages; verified certificates; receivable at once;
    the history lists every change. With a mail server, the chair is sent back to the application (303)."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")  # only queued: nothing is sent without `tick`
    now = utcnow()
    email = f"approved-{uuid.uuid4().hex[:6]}@example.org"
    application_id, _ = submit(email=email, name="Ada Lawson", languages=["es", "vi"], hours_per_month=8,
                               at=now - timedelta(days=3))
    b = login_as(roles=("chair",))
    vet(app, application_id, b.user.id, now, courses)
    assert move_via_view(b, application_id, "in_review").status_code == 303
    response = move_via_view(b, application_id, "approved")
    assert response.status_code == 303 and response.headers["Location"] == f"/volunteers/{application_id}"
    row = application_row(app, application_id)
    assert row["status"] == "approved" and row["approved_at"] is not None
    with app.app_context():
        user = db.session.scalar(User.by_email(email))
        assert user is not None and user.id == row["user_id"]
        assert user.roles == {"volunteer"} and user.active and user.password_hash is None
        assert user.agency_id == row["agency_id"] and user.invited_by_id == b.user.id  # the approving chair
        invite = db.session.scalars(select(AuthToken).where(AuthToken.user_id == user.id)).all()
        assert [(t.purpose, t.used_at) for t in invite] == [("invite", None)]
        agency = db.session.get(Agency, row["agency_id"])
        assert agency.name == "Ada Lawson" and agency.membership_status == "member" and agency.agency_type == "legal"
        assert db.session.scalar(select(func.count()).select_from(User).where(User.agency_id == agency.id)) == 1
        services = db.session.scalars(select(Service).where(Service.agency_id == agency.id)).all()
        assert len(services) == 1
        service = services[0]
        assert service.status == "active" and service.cost == "pro_bono"
        assert db.session.get(ServiceType, service.service_type_id).code == "immigration_legal"
        assert row["service_type_id"] == service.service_type_id
        assert sorted(service.values("language")) == ["es", "vi"]
        assert "8 hours a month" in service.description
        certificates = db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)).all()
        assert sorted(c.course_id for c in certificates) == sorted([courses.core, courses.trauma])
        assert all(c.status == "verified" and c.agency_id == agency.id for c in certificates)
        assert can_receive_referrals(agency, service.service_type_id, now)
        kinds = [(e.kind, e.from_status, e.to_status) for e in db.session.scalars(
            select(VolunteerEvent).where(VolunteerEvent.application_id == application_id).order_by(VolunteerEvent.id))]
        db.session.remove()
    assert kinds[0] == ("applied", "", "applied")
    assert kinds.count(("item_recorded", "", "")) == len(ATTORNEY_ITEMS)
    assert kinds[-2:] == [("status", "applied", "in_review"), ("status", "in_review", "approved")]
    invitations = [body for subject, body in mail_to(app, email) if "invitation" in subject.lower()]
    assert len(invitations) == 1 and re.search(r"http://localhost/\S*invit\S*/[A-Za-z0-9_-]{43}", invitations[0])
    html = b.get(f"/volunteers/{application_id}").get_data(as_text=True)
    assert "Applied → In review" in html and "In review → Approved" in html
    assert html.count("recorded “") == len(ATTORNEY_ITEMS)


def test_without_a_mail_server_the_chair_sees_the_invitation_link_once(app, login_as, submit, courses):
    """No MAIL_SERVER: approving shows the single-use invitation link (the one queued), then never again."""
    assert not app.config.get("MAIL_SERVER")
    email = f"nomail-{uuid.uuid4().hex[:6]}@example.org"
    application_id, _ = submit(email=email)
    b = login_as(roles=("chair",))
    vet(app, application_id, b.user.id, utcnow(), courses)
    assert move_via_view(b, application_id, "in_review").status_code == 303
    response = move_via_view(b, application_id, "approved")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    link = re.search(r'<code class="secret">([^<]+)</code>', html).group(1)
    assert any(link in body for subject, body in mail_to(app, email) if "invitation" in subject.lower())
    assert f'href="/volunteers/{application_id}"' in html
    assert application_row(app, application_id)["status"] == "approved"
    assert link not in b.get(f"/volunteers/{application_id}").get_data(as_text=True)


def test_approval_of_other_takes_the_chosen_service_and_refuses_without_one(app, submit, chair, courses):
    """"Other" has no default service type: approval without one is refused; with one, that service."""
    now = utcnow()
    application_id, _ = submit(profession="other", profession_other="Social worker", licence_number="",
                               licence_jurisdiction="")
    vet(app, application_id, chair.id, now, courses)
    move(app, application_id, chair.id, "in_review", now)
    with pytest.raises(ops.VettingError, match="Choose the service"):
        move(app, application_id, chair.id, "approved", now)
    assert application_row(app, application_id)["agency_id"] is None
    with app.app_context():
        type_id = db.session.scalar(select(ServiceType.id).where(ServiceType.code == "interpretation"))
        db.session.remove()
    move(app, application_id, chair.id, "approved", now, service_type_id=type_id)
    row = application_row(app, application_id)
    assert row["status"] == "approved" and row["service_type_id"] == type_id
    assert receivable(app, application_id, now, service_code="interpretation")


def test_approval_is_refused_when_the_email_already_has_an_account(app, submit, chair, courses, create_user):
    """No second account, no orphan provider: a message to ask an administrator."""
    now = utcnow()
    existing = create_user()
    application_id, _ = submit(email=existing.email)
    vet(app, application_id, chair.id, now, courses)
    move(app, application_id, chair.id, "in_review", now)
    before = counts(app)
    with pytest.raises(ops.VettingError, match="already exists"):
        move(app, application_id, chair.id, "approved", now)
    assert counts(app) == before
    assert application_row(app, application_id)["status"] == "in_review"


def test_an_htmx_status_change_answers_the_panel_and_a_plain_one_redirects(app, login_as, submit):
    """HX-Request: the panel fragment (no layout), with the new status; without: 303 to the page."""
    application_id, _ = submit()
    b = login_as(roles=("chair",))
    response = move_via_view(b, application_id, "in_review", headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "<body" not in html
    assert html.lstrip().startswith('<section id="application-panel"')
    assert "In review" in html
    assert "HX-Request" in response.headers.get("Vary", "")
    response = move_via_view(b, application_id, "on_hold", reason="Waiting")
    assert response.status_code == 303 and response.headers["Location"] == f"/volunteers/{application_id}"
    # A refused htmx change answers the panel with the message, 422.
    response = move_via_view(b, application_id, "declined", headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Say why" in html


def test_an_htmx_item_record_answers_the_panel(app, login_as, submit):
    """Recording an item with htmx swaps the panel in place."""
    application_id, _ = submit()
    item = items_of(app, application_id)["identity"]
    b = login_as(roles=("chair",))
    response = record_via_view(b, application_id, item["id"], headers=HX, done_on=task_force_today(app).isoformat())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="application-panel"' in html
    assert re.search(rf'<li id="item-{item["id"]}" class="item-done">', html)


def test_a_stale_status_form_is_refused(app, login_as, submit, chair):
    """R7: another chair moved it after this page was loaded; the old version is refused, their change kept."""
    application_id, _ = submit()
    b = login_as(roles=("chair",))
    stale_version = status_form_version(b.get(f"/volunteers/{application_id}").get_data(as_text=True))
    move(app, application_id, chair.id, "in_review", utcnow())
    response = move_via_view(b, application_id, "on_hold", reason="Other reason", version=stale_version)
    assert response.status_code == 422
    assert "Someone else changed this record" in response.get_data(as_text=True)
    row = application_row(app, application_id)
    assert row["status"] == "in_review" and row["status_reason"] == ""


def test_status_change_needs_csrf(app, login_as, submit):
    """A status POST without the token changes nothing."""
    application_id, _ = submit()
    b = login_as(roles=("chair",))
    response = b.client.post(f"/volunteers/{application_id}/status", data={"to_status": "in_review", "version": "1"})
    assert response.status_code == 400
    assert application_row(app, application_id)["status"] == "applied"


def test_only_chairs_change_status_in_the_operation(app, submit, create_user):
    """The operation itself refuses anyone but a chair."""
    application_id, _ = submit()
    admin = create_user(roles=("admin", "agency_admin"))
    with app.app_context():
        application = db.session.get(VolunteerApplication, application_id)
        with pytest.raises(ops.VettingError, match="Only chairs"):
            ops.change_status(db.session.get(User, admin.id), application, "in_review", "", application.version,
                              utcnow())
        db.session.remove()
    assert application_row(app, application_id)["status"] == "applied"


# ----- expiry and renewal ----------------------------------------------------------------------------------

@pytest.fixture
def expiring_volunteer(app, submit, chair, courses):
    """An attorney approved at NOW whose background check is valid through NOW + 10 days."""
    application_id, _ = submit(at=NOW - timedelta(days=20))
    approve(app, application_id, chair.id, NOW, courses,
            expiries={"background_check": task_force_today(app, NOW) + timedelta(days=10)})
    return application_id


def test_an_expired_item_stops_referrals_at_once(app, expiring_volunteer):
    """Receivable through the expiry date; the day after, not — before any daily pass runs."""
    assert application_row(app, expiring_volunteer)["status"] == "approved"
    assert receivable(app, expiring_volunteer, NOW)
    assert receivable(app, expiring_volunteer, NOW + timedelta(days=10))
    assert not receivable(app, expiring_volunteer, NOW + timedelta(days=11))
    assert application_row(app, expiring_volunteer)["status"] == "approved"


def test_intake_matching_leaves_out_the_expired_volunteer(app, expiring_volunteer):
    """The candidates intake matches from mark the volunteer receivable before the expiry and not after;
    the ranked match drops them."""
    row = application_row(app, expiring_volunteer)
    with app.app_context():
        service_type = db.session.get(ServiceType, row["service_type_id"])
        person = intake_ops.person_from({"languages": ["es"]})

        def candidate(at):
            found = [c for c in intake_ops.load_candidates(service_type, at) if c.agency_id == row["agency_id"]]
            assert len(found) == 1
            return found[0]

        def matched(at):
            return {m.candidate.agency_id for m in matching.match(person, intake_ops.load_candidates(service_type, at))}

        assert candidate(NOW).receivable and row["agency_id"] in matched(NOW)
        later = NOW + timedelta(days=11)
        assert not candidate(later).receivable and row["agency_id"] not in matched(later)
        db.session.remove()


def test_the_renewal_pass_moves_the_expired_volunteer_and_tells_the_chairs(app, expiring_volunteer, chair):
    """renewal_pass the day after expiry: renewal due, history, chairs notified; the applicant's page says so."""
    later = NOW + timedelta(days=11)
    before = len(notifications_of(app, chair.id))
    with app.app_context():
        summary = ops.renewal_pass(later)
        db.session.remove()
    assert summary.startswith("1 volunteer(s) moved to renewal due")
    assert application_row(app, expiring_volunteer)["status"] == "renewal_due"
    new = notifications_of(app, chair.id)[before:]
    assert new == [("A pro bono volunteer is due for renewal: an item of their vetting expired.",
                    f"/volunteers/{expiring_volunteer}")]
    assert not receivable(app, expiring_volunteer, later)
    with app.app_context():
        summary = ops.renewal_pass(later)
        db.session.remove()
    assert summary.startswith("0 volunteer(s) moved")
    assert len(notifications_of(app, chair.id)) == before + 1


def test_chairs_are_reminded_once_within_30_days_of_an_expiry(app, expiring_volunteer, chair):
    """The item expires in 10 days: one reminder on the first run, none on the next two."""
    before = len(notifications_of(app, chair.id))
    summaries = []
    for days in (0, 0, 1):
        with app.app_context():
            summaries.append(ops.renewal_pass(NOW + timedelta(days=days)))
            db.session.remove()
    assert summaries[0] == "0 volunteer(s) moved to renewal due, 1 reminder(s)"
    assert summaries[1] == summaries[2] == "0 volunteer(s) moved to renewal due, 0 reminder(s)"
    new = notifications_of(app, chair.id)[before:]
    assert new == [("A pro bono volunteer's vetting item expires within 30 days.", f"/volunteers/{expiring_volunteer}")]
    reminded_for = items_of(app, expiring_volunteer)["background_check"]["reminded_for"]
    assert reminded_for == task_force_today(app, NOW) + timedelta(days=10)
    assert application_row(app, expiring_volunteer)["status"] == "approved"


def test_no_reminder_more_than_30_days_ahead(app, submit, chair, courses):
    """An item expiring in 45 days does not remind yet."""
    application_id, _ = submit()
    approve(app, application_id, chair.id, NOW, courses,
            expiries={"background_check": task_force_today(app, NOW) + timedelta(days=45)})
    with app.app_context():
        assert ops.renewal_pass(NOW) == "0 volunteer(s) moved to renewal due, 0 reminder(s)"
        assert ops.renewal_pass(NOW + timedelta(days=16)) == "0 volunteer(s) moved to renewal due, 1 reminder(s)"
        db.session.remove()


def test_renewing_the_item_and_approving_again_brings_them_back(app, expiring_volunteer, chair):
    """Renewal due → the background check recorded again → approved: receivable again, same account and provider."""
    later = NOW + timedelta(days=11)
    with app.app_context():
        ops.renewal_pass(later)
        db.session.remove()
    row = application_row(app, expiring_volunteer)
    with pytest.raises(ops.VettingError, match="Background check"):
        move(app, expiring_volunteer, chair.id, "approved", later)
    with app.app_context():
        actor = db.session.get(User, chair.id)
        application = db.session.get(VolunteerApplication, expiring_volunteer)
        item = next(i for i in application.items if i.code == "background_check")
        ops.record_item(actor, application, item, {"done_on": local_date(later), "notes": "renewed",
                                                   "expires_on": local_date(later) + timedelta(days=365),
                                                   "course_id": None}, None, later)
        db.session.remove()
    assert not receivable(app, expiring_volunteer, later)  # still renewal due until a chair approves
    move(app, expiring_volunteer, chair.id, "approved", later)
    after = application_row(app, expiring_volunteer)
    assert after["status"] == "approved"
    assert (after["agency_id"], after["user_id"]) == (row["agency_id"], row["user_id"])
    assert receivable(app, expiring_volunteer, later)


def test_an_expired_core_course_also_stops_referrals(app, submit, chair, courses):
    """The core training item expires with its course; after it, no referrals and renewal due."""
    # A 24-month course done 700 days ago expires in about 30 days.
    done = task_force_today(app, NOW) - timedelta(days=700)
    application_id, _ = submit()
    vet(app, application_id, chair.id, NOW, courses, skip=("core_training",))
    with app.app_context():
        application = db.session.get(VolunteerApplication, application_id)
        item = next(i for i in application.items if i.code == "core_training")
        ops.record_item(db.session.get(User, chair.id), application, item,
                        {"done_on": done, "notes": "", "expires_on": None, "course_id": courses.core}, None, NOW)
        db.session.remove()
    move(app, application_id, chair.id, "in_review", NOW)
    move(app, application_id, chair.id, "approved", NOW)
    expiry = items_of(app, application_id)["core_training"]["expires_on"]
    assert expiry == add_months(done, 24) - timedelta(days=1)
    at_expiry = NOW + (expiry - task_force_today(app, NOW))
    assert receivable(app, application_id, at_expiry)
    assert not receivable(app, application_id, at_expiry + timedelta(days=1))


def test_the_daily_command_runs_the_renewal_pass(app, runner, expiring_volunteer):
    """`flask csrn daily --now` reports the volunteer renewals and moves the expired volunteer."""
    later = (NOW + timedelta(days=11)).isoformat()
    result = runner.invoke(args=["csrn", "daily", "--now", later])
    assert result.exit_code == 0, result.output
    assert "volunteer renewals: 1 volunteer(s) moved to renewal due, 0 reminder(s)" in result.output
    assert application_row(app, expiring_volunteer)["status"] == "renewal_due"


def test_an_approved_volunteer_starts_no_intake(login_as, create_agency):
    """Volunteers answer offers; the intake (and its navigation entry) is for agency staff (DESIGN §2)."""
    agency_id = create_agency(name="Pro Bono Person")
    volunteer = login_as(roles=("volunteer",), agency_id=agency_id)
    assert volunteer.client.get("/intake/new").status_code == 403
    assert "New intake" not in volunteer.client.get("/").get_data(as_text=True)
    staff = login_as(roles=("staff",), agency_id=agency_id)
    assert staff.client.get("/intake/new").status_code in (200, 302)


def test_an_approved_volunteer_answers_an_offer_like_an_agency(app, submit, chair, courses):
    """The one-person provider is offered a referral of its service type; the volunteer sees it in the inbox
    and accepts it through the same offers and permissions as an agency's case managers."""
    from csrn.auth.operations import hash_password
    from csrn.referrals import operations as referral_ops
    from csrn.referrals.models import Offer, Referral
    from tests import referral_factories as rf
    from tests.conftest import PASSWORD

    now = utcnow()
    application_id, _ = submit(at=now - timedelta(days=3))
    approve(app, application_id, chair.id, now, courses)
    row = application_row(app, application_id)
    with app.app_context():
        volunteer = db.session.get(User, row["user_id"])
        volunteer.password_hash = hash_password(PASSWORD)
        sender = rf.make_sender()
        intake = rf.send_intake(sender, now).intake
        referral = referral_ops.create_referral(sender, intake, row["service_type_id"], [row["agency_id"]], now)
        db.session.commit()
        referral_id, volunteer_email = referral.id, volunteer.email
        db.session.remove()
    b = Browser(app.test_client())
    b.login(volunteer_email)
    inbox = b.client.get("/referrals/inbox")
    assert inbox.status_code == 200 and f"/referrals/{referral_id}" in inbox.get_data(as_text=True)
    assert b.client.get(f"/referrals/{referral_id}").status_code == 200
    response = b.post(f"/referrals/{referral_id}/accept", page=f"/referrals/{referral_id}")
    assert response.status_code in (302, 303)
    with app.app_context():
        assert db.session.get(Referral, referral_id).state == "accepted"
        offer = db.session.scalars(select(Offer).where(Offer.referral_id == referral_id)).one()
        assert offer.state == "accepted" and offer.agency_id == row["agency_id"]
        db.session.remove()


# ----- labels that say what the form does (issue 18) -------------------------------------------------------

def _label_of(html: str, field_id: str) -> str:
    return re.search(rf'<label for="{field_id}">(.*?)</label>', html, re.S).group(1)


def test_fields_required_for_some_professions_never_say_optional(client):
    """The licence, its jurisdiction, the language pairs and "your profession" are required for some answers (the
    validation says so): their labels say when, and none says "(optional)"."""
    html = client.get("/volunteer/apply").get_data(as_text=True)
    expected = {"licence_number": "required if licensed", "licence_jurisdiction": "required if licensed",
                "language_pairs": "required for interpreters", "profession_other": "required if “Other”"}
    for field_id, when in expected.items():
        label = _label_of(html, field_id)
        assert "(optional)" not in label and f"({when})" in label, (field_id, label)
    assert "Required for attorneys, physicians, dentists, nurses and mental-health clinicians" in html
    assert "(optional)" in _label_of(html, "availability")  # a truly optional field keeps its marker


def test_the_application_ticks_languages_in_the_shared_control(app, client):
    """Languages: the same checkboxes as the intake, common ones first, the others behind "Other languages";
    a ticked other language is kept and shown after an error."""
    html = client.get("/volunteer/apply").get_data(as_text=True)
    common, other = html.split('<details class="more-choices"', 1)
    assert 'class="field language-picker' in common and "Arabic" in common and "Tigrinya" not in common
    assert "Tigrinya" in other and "scroll-list" not in html
    response = send_application(client, form_data(name="", languages=["en", "ti"]))
    assert response.status_code == 422
    kept = response.get_data(as_text=True)
    assert '<details class="more-choices" open>' in kept and "Tigrinya ticked" in kept


def _move_to_options(html: str) -> list[tuple[str, bool]]:
    select_html = re.search(r'<select[^>]*id="to_status".*?</select>', html, re.S).group(0)
    return [(value, "selected" in attrs)
            for attrs, value in re.findall(r'<option([^>]*?)value="([^"]*)"', select_html)]


def test_move_to_has_no_default_and_offers_approval_only_when_every_item_is_done(app, login_as, submit, chair,
                                                                                 courses):
    """In review with items open: "Move to" preselects nothing and leaves "Approved" out (the hint says why);
    posting no choice asks for one. Every item done: "Approved" is offered, still not preselected."""
    now = utcnow()
    application_id, _ = submit()
    move(app, application_id, chair.id, "in_review", now)
    b = login_as(roles=("chair",))
    html = b.get(f"/volunteers/{application_id}").get_data(as_text=True)
    options = _move_to_options(html)
    assert options[0] == ("", False) and not any(selected for _, selected in options)
    assert [value for value, _ in options] == ["", "on_hold", "declined"]
    assert "Approval is offered once every required item is done." in html
    reason = _label_of(html, "reason")
    assert "(optional)" not in reason and "(required to hold or decline)" in reason  # as change_status insists
    response = move_via_view(b, application_id, "")
    assert response.status_code == 422
    assert "Choose the status to move the application to." in response.get_data(as_text=True)
    assert application_row(app, application_id)["status"] == "in_review"
    vet(app, application_id, chair.id, now, courses)
    html = b.get(f"/volunteers/{application_id}").get_data(as_text=True)
    assert [value for value, _ in _move_to_options(html)] == ["", "approved", "on_hold", "declined"]
    assert not any(selected for _, selected in _move_to_options(html))

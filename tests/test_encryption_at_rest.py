"""Identifying free text encrypted at rest (SECURITY P8; issue 14 item 11): an offer's decline text; a volunteer
application's name, e-mail, phone, licence number and references; the committee's vetting notes and hold or decline
reasons. Read through SQL, no column holds a sentinel; the app reads them back; the application is still found by
its e-mail (the status-link request, the duplicate check) through keyed hashes; migration 0018 encrypts rows written
before it and its downgrade decrypts them.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import column as sql_column
from sqlalchemy import select, table, text

from csrn.agencies.operations import local_date
from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Offer, Referral
from csrn.volunteers import operations as volunteer_ops
from csrn.volunteers.models import VettingItem, VolunteerApplication, VolunteerEvent
from tests.conftest import NOW, Browser
from tests.referral_factories import make_chair, make_provider, make_sender, send_intake

SENTINEL = "SENTINEL7Q"
EMAIL = f"sentinel7q-{uuid.uuid4().hex[:6]}@example.org"
ENCRYPTED_APPLICATION_COLUMNS = ("name", "email", "phone", "licence_number", "reference1_name",
                                 "reference1_contact", "reference2_name", "reference2_contact", "status_reason")


def answers(email: str = EMAIL) -> dict:
    """An attorney's application with a sentinel in every field that is to be encrypted."""
    return {
        "name": f"{SENTINEL} Name", "email": email, "phone": f"555 {SENTINEL}", "profession": "attorney",
        "profession_other": "", "licence_number": f"BAR-{SENTINEL}", "licence_jurisdiction": "State Bar of Alder",
        "languages": ["es", "en"], "language_pairs": "", "practice_areas": ["immigration"], "hours_per_month": 4,
        "availability": "Evenings", "reference1_name": f"{SENTINEL} Ref One",
        "reference1_contact": f"one-{SENTINEL}@example.org", "reference2_name": f"{SENTINEL} Ref Two",
        "reference2_contact": f"555 {SENTINEL} 2", "background_check_consent": True,
        "confidentiality_acknowledged": True,
    }


def write_everything(now) -> dict:
    """An application held with a reason and a note, and a referral declined with free text (all sentinels)."""
    chair = make_chair()
    submitted = volunteer_ops.submit_application(answers(), now)
    application = submitted.application
    identity = next(item for item in application.items if item.code == "identity")
    volunteer_ops.record_item(chair, application, identity, {"done_on": local_date(now), "notes": f"Note {SENTINEL}",
                                                             "expires_on": None, "course_id": None}, None, now)
    volunteer_ops.change_status(chair, application, "on_hold", f"Reason {SENTINEL}", application.version, now)
    provider, backup = make_provider(now=now), make_provider(now=now)
    referral = send_intake(make_sender(), now, receiver=provider.agency_id, backups=[backup.agency_id])
    manager = db.session.get(User, provider.case_manager_ids[0])
    referral_ops.decline(manager, db.session.get(Referral, referral.id), "other", f"Decline {SENTINEL}", now)
    return {"application": application.id, "referral": referral.id, "token": submitted.raw_token}


def raw_values(application_id: int, referral_id: int) -> dict[str, str]:
    """Every encrypted column as stored, read through SQL (not the ORM)."""
    connection = db.session.connection()
    row = table("volunteer_application", *(sql_column(name) for name in ("id", *ENCRYPTED_APPLICATION_COLUMNS)))
    values = dict(connection.execute(select(*(row.c[name] for name in ENCRYPTED_APPLICATION_COLUMNS))
                                     .where(row.c.id == application_id)).mappings().one())
    for i, (value,) in enumerate(connection.execute(text(
            "SELECT notes FROM vetting_item WHERE application_id = :id"), {"id": application_id})):
        values[f"vetting_item.notes {i}"] = value
    for i, (value,) in enumerate(connection.execute(text(
            "SELECT detail FROM volunteer_event WHERE application_id = :id"), {"id": application_id})):
        values[f"volunteer_event.detail {i}"] = value
    for i, (value,) in enumerate(connection.execute(text(
            "SELECT decline_text FROM offer WHERE referral_id = :id"), {"id": referral_id})):
        values[f"offer.decline_text {i}"] = value
    return values


def test_no_sentinel_is_stored_in_clear_and_the_app_reads_them_back(app, ctx):
    """SQL finds no sentinel (nor the e-mail) in any encrypted column, nor in the hashes; the ORM reads them back."""
    now = utcnow()
    ids = write_everything(now)
    db.session.expire_all()
    stored = raw_values(ids["application"], ids["referral"])
    assert len(stored) >= len(ENCRYPTED_APPLICATION_COLUMNS) + 3
    for column, value in stored.items():
        assert SENTINEL.lower() not in value.lower() and EMAIL not in value, column
        assert value.startswith("gAAAAA"), column  # a Fernet token, even for an empty value
    hashes = db.session.execute(text("SELECT email_hash, fingerprint FROM volunteer_application WHERE id = :id"),
                                {"id": ids["application"]}).one()
    assert hashlib.sha256(EMAIL.encode()).hexdigest() not in hashes  # keyed, not a plain digest of the address
    application = db.session.get(VolunteerApplication, ids["application"])
    assert application.email == EMAIL and application.name == f"{SENTINEL} Name"
    assert application.status_reason == f"Reason {SENTINEL}"
    assert application.reference2_contact == f"555 {SENTINEL} 2"
    assert any(item.notes == f"Note {SENTINEL}" for item in application.items)
    assert any(event.detail == f"Reason {SENTINEL}" for event in application.events)
    offer = db.session.scalar(select(Offer).where(Offer.referral_id == ids["referral"], Offer.state == "declined"))
    assert offer.decline_text == f"Decline {SENTINEL}"


def test_the_application_is_still_found_by_its_email_and_its_answers(app):
    """The link request finds it by the keyed hash of the normalised address (any case and spacing); the same
    answers again find the first application; a different address finds nothing."""
    email = f"Finder-{uuid.uuid4().hex[:6]}@Example.org"
    with app.app_context():
        first = volunteer_ops.submit_application(answers(email), NOW)
        again = volunteer_ops.submit_application(answers(email.upper()), NOW)
        assert not again.created and again.application.id == first.application.id
        application_id = first.application.id
        db.session.remove()
    b = Browser(app.test_client())
    assert b.post("/volunteer/status", {"email": f"  {email.upper()} "}).status_code == 200
    with app.app_context():
        mails = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.to_addr == email.lower())).all()
        assert len(mails) == 2 and "/volunteer/status/" in mails[-1]
        assert volunteer_ops.request_status_link(f"other-{email}", NOW) == 0
        assert db.session.get(VolunteerApplication, application_id).email == email.lower()


def test_an_application_hashed_under_an_older_key_is_found_after_a_rotation(app, monkeypatch):
    """Keys "B,A": the lookup tries every key's hash, so an application written under A is still found."""
    from cryptography.fernet import Fernet

    email = f"rotated-{uuid.uuid4().hex[:6]}@example.org"
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    try:
        with app.app_context():
            monkeypatch.setitem(app.config, "CSRN_ENCRYPTION_KEY", key_a)
            app.extensions.pop("csrn_fernet", None)
            volunteer_ops.submit_application(answers(email), NOW)
            db.session.remove()
        with app.app_context():
            monkeypatch.setitem(app.config, "CSRN_ENCRYPTION_KEY", f"{key_b},{key_a}")
            app.extensions.pop("csrn_fernet", None)
            assert volunteer_ops.request_status_link(email, NOW) == 1
            assert not volunteer_ops.submit_application(answers(email), NOW).created
            db.session.remove()
    finally:
        monkeypatch.undo()
        app.extensions.pop("csrn_fernet", None)


@pytest.fixture
def default_session_mode():
    """Give sessions SQLAlchemy's default join mode (conftest's teardown sets an unknown one)."""
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")


@pytest.mark.concurrency
def test_migration_0018_encrypts_existing_rows_and_its_downgrade_decrypts_them(committed_app, default_session_mode):
    """Rows written, then the schema taken back to 0017: the values are plaintext again with the plain SHA-256
    fingerprint; upgraded again: ciphertext in every column, read back by the app, found by e-mail and answers."""
    with committed_app.app_context():
        now = utcnow()
        ids = write_everything(now)
        db.session.remove()
        downgrade(revision="0017_form_stamps")
        with db.engine.connect() as connection:
            row = connection.execute(text("SELECT name, email, status_reason, fingerprint FROM volunteer_application "
                                          "WHERE id = :id"), {"id": ids["application"]}).one()
            assert row.name == f"{SENTINEL} Name" and row.email == EMAIL and row.status_reason == f"Reason {SENTINEL}"
            normal = {key: value for key, value in answers().items()}
            normal = {key: (sorted(value) if isinstance(value, list) else
                            " ".join(value.split()).casefold() if isinstance(value, str) else value)
                      for key, value in normal.items()}
            assert row.fingerprint == hashlib.sha256(json.dumps(normal, sort_keys=True).encode()).hexdigest()
            assert connection.execute(text("SELECT decline_text FROM offer WHERE decline_text != ''")).scalar() \
                == f"Decline {SENTINEL}"
            assert connection.execute(text("SELECT notes FROM vetting_item WHERE notes != ''")).scalar() \
                == f"Note {SENTINEL}"
        upgrade()
        stored = raw_values(ids["application"], ids["referral"])
        for column, value in stored.items():
            assert SENTINEL.lower() not in value.lower() and EMAIL not in value, column
        db.session.remove()
        application = db.session.get(VolunteerApplication, ids["application"])
        assert (application.name, application.email) == (f"{SENTINEL} Name", EMAIL)
        assert db.session.scalar(select(VettingItem.notes).where(VettingItem.notes != "")) is not None
        assert any(event.detail == f"Reason {SENTINEL}" for event in db.session.scalars(select(VolunteerEvent)))
        assert db.session.scalar(select(Offer.decline_text).where(Offer.state == "declined")) == f"Decline {SENTINEL}"
        assert not volunteer_ops.submit_application(answers(), now).created  # the keyed fingerprint matches
        assert volunteer_ops.request_status_link(EMAIL, now) == 1  # and the keyed e-mail hash
        db.session.remove()

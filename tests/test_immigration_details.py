"""Immigration details (SECURITY P6), a role matrix: users of law-enforcement agencies see a person's immigration
details only where the consent names their agency and the immigration category — as the intake's author, as a
receiver, as a chair; everyone else as the rest of the consent says; and no export carries them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from csrn.agencies.models import Agency
from csrn.auth.models import User
from csrn.extensions import db
from csrn.referrals import operations as referral_ops
from tests.conftest import NOW, logged_in
from tests.referral_factories import (
    ALIAS,
    IMMIGRATION,
    consent_answers,
    make_provider,
    make_sender,
    new_user,
    send_intake,
)


def _police(user: User) -> None:
    db.session.get(Agency, user.agency_id).agency_type = "law_enforcement"
    db.session.commit()


@pytest.fixture
def people(app):
    with app.app_context():
        officer = make_sender(name="Riverton Police")  # the author, at a police department
        _police(officer)
        colleague = new_user(officer.agency_id, ("staff",))
        shelter = make_sender(name="Harbor Shelter")  # an author at a shelter
        provider = make_provider("Harbor Case Management")
        police_provider = make_provider("Sheriff's Victim Unit")  # a law-enforcement agency that receives
        db.session.get(Agency, police_provider.agency_id).agency_type = "law_enforcement"
        db.session.commit()
        return {"officer": officer.email, "officer_agency": officer.agency_id, "colleague": colleague.email,
                "shelter": shelter.email, "provider": provider.agency_id,
                "provider_cm": provider.case_manager_emails[0], "police_provider": police_provider.agency_id,
                "police_cm": police_provider.case_manager_emails[0]}


def _referral(app, people, author: str, receiver: str, named=(), categories=("identity", "immigration")) -> int:
    with app.app_context():
        user = db.session.scalar(User.by_email(people[author]))
        referral = send_intake(user, NOW, receiver=people[receiver],
                               **consent_answers(with_=("receiver",), categories=categories,
                                                 consent_agencies=[people[n] for n in named]))
        manager = db.session.scalar(select(User).where(User.agency_id == people[receiver],
                                                       User.email.in_([people["provider_cm"], people["police_cm"]])))
        referral_ops.accept(manager, referral, NOW + timedelta(minutes=5))
        return referral.id


def _sees(app, email: str, referral_id: int) -> tuple[bool, bool]:
    """(sees the alias, sees the immigration details) on the referral page."""
    page = logged_in(app, email).get(f"/referrals/{referral_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return ALIAS in text, IMMIGRATION in text


@pytest.mark.parametrize(("author", "receiver", "named", "categories", "viewer", "expected"), [
    # A police author sees what the consent lets any other agency see: not the immigration details…
    ("officer", "provider", (), ("identity", "immigration"), "officer", (True, False)),
    # …unless the consent names the police department and the immigration category.
    ("officer", "provider", ("officer_agency",), ("identity", "immigration"), "officer", (True, True)),
    ("officer", "provider", ("officer_agency",), ("identity",), "officer", (True, False)),
    # The receiving provider sees them under the consent for the chosen receiver.
    ("officer", "provider", (), ("identity", "immigration"), "provider_cm", (True, True)),
    # A law-enforcement receiver chosen by the sender does not: only named does it.
    ("shelter", "police_provider", (), ("identity", "immigration"), "police_cm", (True, False)),
    ("shelter", "police_provider", ("police_provider",), ("identity", "immigration"), "police_cm", (True, True)),
    # An author at a shelter sees everything they wrote, as before.
    ("shelter", "provider", (), ("identity",), "shelter", (True, True)),
])
def test_the_role_matrix(app, people, author, receiver, named, categories, viewer, expected):
    referral_id = _referral(app, people, author, receiver, named, categories)
    assert _sees(app, people[viewer], referral_id) == expected


def test_the_audit_says_which_categories_were_shown(app, people):
    from csrn.audit.models import AuditEvent
    referral_id = _referral(app, people, "officer", "provider")
    _sees(app, people["officer"], referral_id)
    with app.app_context():
        fields = db.session.scalar(select(AuditEvent.fields).where(
            AuditEvent.action == "referral.viewed_identifying", AuditEvent.object_id == str(referral_id))
            .order_by(AuditEvent.id.desc()))
        assert "identity" in fields and "immigration" not in fields


def test_no_export_carries_immigration_details(app, people):
    """The exports a chair or an agency can download (directory, agencies, gaps) hold no client field at all."""
    _referral(app, people, "officer", "provider", named=("officer_agency",))
    with app.app_context():
        from csrn.agencies.models import Agency as AgencyModel
        chair = new_user(db.session.scalar(select(AgencyModel.id).limit(1)), ("chair", "admin"))
        db.session.commit()
        email = chair.email
    browser = logged_in(app, email)
    for url in ("/directory/export.csv", "/agencies/export.csv", "/gaps/demand.csv?table=needs-age_group",
                "/referrals/?format=csv"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert IMMIGRATION not in response.get_data(as_text=True), url


def test_a_law_enforcement_backup_is_not_named_by_the_person(app, people):
    """Consent for "the receiver and its backups" lets a backup see the identity it covers; a law-enforcement
    backup that takes the referral still sees no immigration details — the person did not name it."""
    with app.app_context():
        shelter = db.session.scalar(User.by_email(people["shelter"]))
        referral = send_intake(shelter, NOW, receiver=people["provider"], backups=[people["police_provider"]],
                               **consent_answers(with_=("receiver", "backups"), categories=("identity", "immigration")))
        first = db.session.scalar(User.by_email(people["provider_cm"]))
        referral_ops.decline(first, referral, "no_capacity", "", NOW + timedelta(minutes=2))
        police = db.session.scalar(User.by_email(people["police_cm"]))
        referral_ops.accept(police, db.session.get(type(referral), referral.id), NOW + timedelta(minutes=5))
        referral_id = referral.id
    assert _sees(app, people["police_cm"], referral_id) == (True, False)

"""Consent: what the sending agency's record lets cross agencies (DESIGN §5, SECURITY P1–P3).

With referrals, below intake and cases: the intake records consent, referrals and case work apply it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from csrn.audit import operations as audit
from csrn.extensions import db
from csrn.referrals.models import Consent
from csrn.settings.operations import task_force_zone


def consent_of(intake) -> Consent | None:
    """The intake's consent record."""
    return db.session.scalar(select(Consent).where(Consent.intake_id == intake.id))


def consent_valid(consent: Consent | None, now: datetime) -> bool:
    """Given, not revoked, not expired (in the task force's calendar)."""
    if consent is None or not consent.given or consent.revoked_at is not None:
        return False
    today = now.astimezone(task_force_zone()).date()
    return consent.expires_on is None or today <= consent.expires_on


def shared_categories(referral, viewer_agency_id: int | None, as_chair: bool, now: datetime) -> set[str]:
    """The identifying categories the sending agency's consent lets this viewer's agency see."""
    consent = consent_of(referral.intake)
    if not consent_valid(consent, now):
        return set()
    if referral.parent_id is None and referral.transferred_from_id is None:
        # The case: "the chosen receiver" is the first provider the sender chose.
        candidates = referral.candidates
        chosen = consent.with_receiver and candidates and viewer_agency_id == candidates[0]
    else:
        # An onward referral or a transfer, to a provider the case holder chose (DESIGN §5 "onward receivers"):
        # only consent for onward providers reaches it.
        accepted = referral.accepted_agency_id
        chosen = consent.with_onward and accepted is not None and viewer_agency_id == accepted
    covered = chosen or (viewer_agency_id in consent.named_agencies) or (as_chair and consent.with_chairs)
    return set(consent.categories) if covered else set()


LAW_ENFORCEMENT = "law_enforcement"


def immigration_allowed(referral, viewer, now: datetime) -> bool:
    """SECURITY P6: a user of a law-enforcement agency sees a person's immigration details only when the consent
    names that agency and the immigration category explicitly — not as the chosen receiver, a backup, an onward
    provider or a chair, and not as the intake's author once it is submitted (the form shows what they typed while
    they write it). Everyone else: as the rest of the consent says."""
    agency = getattr(viewer, "agency", None)
    if agency is None or agency.agency_type != LAW_ENFORCEMENT:
        return True
    consent = consent_of(referral.intake)
    return (consent_valid(consent, now) and agency.id in consent.named_explicitly
            and "immigration" in consent.categories)


def revoke_consent(actor, intake, now: datetime) -> None:
    """Revoke the consent: what it covered is hidden from everyone it covered, at once."""
    consent = consent_of(intake)
    if consent is None or consent.revoked_at is not None:
        return
    consent.revoked_at = now
    consent.revoked_by_id = actor.id
    audit.record(actor, "consent.revoked", consent, fields=["revoked_at"], now=now)
    db.session.commit()

"""Intake drafts, matching against the directory, submission in one transaction, consent checks."""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime, timedelta

from flask import abort
from sqlalchemy import delete, func, select

from csrn.agencies import operations as agency_ops
from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.directory import operations as directory_ops
from csrn.directory.models import Service, ServiceType
from csrn.extensions import db
from csrn.intake import matching
from csrn.intake.models import Consent, Intake, IntakeDraft, Pathway, UnmetNeed
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Offer
from csrn.schedules import operations as schedule_ops
from csrn.settings.operations import task_force_zone

DRAFT_LIFETIME = timedelta(days=7)
CASE_MANAGEMENT = "case_management"
IDENTIFYING_BY_CATEGORY = {
    "identity": ("alias",),
    "contact": ("contact_phone", "contact_other", "safe_channel", "safe_times", "code_word"),
    "immigration": ("immigration_notes",),
    "health": ("health_notes",),
    "narrative": ("narrative",),
}


class CannotStartIntake(Exception):
    """The user's agency is suspended, or the account has no agency."""


def can_start_intake(user) -> bool:
    """Any active user of an agency that is not suspended, whatever its membership status.

    Not a pro bono volunteer alone: volunteers answer offers and start no intakes (DESIGN §2).
    """
    from csrn.auth.models import VOLUNTEER

    return bool(user.active and user.agency is not None and user.agency.membership_status != "suspended"
                and user.roles != {VOLUNTEER})


# ----- drafts ------------------------------------------------------------------------------------

def start_draft(actor, answers: dict, now: datetime) -> IntakeDraft:
    """Begin a draft with the first step's answers."""
    if not can_start_intake(actor):
        raise CannotStartIntake("Your agency cannot start intakes right now.")
    draft = IntakeDraft(user_id=actor.id, agency_id=actor.agency_id, step=1, created_at=now, updated_at=now,
                        submission_key=secrets.token_hex(16))
    draft.answers = answers
    db.session.add(draft)
    db.session.commit()
    return draft


def save_draft(draft: IntakeDraft, answers: dict, step: int, now: datetime) -> None:
    """Merge a step's answers into the draft."""
    merged = draft.answers
    merged.update(answers)
    draft.answers = merged
    draft.step = max(draft.step, step)
    draft.updated_at = now
    db.session.commit()


def drafts_of(user) -> list[IntakeDraft]:
    """The user's own drafts, most recent first."""
    return db.session.scalars(select(IntakeDraft).where(IntakeDraft.user_id == user.id)
                              .order_by(IntakeDraft.updated_at.desc())).all()


def get_draft_or_404(draft_id: int, user) -> IntakeDraft:
    """A draft of the user's own; anyone else's is a 404."""
    draft = db.session.get(IntakeDraft, draft_id)
    if draft is None or draft.user_id != user.id:
        abort(404)
    return draft


def purge_drafts(now: datetime) -> str:
    """The daily job: delete drafts unused for 7 days."""
    result = db.session.execute(delete(IntakeDraft).where(IntakeDraft.updated_at < now - DRAFT_LIFETIME))
    db.session.commit()
    return f"{result.rowcount} draft(s) purged"


def discard_draft(actor, draft: IntakeDraft) -> None:
    """Delete a draft the user no longer needs."""
    db.session.delete(draft)
    db.session.commit()


# ----- matching ----------------------------------------------------------------------------------

def person_from(answers: dict) -> matching.Person:
    """The matching dimensions out of a draft's answers."""
    return matching.Person(
        age_group=answers.get("age_group") or "unknown",
        gender=answers.get("gender") or "unknown",
        citizenship=answers.get("citizenship") or "unknown",
        trafficking_type=answers.get("trafficking_type") or "unknown",
        languages=tuple(answers.get("languages") or ()),
        county=answers.get("county") or "",
        urgency=answers.get("urgency") or "routine",
    )


def load_candidates(service_type: ServiceType, now: datetime) -> list[matching.Candidate]:
    """Every active service of the type at a network agency, with what matching needs (few queries)."""
    services = db.session.scalars(
        select(Service).join(Agency, Agency.id == Service.agency_id)
        .where(Service.service_type_id == service_type.id, Service.status == "active",
               Agency.membership_status == "member")
    ).unique().all()
    if not services:
        return []
    agency_ids = {s.agency_id for s in services}
    receivable = set(db.session.scalars(select(Agency.id).where(
        Agency.id.in_(agency_ids), agency_ops.receivable_condition(service_type.id, now))))
    pending = dict(db.session.execute(
        select(Offer.agency_id, func.count()).where(Offer.state == "pending", Offer.agency_id.in_(agency_ids))
        .group_by(Offer.agency_id)).all())
    holidays, zone = schedule_ops.holiday_set(), task_force_zone()
    return [
        matching.Candidate(
            agency_id=s.agency_id, agency_name=s.agency.name, service_id=s.id, service_title=s.title,
            receivable=s.agency_id in receivable,
            facets={kind: set(s.values(kind)) for kind in ("age", "gender", "citizenship", "trafficking",
                                                           "language", "interpretation", "county")},
            open_slots=s.open_slots, stale=s.is_stale(now), is_24_7=s.is_24_7,
            open_now=directory_ops.is_open(s, now, holidays, zone), pending_offers=pending.get(s.agency_id, 0),
        )
        for s in services
    ]


def service_type_by_code(code: str) -> ServiceType | None:
    """A taxonomy term by its code."""
    return db.session.scalar(select(ServiceType).where(ServiceType.code == code))


def match_case_management(answers: dict, now: datetime) -> list[matching.Match]:
    """The ranked case-management providers for this person."""
    service_type = service_type_by_code(CASE_MANAGEMENT)
    if service_type is None:
        return []
    return matching.match(person_from(answers), load_candidates(service_type, now))


def unmet_needs(answers: dict, now: datetime) -> list[ServiceType]:
    """The checked needs no provider can receive for this person (ignoring opening hours)."""
    person = person_from(answers)
    relaxed = matching.Person(**{**person.__dict__, "urgency": "routine"})
    missing = []
    for code in answers.get("needs") or []:
        service_type = service_type_by_code(code)
        if service_type is not None and not matching.match(relaxed, load_candidates(service_type, now)):
            missing.append(service_type)
    return missing


def fitting_pathways(answers: dict) -> list[Pathway]:
    """Active pathways whose target population includes the person ("unknown" fits every target)."""
    person = person_from(answers)
    values = {"age_groups": person.age_group, "genders": person.gender, "citizenship": person.citizenship,
              "trafficking": person.trafficking_type}
    fitting = []
    for pathway in db.session.scalars(select(Pathway).where(Pathway.active.is_(True)).order_by(Pathway.name)):
        if all(not pathway.target(dim) or value == "unknown" or value in pathway.target(dim)
               for dim, value in values.items()):
            fitting.append(pathway)
    return fitting


# ----- submission --------------------------------------------------------------------------------

def submit(actor, draft: IntakeDraft | None, submission_key: str, now: datetime):
    """Create the intake, consent, referral, first offer, unmet needs, notifications and audit in one
    transaction; a repeated submission (same key) returns the first result (R4, R5)."""
    existing = db.session.scalar(select(Intake).where(Intake.submission_key == submission_key))
    if existing is not None:
        return _referral_of(existing)
    if draft is None or draft.submission_key != submission_key:
        raise CannotStartIntake("This intake was already sent or discarded.")
    if not can_start_intake(actor):
        raise CannotStartIntake("Your agency cannot start intakes right now.")
    answers = draft.answers
    intake = Intake(
        submission_key=submission_key, created_by_id=actor.id, agency_id=actor.agency_id, created_at=now,
        urgency=answers.get("urgency", "routine"), county=answers.get("county", ""),
        age_group=answers.get("age_group") or "unknown", gender=answers.get("gender") or "unknown",
        citizenship=answers.get("citizenship") or "unknown",
        trafficking_type=answers.get("trafficking_type") or "unknown",
        languages_json=json.dumps(answers.get("languages") or []),
        interpreter_needed=bool(answers.get("interpreter_needed")),
        considerations_json=json.dumps(answers.get("considerations") or []),
        needs_json=json.dumps(answers.get("needs") or []),
        alias=answers.get("alias") or None, contact_phone=answers.get("contact_phone") or None,
        contact_other=answers.get("contact_other") or None, safe_channel=answers.get("safe_channel") or None,
        safe_times=answers.get("safe_times") or None, do_not_text=bool(answers.get("do_not_text")),
        code_word=answers.get("code_word") or None,
        phone_may_be_controlled=bool(answers.get("phone_may_be_controlled")),
        narrative=answers.get("narrative") or None, immigration_notes=answers.get("immigration_notes") or None,
        health_notes=answers.get("health_notes") or None,
    )
    db.session.add(intake)
    db.session.flush()
    consent = _consent_from(answers, intake, actor, now)
    db.session.add(consent)
    for service_type in unmet_needs(answers, now):
        db.session.add(UnmetNeed(intake_id=intake.id, service_type_id=service_type.id, age_group=intake.age_group,
                                 gender=intake.gender, citizenship=intake.citizenship,
                                 trafficking_type=intake.trafficking_type, county=intake.county,
                                 recorded_on=now.astimezone(task_force_zone()).date()))
    matches = match_case_management(answers, now)
    ranked = [m.candidate.agency_id for m in matches]
    chosen = answers.get("receiver")
    backups = [b for b in answers.get("backups") or [] if b in ranked and b != chosen]
    order = ([chosen] if chosen in ranked else []) + backups
    order += [agency_id for agency_id in ranked if agency_id not in order]
    if consent.with_backups:
        # "Its backups" are the backups the sender chose, not every later match (P1): the record names them.
        consent.named_agencies_json = json.dumps(sorted(set(consent.named_agencies) | set(backups)))
    service_type = service_type_by_code(CASE_MANAGEMENT)
    referral = referral_ops.create_referral(actor, intake, service_type.id, order, now)
    audit.record(actor, "intake.submitted", intake,
                 fields=[key for key, value in answers.items() if value not in (None, "", [], False)], now=now)
    db.session.delete(draft)
    db.session.commit()
    return referral


def _referral_of(intake: Intake):
    from csrn.referrals.models import Referral

    return db.session.scalar(select(Referral).where(Referral.intake_id == intake.id).order_by(Referral.id))


def _consent_from(answers: dict, intake: Intake, actor, now: datetime) -> Consent:
    given = answers.get("consent") == "yes"
    def as_date(value):
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None
    return Consent(
        intake_id=intake.id, given=given, how=answers.get("consent_how") if given else "none",
        with_receiver=given and "receiver" in (answers.get("consent_with") or []),
        with_backups=given and "backups" in (answers.get("consent_with") or []),
        with_onward=given and "onward" in (answers.get("consent_with") or []),
        with_chairs=given and "chairs" in (answers.get("consent_with") or []),
        named_agencies_json=json.dumps(answers.get("consent_agencies") or [] if given else []),
        categories_json=json.dumps(answers.get("consent_categories") or [] if given else []),
        given_on=as_date(answers.get("consent_date")) if given else None,
        expires_on=as_date(answers.get("consent_expires")) if given else None,
        recorded_by_id=actor.id, recorded_at=now,
    )


# ----- consent: what crosses agencies -------------------------------------------------------------

def consent_of(intake: Intake) -> Consent | None:
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
    candidates = referral.candidates
    covered = (
        (consent.with_receiver and candidates and viewer_agency_id == candidates[0])
        or (viewer_agency_id in consent.named_agencies)
        or (as_chair and consent.with_chairs)
    )
    return set(consent.categories) if covered else set()


def revoke_consent(actor, intake: Intake, now: datetime) -> None:
    """Revoke the consent: what it covered is hidden from everyone it covered, at once."""
    consent = consent_of(intake)
    if consent is None or consent.revoked_at is not None:
        return
    consent.revoked_at = now
    consent.revoked_by_id = actor.id
    audit.record(actor, "consent.revoked", consent, fields=["revoked_at"], now=now)
    db.session.commit()

"""Intake drafts, matching against the directory, submission in one transaction (consent recorded with it)."""

from __future__ import annotations

import dataclasses
import functools
import json
import secrets
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

from flask import abort
from sqlalchemy import String, and_, cast, delete, func, or_, select

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.directory import operations as directory_ops
from csrn.directory import receiving
from csrn.directory.models import STALE_AFTER, Service, ServiceFacet, ServiceType
from csrn.extensions import db
from csrn.intake import matching
from csrn.intake.models import Intake, IntakeDraft, IntakeLanguage, IntakeNeed, UnmetNeed
from csrn.pathways.models import Pathway
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Consent, Offer, Referral
from csrn.roles import VOLUNTEER
from csrn.schedules import engine
from csrn.schedules import operations as schedule_ops
from csrn.schedules.models import ScheduleRule
from csrn.settings.operations import task_force_zone

DRAFT_LIFETIME = timedelta(days=7)
CASE_MANAGEMENT = "case_management"


class CannotStartIntake(Exception):
    """The user's agency is suspended, or the account has no agency."""


def can_start_intake(user) -> bool:
    """Any active user of an agency that is not suspended, whatever its membership status.

    Not a pro bono volunteer alone: volunteers answer offers and start no intakes (DESIGN §2).
    """
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


# A service's facets and schedule rules arrive as one text each (one row per service, not one per facet or rule);
# the ASCII record and unit separators cannot come from a form.
RECORD, UNIT = "\x1e", "\x1f"


def _candidate_services(*conditions):
    """SQL: active services at member agencies (every candidate the matcher sees), of the types the conditions say."""
    return (select(Service.id).join(Agency, Agency.id == Service.agency_id)
            .where(Service.status == "active", Agency.membership_status == "member", *conditions))


def _joined(*columns):
    """SQL: the columns as one text, UNIT between them, NULL as empty."""
    parts = [func.coalesce(cast(column, String), "") for column in columns]
    text = parts[0]
    for part in parts[1:]:
        text = text + UNIT + part
    return text


# The parts of the candidates' SELECT that never change are built once: building SQLAlchemy expressions is a good
# part of the match step's time in Python.

@functools.cache
def _facets_text():
    """SQL: the service's facets as one text (kind UNIT value, RECORD between)."""
    return (select(func.aggregate_strings(ServiceFacet.kind + UNIT + ServiceFacet.value, RECORD))
            .where(ServiceFacet.service_id == Service.id).scalar_subquery())


@functools.cache
def _rule_text():
    """SQL: one schedule rule as text."""
    return func.aggregate_strings(_joined(ScheduleRule.kind, ScheduleRule.weekday, ScheduleRule.opens,
                                          ScheduleRule.closes, ScheduleRule.start_date, ScheduleRule.end_date), RECORD)


def _rules_text(now: datetime, zone):
    """SQL: the service's schedule rules that can decide whether it is open at `now`, as one text: weekly spans
    starting on the local day before through the day after (a span ends within a day of its start), closures
    touching those days. The schedule engine reads no other rule for one instant, and fewer rules make fewer
    different hours to compute."""
    today = now.astimezone(zone).date()
    first, last = today - timedelta(days=1), today + timedelta(days=1)
    return (select(_rule_text())
            .where(ScheduleRule.service_id == Service.id,
                   or_(and_(ScheduleRule.kind == "weekly",
                            ScheduleRule.weekday.in_(sorted({first.weekday(), today.weekday(), last.weekday()}))),
                       and_(ScheduleRule.kind == "closed", ScheduleRule.start_date <= last,
                            ScheduleRule.end_date >= first)))
            .scalar_subquery())


def _facets_from(text: str | None) -> dict[str, set[str]]:
    """The facets text back as values by kind."""
    facets: dict[str, set[str]] = {}
    for item in text.split(RECORD) if text else ():
        kind, value = item.split(UNIT, 1)
        if kind in facets:
            facets[kind].add(value)
        else:
            facets[kind] = {value}
    return facets


def _rules_from(text: str | None) -> list[SimpleNamespace]:
    """The rules as schedule_from_rules reads them (times and dates as both databases write them as text)."""
    rules = []
    for item in text.split(RECORD) if text else ():
        kind, weekday, opens, closes, start, end = item.split(UNIT)
        rules.append(SimpleNamespace(
            kind=kind, weekday=int(weekday) if weekday else None,
            opens=time.fromisoformat(opens) if opens else None, closes=time.fromisoformat(closes) if closes else None,
            start_date=date.fromisoformat(start) if start else None, end_date=date.fromisoformat(end) if end else None))
    return rules


def load_candidates(service_type: ServiceType, now: datetime,
                    person: matching.Person | None = None) -> list[matching.Candidate]:
    """Every active service of the type at a network agency, with what matching reads, from plain rows: one SELECT
    of the services (their facets, hours, staleness and whether they can receive referrals computed in it), one of
    the pending offers per agency, one of the holidays. Given a person, only the services whose facets admit the
    person (in SQL, see `_eligible`): the matcher would drop the others first, and they are most of the work."""
    zone = task_force_zone()
    rows = db.session.execute(
        _candidate_services(Service.service_type_id == service_type.id, *(_eligible(person) if person else ()))
        .add_columns(Service.agency_id, Agency.name, Service.name,
                     # Each is an active service of the type: the type's part of the rule holds already. A column,
                     # not a condition: PostgreSQL would start from every agency that can receive referrals.
                     receiving.receivable_condition(None, now), Service.open_slots,
                     or_(Service.capacity_confirmed_at.is_(None), Service.capacity_confirmed_at < now - STALE_AFTER),
                     Service.is_24_7, Service.closed_on_holidays, _facets_text(), _rules_text(now, zone))
    ).tuples().all()
    if not rows:
        return []
    pending = dict(db.session.execute(
        select(Offer.agency_id, func.count())
        # A drill's offers weigh on no real match (they are counted nowhere): each pending offer's referral is read
        # by its key, not every referral scanned for drills.
        .join(Referral, Referral.id == Offer.referral_id)
        # A range on the deadline steers SQLite to the partial index of pending offers (every offer has one).
        .where(referral_ops.PENDING, Offer.deadline_at > datetime(2000, 1, 1, tzinfo=UTC),
               Referral.is_drill.is_(False))
        .group_by(Offer.agency_id)).tuples().all())
    holidays = schedule_ops.holiday_set()
    open_now: dict[tuple, bool] = {}  # by hours: most services keep one of a few, so the engine runs a few times
    candidates = []
    for (service_id, agency_id, agency_name, name, receivable, open_slots, stale, is_24_7, closed_on_holidays,
         facets, rules) in rows:
        hours = (is_24_7, closed_on_holidays, rules)
        if hours not in open_now:
            schedule = schedule_ops.schedule_from_rules(_rules_from(rules), is_24_7, closed_on_holidays, holidays)
            open_now[hours] = engine.is_open(schedule, now, zone)
        candidates.append(matching.Candidate(
            agency_id=agency_id, agency_name=agency_name, service_id=service_id,
            service_title=name or service_type.name, receivable=bool(receivable), facets=_facets_from(facets),
            open_slots=open_slots, stale=bool(stale), is_24_7=is_24_7, open_now=open_now[hours],
            pending_offers=pending.get(agency_id, 0)))
    return candidates


def person_of(intake: Intake) -> matching.Person:
    """The matching dimensions of a submitted intake (what onward referrals and transfers match on)."""
    return matching.Person(age_group=intake.age_group, gender=intake.gender, citizenship=intake.citizenship,
                           trafficking_type=intake.trafficking_type, languages=tuple(intake.languages),
                           county=intake.county, urgency=intake.urgency)


def match_intake(intake: Intake, service_type: ServiceType, now: datetime, urgency: str | None = None,
                 exclude: set[int] = frozenset()) -> list[matching.Match]:
    """The ranked providers of a service type for the person of a submitted intake: the intake's matcher, with the
    needed service instead of case management (and the referral's urgency), less the excluded agencies."""
    person = person_of(intake)
    if urgency:
        person = dataclasses.replace(person, urgency=urgency)
    return [m for m in matching.match(person, load_candidates(service_type, now, person))
            if m.candidate.agency_id not in exclude]


def record_unmet_need(intake: Intake, service_type_id: int, now: datetime, found_in: str = "intake") -> None:
    """Count a need nobody could meet for the gap analysis (its dimensions, never the person). Not committed."""
    db.session.add(UnmetNeed(intake_id=intake.id, service_type_id=service_type_id, age_group=intake.age_group,
                             gender=intake.gender, citizenship=intake.citizenship,
                             trafficking_type=intake.trafficking_type, county=intake.county,
                             recorded_on=now.astimezone(task_force_zone()).date(), is_drill=bool(intake.is_drill),
                             found_in=found_in))


def service_type_by_code(code: str) -> ServiceType | None:
    """A taxonomy term by its code (the directory's lookup)."""
    return directory_ops.service_type_by_code(code)


def match_case_management(answers: dict, now: datetime) -> list[matching.Match]:
    """The ranked case-management providers for this person."""
    service_type = service_type_by_code(CASE_MANAGEMENT)
    if service_type is None:
        return []
    person = person_from(answers)
    return matching.match(person, load_candidates(service_type, now, person))


def unmet_needs(answers: dict, now: datetime) -> list[ServiceType]:
    """The checked needs no provider can receive for this person (ignoring opening hours): one SELECT of the
    needs some candidate admits, each an EXISTS that stops at the first such service."""
    codes = answers.get("needs") or []
    if not codes:
        return []
    admitted = _candidate_services(Service.service_type_id == ServiceType.id,
                                   receiving.receivable_condition(None, now), *_eligible(person_from(answers)))
    unmet = {service_type.code: service_type for service_type, met in db.session.execute(
        select(ServiceType, admitted.exists()).where(ServiceType.code.in_(set(codes)))) if not met}
    return [unmet[code] for code in codes if code in unmet]


def _eligible(person: matching.Person) -> list:
    """SQL conditions on a candidate service: its facets admit the person (the directory's one rule, which
    matching.eligibility_failures decides in Python: the tests hold the two to the same answers). With
    `receivable_condition` and opening hours, these are the matcher's hard filters."""
    admits = receiving.admits_condition(person.age_group, person.gender, person.citizenship, person.trafficking_type)
    return [admits] if admits is not None else []


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


# ----- consent -----------------------------------------------------------------------------------

def nameable_agencies() -> list:
    """The member agencies a person may name in their consent, by name: (id, name) rows from one SELECT.

    Plain rows, not Agency objects: the consent step lists every member agency (about 1,600 in the benchmark), and
    building ORM objects for them was a good part of the step's time. Run on the session's connection (Core, same
    transaction): the ORM's result handling of even plain columns doubles the cost of reading them.
    """
    return db.session.connection().execute(select(Agency.id, Agency.name).where(Agency.membership_status == "member")
                                           .order_by(Agency.name, Agency.id)).all()


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
    referral = _create(actor, draft.answers, actor.agency_id, submission_key, now)
    db.session.delete(draft)
    db.session.commit()
    return referral


def submit_drill(actor, answers: dict, agency_id: int, clock_offset: int, now: datetime):
    """A drill's intake, sent for `agency_id` by the chair running it, through the same steps as `submit`: matching,
    consent, unmet needs, the referral and its first offer (or the person on call, or the queue). `now` is on the
    drill's clock (`clock_offset` seconds from the wall clock). Not committed: the drill records itself with it."""
    agency = db.session.get(Agency, agency_id)
    if agency is None or agency.membership_status == "suspended":
        raise CannotStartIntake("That agency is suspended: it cannot send referrals, in a drill or otherwise.")
    return _create(actor, answers, agency_id, secrets.token_hex(16), now, clock_offset=clock_offset)


def _create(actor, answers: dict, agency_id: int, submission_key: str, now: datetime,
            clock_offset: int | None = None):
    """Create the intake from the answers, its consent, unmet needs and referral (a drill's when `clock_offset` is
    given). Not committed."""
    drill = clock_offset is not None
    intake = Intake(
        submission_key=submission_key, created_by_id=actor.id, agency_id=agency_id, created_at=now,
        is_drill=drill, drill_clock_offset=clock_offset or 0,
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
    _record_dimensions(intake)
    consent = _consent_from(answers, intake, actor, now)
    db.session.add(consent)
    for service_type in unmet_needs(answers, now):
        record_unmet_need(intake, service_type.id, now)
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
    referral = referral_ops.create_referral(actor, intake, service_type.id, order, now, is_drill=drill)
    audit.record(actor, "intake.drill_submitted" if drill else "intake.submitted", intake,
                 fields=[key for key, value in answers.items() if value not in (None, "", [], False)],
                 now=now - timedelta(seconds=clock_offset) if drill else now)
    return referral


def _record_dimensions(intake: Intake) -> None:
    """The intake's needs and languages as rows, for grouped counts (the gap analysis). Not committed."""
    codes = set(intake.needs)
    type_ids = db.session.scalars(select(ServiceType.id).where(ServiceType.code.in_(codes))).all() if codes else []
    db.session.add_all([IntakeNeed(intake_id=intake.id, service_type_id=type_id) for type_id in sorted(type_ids)])
    db.session.add_all([IntakeLanguage(intake_id=intake.id, language=code) for code in sorted(set(intake.languages))])


def _referral_of(intake: Intake):
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
        named_explicitly_json=json.dumps(answers.get("consent_agencies") or [] if given else []),
        categories_json=json.dumps(answers.get("consent_categories") or [] if given else []),
        given_on=as_date(answers.get("consent_date")) if given else None,
        expires_on=as_date(answers.get("consent_expires")) if given else None,
        recorded_by_id=actor.id, recorded_at=now,
    )

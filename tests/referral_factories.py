"""Helpers shared by the intake and referral tests: receivable providers, senders, and intakes sent through
the real `submit`, all made inside the caller's app context (commit goes to the test's savepoint).

A provider is receivable when its agency is a member with a current agreement, an active user holding a
verified, current core certificate, and an active service of the type (DESIGN §4.4).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import func, select

from csrn.agencies.models import Agency, Certificate, TrainingCourse
from csrn.audit.models import AuditEvent
from csrn.auth import operations as auth_ops
from csrn.auth.models import User
from csrn.directory.models import Service, ServiceType
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.intake.models import Intake, IntakeDraft, UnmetNeed
from csrn.notify.models import Notification, OutboxMessage
from csrn.referrals.models import Consent, Offer, Referral, ReferralEvent
from csrn.schedules.models import ScheduleRule
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW, PASSWORD

SIGNED = date(2020, 1, 1)
RENEWAL = date(2099, 12, 31)
CORE_COURSE = "Core anti-trafficking training (tests)"

# Identifying sentinels: each must never reach anyone the consent does not cover, nor any notification.
ALIAS = "ALIASZQ81"
PHONE = "555-0199-8812"
NARRATIVE = "NARRATIVEKX55 met at the truck stop"
CODE_WORD = "CODEWORDPL22"
SAFE_CHANNEL = "SAFECHANNELQQ3"
IMMIGRATION = "IMMIGRATIONAA9"
HEALTH = "HEALTHBB4"
SENTINELS = (ALIAS, PHONE, NARRATIVE, CODE_WORD, SAFE_CHANNEL, IMMIGRATION, HEALTH)

IDENTIFYING_ANSWERS = {
    "alias": ALIAS, "contact_phone": PHONE, "narrative": NARRATIVE, "code_word": CODE_WORD,
    "safe_channel": SAFE_CHANNEL, "immigration_notes": IMMIGRATION, "health_notes": HEALTH,
}
BASE_ANSWERS = {"urgency": "routine", "county": "Alder", "age_group": "25_plus", "gender": "female",
                "citizenship": "unknown", "trafficking_type": "sex", "languages": ["en"], "needs": ["case_management"],
                "consent": "no"}
BUSINESS_TABLES = (IntakeDraft, Intake, Consent, Referral, Offer, ReferralEvent, UnmetNeed, Notification,
                   OutboxMessage)


@dataclass
class Provider:
    """A receivable (or deliberately not receivable) provider, as plain values."""

    agency_id: int
    name: str
    service_id: int
    case_manager_ids: list[int] = field(default_factory=list)
    case_manager_emails: list[str] = field(default_factory=list)
    staff_id: int | None = None

    @property
    def case_manager(self) -> User:
        return db.session.get(User, self.case_manager_ids[0])


def type_id(code: str) -> int:
    """The id of a seeded service type."""
    found = db.session.scalar(select(ServiceType.id).where(ServiceType.code == code))
    assert found is not None, f"no seeded service type {code}"
    return found


def core_course() -> TrainingCourse:
    """The core course (made once per test transaction)."""
    course = db.session.scalar(select(TrainingCourse).where(TrainingCourse.name == CORE_COURSE))
    if course is None:
        course = TrainingCourse(name=CORE_COURSE, hours=8, valid_months=None, is_core=True, active=True,
                                created_at=NOW)
        db.session.add(course)
        db.session.flush()
    return course


def new_user(agency_id: int | None, roles=("staff",), email: str | None = None, now: datetime = NOW) -> User:
    """An active user with the test password."""
    user = auth_ops.create_user(None, email or f"u-{uuid.uuid4().hex[:10]}@example.org", "Test Person", list(roles),
                                agency_id, now, password=PASSWORD)
    db.session.flush()
    return user


def new_agency(name: str | None = None, membership_status: str = "member", agreement: bool = True,
               county: str = "Alder", phone: str = "") -> Agency:
    """An agency (a member with a current agreement unless told otherwise)."""
    agency = Agency(name=name or f"Agency {uuid.uuid4().hex[:8]}", agency_type="victim_service_provider",
                    membership_status=membership_status, county=county, phone=phone, created_at=NOW, updated_at=NOW,
                    mou_signed_on=SIGNED if agreement else None, mou_renewal_on=RENEWAL if agreement else None)
    db.session.add(agency)
    db.session.flush()
    return agency


def make_provider(name: str | None = None, *, now: datetime = NOW, county: str = "Alder", facets: dict | None = None,
                  is_24_7: bool = True, open_slots: int | None = 5, confirmed: bool = True, weekly=(),
                  case_managers: int = 1, certified: bool = True, agreement: bool = True,
                  membership_status: str = "member", type_codes=("case_management",), phone: str = "",
                  staff: bool = False) -> Provider:
    """A provider with a service of each type (the first is returned), its certificate holder and case managers."""
    agency = new_agency(name, membership_status, agreement, county, phone)
    holder = new_user(agency.id, ("staff",))
    if certified:
        db.session.add(Certificate(user_id=holder.id, agency_id=agency.id, course_id=core_course().id,
                                   completed_on=SIGNED, expires_on=None, status="verified", recorded_at=NOW))
    service_ids = []
    for code in type_codes:
        service = Service(agency_id=agency.id, service_type_id=type_id(code), status="active", is_24_7=is_24_7,
                          open_slots=open_slots, capacity_confirmed_at=now if confirmed else None,
                          created_at=NOW, updated_at=NOW)
        for kind, values in (facets or {}).items():
            service.set_values(kind, values)
        service.rules = [ScheduleRule(kind="weekly", weekday=day, opens=opens, closes=closes)
                         for day, opens, closes in weekly]
        db.session.add(service)
        db.session.flush()
        service_ids.append(service.id)
    managers = [new_user(agency.id, ("case_manager",)) for _ in range(case_managers)]
    staff_user = new_user(agency.id, ("staff",)) if staff else None
    db.session.commit()
    return Provider(agency.id, agency.name, service_ids[0], [m.id for m in managers], [m.email for m in managers],
                    staff_user.id if staff_user else None)


def make_sender(roles=("staff",), name: str | None = None, membership_status: str = "member") -> User:
    """A user of a sending agency (a police department, say) that offers no services."""
    agency = new_agency(name or f"Police {uuid.uuid4().hex[:6]}", membership_status=membership_status)
    user = new_user(agency.id, roles)
    db.session.commit()
    return user


def make_chair() -> User:
    """A chair, of an agency of their own."""
    return make_sender(roles=("chair",), name=f"Task force {uuid.uuid4().hex[:6]}")


def answers_for(**answers) -> dict:
    return {**BASE_ANSWERS, **answers}


def send_intake(user: User, now: datetime = NOW, *, receiver: int | None = None, backups=(), **answers) -> Referral:
    """Write a draft and submit it as `user` (the top match chosen unless `receiver` is given)."""
    draft = intake_ops.start_draft(user, {}, now)
    intake_ops.save_draft(draft, answers_for(**answers), 5, now)
    if receiver is None:
        matches = intake_ops.match_case_management(draft.answers, now)
        receiver = matches[0].candidate.agency_id if matches else None
    intake_ops.save_draft(draft, {"receiver": receiver, "backups": list(backups)}, 5, now)
    return intake_ops.submit(user, draft, draft.submission_key, now)


def consent_answers(with_=("receiver",), categories=("identity", "contact"), expires: str | None = None,
                    **extra) -> dict:
    """Answers of a given consent with its identifying details."""
    return {"consent": "yes", "consent_how": "verbal", "consent_with": list(with_),
            "consent_categories": list(categories), "consent_date": "2026-11-01",
            "consent_expires": expires, **IDENTIFYING_ANSWERS, **extra}


def counts() -> dict[str, int]:
    """Row counts of every business table (audit excluded)."""
    return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in BUSINESS_TABLES}


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def referral(referral_id: int) -> Referral:
    """A fresh copy of the referral."""
    db.session.expire_all()
    return db.session.get(Referral, referral_id)


def offers_of(referral_id: int) -> list[Offer]:
    return db.session.scalars(select(Offer).where(Offer.referral_id == referral_id).order_by(Offer.id)).all()


def events_of(referral_id: int, kind: str | None = None) -> list[ReferralEvent]:
    query = select(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
    if kind:
        query = query.where(ReferralEvent.kind == kind)
    return db.session.scalars(query.order_by(ReferralEvent.id)).all()


def notifications_of(user_id: int) -> list[Notification]:
    return db.session.scalars(select(Notification).where(Notification.user_id == user_id)
                              .order_by(Notification.id)).all()


def office_hours(opens: time = time(9), closes: time = time(17), days=range(5)):
    """Weekly spans for `make_provider(weekly=...)`."""
    return [(day, opens, closes) for day in days]


def write_settings(counties=(), **values) -> TaskForceSettings:
    """The task force's settings row (Chicago, 30-minute emergencies unless told), committed."""
    defaults = dict(id=1, name="Task force", timezone="America/Chicago", counties_json="[]", fallback_phone="555 0199",
                    emergency_minutes=30, urgent_hours=4, routine_business_hours=48, retention_days=1095, version=1)
    settings = db.session.merge(TaskForceSettings(**{**defaults, **values}))
    settings.counties = list(counties)
    db.session.commit()
    return settings

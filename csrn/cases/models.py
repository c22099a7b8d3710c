"""The case record an accepting agency keeps: its file (assessment goals, plan origin), needs, plan steps and its own
timeline. All of it is the accepting agency's own record (DESIGN §5): never shown outside that agency, and not masked
by the sender's consent expiring."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import NEVER_REUSED_IDS, EncryptedText, UTCDateTime, state_check

NEED_STATUSES = {"in_progress": "In progress", "met": "Met", "unmet": "Unmet (no service found)",
                 "declined": "Declined by the person"}
FOUND_IN = ("intake", "assessment")


class CaseFile(db.Model):
    """One case-management referral's record at the agency that accepted it."""

    __tablename__ = "case_file"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), unique=True)
    # Whose case it is on the dashboard: who started the assessment (before that, who accepted the offer).
    case_manager_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    assessment_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    goals: Mapped[str] = mapped_column(EncryptedText, default="")  # the person's own words: identifying
    plan_pathway_id: Mapped[int | None] = mapped_column(ForeignKey("pathway.id", ondelete="SET NULL"))
    plan_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    case_manager = relationship("User", lazy="joined")
    plan_pathway = relationship("Pathway", lazy="joined")


class CaseNeed(db.Model):
    """A need of the person, from the intake or found in the assessment, with its status and notes."""

    __tablename__ = "case_need"
    __table_args__ = (
        state_check("status", tuple(NEED_STATUSES)),
        state_check("found_in", FOUND_IN),
        UniqueConstraint("referral_id", "service_type_id", name="uq_case_need_type"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"))
    status: Mapped[str] = mapped_column(String(12), default="in_progress")
    notes: Mapped[str] = mapped_column(EncryptedText, default="")
    found_in: Mapped[str] = mapped_column(String(10), default="intake")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    service_type = relationship("ServiceType", lazy="joined")


class PlanStep(db.Model):
    """One step of the service plan: a service to refer the person to, in order; sent as an onward referral."""

    __tablename__ = "plan_step"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"))
    guidance: Mapped[str] = mapped_column(Text, default="")  # the pathway's words, never about the person
    note: Mapped[str] = mapped_column(EncryptedText, default="")  # the case manager's: may name the person
    onward_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id", ondelete="SET NULL"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    service_type = relationship("ServiceType", lazy="joined")
    onward = relationship("Referral", foreign_keys=[onward_id], lazy="joined")


class CaseEvent(db.Model):
    """One entry of the case's own timeline (the accepting agency's record: the text may name the person)."""

    __tablename__ = "case_event"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(String(300), default="")  # what happened, never about the person
    text: Mapped[str] = mapped_column(EncryptedText, default="")  # a reason in the case manager's words

    actor = relationship("User", lazy="joined")


# ----- coordination: appointments and their support, messages, concerns --------------------------

APPOINTMENT_KINDS = {"legal": "Legal", "immigration": "Immigration", "court": "Court", "medical": "Medical",
                     "counselling": "Counselling", "housing": "Housing", "other": "Other"}
LEGAL_KINDS = ("legal", "immigration", "court")  # the appointments the seed asks support to be coordinated with
SUPPORT_ITEMS = {"accompaniment": "Accompaniment", "interpreter": "Interpreter",
                 "counselling": "Counselling within 48 hours"}
SUPPORT_STATUSES = {"open": "Open", "done": "Done", "declined": "Declined by the person"}
CONCERN_KINDS = {"question": "Question", "dispute": "Dispute", "request": "Request"}


class Appointment(db.Model):
    """An appointment of the person on a case: which provider, when, how long, where (identifying), and what
    support it needs."""

    __tablename__ = "appointment"
    __table_args__ = (state_check("kind", tuple(APPOINTMENT_KINDS)), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    # The provider it is with (the case's agency or one its onward referrals went to); None: elsewhere (a court).
    provider_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_minutes: Mapped[int] = mapped_column(default=60)
    place: Mapped[str] = mapped_column(EncryptedText, default="")
    accompaniment_needed: Mapped[bool] = mapped_column(default=False)
    interpreter_needed: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    provider = relationship("Agency", lazy="joined")

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


class AppointmentSupport(db.Model):
    """One item of the checklist of a legal, immigration or court appointment."""

    __tablename__ = "appointment_support"
    __table_args__ = (
        state_check("item", tuple(SUPPORT_ITEMS)),
        state_check("status", tuple(SUPPORT_STATUSES)),
        UniqueConstraint("appointment_id", "item", name="uq_appointment_support_item"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(14))
    status: Mapped[str] = mapped_column(String(10), default="open")
    accompanist_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # done, nobody: none needed
    onward_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    accompanist = relationship("User", lazy="joined")
    onward = relationship("Referral", lazy="joined")


class Message(db.Model):
    """A message on a referral between its maker and the receiving agency's case managers (identifying)."""

    __tablename__ = "referral_message"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[str] = mapped_column(EncryptedText)

    author = relationship("User", lazy="joined")


class Concern(db.Model):
    """A question, dispute or request about a referral, to the other agency and the chairs, until resolved."""

    __tablename__ = "concern"
    __table_args__ = (state_check("kind", tuple(CONCERN_KINDS)), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    raised_by_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    to_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    text: Mapped[str] = mapped_column(EncryptedText)  # free text: may name the person
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    resolution: Mapped[str] = mapped_column(EncryptedText, default="")

    raised_by = relationship("User", foreign_keys=[raised_by_id], lazy="joined")
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])
    raised_by_agency = relationship("Agency", foreign_keys=[raised_by_agency_id], lazy="joined")
    to_agency = relationship("Agency", foreign_keys=[to_agency_id], lazy="joined")

"""Intakes, their drafts, consent records, unmet needs and pathways."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import EncryptedText, UTCDateTime, UUIDString, new_uuid, state_check

URGENCIES = {"emergency": "Emergency — needs someone now", "urgent": "Urgent — within 24 hours",
             "routine": "Routine"}
AGE_GROUPS = {"minor": "Minor (under 18)", "18_24": "18–24", "25_plus": "25 and over", "unknown": "Unknown"}
CITIZENSHIP = {"us": "U.S. citizen or permanent resident", "foreign": "Foreign national", "unknown": "Unknown"}
TRAFFICKING = {"sex": "Sex trafficking", "labour": "Labour trafficking", "both": "Both", "unknown": "Unknown"}
CONSIDERATIONS = {"pregnant": "Pregnant", "disability": "Disability", "lgbtq": "LGBTQ+",
                  "children": "Accompanying children"}
CONSENT_CATEGORIES = {
    "identity": "Identity (alias, names)",
    "contact": "Contact details and safe-contact plan",
    "immigration": "Immigration details",
    "health": "Health",
    "narrative": "What happened (narrative)",
}
CONSENT_HOW = {"verbal": "Verbal", "written": "Written"}


def _json_list(value: str | None) -> list:
    return json.loads(value) if value else []


class IntakeDraft(db.Model):
    """An intake being written: every answer, encrypted, saved as the user goes; purged after 7 days unused."""

    __tablename__ = "intake_draft"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    data: Mapped[str] = mapped_column(EncryptedText)
    step: Mapped[int] = mapped_column(default=1)
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    @property
    def answers(self) -> dict:
        """The answers so far."""
        return json.loads(self.data or "{}")

    @answers.setter
    def answers(self, value: dict) -> None:
        self.data = json.dumps(value)


class Intake(db.Model):
    """A submitted intake: the matching dimensions in the clear, everything identifying encrypted."""

    __tablename__ = "intake"
    __table_args__ = (
        state_check("urgency", tuple(URGENCIES)),
        state_check("age_group", tuple(AGE_GROUPS)),
        state_check("citizenship", tuple(CITIZENSHIP)),
        state_check("trafficking_type", tuple(TRAFFICKING)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    is_drill: Mapped[bool] = mapped_column(default=False)
    # Matching dimensions (not identifying).
    urgency: Mapped[str] = mapped_column(String(10))
    county: Mapped[str] = mapped_column(String(100), default="")
    age_group: Mapped[str] = mapped_column(String(10), default="unknown")
    gender: Mapped[str] = mapped_column(String(40), default="unknown")
    citizenship: Mapped[str] = mapped_column(String(10), default="unknown")
    trafficking_type: Mapped[str] = mapped_column(String(10), default="unknown")
    languages_json: Mapped[str] = mapped_column(Text, default="[]")
    interpreter_needed: Mapped[bool] = mapped_column(default=False)
    considerations_json: Mapped[str] = mapped_column(Text, default="[]")
    needs_json: Mapped[str] = mapped_column(Text, default="[]")
    # Identifying (encrypted; shared only under consent).
    alias: Mapped[str | None] = mapped_column(EncryptedText)
    contact_phone: Mapped[str | None] = mapped_column(EncryptedText)
    contact_other: Mapped[str | None] = mapped_column(EncryptedText)
    safe_channel: Mapped[str | None] = mapped_column(EncryptedText)
    safe_times: Mapped[str | None] = mapped_column(EncryptedText)
    do_not_text: Mapped[bool] = mapped_column(default=False)
    code_word: Mapped[str | None] = mapped_column(EncryptedText)
    phone_may_be_controlled: Mapped[bool] = mapped_column(default=False)
    narrative: Mapped[str | None] = mapped_column(EncryptedText)
    immigration_notes: Mapped[str | None] = mapped_column(EncryptedText)
    health_notes: Mapped[str | None] = mapped_column(EncryptedText)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by = relationship("User", lazy="joined")
    agency = relationship("Agency", lazy="joined")

    @property
    def languages(self) -> list[str]:
        return _json_list(self.languages_json)

    @property
    def considerations(self) -> list[str]:
        return _json_list(self.considerations_json)

    @property
    def needs(self) -> list[str]:
        return _json_list(self.needs_json)


class Consent(db.Model):
    """What the person agreed the sending agency may share, with whom, until when; revocable."""

    __tablename__ = "consent"
    __table_args__ = (state_check("how", tuple(CONSENT_HOW) + ("none",)),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id", ondelete="CASCADE"), unique=True)
    given: Mapped[bool] = mapped_column(default=False)
    how: Mapped[str] = mapped_column(String(10), default="none")
    with_receiver: Mapped[bool] = mapped_column(default=False)
    with_backups: Mapped[bool] = mapped_column(default=False)
    with_onward: Mapped[bool] = mapped_column(default=False)
    with_chairs: Mapped[bool] = mapped_column(default=False)
    named_agencies_json: Mapped[str] = mapped_column(Text, default="[]")
    categories_json: Mapped[str] = mapped_column(Text, default="[]")
    given_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    @property
    def categories(self) -> list[str]:
        return _json_list(self.categories_json)

    @property
    def named_agencies(self) -> list[int]:
        return _json_list(self.named_agencies_json)


class UnmetNeed(db.Model):
    """A need no provider could receive for this person: the gap analysis counts these."""

    __tablename__ = "unmet_need"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intake.id", ondelete="SET NULL"), index=True)
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"), index=True)
    age_group: Mapped[str] = mapped_column(String(10))
    gender: Mapped[str] = mapped_column(String(40))
    citizenship: Mapped[str] = mapped_column(String(10))
    trafficking_type: Mapped[str] = mapped_column(String(10))
    county: Mapped[str] = mapped_column(String(100), default="")
    recorded_on: Mapped[date] = mapped_column(Date, index=True)
    is_drill: Mapped[bool] = mapped_column(default=False)

    service_type = relationship("ServiceType", lazy="joined")


class Pathway(db.Model):
    """A named sequence of services for a population (DESIGN §4.5)."""

    __tablename__ = "pathway"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    working_group: Mapped[str] = mapped_column(String(120), default="")
    # Target population: empty lists mean "anyone" on that dimension.
    age_groups_json: Mapped[str] = mapped_column(Text, default="[]")
    genders_json: Mapped[str] = mapped_column(Text, default="[]")
    citizenship_json: Mapped[str] = mapped_column(Text, default="[]")
    trafficking_json: Mapped[str] = mapped_column(Text, default="[]")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    steps: Mapped[list[PathwayStep]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                    order_by="PathwayStep.position")

    def target(self, dimension: str) -> list[str]:
        """The target values of one dimension (empty: anyone)."""
        return _json_list(getattr(self, f"{dimension}_json"))


class PathwayStep(db.Model):
    """One service of a pathway, with guidance."""

    __tablename__ = "pathway_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pathway_id: Mapped[int] = mapped_column(ForeignKey("pathway.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"))
    guidance: Mapped[str] = mapped_column(Text, default="")

    service_type = relationship("ServiceType", lazy="joined")

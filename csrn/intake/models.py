"""Intakes, their drafts and unmet needs."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, TRAFFICKING, URGENCIES
from csrn.extensions import db
from csrn.types import NEVER_REUSED_IDS, EncryptedText, UTCDateTime, UUIDString, json_list, new_uuid, state_check


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
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    is_drill: Mapped[bool] = mapped_column(default=False)
    # A drill's clock: how many seconds its simulated time runs ahead of the wall clock (negative: behind). Every
    # referral of the drill shares its intake, so they all read their time here (referrals.clock).
    drill_clock_offset: Mapped[int] = mapped_column(default=0, server_default="0")
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
        return json_list(self.languages_json)

    @property
    def considerations(self) -> list[str]:
        return json_list(self.considerations_json)

    @property
    def needs(self) -> list[str]:
        return json_list(self.needs_json)


class UnmetNeed(db.Model):
    """A need no provider could receive for this person: the gap analysis counts these."""

    __tablename__ = "unmet_need"
    __table_args__ = NEVER_REUSED_IDS

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
    # Where it was found: at intake, or later in a case's needs assessment.
    found_in: Mapped[str] = mapped_column(String(10), default="intake", server_default="intake")

    service_type = relationship("ServiceType", lazy="joined")


class IntakeNeed(db.Model):
    """One need checked at intake, as a row (the intake keeps `needs_json` too): what the gap analysis groups."""

    __tablename__ = "intake_need"
    __table_args__ = (UniqueConstraint("intake_id", "service_type_id"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id", ondelete="CASCADE"), index=True)
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"), index=True)


class IntakeLanguage(db.Model):
    """One language the person speaks, as a row (the intake keeps `languages_json` too): the gap analysis's top
    languages of demand."""

    __tablename__ = "intake_language"
    __table_args__ = (UniqueConstraint("intake_id", "language"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(20), index=True)

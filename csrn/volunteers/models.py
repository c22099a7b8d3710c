"""Volunteer applications, their vetting checklists and their history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import EncryptedText, UTCDateTime, UUIDString, new_uuid, state_check

# profession: (label, licensed, default service type code, agency type of the one-person provider)
PROFESSIONS: dict[str, tuple[str, bool, str | None, str]] = {
    "attorney": ("Attorney", True, "immigration_legal", "legal"),
    "physician": ("Physician", True, "medical", "medical"),
    "dentist": ("Dentist", True, "dental", "medical"),
    "nurse": ("Nurse", True, "medical", "medical"),
    "mental_health": ("Mental-health clinician", True, "mental_health", "mental_health"),
    "interpreter": ("Interpreter / translator", False, "interpretation", "other"),
    "other": ("Other", False, None, "other"),
}
PRACTICE_AREAS = {
    "immigration": "Immigration / T visa",
    "family_law": "Family law",
    "criminal_defense": "Criminal defence / vacatur",
    "employment_law": "Employment and wage claims",
    "housing_law": "Housing law",
    "primary_care": "Primary care",
    "womens_health": "Women's health",
    "dental_care": "Dental care",
    "trauma_therapy": "Trauma therapy",
    "psychiatry": "Psychiatry",
    "interpreting": "Interpreting at appointments",
    "translation": "Document translation",
    "other": "Other",
}
STATUSES = {
    "applied": "Applied",
    "in_review": "In review",
    "approved": "Approved",
    "on_hold": "On hold",
    "declined": "Declined",
    "renewal_due": "Renewal due",
    "withdrawn": "Withdrawn",
}
# The columns of the vetting board, in order (withdrawn applications leave the board).
BOARD_COLUMNS = ("applied", "in_review", "approved", "on_hold", "declined", "renewal_due")
# What a chair may move an application to, from each status (approval has its own operation).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "applied": ("in_review", "on_hold", "declined"),
    "in_review": ("approved", "on_hold", "declined"),
    "on_hold": ("in_review", "declined"),
    "declined": ("in_review",),
    "approved": ("on_hold", "renewal_due"),
    "renewal_due": ("approved", "on_hold", "declined"),
    "withdrawn": (),
}
# The statuses an applicant may withdraw from.
WITHDRAWABLE = ("applied", "in_review", "on_hold", "approved", "renewal_due")


class VolunteerApplication(db.Model):
    """A pro bono professional's application, from the public form to approval and renewal."""

    __tablename__ = "volunteer_application"
    __table_args__ = (
        state_check("status", tuple(STATUSES)),
        state_check("profession", tuple(PROFESSIONS)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    status: Mapped[str] = mapped_column(String(12), default="applied", index=True)
    # Who the applicant is and how to reach them: encrypted (the form limits their lengths). The e-mail is found
    # by `email_hash`, a keyed hash of the normalised address, never by the address in clear.
    name: Mapped[str] = mapped_column(EncryptedText)
    email: Mapped[str] = mapped_column(EncryptedText)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str] = mapped_column(EncryptedText, default="")
    profession: Mapped[str] = mapped_column(String(20), index=True)
    profession_other: Mapped[str] = mapped_column(String(120), default="")
    licence_number: Mapped[str] = mapped_column(EncryptedText, default="")
    licence_jurisdiction: Mapped[str] = mapped_column(String(120), default="")
    languages: Mapped[str] = mapped_column(String(400), default="")  # space-separated language codes
    language_pairs: Mapped[str] = mapped_column(Text, default="")
    practice_areas: Mapped[str] = mapped_column(String(400), default="")  # space-separated codes
    hours_per_month: Mapped[int] = mapped_column(default=0)
    availability: Mapped[str] = mapped_column(Text, default="")
    reference1_name: Mapped[str] = mapped_column(EncryptedText, default="")
    reference1_contact: Mapped[str] = mapped_column(EncryptedText, default="")
    reference2_name: Mapped[str] = mapped_column(EncryptedText, default="")
    reference2_contact: Mapped[str] = mapped_column(EncryptedText, default="")
    background_check_consent: Mapped[bool] = mapped_column(default=False)
    confidentiality_acknowledged: Mapped[bool] = mapped_column(default=False)
    # A keyed hash (HMAC-SHA256) of the normalised answers: an identical re-submission finds the first application.
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    # The private status link's token, hashed (SECURITY A6); replaced when the link is asked for again.
    status_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status_reason: Mapped[str] = mapped_column(EncryptedText, default="")  # the committee's reason for hold/decline
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    service_type_id: Mapped[int | None] = mapped_column(ForeignKey("service_type.id"))
    # The one-person provider and the account that approval creates.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    # When the retention purge replaced its identifying fields (declined or withdrawn, past the retention period).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    items = relationship("VettingItem", back_populates="application", order_by="VettingItem.sort_order",
                         cascade="all, delete-orphan")
    events = relationship("VolunteerEvent", order_by="VolunteerEvent.id.desc()", cascade="all, delete-orphan")
    agency = relationship("Agency")
    user = relationship("User")
    service_type = relationship("ServiceType")

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def profession_label(self) -> str:
        if self.profession == "other" and self.profession_other:
            return f"Other: {self.profession_other}"
        return PROFESSIONS[self.profession][0]

    @property
    def language_codes(self) -> list[str]:
        return self.languages.split()

    @property
    def area_codes(self) -> list[str]:
        return self.practice_areas.split()

    @property
    def area_labels(self) -> list[str]:
        return [PRACTICE_AREAS.get(code, code) for code in self.area_codes]


class VettingItem(db.Model):
    """One item of an application's checklist: who checked it, when, notes, a document, an expiry."""

    __tablename__ = "vetting_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_application.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    guidance: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    expires: Mapped[bool] = mapped_column(default=False)  # whether the item takes an expiry date
    course_kind: Mapped[str] = mapped_column(String(10), default="")  # "core", "any" or "" (not training)
    done_on: Mapped[date | None] = mapped_column(Date)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notes: Mapped[str] = mapped_column(EncryptedText, default="")  # the committee's only
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("training_course.id"))
    file_name: Mapped[str | None] = mapped_column(String(64))
    file_original_name: Mapped[str] = mapped_column(String(200), default="")
    file_mime: Mapped[str] = mapped_column(String(40), default="")
    reminded_for: Mapped[date | None] = mapped_column(Date)  # the expiry date chairs were reminded of

    application = relationship("VolunteerApplication", back_populates="items")
    done_by = relationship("User")
    course = relationship("TrainingCourse")

    @property
    def done(self) -> bool:
        return self.done_on is not None

    def expired_on(self, day: date) -> bool:
        """Whether the item was done but has expired by `day` (valid through its expiry date)."""
        return self.expires_on is not None and self.expires_on < day


class VolunteerEvent(db.Model):
    """One line of an application's history: status changes and checklist entries."""

    __tablename__ = "volunteer_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_application.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(12), default="")
    to_status: Mapped[str] = mapped_column(String(12), default="")
    # Encrypted: a status change's detail is the committee's hold or decline reason.
    detail: Mapped[str] = mapped_column(EncryptedText, default="")

    actor = relationship("User")


class FormStamp(db.Model):
    """A public form's time stamp that has been used: each stamp is good for one submission only."""

    __tablename__ = "form_stamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The random nonce signed into the stamp the form was served with.
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

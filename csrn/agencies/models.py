"""Member agencies of the task force."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import UTCDateTime, UUIDString, new_uuid, state_check

AGENCY_TYPES = {
    "law_enforcement": "Law enforcement",
    "victim_service_provider": "Victim service provider",
    "legal": "Legal",
    "medical": "Medical",
    "mental_health": "Mental health",
    "shelter_housing": "Shelter / housing",
    "government": "Government",
    "faith_based": "Faith-based",
    "community": "Community",
    "other": "Other",
}
MEMBERSHIP_STATUSES = {
    "prospect": "Prospect",
    "applicant": "Applicant",
    "in_training": "In training",
    "member": "Member",
    "suspended": "Suspended",
    "lapsed": "Lapsed",
    "listed": "Listed (not in the network)",
}


class Agency(db.Model):
    """An organisation of the task force, or a listed community resource."""

    __tablename__ = "agency"
    __table_args__ = (
        state_check("agency_type", tuple(AGENCY_TYPES)),
        state_check("membership_status", tuple(MEMBERSHIP_STATUSES)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    agency_type: Mapped[str] = mapped_column(String(40))
    county: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    membership_status: Mapped[str] = mapped_column(String(20), default="prospect", index=True)
    mou_signed_on: Mapped[date | None] = mapped_column(Date)
    mou_renewal_on: Mapped[date | None] = mapped_column(Date)
    mou_signatory: Mapped[str] = mapped_column(String(200), default="")
    mou_file_name: Mapped[str | None] = mapped_column(String(64))
    mou_file_original_name: Mapped[str] = mapped_column(String(200), default="")
    mou_file_mime: Mapped[str] = mapped_column(String(40), default="")
    internal_notes: Mapped[str] = mapped_column(Text, default="")
    # A pro bono volunteer's one-person provider receives referrals only while its vetting is current (DESIGN §4.8):
    # the last day every required item is current, kept by the volunteers module, read by the receiving rule.
    vetting_required: Mapped[bool] = mapped_column(default=False)
    vetted_until: Mapped[date | None] = mapped_column(Date)
    # The designated point of contact for law-enforcement questions and requests.
    poc_name: Mapped[str] = mapped_column(String(120), default="")
    poc_phone: Mapped[str] = mapped_column(String(40), default="")
    poc_email: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def type_label(self) -> str:
        """The agency type as people read it."""
        return AGENCY_TYPES.get(self.agency_type, self.agency_type)

    @property
    def status_label(self) -> str:
        """The membership status as people read it."""
        return MEMBERSHIP_STATUSES.get(self.membership_status, self.membership_status)


CERTIFICATE_STATES = ("pending", "verified", "rejected")


class TrainingCourse(db.Model):
    """A training course; chairs mark the core trafficking trainings that certify an agency."""

    __tablename__ = "training_course"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    hours: Mapped[int] = mapped_column(default=0)  # whole hours
    valid_months: Mapped[int | None] = mapped_column()  # None: never expires
    is_core: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Certificate(db.Model):
    """A user's completion of a course, pending until a chair verifies (or rejects) it."""

    __tablename__ = "certificate"
    __table_args__ = (state_check("status", CERTIFICATE_STATES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("training_course.id"), index=True)
    completed_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    certificate_number: Mapped[str] = mapped_column(String(100), default="")
    file_name: Mapped[str | None] = mapped_column(String(64))  # random name under the upload folder
    file_original_name: Mapped[str] = mapped_column(String(200), default="")
    file_mime: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejection_reason: Mapped[str] = mapped_column(Text, default="")

    user = relationship("User", foreign_keys=[user_id], lazy="joined")
    course = relationship("TrainingCourse", lazy="joined")
    agency = relationship("Agency")


class MembershipChange(db.Model):
    """One step of an agency's membership workflow: who moved it, when, from what to what, and why."""

    __tablename__ = "membership_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    changed_by = relationship("User", lazy="joined")

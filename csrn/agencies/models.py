"""Member agencies of the task force."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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
    internal_notes: Mapped[str] = mapped_column(Text, default="")
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

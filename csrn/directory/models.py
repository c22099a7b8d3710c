"""Services, the service taxonomy, eligibility facets, locations and capacity confirmations."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import EncryptedText, UTCDateTime, UUIDString, new_uuid, state_check

STALE_AFTER = timedelta(days=30)

AGE_GROUPS = {"minor": "Minors (under 18)", "18_24": "18–24", "25_plus": "25 and over"}
CITIZENSHIP = {"us": "U.S. citizen or permanent resident", "foreign": "Foreign national"}
TRAFFICKING_TYPES = {"sex": "Sex trafficking", "labour": "Labour trafficking"}
COSTS = {"free": "Free", "sliding": "Sliding scale", "pro_bono": "Pro bono", "fee": "Fee"}
SERVICE_STATES = ("active", "inactive")
VISIBILITY = {
    "public": "Public front door (may be printed and shared)",
    "members": "Members only (logged-in users)",
    "confidential": "Confidential (this agency's users only)",
}
FACET_KINDS = ("age", "gender", "citizenship", "trafficking", "language", "interpretation", "county")


class ServiceType(db.Model):
    """A term of the service taxonomy (the intake's list of needs); chairs edit it."""

    __tablename__ = "service_type"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class GenderOption(db.Model):
    """A gender a service may state it serves; chairs edit the list."""

    __tablename__ = "gender_option"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    sort_order: Mapped[int] = mapped_column(default=0)


class Service(db.Model):
    """One service an agency offers, with eligibility, schedule and capacity."""

    __tablename__ = "service"
    __table_args__ = (
        state_check("status", SERVICE_STATES),
        state_check("cost", tuple(COSTS)),
        CheckConstraint("open_slots IS NULL OR open_slots >= 0", name="open_slots_not_negative"),
        CheckConstraint("waitlist >= 0", name="waitlist_not_negative"),
        # The directory's filters read a type's services, their status and agency from this index alone.
        Index("ix_service_type_status_agency", "service_type_id", "status", "agency_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    accessibility: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[str] = mapped_column(String(10), default="free")
    how_to_refer: Mapped[str] = mapped_column(Text, default="")
    is_24_7: Mapped[bool] = mapped_column(default=False)
    closed_on_holidays: Mapped[bool] = mapped_column(default=True)
    open_slots: Mapped[int | None] = mapped_column()
    waitlist: Mapped[int] = mapped_column(default=0)
    capacity_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Flagged for correction by repeated declines (the gap analysis's `daily` pass writes it, and why); cleared when
    # the agency confirms or edits the listing.
    correction_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    correction_note: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    agency = relationship("Agency", lazy="joined")
    service_type = relationship("ServiceType", lazy="joined")
    facets: Mapped[list[ServiceFacet]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    rules = relationship("ScheduleRule", cascade="all, delete-orphan", lazy="selectin")

    @property
    def title(self) -> str:
        """The service's own name, or its type's."""
        return self.name or self.service_type.name

    def values(self, kind: str) -> list[str]:
        """The facet values of one kind (empty: not stated)."""
        return sorted(f.value for f in self.facets if f.kind == kind)

    def set_values(self, kind: str, values) -> None:
        """Replace the facet values of one kind."""
        wanted = set(values or ())
        keep = [f for f in self.facets if f.kind != kind or f.value in wanted]
        have = {f.value for f in keep if f.kind == kind}
        self.facets = keep + [ServiceFacet(kind=kind, value=v) for v in sorted(wanted - have)]

    def is_stale(self, now: datetime) -> bool:
        """Capacity not confirmed within 30 days."""
        return self.capacity_confirmed_at is None or now - self.capacity_confirmed_at > STALE_AFTER


class ServiceFacet(db.Model):
    """One stated eligibility, language or area value of a service; no row of a kind means "not stated"."""

    __tablename__ = "service_facet"
    __table_args__ = (
        state_check("kind", FACET_KINDS),
        UniqueConstraint("service_id", "kind", "value", name="uq_service_facet_value"),
        # "Stated and matching" lookups by (kind, value) for the outer service: PostgreSQL needs this order.
        Index("ix_service_facet_kind_value_service", "kind", "value", "service_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(100))


class Location(db.Model):
    """A place of an agency, with a visibility; a confidential address never leaves the agency."""

    __tablename__ = "location"
    __table_args__ = (state_check("visibility", tuple(VISIBILITY)),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Street lines are encrypted: a shelter's address is as sensitive as client data.
    address_1: Mapped[str] = mapped_column(EncryptedText)
    address_2: Mapped[str | None] = mapped_column(EncryptedText)
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(60), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    county: Mapped[str] = mapped_column(String(100), default="")
    visibility: Mapped[str] = mapped_column(String(20), default="members")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class CapacityConfirmation(db.Model):
    """An agency said its directory entries are still accurate: when, how and by whom."""

    __tablename__ = "capacity_confirmation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(String(20))  # link, inline, form
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(200), default="")

"""Recruitment: a prospect agency linked to the gaps it could fill."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import UTCDateTime


class GapProspect(db.Model):
    """An agency a chair hopes will fill a gap cell (service type × segment) of the resource map. The gap closes when
    the agency becomes a member that can receive referrals for it (computed, never stored)."""

    __tablename__ = "gap_prospect"
    __table_args__ = (UniqueConstraint("agency_id", "service_type_id", "segment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"), index=True)
    segment: Mapped[str] = mapped_column(String(60))  # a column of the map: "kind:value"
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    agency = relationship("Agency", lazy="joined")
    service_type = relationship("ServiceType", lazy="joined")

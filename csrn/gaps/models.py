"""Recruitment: a prospect agency linked to the gaps it could fill; the demand report's roll-up."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String, UniqueConstraint
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


class DemandCount(db.Model):
    """The demand report's counts rolled up by the `daily` pass for days that are over (their records no longer
    change: every one is written at the moment it happens): per local day, and per month once all its days are in.
    `measure` is what was counted (need, language, escalated, unassigned, declined); `dimension` and `value` the
    answer it was counted under ("all" for the total). Drills are never in it."""

    __tablename__ = "demand_count"
    __table_args__ = (
        # One row per count: a second `daily` racing the first fails instead of counting twice.
        UniqueConstraint("grain", "start", "measure", "service_type_id", "dimension", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grain: Mapped[str] = mapped_column(String(5))  # day, month
    start: Mapped[date] = mapped_column(Date)  # the day, or the first of the month
    measure: Mapped[str] = mapped_column(String(20))
    service_type_id: Mapped[int] = mapped_column(Integer)  # 0 where the measure is not by service (languages)
    dimension: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer)


class AcceptanceTime(db.Model):
    """An accepted offer's minutes from being offered to acceptance, written by the `daily` pass for days that are
    over: narrow, so that the percentiles rank a year of them by one scan without reading offers and referrals (an
    index on the day made that scan slower: it reads most rows anyway). Drills never."""

    __tablename__ = "acceptance_time"

    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    service_type_id: Mapped[int] = mapped_column(Integer)
    agency_id: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[float] = mapped_column(Float)


class RollupMark(db.Model):
    """How far the roll-up has got: every local day up to `through` is in `demand_count` and `acceptance_time`."""

    __tablename__ = "rollup_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    through: Mapped[date] = mapped_column(Date)

"""The on-call roster (DESIGN §4.7): kinds of response, shifts and their exceptions."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Integer, String, Table, Text, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import UTCDateTime, state_check

SHIFT_ROLES = {"primary": "Primary", "backup": "Backup"}
PATTERNS = {"weekly": "Every week", "once": "Once (cover or swap)"}

kind_service_type = Table(
    "response_kind_service_type",
    db.metadata,
    Column("kind_id", ForeignKey("response_kind.id", ondelete="CASCADE"), primary_key=True),
    Column("service_type_id", ForeignKey("service_type.id", ondelete="CASCADE"), primary_key=True),
)


class ResponseKind(db.Model):
    """A kind of response someone is on call for (crisis response, case management, shelter, …)."""

    __tablename__ = "response_kind"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    required_24_7: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    # The directory's service types this kind answers for: an escalated referral for one of them reaches it.
    service_types = relationship("ServiceType", secondary=kind_service_type, lazy="selectin",
                                 order_by="ServiceType.name")


class Shift(db.Model):
    """Someone of an agency on call for a kind: every week on some days (overnight allowed), or once."""

    __tablename__ = "shift"
    __table_args__ = (
        state_check("role", tuple(SHIFT_ROLES)),
        state_check("pattern", tuple(PATTERNS)),
        CheckConstraint(
            "(pattern = 'weekly' AND weekdays <> '' AND starts IS NOT NULL AND ends IS NOT NULL"
            " AND (valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from))"
            " OR (pattern = 'once' AND starts_at IS NOT NULL AND ends_at IS NOT NULL AND ends_at > starts_at)",
            name="shape",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    kind_id: Mapped[int] = mapped_column(ForeignKey("response_kind.id", ondelete="CASCADE"), index=True)
    # Who answers: a user of the agency (notified of escalations), or only a name shown to callers.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(10), default="primary")
    pattern: Mapped[str] = mapped_column(String(10), default="weekly")
    weekdays: Mapped[str] = mapped_column(String(20), default="")  # "0 1 2 3 4" (0 = Monday)
    starts: Mapped[time | None] = mapped_column(Time)
    ends: Mapped[time | None] = mapped_column(Time)  # at or before `starts`: runs past midnight
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    skip_holidays: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    agency = relationship("Agency", lazy="joined")
    kind = relationship("ResponseKind", lazy="joined")
    user = relationship("User", lazy="joined")
    exceptions: Mapped[list[ShiftException]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ShiftException.start_date")

    @property
    def days(self) -> list[int]:
        """The weekdays of a weekly shift (0 = Monday)."""
        return [int(day) for day in self.weekdays.split()]

    @property
    def who(self) -> str:
        """The name callers see: the user's, or the display name."""
        if self.user is not None:
            return self.user.name
        return self.display_name or "(no name)"


class ShiftException(db.Model):
    """Days a weekly shift does not run (leave, a swap covered by a one-off shift)."""

    __tablename__ = "shift_exception"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="ordered"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")

"""Stored schedules: weekly spans and closures of services (and, later, shifts); the holiday list."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from csrn.extensions import db
from csrn.types import state_check

RULE_KINDS = ("weekly", "closed")


class ScheduleRule(db.Model):
    """A weekly span, or a closure from one date through another."""

    __tablename__ = "schedule_rule"
    __table_args__ = (
        state_check("kind", RULE_KINDS),
        CheckConstraint(
            "(kind = 'weekly' AND weekday BETWEEN 0 AND 6 AND opens IS NOT NULL AND closes IS NOT NULL)"
            " OR (kind = 'closed' AND start_date IS NOT NULL AND end_date IS NOT NULL AND end_date >= start_date)",
            name="shape",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    weekday: Mapped[int | None] = mapped_column()
    opens: Mapped[time | None] = mapped_column(Time)
    closes: Mapped[time | None] = mapped_column(Time)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")


class Holiday(db.Model):
    """A day the task force treats as a holiday (services may close; routine deadlines skip it)."""

    __tablename__ = "holiday"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(120))

"""Settings an operator changes at run time (one row)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy import false as sql_false
from sqlalchemy.orm import Mapped, mapped_column

from csrn.extensions import db
from csrn.types import UTCDateTime


class TaskForceSettings(db.Model):
    """The task force's name, zone, counties, fallback number, deadlines and retention."""

    __tablename__ = "task_force_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint(
            "emergency_minutes > 0 AND urgent_hours > 0 AND routine_business_hours > 0"
            " AND retention_days > 0",
            name="positive_numbers",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(200), default="Anti-Trafficking Task Force")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    counties_json: Mapped[str] = mapped_column(Text, default="[]")
    fallback_phone: Mapped[str] = mapped_column(String(40), default="")
    emergency_minutes: Mapped[int] = mapped_column(default=30)
    urgent_hours: Mapped[int] = mapped_column(default=4)
    routine_business_hours: Mapped[int] = mapped_column(default=48)
    retention_days: Mapped[int] = mapped_column(default=1095)
    # The HSDS API open to everyone (the public directory only); otherwise it asks for an API token.
    hsds_api_public: Mapped[bool] = mapped_column(default=False, server_default=sql_false())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def counties(self) -> list[str]:
        """The task force's counties, in the order the operator gave them."""
        return json.loads(self.counties_json or "[]")

    @counties.setter
    def counties(self, value: list[str]) -> None:
        self.counties_json = json.dumps(list(value))

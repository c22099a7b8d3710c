"""A drill: its settings, its clock's start, and the report kept when it ends."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import NEVER_REUSED_IDS, UTCDateTime, UUIDString, json_list, new_uuid, state_check

DRILL_STATES = ("running", "ended", "cleaned")
END_REASONS = {
    "accepted": "A provider accepted the referral",
    "unassigned": "Nobody took it: the referral went to the committee queue",
    "withdrawn": "The referral was withdrawn",
    "stopped": "Stopped by a chair",
}


class Drill(db.Model):
    """A test of the response at a simulated hour. Its records (intake, referral, offers, …) carry `is_drill`; the
    drill's clock runs from `simulated_start`, its offset kept on its intake (`Intake.drill_clock_offset`)."""

    __tablename__ = "drill"
    __table_args__ = (state_check("state", DRILL_STATES), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    sending_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    # The drill's intake and its case-management referral, until the clean-up removes them.
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intake.id", ondelete="SET NULL"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id", ondelete="SET NULL"))
    urgency: Mapped[str] = mapped_column(String(10))
    county: Mapped[str] = mapped_column(String(100), default="")
    needs_json: Mapped[str] = mapped_column(Text, default="[]")
    note: Mapped[str] = mapped_column(String(200), default="")  # what it tests ("Sunday night, holiday weekend")
    simulated_start: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the wall clock
    state: Mapped[str] = mapped_column(String(10), default="running", index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the wall clock
    end_reason: Mapped[str] = mapped_column(String(12), default="")
    # The report, as it stood when the drill ended: the clean-up does not change it.
    report_json: Mapped[str] = mapped_column(Text, default="")
    cleaned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleaned_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    started_by = relationship("User", foreign_keys=[started_by_id], lazy="joined")
    sending_agency = relationship("Agency", lazy="joined")
    intake = relationship("Intake")
    referral = relationship("Referral")

    @property
    def needs(self) -> list[str]:
        return json_list(self.needs_json)

    @property
    def report(self) -> dict | None:
        return json.loads(self.report_json) if self.report_json else None

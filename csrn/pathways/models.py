"""Pathways: named sequences of services for a population (DESIGN §4.5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import UTCDateTime, json_list


class Pathway(db.Model):
    """A named sequence of services for a population (DESIGN §4.5)."""

    __tablename__ = "pathway"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    working_group: Mapped[str] = mapped_column(String(120), default="")
    # Target population: empty lists mean "anyone" on that dimension.
    age_groups_json: Mapped[str] = mapped_column(Text, default="[]")
    genders_json: Mapped[str] = mapped_column(Text, default="[]")
    citizenship_json: Mapped[str] = mapped_column(Text, default="[]")
    trafficking_json: Mapped[str] = mapped_column(Text, default="[]")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    steps: Mapped[list[PathwayStep]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                    order_by="PathwayStep.position")

    def target(self, dimension: str) -> list[str]:
        """The target values of one dimension (empty: anyone)."""
        return json_list(getattr(self, f"{dimension}_json"))


class PathwayStep(db.Model):
    """One service of a pathway, with guidance."""

    __tablename__ = "pathway_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pathway_id: Mapped[int] = mapped_column(ForeignKey("pathway.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"))
    guidance: Mapped[str] = mapped_column(Text, default="")

    service_type = relationship("ServiceType", lazy="joined")

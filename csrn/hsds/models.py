"""What the HSDS import remembers: the value it last wrote to each field of each object it imported."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from csrn.extensions import db
from csrn.types import UTCDateTime, UUIDString

IMPORTED_KINDS = ("organization", "service", "location")


class ImportedObject(db.Model):
    """An agency, service or location an import wrote (named by its HSDS id), with the keyed hash of the value the
    last import wrote to each of its fields. A re-import overwrites a field only while its current value still
    hashes to that: anything else was edited in CSRN since, and is kept. No foreign key: the row outlives its
    object, so an object deleted in CSRN is not brought back by the next import."""

    __tablename__ = "hsds_imported_object"
    __table_args__ = (UniqueConstraint("object_type", "object_uuid", name="uq_hsds_imported_object"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(20))
    object_uuid: Mapped[str] = mapped_column(UUIDString())
    # {"field": keyed hash of the value the last import wrote}, as JSON text.
    field_hashes: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def hashes(self) -> dict[str, str]:
        """The field hashes as a dict."""
        return json.loads(self.field_hashes)

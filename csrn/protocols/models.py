"""Protocol pages, their versions and who has acknowledged which published version."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.roles import AGENCY_ADMIN, CASE_MANAGER, CHAIR, STAFF, VOLUNTEER
from csrn.types import UTCDateTime, state_check

AUDIENCES = {
    "members": "Member agencies",
    "volunteers": "Pro bono volunteers",
    "both": "Member agencies and volunteers",
}
# The roles a page is meant for (who must acknowledge it), by audience.
MEMBER_ROLES = (STAFF, CASE_MANAGER, AGENCY_ADMIN, CHAIR)
AUDIENCE_ROLES = {
    "members": MEMBER_ROLES,
    "volunteers": (VOLUNTEER,),
    "both": MEMBER_ROLES + (VOLUNTEER,),
}
# A page is a draft until its first publication; afterwards it stays published, and newer versions
# saved since are drafts of the next publication.
PAGE_STATUSES = {"draft": "Draft", "published": "Published"}


class ProtocolPage(db.Model):
    """A protocol: its slug, audience, owner and review date; the text lives in its versions."""

    __tablename__ = "protocol_page"
    __table_args__ = (
        state_check("audience", tuple(AUDIENCES)),
        state_check("status", tuple(PAGE_STATUSES)),
        CheckConstraint(
            "(status = 'draft' AND published_number IS NULL) OR "
            "(status = 'published' AND published_number IS NOT NULL AND published_number <= latest_number)",
            name="publication",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    audience: Mapped[str] = mapped_column(String(12))
    owner_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    review_due_on: Mapped[date] = mapped_column(Date, index=True)
    # The number of the newest version, and of the one everyone but the chairs reads.
    latest_number: Mapped[int] = mapped_column(default=0)
    published_number: Mapped[int | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    owner = relationship("User", lazy="joined")

    @property
    def audience_label(self) -> str:
        """The audience as people read it."""
        return AUDIENCES.get(self.audience, self.audience)

    @property
    def has_unpublished_changes(self) -> bool:
        """Whether a version newer than the published one (or any, if never published) exists."""
        return self.latest_number != (self.published_number or 0)


class ProtocolVersion(db.Model):
    """One saved text of a page: every save is a version, with its author, note and time."""

    __tablename__ = "protocol_version"
    __table_args__ = (UniqueConstraint("page_id", "number", name="uq_protocol_version_page_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("protocol_page.id"))
    number: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    change_note: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when this version was restored from an older one.
    restored_from: Mapped[int | None] = mapped_column()
    # Set the first time this version is published; a version once published stays readable.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    page = relationship(ProtocolPage)
    author = relationship("User", foreign_keys=[author_id], lazy="joined")
    published_by = relationship("User", foreign_keys=[published_by_id])


class ProtocolAcknowledgement(db.Model):
    """A user's statement that they have read one published version of a page."""

    __tablename__ = "protocol_acknowledgement"
    __table_args__ = (UniqueConstraint("version_id", "user_id", name="uq_protocol_acknowledgement_version_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime())

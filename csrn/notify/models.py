"""The e-mail outbox: mail is written in the business transaction and sent after commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from csrn.extensions import db
from csrn.types import NEVER_REUSED_IDS, EncryptedText, UTCDateTime, state_check

OUTBOX_STATES = ("pending", "sent", "failed")


class OutboxMessage(db.Model):
    """One e-mail waiting to be sent, sent, or given up on."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        state_check("status", OUTBOX_STATES),
        # Public forms count what one address was sent lately (at most a few a day).
        Index("ix_outbox_message_to_addr_created_at", "to_addr", "created_at"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    # Bodies may carry live links (invitations, resets): encrypted, and never shown in the app.
    body: Mapped[str] = mapped_column(EncryptedText)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Mail about a drill: the drill's intake (its clean-up removes what is not sent yet). None: real.
    drill_of: Mapped[int | None] = mapped_column(index=True)
    # Which sender is sending it, since when: a second sender (another host's tick) skips it until the claim is
    # older than the claim time-out (a sender that died), then may retry it.
    claimed_by: Mapped[str] = mapped_column(String(80), default="", server_default="")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Notification(db.Model):
    """An in-app notice: what happened and a link — never information about the person."""

    __tablename__ = "notification"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(String(300))
    link: Mapped[str] = mapped_column(String(300), default="")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # A notice about a drill: the drill's intake (its clean-up removes it). None: real.
    drill_of: Mapped[int | None] = mapped_column(index=True)

"""Referrals, offers (one pending at a time, exactly one accepted), the timeline of events, and consent."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.types import NEVER_REUSED_IDS, EncryptedText, UTCDateTime, UUIDString, json_list, new_uuid, state_check

REFERRAL_STATES = ("offered", "accepted", "in_progress", "closed", "withdrawn", "unassigned")
OFFER_STATES = ("pending", "accepted", "declined", "expired", "withdrawn")
DECLINE_REASONS = {
    "not_eligible": "Not eligible",
    "no_capacity": "No capacity",
    "outside_area": "Outside service area",
    "language": "Language",
    "conflict": "Conflict of interest",
    "safety": "Safety concern",
    "other": "Other",
}
CONSENT_CATEGORIES = {
    "identity": "Identity (alias, names)",
    "contact": "Contact details and safe-contact plan",
    "immigration": "Immigration details",
    "health": "Health",
    "narrative": "What happened (narrative)",
}
CONSENT_HOW = {"verbal": "Verbal", "written": "Written"}
OUTCOMES = {"engaged": "Services engaged", "client_declined": "Client declined services",
            "lost_contact": "Lost contact", "transferred": "Transferred", "other": "Other"}


class Referral(db.Model):
    """A request for one service for one person, offered to one provider at a time."""

    __tablename__ = "referral"
    __table_args__ = (
        state_check("state", REFERRAL_STATES),
        state_check("urgency", ("emergency", "urgent", "routine")),
        # At most one transfer of a case waits for a provider at a time (two at once could both be accepted).
        Index("uq_referral_open_transfer", "transferred_from_id", unique=True,
              sqlite_where=text("state IN ('offered', 'unassigned')"),
              postgresql_where=text("state IN ('offered', 'unassigned')")),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(UUIDString(), unique=True, default=new_uuid)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id"), index=True)
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"))
    sending_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    urgency: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12), index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="")
    accepted_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    # The order to offer in: the chosen receiver, the backups, then the other matches (agency ids).
    candidates_json: Mapped[str] = mapped_column(Text, default="[]")
    is_drill: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When an offer of it was last declined or expired and it moved on: the committee queue's "escalated".
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An onward referral's case: the case-management referral it was sent from (None: the case itself).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # set on closing, cleared on reopening
    # A transfer: the case-management referral this one takes over; accepting it closes that one as transferred.
    transferred_from_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    # The form submission that created it (onward referrals and transfers): a repeated submission creates nothing.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    intake = relationship("Intake", lazy="joined")
    service_type = relationship("ServiceType", lazy="joined")
    sending_agency = relationship("Agency", foreign_keys=[sending_agency_id], lazy="joined")
    accepted_agency = relationship("Agency", foreign_keys=[accepted_agency_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    parent = relationship("Referral", remote_side=[id], foreign_keys=[parent_id])
    transferred_from = relationship("Referral", remote_side=[id], foreign_keys=[transferred_from_id])
    offers: Mapped[list[Offer]] = relationship(back_populates="referral", order_by="Offer.id", lazy="selectin")

    @property
    def candidates(self) -> list[int]:
        return json.loads(self.candidates_json or "[]")

    @property
    def pending_offer(self) -> Offer | None:
        return next((o for o in self.offers if o.state == "pending"), None)

    @property
    def accepted_offer(self) -> Offer | None:
        return next((o for o in self.offers if o.state == "accepted"), None)


class Offer(db.Model):
    """The referral offered to one provider; answered once."""

    __tablename__ = "offer"
    __table_args__ = (
        state_check("state", OFFER_STATES),
        CheckConstraint("state != 'declined' OR decline_reason != ''", name="decline_has_reason"),
        # Exactly one accepted offer per referral, and at most one pending (R1, R3).
        Index("uq_offer_one_accepted", "referral_id", unique=True,
              sqlite_where=text("state = 'accepted'"), postgresql_where=text("state = 'accepted'")),
        Index("uq_offer_one_pending", "referral_id", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
        # The escalation pass (overdue) and the inbox (one agency) read only pending offers.
        Index("ix_offer_pending_deadline", "deadline_at", "agency_id",
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
        Index("ix_offer_referral_state", "referral_id", "state"),
        # The demand report reads a span of days of answers (today's, and each day the roll-up counts).
        Index("ix_offer_state_answered", "state", "answered_at"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed with its state below: the committee queue counts a referral's declined and expired offers.
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), index=True)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decline_reason: Mapped[str] = mapped_column(String(20), default="")
    decline_text: Mapped[str] = mapped_column(EncryptedText, default="")  # free text: may name the person
    offered_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    referral: Mapped[Referral] = relationship(back_populates="offers")
    agency = relationship("Agency", lazy="joined")


class ReferralEvent(db.Model):
    """One change on a referral's timeline: who, when, what."""

    __tablename__ = "referral_event"
    # The gap analysis counts escalations and arrivals in the queue over a period: by kind, then time.
    __table_args__ = (Index("ix_referral_event_kind_at", "kind", "at"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")  # never identifying information
    # A drill's event: `at` is on the drill's clock, and this is the wall clock (None: a real referral's event).
    real_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    actor = relationship("User", lazy="joined")
    agency = relationship("Agency", lazy="joined")


class ReferralContact(db.Model):
    """Someone outside the offers asked to help with an escalated referral: the person on call. They may open the
    referral's summary (nothing identifying) and the sender's phone (DESIGN §4.2)."""

    __tablename__ = "referral_contact"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(200), default="")


class Consent(db.Model):
    """What the person agreed the sending agency may share, with whom, until when; revocable.

    Kept with referrals: it is the rule of what crosses agencies, which referrals and case work both apply."""

    __tablename__ = "consent"
    __table_args__ = (state_check("how", tuple(CONSENT_HOW) + ("none",)), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id", ondelete="CASCADE"), unique=True)
    given: Mapped[bool] = mapped_column(default=False)
    how: Mapped[str] = mapped_column(String(10), default="none")
    with_receiver: Mapped[bool] = mapped_column(default=False)
    with_backups: Mapped[bool] = mapped_column(default=False)
    with_onward: Mapped[bool] = mapped_column(default=False)
    with_chairs: Mapped[bool] = mapped_column(default=False)
    named_agencies_json: Mapped[str] = mapped_column(Text, default="[]")
    # The agencies the person named on the form themselves (named_agencies also holds the backups when the consent
    # covers "its backups"): what SECURITY P6 asks of a law-enforcement agency.
    named_explicitly_json: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    categories_json: Mapped[str] = mapped_column(Text, default="[]")
    given_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    @property
    def categories(self) -> list[str]:
        return json_list(self.categories_json)

    @property
    def named_agencies(self) -> list[int]:
        return json_list(self.named_agencies_json)

    @property
    def named_explicitly(self) -> list[int]:
        return json_list(self.named_explicitly_json)

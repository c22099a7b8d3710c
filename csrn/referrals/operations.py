"""Referral state changes and visibility: offers, acceptance exactly once, declines, escalation, the queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from types import SimpleNamespace

from flask import abort, current_app, has_request_context, url_for
from sqlalchemy import and_, case, func, literal_column, or_, select, update
from sqlalchemy.orm import contains_eager

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.auth import operations as auth_ops
from csrn.auth.models import User
from csrn.directory import receiving
from csrn.directory.models import Service, ServiceType
from csrn.extensions import db
from csrn.links import path_for
from csrn.notify.operations import Notices, notify
from csrn.oncall import operations as oncall_ops
from csrn.referrals.models import DECLINE_REASONS, OUTCOMES, Offer, Referral, ReferralContact, ReferralEvent
from csrn.roles import AGENCY_ADMIN, CHAIR, RECEIVER_ROLES
from csrn.schedules import engine
from csrn.schedules import operations as schedule_ops
from csrn.settings.operations import get_settings, task_force_zone

URGENCY_ORDER = case((Referral.urgency == "emergency", 0), (Referral.urgency == "urgent", 1), else_=2)
# A literal, not a parameter: the partial indexes on pending offers apply to it in every plan (PostgreSQL's generic
# plans of prepared statements included).
PENDING = Offer.state == literal_column("'pending'")


# The person on call reached for a referral sees its summary while it waits for a provider.
ONCALL_STATES = ("offered", "unassigned")


class RefusedTransition(Exception):
    """The change is not allowed now (someone else answered first, or the viewer may not)."""


# ----- a drill's clock ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DrillClock:
    """A drill's referrals (all of one intake) and how far their clock runs ahead of the wall clock. Every
    operation on a referral takes `now` on the referral's clock: a drill's offers are made, due, answered and
    escalated in drill time; its notices and mail go out on the wall clock, and its events keep both."""

    intake_id: int
    offset: timedelta

    def real(self, now: datetime) -> datetime:
        """The wall-clock time of a moment on the drill's clock."""
        return now - self.offset


def drill_clock(referral: Referral) -> DrillClock | None:
    """The clock of the drill the referral belongs to (None: a real referral, on the wall clock)."""
    if not referral.is_drill:
        return None
    return DrillClock(referral.intake_id, timedelta(seconds=referral.intake.drill_clock_offset or 0))


def drill_of(referral: Referral) -> int | None:
    """What a notice about the referral is kept with: its drill's intake (None: a real referral)."""
    return referral.intake_id if referral.is_drill else None


def clock(referral: Referral, real_now: datetime) -> datetime:
    """Now on the referral's clock: the wall clock, or its drill's simulated time."""
    drill = drill_clock(referral)
    return real_now if drill is None else real_now + drill.offset


def _audit(actor, action: str, referral: Referral, fields: list[str], now: datetime) -> None:
    """Audit an action on the referral, on the wall clock (a drill's `now` is on its own)."""
    drill = drill_clock(referral)
    audit.record(actor, action, referral, fields=fields, now=now if drill is None else drill.real(now))


def _tell(referral: Referral, users, text: str, link: str, now: datetime) -> None:
    """Notify about the referral: a drill's notices say so, on the wall clock, and are kept with the drill."""
    drill = drill_clock(referral)
    if drill is None:
        notify(users, text, link, now)
    else:
        notify(users, text, link, drill.real(now), drill_of=drill.intake_id)


# ----- deadlines ---------------------------------------------------------------------------------

def business_deadline(start: datetime, hours: int, zone, holidays: set) -> datetime:
    """`hours` business hours after `start`: Monday to Friday 09:00–17:00 local, skipping holidays."""
    office = engine.Schedule(
        weekly=[engine.WeeklySpan(day, time(9), time(17)) for day in range(5)],
        holidays=holidays, closed_on_holidays=True,
    )
    remaining = timedelta(hours=hours)
    cursor = start
    while True:
        window_end = cursor + timedelta(days=14)
        for opened, closed in engine.intervals(office, cursor, window_end, zone):
            span = closed - opened
            if span >= remaining:
                return opened + remaining
            remaining -= span
        cursor = window_end


def offer_deadline(urgency: str, offered_at: datetime) -> datetime:
    """When an offer of this urgency escalates if nobody answers (configurable in the settings)."""
    settings = get_settings()
    if urgency == "emergency":
        return offered_at + timedelta(minutes=settings.emergency_minutes)
    if urgency == "urgent":
        return offered_at + timedelta(hours=settings.urgent_hours)
    return business_deadline(offered_at, settings.routine_business_hours, task_force_zone(),
                             schedule_ops.holiday_set())


# ----- events and notifications -------------------------------------------------------------------

def add_event(referral: Referral, kind: str, now: datetime, actor=None, agency_id: int | None = None,
              detail: str = "") -> ReferralEvent:
    """Append an event to the referral's timeline (never identifying information in `detail`)."""
    drill = drill_clock(referral)
    event = ReferralEvent(referral_id=referral.id, at=now, actor_id=getattr(actor, "id", None),
                          agency_id=agency_id, kind=kind, detail=detail,
                          real_at=drill.real(now) if drill is not None else None)
    db.session.add(event)
    return event


def escalation_contacts(now: datetime) -> list:
    """Who hears of every escalation: the chairs. (The person on call for the referral's kind is reached per
    referral: `_Escalations.on_call`.)"""
    return _as_recipients(auth_ops.chairs())


def _as_recipients(users) -> list[SimpleNamespace]:
    """Users as the id and address a notice needs: plain values, still readable after a commit expires the users."""
    return [SimpleNamespace(id=user.id, email=user.email) for user in users]


# ----- creating and offering ---------------------------------------------------------------------

def create_referral(actor, intake, service_type_id: int, candidates: list[int], now: datetime,
                    is_drill: bool = False, sending_agency_id: int | None = None,
                    parent: Referral | None = None, urgency: str | None = None,
                    transferred_from: Referral | None = None, submission_key: str | None = None) -> Referral:
    """Create a referral and offer it to the first candidate, or put it in the committee queue.

    From an intake, the sender is the intake's agency; an onward referral names its case (`parent`) and a transfer
    the case it takes over (`transferred_from`), and both are sent by the agency holding that case; a drill's
    children and transfers are drills too. The urgency is the intake's unless given."""
    origin = parent if parent is not None else transferred_from
    sender = sending_agency_id or (origin.accepted_agency_id if origin is not None else None) or intake.agency_id
    referral = Referral(intake_id=intake.id, service_type_id=service_type_id, sending_agency_id=sender,
                        created_by_id=actor.id, urgency=urgency or intake.urgency, state="unassigned",
                        candidates_json=json.dumps(candidates),
                        is_drill=is_drill or (origin is not None and origin.is_drill),
                        parent_id=parent.id if parent is not None else None,
                        transferred_from_id=transferred_from.id if transferred_from is not None else None,
                        submission_key=submission_key, created_at=now, updated_at=now)
    db.session.add(referral)
    db.session.flush()
    add_event(referral, "created", now, actor, sender)
    if candidates:
        _offer_to(referral, candidates[0], now, actor)
    else:
        # No provider matched: escalate at once, so the person on call for its kind is reached (and their agency
        # offered it when it can receive it); otherwise it goes to the committee queue.
        _escalate(referral, now, "No provider matched.", at_creation=True)
    return referral


def _offer_to(referral: Referral, agency_id: int, now: datetime, actor=None) -> Offer:
    service_id = db.session.scalar(select(Service.id).where(
        Service.agency_id == agency_id, Service.service_type_id == referral.service_type_id,
        Service.status == "active").order_by(Service.id).limit(1))
    offer = Offer(referral_id=referral.id, agency_id=agency_id, service_id=service_id, state="pending",
                  offered_at=now, deadline_at=offer_deadline(referral.urgency, now),
                  offered_by_id=getattr(actor, "id", None))
    db.session.add(offer)
    referral.state = "offered"
    referral.updated_at = now
    db.session.flush()
    agency = db.session.get(Agency, agency_id)
    add_event(referral, "offered", now, actor, agency_id, detail=f"Offered to {agency.name}")
    link = path_for("referrals.show", referral_id=referral.id)
    _tell(referral, auth_ops.users_of(agency_id, *RECEIVER_ROLES),
          f"New {referral.urgency} referral offer for {referral.service_type.name.lower()}", link, now)
    return offer


# ----- answering ---------------------------------------------------------------------------------

def _nothing_to_answer(referral: Referral, actor, verb: str) -> str:
    """Why the actor cannot answer: a colleague answered first (the usual loser of a race), or there is no offer."""
    own = [o for o in referral.offers if o.agency_id == actor.agency_id]
    if not own or not actor.has_role(*RECEIVER_ROLES):
        return f"There is no offer for your agency to {verb}."
    return {"withdrawn": "The sender withdrew this referral.",
            "expired": "This offer expired and went to the next provider."}.get(
        own[-1].state, "Someone else answered this offer first.")


def accept(actor, referral: Referral, now: datetime) -> Offer:
    """Accept the pending offer to the actor's agency: one conditional UPDATE, so exactly one wins (R1)."""
    offer = referral.pending_offer
    if offer is None or offer.agency_id != actor.agency_id or not actor.has_role(*RECEIVER_ROLES):
        raise RefusedTransition(_nothing_to_answer(referral, actor, "accept"))
    result = db.session.execute(
        update(Offer).where(Offer.id == offer.id, Offer.state == "pending")
        .values(state="accepted", answered_at=now, answered_by_id=actor.id)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()  # expires the referral: the message reads what happened to the offer
        raise RefusedTransition(_nothing_to_answer(referral, actor, "accept"))
    won = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.state == "offered")
        .values(state="accepted", accepted_agency_id=actor.agency_id, updated_at=now)
        .execution_options(synchronize_session=False))
    if won.rowcount != 1:
        db.session.rollback()
        raise RefusedTransition("This referral was withdrawn or changed just now.")
    if referral.transferred_from_id is not None and not _close_transferred(actor, referral, now):
        db.session.rollback()
        raise RefusedTransition("The case this transfer would take over was closed by its holder: it no longer "
                                "stands.")
    if offer.service_id is not None and not referral.is_drill:
        # Never below zero, never blocking the acceptance (R2); a drill takes no real capacity.
        db.session.execute(update(Service).where(Service.id == offer.service_id, Service.open_slots > 0)
                           .values(open_slots=Service.open_slots - 1).execution_options(synchronize_session=False))
    add_event(referral, "accepted", now, actor, actor.agency_id, detail=f"Accepted by {actor.agency.name}")
    _audit(actor, "referral.accepted", referral, ["state"], now)
    _tell(referral, _senders(referral), f"Referral #{referral.id} was accepted by {actor.agency.name}",
          path_for("referrals.show", referral_id=referral.id), now)
    db.session.commit()
    db.session.expire_all()
    return offer


def decline(actor, referral: Referral, reason: str, text: str, now: datetime) -> None:
    """Decline the pending offer with a coded reason; the next candidate is offered at once."""
    if reason not in DECLINE_REASONS:
        raise RefusedTransition("Choose a reason.")
    offer = referral.pending_offer
    if offer is None or offer.agency_id != actor.agency_id or not actor.has_role(*RECEIVER_ROLES):
        raise RefusedTransition(_nothing_to_answer(referral, actor, "decline"))
    result = db.session.execute(
        update(Offer).where(Offer.id == offer.id, Offer.state == "pending")
        .values(state="declined", answered_at=now, answered_by_id=actor.id, decline_reason=reason,
                decline_text=text.strip()[:2000])
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise RefusedTransition("Someone else answered this offer first.")
    add_event(referral, "declined", now, actor, actor.agency_id,
              detail=f"Declined by {actor.agency.name}: {DECLINE_REASONS[reason]}")
    _audit(actor, "referral.declined", referral, ["state", "decline_reason"], now)
    db.session.expire(referral, ["offers"])
    _escalate(referral, now, f"declined by {actor.agency.name}")
    db.session.commit()


def withdraw(actor, referral: Referral, now: datetime) -> None:
    """The sending agency withdraws the referral; a pending offer is withdrawn with it."""
    if actor.agency_id != referral.sending_agency_id or (_from_a_case(referral) and not holds_onward(referral, actor)):
        raise RefusedTransition("Only the sending agency may withdraw this referral.")
    # The offer first, then the referral: the lock order of accept, decline and the escalation pass, so a race
    # with them waits instead of deadlocking (PostgreSQL); the offers once more at the end, for one that a racing
    # escalation created in between.
    withdraw_pending = (update(Offer).where(Offer.referral_id == referral.id, Offer.state == "pending")
                        .values(state="withdrawn", answered_at=now).execution_options(synchronize_session=False))
    db.session.execute(withdraw_pending)
    result = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.state.in_(("offered", "unassigned")))
        .values(state="withdrawn", updated_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise RefusedTransition("This referral can no longer be withdrawn (it was accepted or closed).")
    db.session.execute(withdraw_pending)
    add_event(referral, "withdrawn", now, actor, actor.agency_id, detail="Withdrawn by the sender")
    _audit(actor, "referral.withdrawn", referral, ["state"], now)
    db.session.commit()
    db.session.expire_all()


def _close_transferred(actor, transfer: Referral, now: datetime) -> bool:
    """A transfer is being accepted: the case it takes over closes as transferred, in the same transaction (False:
    that case is no longer open, and the acceptance must not stand). Its sender — the intake's author included —
    is told it closed, not who holds it now."""
    original = db.session.get(Referral, transfer.transferred_from_id)
    closed = db.session.execute(
        update(Referral).where(Referral.id == original.id, Referral.state.in_(("accepted", "in_progress")))
        .values(state="closed", outcome="transferred", updated_at=now, closed_at=now)
        .execution_options(synchronize_session=False))
    if closed.rowcount != 1:
        return False
    add_event(original, "closed", now, actor, actor.agency_id, detail=f"Closed: {OUTCOMES['transferred']}")
    _audit(actor, "referral.closed", original, ["state", "outcome"], now)
    _tell(original, _senders(original), f"Referral #{original.id} was closed (transferred)",
          path_for("referrals.show", referral_id=original.id), now)
    return True


def holds_onward(referral: Referral, user) -> bool:
    """Whether the user speaks for the sender of an onward referral or a transfer: a case manager or admin of the
    agency holding its case (staff of that agency are not assigned cases, and see none of them)."""
    return referral.sending_agency_id == user.agency_id and user.has_role(*RECEIVER_ROLES)


def _from_a_case(referral: Referral) -> bool:
    return referral.parent_id is not None or referral.transferred_from_id is not None


def reopen(actor, referral: Referral, to_state: str, now: datetime) -> None:
    """The accepting agency reopens a closed referral (people come back): `to_state` is `accepted` or, once case
    work began, `in_progress`. A referral closed by a transfer stays closed: another provider holds the case.
    Not committed: the caller records why, then commits."""
    if to_state not in ("accepted", "in_progress"):
        raise RefusedTransition("A referral reopens as accepted or in progress.")
    if referral.accepted_agency_id != actor.agency_id or not actor.has_role(*RECEIVER_ROLES):
        raise RefusedTransition("Only the accepting agency reopens this referral.")
    if referral.outcome == "transferred":
        raise RefusedTransition("This case was transferred: the provider that accepted the transfer holds it now.")
    result = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.state == "closed")
        .values(state=to_state, outcome="", updated_at=now, closed_at=None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise RefusedTransition("This referral is not closed.")
    add_event(referral, "reopened", now, actor, actor.agency_id, detail=f"Reopened by {actor.agency.name}")
    _audit(actor, "referral.reopened", referral, ["state", "outcome"], now)
    _tell(referral, _senders(referral), f"Referral #{referral.id} was reopened",
          path_for("referrals.show", referral_id=referral.id), now)


def mark_in_progress(actor, referral: Referral, now: datetime) -> bool:
    """Case work began (the first needs assessment): accepted becomes in_progress, once. Not committed."""
    result = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.state == "accepted")
        .values(state="in_progress", updated_at=now).execution_options(synchronize_session=False))
    if result.rowcount == 1:
        add_event(referral, "in_progress", now, actor, actor.agency_id, detail="Case work started")
        return True
    return False


def _senders(referral: Referral) -> list[User]:
    author = db.session.get(User, referral.created_by_id)
    return ([author] if author and author.active else []) + auth_ops.users_of(referral.sending_agency_id, AGENCY_ADMIN)


class _Escalations:
    """What escalating many referrals at once reads only once: chairs and escalation contacts, deadlines (settings
    and holidays), agency names; then, per chunk, the users to tell and each agency's service of the type. One
    instance per escalation pass (or decline); `escalate` writes a chunk's events, offers, referral states and
    notices with one statement each."""

    def __init__(self, now: datetime, drill: DrillClock | None = None):
        self.now = now
        # A drill's escalations: `now` is on its clock; its notices go out on the wall clock, marked as a drill.
        self.drill = drill
        self.real_now = drill.real(now) if drill is not None else now
        self.chairs = _as_recipients(auth_ops.chairs())
        self.contacts = escalation_contacts(now)
        self.deadlines: dict[str, datetime] = {}
        self.agency_names: dict[int, str] = {}
        self.responders: dict[int, list] = {}
        self.receivable: dict[tuple[int, int], bool] = {}

    def on_call(self, service_type_id: int) -> list:
        """The shifts on call now for the referral's kind (read once per service type): the primary, and the
        backup when the primary's shift ends before an emergency offer made now would be due (the offer the on-call
        agency gets) — never the whole of a routine deadline, which would wake the backup for nearly every one.
        A shift whose person has left its agency, or of a suspended agency, reaches nobody."""
        if service_type_id not in self.responders:
            self.responders[service_type_id] = [
                shift for shift in oncall_ops.escalation_responders(
                    service_type_id, self.now, self.deadline("emergency") - self.now)
                if shift.user.agency_id == shift.agency_id and shift.agency.membership_status != "suspended"]
        return self.responders[service_type_id]

    def can_receive(self, agency_id: int, service_type_id: int) -> bool:
        """Whether the agency may be offered this service now (read once per pass)."""
        key = (agency_id, service_type_id)
        if key not in self.receivable:
            self.receivable[key] = receiving.can_receive_referrals(db.session.get(Agency, agency_id),
                                                                   service_type_id, self.now)
        return self.receivable[key]

    def deadline(self, urgency: str) -> datetime:
        """The deadline of an offer of this urgency made now (settings and holidays read once per urgency)."""
        if urgency not in self.deadlines:
            self.deadlines[urgency] = offer_deadline(urgency, self.now)
        return self.deadlines[urgency]

    def names_of(self, agency_ids) -> dict[int, str]:
        """Agency names by id (read once per pass)."""
        missing = set(agency_ids) - self.agency_names.keys()
        if missing:
            self.agency_names.update(
                db.session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(missing))).all())
        return self.agency_names

    def escalate(self, whys: dict[int, str], events: list[dict] | None = None, at_creation: bool = False) -> None:
        """Escalate each referral (id: why): offer it to the agency of the person on call for its kind when that
        agency can receive it, else to its next candidate not yet offered, else the committee queue; tell the
        escalation contacts, the person on call and the sender. `events` (expiries) go first on the timeline.
        `at_creation`: a new referral nobody matched — reached on call and queued, but not "escalated"."""
        now, ids = self.now, list(whys)
        referrals = {row.id: row for row in db.session.execute(
            select(Referral.id, Referral.urgency, Referral.candidates_json, Referral.sending_agency_id,
                   Referral.created_by_id, Referral.service_type_id, ServiceType.name.label("service_name"))
            .join(ServiceType, ServiceType.id == Referral.service_type_id).where(Referral.id.in_(ids)))}
        offered: dict[int, set[int]] = {referral_id: set() for referral_id in ids}
        for referral_id, agency_id in db.session.execute(
                select(Offer.referral_id, Offer.agency_id).where(Offer.referral_id.in_(ids))):
            offered[referral_id].add(agency_id)
        next_agency, on_call, via_on_call = {}, {}, set()
        for referral_id in ids:
            referral = referrals[referral_id]
            on_call[referral_id] = self.on_call(referral.service_type_id)
            # The person on call can act: their agency is offered the referral first, if it can receive it.
            answering = next((shift.agency_id for shift in on_call[referral_id]
                              if shift.agency_id not in offered[referral_id]
                              and self.can_receive(shift.agency_id, referral.service_type_id)), None)
            remaining = [a for a in json.loads(referral.candidates_json or "[]") if a not in offered[referral_id]]
            if answering is not None:
                via_on_call.add(referral_id)
            next_agency[referral_id] = answering if answering is not None else (remaining[0] if remaining else None)
        receivers = {a for a in next_agency.values() if a is not None}
        senders = {r.sending_agency_id for r in referrals.values()}
        names = self.names_of(receivers)
        staff = auth_ops.active_users_with_roles(receivers | senders, RECEIVER_ROLES)
        authors = {row.id: row for row in db.session.execute(
            select(User.id, User.email).where(User.id.in_({r.created_by_id for r in referrals.values()}),
                                              User.active.is_(True)))}
        services = {(agency_id, type_id): service_id for agency_id, type_id, service_id in db.session.execute(
            select(Service.agency_id, Service.service_type_id, func.min(Service.id))
            .where(Service.agency_id.in_(receivers), Service.status == "active",
                   Service.service_type_id.in_({r.service_type_id for r in referrals.values()}))
            .group_by(Service.agency_id, Service.service_type_id))} if receivers else {}
        links = _referral_links(ids)
        queue_link = path_for("referrals.queue")
        drill_of = self.drill.intake_id if self.drill is not None else None
        real_at = self.real_now if self.drill is not None else None

        events, offers, states, notices, contacts = list(events or []), [], [], Notices(self.real_now), []
        for referral_id in ids:
            referral, why, link = referrals[referral_id], whys[referral_id], links[referral_id]
            agency_id = next_agency[referral_id]
            if not at_creation:
                events.append(dict(referral_id=referral_id, at=now, actor_id=None, agency_id=None, kind="escalated",
                                   detail=f"Escalated: {why}", real_at=real_at))
                notices.add(self.contacts, f"Referral #{referral_id} escalated ({why})", link, drill_of=drill_of)
            for shift in on_call[referral_id]:
                # Never client details: a sentence and the link; the timeline says who was reached.
                notices.add([shift.user], f"On call for {shift.kind.name.lower()}: referral #{referral_id} "
                                          f"escalated ({why})", link, drill_of=drill_of)
                events.append(dict(referral_id=referral_id, at=now, actor_id=None, agency_id=shift.agency_id,
                                   kind="oncall_notified",
                                   detail=f"On call: {shift.user.name} ({shift.agency.name}), {shift.role} for "
                                          f"{shift.kind.name.lower()}, notified", real_at=real_at))
                contacts.append(dict(referral_id=referral_id, user_id=shift.user_id, at=now,
                                     reason=f"On call ({shift.role}) for {shift.kind.name}"))
            if not at_creation:
                sender_admins = [u for u in staff.get(referral.sending_agency_id, ()) if AGENCY_ADMIN in u.roles]
                author = [authors[referral.created_by_id]] if referral.created_by_id in authors else []
                notices.add(author + sender_admins, f"Referral #{referral_id} escalated ({why})", link,
                            drill_of=drill_of)
            if agency_id is not None:
                # An offer to the on-call agency is an ordinary offer with the emergency deadline.
                deadline = self.deadline("emergency" if referral_id in via_on_call else referral.urgency)
                offers.append(dict(referral_id=referral_id, agency_id=agency_id,
                                   service_id=services.get((agency_id, referral.service_type_id)), state="pending",
                                   offered_at=now, deadline_at=deadline,
                                   offered_by_id=None, decline_reason="", decline_text=""))
                states.append(dict(id=referral_id, state="offered", updated_at=now,
                                   escalated_at=None if at_creation else now))
                events.append(dict(referral_id=referral_id, at=now, actor_id=None, agency_id=agency_id,
                                   kind="offered", detail=f"Offered to {names[agency_id]}"
                                   + (" (on call)" if referral_id in via_on_call else ""), real_at=real_at))
                notices.add(staff.get(agency_id, ()),
                            f"New {referral.urgency} referral offer for {referral.service_name.lower()}", link,
                            drill_of=drill_of)
            else:
                states.append(dict(id=referral_id, state="unassigned", updated_at=now,
                                   escalated_at=None if at_creation else now))
                events.append(dict(referral_id=referral_id, at=now, actor_id=None, agency_id=None,
                                   kind="unassigned",
                                   detail=why if at_creation else "No candidate left to offer.", real_at=real_at))
                # A drill's participants follow the drill referral itself (its clean-up removes the notice).
                notices.add(self.chairs, f"Referral #{referral_id} is in the committee queue",
                            link if self.drill is not None else queue_link, drill_of=drill_of)
        db.session.flush()  # what the caller added first (a decline's event) keeps its place on the timeline
        db.session.execute(ReferralEvent.__table__.insert(), events)
        if offers:
            db.session.execute(Offer.__table__.insert(), offers)
        db.session.execute(update(Referral), states)
        if contacts:
            db.session.execute(ReferralContact.__table__.insert(), contacts)
        notices.write()


def _referral_links(referral_ids) -> dict[int, str]:
    """Each referral's page, built in one request context (path_for makes one per call outside a request)."""
    if has_request_context():
        return {referral_id: url_for("referrals.show", referral_id=referral_id) for referral_id in referral_ids}
    with current_app.test_request_context("/"):
        return {referral_id: url_for("referrals.show", referral_id=referral_id) for referral_id in referral_ids}


def _escalate(referral: Referral, now: datetime, why: str, at_creation: bool = False) -> None:
    """Offer to the on-call agency or the next candidate not yet offered; else the committee queue. Tell the chairs,
    the person on call and the sender."""
    _Escalations(now, drill_clock(referral)).escalate({referral.id: why}, at_creation=at_creation)
    db.session.expire(referral)


ESCALATION_CHUNK = 200  # offers expired and escalated per transaction


def escalation_pass(now: datetime, chunk: int = ESCALATION_CHUNK, drill: DrillClock | None = None) -> str:
    """The `tick` job: expire every pending offer past its deadline and escalate it, exactly once each. With
    `drill`, the same for that drill's referrals alone, `now` on its clock (the drills module runs it per drill).

    In chunks, one transaction each: one conditional UPDATE expires the chunk's offers that are still pending and
    due (RETURNING them), so an offer answered meanwhile, or expired by a second pass at the same moment, is left
    out; then one INSERT each of the events, next offers, notifications and mail, and the audit entries."""
    # The real pass never touches a drill's offers, nor a drill's pass real ones or another drill's (each drill
    # runs on its own clock).
    scope = (Referral.is_drill.is_(False) if drill is None
             else and_(Referral.is_drill.is_(True), Referral.intake_id == drill.intake_id))
    due = db.session.scalars(
        select(Offer.id).join(Referral, Referral.id == Offer.referral_id)
        .where(PENDING, Offer.deadline_at <= now, scope).order_by(Offer.id)).all()
    escalations = None
    escalated = 0
    for start in range(0, len(due), chunk):
        expired = db.session.execute(
            update(Offer).where(Offer.id.in_(due[start:start + chunk]), PENDING, Offer.deadline_at <= now)
            .values(state="expired", answered_at=now)
            .returning(Offer.referral_id, Offer.agency_id).execution_options(synchronize_session=False)).all()
        if not expired:  # another pass (or answers) got there first
            db.session.rollback()
            continue
        escalations = escalations or _Escalations(now, drill)
        names = escalations.names_of({agency_id for _, agency_id in expired})
        expired = sorted(tuple(row) for row in expired)
        events = [dict(referral_id=referral_id, at=now, actor_id=None, agency_id=agency_id, kind="expired",
                       detail=f"No answer from {names[agency_id]} before the deadline",
                       real_at=escalations.real_now if drill is not None else None)
                  for referral_id, agency_id in expired]
        audit.record_many("referral.offer_expired", "referral", [referral_id for referral_id, _ in expired],
                          fields=["state"], now=escalations.real_now)
        escalations.escalate({referral_id: f"no answer from {names[agency_id]}" for referral_id, agency_id in expired},
                             events)
        db.session.commit()
        escalated += len(expired)
    return f"{escalated} offer(s) escalated"


def offer_by_hand(actor, referral: Referral, agency: Agency, now: datetime) -> Offer:
    """A chair offers an unassigned referral to any provider that can receive it."""
    if not actor.has_role(CHAIR):
        raise RefusedTransition("Only chairs offer referrals by hand.")
    if referral.state != "unassigned":
        raise RefusedTransition("Only referrals in the committee queue can be offered by hand.")
    if not receiving.can_receive_referrals(agency, referral.service_type_id, now):
        raise RefusedTransition(f"{agency.name} cannot receive referrals for this service.")
    # Claim it with one conditional UPDATE: a second chair at the same moment, or a withdrawal, wins or loses
    # cleanly instead of a duplicate pending offer or a withdrawn referral offered again.
    claimed = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.state == "unassigned")
        .values(state="offered", updated_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        raise RefusedTransition("Only referrals in the committee queue can be offered by hand.")
    offer = _offer_to(referral, agency.id, now, actor)
    _audit(actor, "referral.offered_by_hand", referral, ["state"], now)
    db.session.commit()
    return offer


# ----- who sees what (DESIGN §5) ----------------------------------------------------------------

def relation(referral: Referral, user) -> str | None:
    """The viewer's relation to the referral, or None (then it is a 404)."""
    if user.agency_id is not None:
        # The intake's author follows the case-management referral it created, never the case's onward referrals
        # nor a transfer the case holder sends.
        if (referral.parent_id is None and referral.transferred_from_id is None
                and referral.intake.created_by_id == user.id):
            return "author"
        if referral.sending_agency_id == user.agency_id and (not _from_a_case(referral)
                                                             or holds_onward(referral, user)):
            return "sender"
        if referral.accepted_agency_id == user.agency_id and user.has_role(*RECEIVER_ROLES):
            return "receiver"
        pending = referral.pending_offer
        if pending is not None and pending.agency_id == user.agency_id and user.has_role(*RECEIVER_ROLES):
            return "offered"
    if user.has_role(CHAIR) and (referral.state == "unassigned" or any(o.state in ("declined", "expired")
                                                                       for o in referral.offers)):
        return "chair"
    if (user.agency_id is not None and user.has_role(*RECEIVER_ROLES)
            and any(o.agency_id == user.agency_id for o in referral.offers)):
        # Its offer was declined, expired or withdrawn: it sees its own offer record only (DESIGN §5) — not the
        # referral's state since, nor who was offered it next.
        return "former"
    if referral.state in ONCALL_STATES and db.session.scalar(select(ReferralContact.id).where(
            ReferralContact.referral_id == referral.id, ReferralContact.user_id == user.id).limit(1)):
        # Reached as the person on call: the summary and the sender's phone while nobody has the case yet — never
        # who took the person in later, or how it ended (DESIGN §5: need to know).
        return "oncall"
    return None


def own_offers(referral: Referral, user) -> list[Offer]:
    """The offers of the referral made to the user's agency, oldest first (a former receiver's whole view)."""
    return [o for o in referral.offers if user.agency_id is not None and o.agency_id == user.agency_id]


def visible_query(user, former: bool = True):
    """Referrals the user may see in lists (the same rule as `relation`, in SQL); without `former`, only those whose
    state the user may see (not those known only through the user's agency's declined or expired offer)."""
    conditions = []
    if user.agency_id is not None:
        if user.has_role(*RECEIVER_ROLES):
            conditions.append(Referral.sending_agency_id == user.agency_id)
        else:  # staff see what their agency sent from intakes, not what its cases sent onward
            conditions.append(and_(Referral.sending_agency_id == user.agency_id, Referral.parent_id.is_(None),
                                   Referral.transferred_from_id.is_(None)))
        if user.has_role(*RECEIVER_ROLES):
            offers = select(Offer.referral_id).where(Offer.agency_id == user.agency_id)
            if not former:
                offers = offers.where(Offer.state.in_(("pending", "accepted")))
            conditions.append(Referral.id.in_(offers))
    conditions.append(and_(Referral.state.in_(ONCALL_STATES), Referral.id.in_(
        select(ReferralContact.referral_id).where(ReferralContact.user_id == user.id))))
    if user.has_role(CHAIR):
        conditions.append(Referral.state == "unassigned")
        conditions.append(Referral.id.in_(select(Offer.referral_id).where(Offer.state.in_(("declined", "expired")))))
    return select(Referral).where(or_(*conditions))


def get_referral_or_404(referral_id: int, user) -> tuple[Referral, str]:
    """The referral and the viewer's relation to it; anyone uninvolved gets a 404."""
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        abort(404)
    rel = relation(referral, user)
    if rel is None:
        abort(404)
    return referral, rel


def inbox_query(user):
    """Pending offers to the user's agency, most urgent deadline first."""
    # The rows show the referral (no query per offer) and nothing of its intake: the intake, joined to every
    # referral by default, is left unloaded — decrypting each one's client fields was most of the inbox's cost.
    # (A drill's referral reads its intake's clock, one query each.)
    return (select(Offer).join(Referral, Referral.id == Offer.referral_id)
            .options(contains_eager(Offer.referral).lazyload(Referral.intake))
            .where(Offer.agency_id == user.agency_id, Offer.state == "pending")
            .order_by(Offer.deadline_at))


def queue_query():
    """The committee queue: unassigned referrals, then escalated ones still on offer; emergencies first."""
    # Escalated: an offer of it was declined or expired (`escalated_at`, set by every escalation) — a column of the
    # row itself, where a look at each referral's offers cost PostgreSQL ≈10 ms over 4,000 referrals on offer.
    return (select(Referral)
            .where(Referral.state.in_(("unassigned", "offered")),
                   or_(Referral.state == "unassigned", Referral.escalated_at.is_not(None)))
            .order_by(case((Referral.state == "unassigned", 0), else_=1), URGENCY_ORDER, Referral.created_at,
                      Referral.id))  # a total order: pages neither repeat nor skip a referral


def list_query(user, state: str = ""):
    """The referral list: what the user may see, newest emergency first. A filter by state leaves out the referrals
    the user knows only through a former offer: their state is not the user's to see, nor to find by filtering."""
    query = visible_query(user, former=not state)
    if state:
        query = query.where(Referral.state == state)
    return query.order_by(URGENCY_ORDER, Referral.created_at.desc())


def overdue(offer: Offer, now: datetime) -> bool:
    """A pending offer past its deadline shows as overdue before the escalation pass runs."""
    return offer.state == "pending" and offer.deadline_at <= now



def close(actor, referral: Referral, outcome: str, now: datetime) -> None:
    """The accepting agency closes the referral with an outcome; the sender is told."""
    if outcome not in OUTCOMES:
        raise RefusedTransition("Choose an outcome.")
    if referral.accepted_agency_id != actor.agency_id or not actor.has_role(*RECEIVER_ROLES):
        raise RefusedTransition("Only the accepting agency closes this referral.")
    # A transfer of it still waiting is withdrawn with it: offers, then transfers, then the case — the lock order
    # of accepting a transfer, so a race waits instead of deadlocking, and exactly one of the two stands.
    waiting = select(Referral.id).where(Referral.transferred_from_id == referral.id,
                                        Referral.state.in_(("offered", "unassigned")))
    db.session.execute(update(Offer).where(Offer.referral_id.in_(waiting), Offer.state == "pending")
                       .values(state="withdrawn", answered_at=now).execution_options(synchronize_session=False))
    withdrawn = db.session.execute(
        update(Referral).where(Referral.transferred_from_id == referral.id,
                               Referral.state.in_(("offered", "unassigned")))
        .values(state="withdrawn", updated_at=now).returning(Referral.id)
        .execution_options(synchronize_session=False)).scalars().all()
    result = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.state.in_(("accepted", "in_progress")))
        .values(state="closed", outcome=outcome, updated_at=now, closed_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise RefusedTransition("This referral is not open.")
    for transfer_id in withdrawn:
        db.session.add(ReferralEvent(referral_id=transfer_id, at=now, actor_id=actor.id, agency_id=actor.agency_id,
                                     kind="withdrawn", detail="Withdrawn: the case it would take over was closed"))
    add_event(referral, "closed", now, actor, actor.agency_id, detail=f"Closed: {OUTCOMES[outcome]}")
    _audit(actor, "referral.closed", referral, ["state", "outcome"], now)
    _tell(referral, _senders(referral), f"Referral #{referral.id} was closed ({OUTCOMES[outcome].lower()})",
          path_for("referrals.show", referral_id=referral.id), now)
    db.session.commit()
    db.session.expire_all()

"""Coordinating a case across agencies (the seed: "support services, including mental-health care, should be
coordinated with legal appointments"; "designated points of contact for questions, disputes, and requests"):
appointments and the support around legal dates, messages on a referral, concerns to the right people.

Who sees what (DESIGN §5): appointments are the case's record — its holders see them all, an onward receiver only
those with its own provider; a message thread is between the referral's maker and the receiving agency's case
managers, after acceptance; a concern's text is for the involved users of its two agencies, and chairs see only
its kind, agencies, age and whether it is resolved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort, current_app
from sqlalchemy import or_, select

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.auth import operations as auth_ops
from csrn.auth.models import User
from csrn.cases import operations as case_ops
from csrn.cases.models import (
    APPOINTMENT_KINDS,
    CONCERN_KINDS,
    LEGAL_KINDS,
    SUPPORT_STATUSES,
    Appointment,
    AppointmentSupport,
    Concern,
    Message,
)
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.links import path_for
from csrn.notify import operations as notify_ops
from csrn.notify.operations import notify
from csrn.referrals import consent as consent_ops
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral
from csrn.roles import AGENCY_ADMIN, CHAIR, RECEIVER_ROLES
from csrn.security import one_line

COUNSELLING_WINDOW = timedelta(hours=48)
TOO_CLOSE = timedelta(hours=1)
INTERPRETATION, COUNSELLING = "interpretation", "mental_health"

log = logging.getLogger(__name__)


class Refused(Exception):
    """The change is not possible; the message says why."""


# ----- appointments ------------------------------------------------------------------------------

def appointments_of(case: Referral) -> list[Appointment]:
    return db.session.scalars(select(Appointment).where(Appointment.referral_id == case.id)
                              .order_by(Appointment.starts_at, Appointment.id)).all()


def get_appointment_or_404(case: Referral, appointment_id: int) -> Appointment:
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.referral_id != case.id:
        abort(404)
    return appointment


def provider_choices(case: Referral) -> list[Agency]:
    """Who an appointment can be with: the case's own agency and every agency that accepted one of its onward
    referrals (None, in the form: elsewhere, such as a court)."""
    ids = {case.accepted_agency_id} | {r.accepted_agency_id for r in case_ops.onward_referrals(case)
                                        if r.accepted_agency_id is not None}
    return db.session.scalars(select(Agency).where(Agency.id.in_(ids)).order_by(Agency.name)).all()


def _needs_interpreter(case: Referral) -> bool:
    languages = set(case.intake.languages)
    return bool(languages) and "en" not in languages


def save_appointment(actor, case: Referral, appointment: Appointment | None, values: dict,
                     now: datetime) -> Appointment:
    """Add or change an appointment. A legal, immigration or court appointment gets its support checklist:
    accompaniment, an interpreter (when the person's languages do not include English), counselling."""
    case_ops.require_open(case)
    if values.get("kind") not in APPOINTMENT_KINDS:
        raise Refused("Choose the kind of appointment.")
    provider = values.get("provider_agency_id")
    if provider is not None and provider not in {a.id for a in provider_choices(case)}:
        raise Refused("Choose a provider from the list.")
    creating = appointment is None
    if creating:
        appointment = Appointment(referral_id=case.id, created_by_id=actor.id, created_at=now)
        db.session.add(appointment)
    for key in ("kind", "provider_agency_id", "starts_at", "duration_minutes", "place", "accompaniment_needed",
                "interpreter_needed"):
        setattr(appointment, key, values.get(key))
    appointment.updated_at = now
    db.session.flush()
    if appointment.kind in LEGAL_KINDS:
        have = {s.item for s in supports_of(appointment)}
        wanted = ["accompaniment"] + (["interpreter"] if _needs_interpreter(case) else []) + ["counselling"]
        for item in wanted:
            if item not in have:
                db.session.add(AppointmentSupport(appointment_id=appointment.id, item=item, status="open",
                                                  updated_at=now))
    label = APPOINTMENT_KINDS[appointment.kind].lower()
    case_ops.add_case_event(case, actor, "appointment_" + ("added" if creating else "changed"),
                    f"{'Added' if creating else 'Changed'}: a {label} appointment", now)
    audit.record(actor, "case.appointment_" + ("added" if creating else "changed"), appointment,
                 fields=sorted(k for k, v in values.items() if v not in (None, "", False)), now=now)
    db.session.commit()
    return appointment


def delete_appointment(actor, case: Referral, appointment: Appointment, now: datetime) -> None:
    case_ops.require_open(case)
    label = APPOINTMENT_KINDS[appointment.kind].lower()
    db.session.delete(appointment)
    case_ops.add_case_event(case, actor, "appointment_removed", f"Removed: a {label} appointment", now)
    audit.record(actor, "case.appointment_removed", case, fields=["appointment"], now=now)
    db.session.commit()


SUPPORT_ORDER = {"accompaniment": 0, "interpreter": 1, "counselling": 2}


def supports_of(appointment: Appointment) -> list[AppointmentSupport]:
    return supports_by_appointment([appointment.id])[appointment.id]


def supports_by_appointment(appointment_ids) -> dict[int, list[AppointmentSupport]]:
    """The checklists of many appointments in one query, each in the checklist's order."""
    found: dict[int, list[AppointmentSupport]] = {appointment_id: [] for appointment_id in appointment_ids}
    if found:
        for row in db.session.scalars(select(AppointmentSupport)
                                      .where(AppointmentSupport.appointment_id.in_(found))):
            found[row.appointment_id].append(row)
    return {key: sorted(rows, key=lambda s: SUPPORT_ORDER[s.item]) for key, rows in found.items()}


def counselling_near(appointment: Appointment, appointments: list[Appointment]) -> Appointment | None:
    """A counselling session of the person within 48 hours before or after the appointment."""
    return next((a for a in appointments if a.kind == "counselling" and a.id != appointment.id
                 and abs(a.starts_at - appointment.starts_at) <= COUNSELLING_WINDOW), None)


def support_status(support: AppointmentSupport, appointment: Appointment, appointments: list[Appointment]) -> str:
    """Where an item stands: what the case manager recorded, or done by the facts — an accepted interpreter
    referral started from it, a counselling session within 48 hours."""
    if support.status == "declined":
        return "declined"
    if support.item == "interpreter" and support.onward is not None and support.onward.state in (
            "accepted", "in_progress", "closed"):
        return "done"
    if support.item == "counselling" and counselling_near(appointment, appointments) is not None:
        return "done"
    return support.status


def get_support_or_404(case: Referral, support_id: int) -> AppointmentSupport:
    support = db.session.get(AppointmentSupport, support_id)
    if support is None or db.session.get(Appointment, support.appointment_id).referral_id != case.id:
        abort(404)
    return support


def set_support(actor, case: Referral, support: AppointmentSupport, status: str, accompanist_id: int | None,
                now: datetime) -> None:
    """Record an item: done (for accompaniment: who goes, or nobody when none is needed), declined, or open."""
    case_ops.require_open(case)
    if status not in SUPPORT_STATUSES:
        raise Refused("Choose done, declined or open.")
    if accompanist_id is not None:
        if support.item != "accompaniment" or accompanist_id not in {u.id for u in accompanists(case)}:
            raise Refused("Choose someone of your agency.")
    support.status = status
    support.accompanist_id = accompanist_id if status == "done" else None
    support.updated_at = now
    case_ops.add_case_event(case, actor, "support_recorded",
                            f"Support for an appointment: {support.item} {status}", now)
    audit.record(actor, "case.support_recorded", case, fields=[support.item], now=now)
    db.session.commit()


def accompanists(case: Referral) -> list[User]:
    """Who can go with the person: active users of the case's agency."""
    return db.session.scalars(select(User).where(User.agency_id == case.accepted_agency_id, User.active.is_(True))
                              .order_by(User.name)).all()


def interpreters_for(case: Referral, now: datetime) -> list:
    """The interpreters of the directory — agencies and pro bono interpreters — who can receive a referral for
    this person and speak one of the person's languages, best first."""
    languages = set(case.intake.languages)
    chosen = intake_ops.service_type_by_code(INTERPRETATION)
    if chosen is None or not languages:
        return []
    return [m for m in case_ops.matches_for(case, chosen, "routine", now)
            if m.candidate.stated("language") & languages]


def counselling_provider(case: Referral) -> Agency | None:
    """The case's accepted counselling provider (an onward referral for mental health), if there is one."""
    accepted = next((r for r in case_ops.onward_referrals(case) if r.service_type.code == COUNSELLING
                     and r.state in ("accepted", "in_progress")), None)
    return accepted.accepted_agency if accepted is not None else None


SUPPORT_SERVICE = {"interpreter": INTERPRETATION, "counselling": COUNSELLING}


def link_support(support: AppointmentSupport | None, case: Referral, onward: Referral) -> None:
    """An onward referral started from an item's button follows it — when it is for the item's service, and the
    item follows no other yet (not committed)."""
    if (support is not None and support.onward_id is None
            and db.session.get(Appointment, support.appointment_id).referral_id == case.id
            and SUPPORT_SERVICE.get(support.item) == onward.service_type.code):
        support.onward_id = onward.id


def conflicts(appointments: list[Appointment]) -> set[int]:
    """The appointments that overlap another of the person's, or fall within an hour of one."""
    flagged = set()
    ordered = sorted(appointments, key=lambda a: a.starts_at)
    for index, first in enumerate(ordered):
        for second in ordered[index + 1:]:
            if second.starts_at - first.ends_at >= TOO_CLOSE:
                break
            flagged |= {first.id, second.id}
    return flagged


@dataclass
class Upcoming:
    """An appointment on the dashboard, with its open support items."""

    appointment: Appointment
    open_items: list[str]


def upcoming_for(user, now: datetime, days: int = 14) -> list[Upcoming]:
    """The appointments of my open cases in the next `days`, and the open items of the legal ones."""
    cases = db.session.scalars(case_ops.agency_cases_query(user, mine=True)).all()
    if not cases:
        return []
    rows = db.session.scalars(select(Appointment).where(
        Appointment.referral_id.in_([c.id for c in cases]), Appointment.starts_at >= now,
        Appointment.starts_at <= now + timedelta(days=days)).order_by(Appointment.starts_at)).all()
    by_case: dict[int, list[Appointment]] = {}
    for row in db.session.scalars(select(Appointment).where(Appointment.referral_id.in_({r.referral_id
                                                                                      for r in rows}))):
        by_case.setdefault(row.referral_id, []).append(row)
    supports = supports_by_appointment([a.id for a in rows])
    return [Upcoming(a, [s.item for s in supports[a.id] if support_status(s, a, by_case[a.referral_id]) == "open"])
            for a in rows]


def feed_appointments(user, start: datetime, end: datetime) -> list[Appointment]:
    """The appointment feed: those of the cases the user works (or accompanies) in the window."""
    # Accompanied: while the user is still of the agency holding that case.
    accompanied = (select(AppointmentSupport.appointment_id)
                   .join(Appointment, Appointment.id == AppointmentSupport.appointment_id)
                   .join(Referral, Referral.id == Appointment.referral_id)
                   .where(AppointmentSupport.accompanist_id == user.id,
                          Referral.accepted_agency_id == user.agency_id))
    return db.session.scalars(select(Appointment).where(
        or_(Appointment.referral_id.in_(case_ops.worked_by(user)), Appointment.id.in_(accompanied)),
        Appointment.starts_at >= start, Appointment.starts_at <= end).order_by(Appointment.starts_at)).all()


def appointments_with(referral: Referral, user) -> list[Appointment]:
    """An onward receiver's view: the appointments of the case its referral came from that are with its own
    provider ("their own records only")."""
    if referral.parent_id is None or referral.accepted_agency_id != user.agency_id:
        return []
    return db.session.scalars(select(Appointment).where(
        Appointment.referral_id == referral.parent_id, Appointment.provider_agency_id == user.agency_id)
        .order_by(Appointment.starts_at)).all()


# ----- the coordination page of a referral: who is involved ------------------------------------

# Who opens a referral's coordination page: its maker's side, its receiver, the agency it is offered to (it may ask
# before answering) — not a provider whose offer was declined or expired, which keeps its own offer record only.
INVOLVED = ("author", "sender", "receiver", "offered")


def get_involved_or_404(referral_id: int, user) -> tuple[Referral, str]:
    """The referral and the user's relation, for those involved in it (not chairs, not the person on call)."""
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        abort(404)
    rel = referral_ops.relation(referral, user)
    if rel not in INVOLVED:
        abort(404)
    return referral, rel


def shares_place(referral: Referral, user, now: datetime) -> bool:
    """Whether an onward receiver may see appointment places: only as the person's consent shares their contact
    details with it."""
    return "contact" in consent_ops.shared_categories(referral, user.agency_id, False, now)


# ----- messages ----------------------------------------------------------------------------------

def in_thread(referral: Referral, user) -> bool:
    """The thread is between the user who made the referral and the receiving agency's case managers, once it is
    accepted (never other users of the sending agency)."""
    if referral.state not in ("accepted", "in_progress", "closed") or referral.accepted_agency_id is None:
        return False
    return user.id == referral.created_by_id or (
        user.agency_id == referral.accepted_agency_id and user.has_role(*RECEIVER_ROLES))


def consent_allows_messages(referral: Referral, now: datetime) -> bool:
    """Messages are about the person (identifying): they cross to the receiver only while the person's consent
    covers the receiving agency (P1, P2); revoked or expired, the thread is hidden on both sides."""
    return bool(consent_ops.shared_categories(referral, referral.accepted_agency_id, False, now))


def may_message(referral: Referral, user, now: datetime) -> bool:
    return in_thread(referral, user) and consent_allows_messages(referral, now)


def messages_of(referral: Referral) -> list[Message]:
    return db.session.scalars(select(Message).where(Message.referral_id == referral.id)
                              .order_by(Message.at, Message.id)).all()


def read_thread(actor, referral: Referral, now: datetime) -> list[Message]:
    """The thread, its reading audited (field names only)."""
    messages = messages_of(referral)
    if messages:
        audit.record(actor, "referral.messages_read", referral, fields=["body"], now=now)
        db.session.commit()
    return messages


def post_message(actor, referral: Referral, body: str, now: datetime) -> Message:
    """Add a message; the other side is told there is one, never what it says."""
    if not in_thread(referral, actor):
        raise Refused("Only the referral's maker and the receiving agency's case managers write here.")
    if not consent_allows_messages(referral, now):
        raise Refused("The person's consent does not cover the receiving agency (or was revoked): no messages about "
                      "them. Phone instead.")
    if referral.state not in ("accepted", "in_progress"):
        raise Refused("This referral is closed: the thread is kept, and no longer written to.")
    if not body:
        raise Refused("Write a message.")
    message = Message(referral_id=referral.id, author_id=actor.id, agency_id=actor.agency_id, at=now, body=body)
    db.session.add(message)
    if actor.id == referral.created_by_id:
        others = auth_ops.users_of(referral.accepted_agency_id, *RECEIVER_ROLES)
    else:
        maker = db.session.get(User, referral.created_by_id)
        others = [maker] if maker is not None and maker.active else []
    notify([u for u in others if u.id != actor.id], f"New message on referral #{referral.id}",
           path_for("cases.coordination", referral_id=referral.id), now, drill_of=referral_ops.drill_of(referral))
    audit.record(actor, "referral.message_sent", referral, fields=["body"], now=now)
    db.session.commit()
    return message


# ----- concerns ----------------------------------------------------------------------------------

def other_agency(referral: Referral, user) -> int | None:
    """The agency a concern raised by this user goes to: the sender's, for the receiving side; for the sending
    side, the agency that accepted it — before acceptance nobody holds the referral, and the chairs alone hear
    of it (an agency it is merely offered to may decline and must keep only its own offer record)."""
    if user.agency_id == referral.sending_agency_id:
        return referral.accepted_agency_id
    return referral.sending_agency_id


def raise_concern(actor, referral: Referral, kind: str, text: str, now: datetime) -> Concern:
    """A question, dispute or request: to the other agency's admins (in the app and by e-mail), its point of
    contact's address (a link, no details) and the chairs."""
    if kind not in CONCERN_KINDS:
        raise Refused("Choose question, dispute or request.")
    if not text:
        raise Refused("Say what the concern is.")
    to_agency_id = other_agency(referral, actor)
    concern = Concern(referral_id=referral.id, kind=kind, raised_by_id=actor.id, raised_by_agency_id=actor.agency_id,
                      to_agency_id=to_agency_id, text=text, created_at=now)
    db.session.add(concern)
    db.session.flush()
    link = path_for("cases.concern", concern_id=concern.id)
    sentence = f"A {CONCERN_KINDS[kind].lower()} was raised about referral #{referral.id}"
    admins = auth_ops.users_of(to_agency_id, AGENCY_ADMIN) if to_agency_id is not None else []
    notify([u for u in admins + auth_ops.chairs() if u.id != actor.id], sentence, link, now,
           drill_of=referral_ops.drill_of(referral))
    agency = db.session.get(Agency, to_agency_id) if to_agency_id is not None else None
    if agency is not None and agency.poc_email and not referral.is_drill:  # a drill never mails an outside inbox
        try:
            notify_ops.queue_mail(agency.poc_email, one_line(f"A concern is waiting for {agency.name}"),
                                  f"{sentence}. It waits for an answer from your agency:\n\n"
                                  f"{_absolute(link)}\n\nLog in to read it. No details are sent by e-mail.", now)
        except notify_ops.MailHeaderError:  # an address no form would take (written by an import): not mailed
            log.warning("concern %s: agency %s's point-of-contact address is not one line; not mailed",
                        concern.id, agency.id)
    audit.record(actor, "concern.raised", concern, fields=["kind", "text"], now=now)
    db.session.commit()
    return concern


def _absolute(path: str) -> str:
    return current_app.config["CSRN_BASE_URL"].rstrip("/") + path


def concern_access(concern: Concern, user) -> str | None:
    """"involved" (reads the text): of the concern's two agencies, the one who raised it, the agencies' admins,
    the referral's maker (or, for a referral sent from a case, the case's holders) and the receiving agency's case
    managers — never the other users of the sending agency (DESIGN §5); "chair": kind, agencies, age and state
    only; None: a 404."""
    agencies = {concern.raised_by_agency_id, concern.to_agency_id} - {None}
    if user.agency_id is not None and user.agency_id in agencies:
        referral = db.session.get(Referral, concern.referral_id)
        receiving = user.agency_id == referral.accepted_agency_id and user.has_role(*RECEIVER_ROLES)
        maker = user.id == referral.created_by_id or (
            (referral.parent_id is not None or referral.transferred_from_id is not None)
            and referral_ops.holds_onward(referral, user))
        if user.id == concern.raised_by_id or user.has_role(AGENCY_ADMIN) or receiving or maker:
            return "involved"
    if user.has_role(CHAIR):
        return "chair"
    return None


def get_concern_or_404(concern_id: int, user) -> tuple[Concern, str]:
    concern = db.session.get(Concern, concern_id)
    access = concern_access(concern, user) if concern is not None else None
    if access is None:
        abort(404)
    return concern, access


def may_resolve(concern: Concern, user) -> bool:
    """Those who must act (the other agency's admins, the chairs) and the one who raised it."""
    return concern.resolved_at is None and (
        user.id == concern.raised_by_id or user.has_role(CHAIR)
        or (user.agency_id == concern.to_agency_id and user.has_role(AGENCY_ADMIN)))


def resolve_concern(actor, concern: Concern, note: str, now: datetime) -> None:
    if not may_resolve(concern, actor):
        raise Refused("This concern is resolved, or not yours to resolve.")
    if not note:
        raise Refused("Say how it was resolved.")
    concern.resolved_at, concern.resolved_by_id, concern.resolution = now, actor.id, note
    raiser = db.session.get(User, concern.raised_by_id)
    notify([raiser] if raiser is not None and raiser.id != actor.id and raiser.active else [],
           f"Your {CONCERN_KINDS[concern.kind].lower()} about referral #{concern.referral_id} was resolved",
           path_for("cases.concern", concern_id=concern.id), now,
           drill_of=referral_ops.drill_of(db.session.get(Referral, concern.referral_id)))
    audit.record(actor, "concern.resolved", concern, fields=["resolution"], now=now)
    db.session.commit()


def concerns_on(referral: Referral) -> list[Concern]:
    return db.session.scalars(select(Concern).where(Concern.referral_id == referral.id)
                              .order_by(Concern.created_at, Concern.id)).all()


def open_concerns_for(user) -> list[Concern]:
    """The dashboard: open concerns the user must act on (to the user's agency, for its admins; all, for chairs)."""
    conditions = []
    if user.has_role(AGENCY_ADMIN) and user.agency_id is not None:
        conditions.append(Concern.to_agency_id == user.agency_id)
    if user.has_role(CHAIR):
        conditions.append(Concern.id.is_not(None))
    if not conditions:
        return []
    return db.session.scalars(select(Concern).where(Concern.resolved_at.is_(None), or_(*conditions))
                              .order_by(Concern.created_at)).all()


def concerns_query(user, open_only: bool):
    """The concern list: chairs see every concern (without texts), agency admins their agency's, anyone else the
    ones they raised."""
    query = select(Concern)
    if user.has_role(AGENCY_ADMIN) and user.agency_id is not None and not user.has_role(CHAIR):
        query = query.where(or_(Concern.to_agency_id == user.agency_id,
                                Concern.raised_by_agency_id == user.agency_id))
    elif not user.has_role(CHAIR):
        query = query.where(Concern.raised_by_id == user.id)
    if open_only:
        query = query.where(Concern.resolved_at.is_(None))
    return query.order_by(Concern.resolved_at.is_not(None), Concern.created_at.desc(), Concern.id.desc())


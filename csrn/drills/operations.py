"""Drills: start one at a simulated hour through the real intake submit, run its clock, end it with a report kept
as it stood, and clean up its records without touching anything real.

A drill's clock is its chosen start plus the wall-clock time since it began, plus every jump a chair made to the
next deadline; its offset from the wall clock lives on its intake (`Intake.drill_clock_offset`), where every
referral of the drill reads it (`referrals.clock`)."""

from __future__ import annotations

import json
import math
import secrets
from datetime import datetime, timedelta

from flask import abort
from sqlalchemy import delete, func, or_, select, update

from csrn.agencies.models import Agency
from csrn.agencies.operations import agreement_current_condition, certified_condition, local_date
from csrn.audit import operations as audit
from csrn.cases.models import (
    Appointment,
    AppointmentSupport,
    CaseEvent,
    CaseFile,
    CaseNeed,
    Concern,
    Message,
    PlanStep,
)
from csrn.directory.models import ServiceType
from csrn.directory.receiving import offers_service_condition, vetting_current_condition
from csrn.drills.models import END_REASONS, Drill
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.intake.models import Intake, IntakeLanguage, IntakeNeed, UnmetNeed
from csrn.notify.models import Notification, OutboxMessage
from csrn.oncall import operations as oncall_ops
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Consent, Offer, Referral, ReferralContact, ReferralEvent
from csrn.roles import CHAIR
from csrn.schedules import operations as schedule_ops
from csrn.settings.operations import task_force_zone

DRILL_MARK = "DRILL"
OPEN_STATES = ("offered", "unassigned")


class DrillRefused(Exception):
    """The drill cannot do that now (why, in a sentence for the chair)."""


def _require_chair(actor) -> None:
    if not actor.has_role(CHAIR):
        raise DrillRefused("Only chairs run drills.")


# ----- the fictional person ----------------------------------------------------------------------

def fictional_answers(values: dict) -> dict:
    """An intake's answers for a generated person nobody could mistake for a real one: every name field says DRILL,
    the phone is a fictional 555-01xx number, and the consent covers the receiver, so that the accepting case
    manager sees what a real acceptance would show."""
    number = secrets.randbelow(9000) + 1000
    return {
        "urgency": values["urgency"], "county": values.get("county") or "",
        "age_group": values.get("age_group") or "unknown", "gender": "unknown",
        "citizenship": values.get("citizenship") or "unknown",
        "trafficking_type": values.get("trafficking_type") or "unknown",
        "languages": ["en"], "needs": list(values.get("needs") or []),
        "alias": f"{DRILL_MARK} — test person {number}",
        "contact_phone": f"{DRILL_MARK} 555-01{number % 100:02d} (fictional)",
        "contact_other": f"{DRILL_MARK}: nobody to contact",
        "safe_channel": f"{DRILL_MARK}: none", "code_word": DRILL_MARK,
        "narrative": f"{DRILL_MARK}. A fictional person generated for a drill of the network's response. "
                     "Nobody real: act on the offer as on any other, and say in any call that it is a drill.",
        "consent": "yes", "consent_how": "verbal", "consent_with": ["receiver", "backups"],
        "consent_categories": ["identity", "contact", "narrative"],
    }


# ----- starting, the clock, ending -----------------------------------------------------------------

def start_drill(actor, values: dict, now: datetime) -> Drill:
    """Start a drill: its intake goes through the real submit (matching, offers, the person on call, the queue) at
    the simulated start, on the drill's clock. `values`: sending_agency_id, urgency, needs, county,
    simulated_start (aware), note, and optionally age_group, citizenship, trafficking_type."""
    _require_chair(actor)
    agency = db.session.get(Agency, values["sending_agency_id"])
    if agency is None or agency.membership_status != "member":
        raise DrillRefused("Choose a member agency to send the drill's referral: a suspended agency cannot send "
                           "referrals, in a drill or otherwise.")
    simulated_start = values["simulated_start"]
    offset = math.ceil((simulated_start - now).total_seconds())  # the drill starts at the chosen minute, not before
    drill = Drill(started_by_id=actor.id, sending_agency_id=agency.id, urgency=values["urgency"],
                  county=values.get("county") or "", needs_json=json.dumps(list(values.get("needs") or [])),
                  note=(values.get("note") or "").strip()[:200], simulated_start=simulated_start, started_at=now,
                  state="running", end_reason="", report_json="")
    db.session.add(drill)
    try:
        referral = intake_ops.submit_drill(actor, fictional_answers(values), agency.id, offset,
                                           now + timedelta(seconds=offset))
    except intake_ops.CannotStartIntake as exc:
        db.session.rollback()
        raise DrillRefused(str(exc)) from exc
    drill.intake_id, drill.referral_id = referral.intake_id, referral.id
    db.session.flush()
    audit.record(actor, "drill.started", drill, fields=["sending_agency_id", "urgency", "simulated_start"], now=now)
    db.session.commit()
    sync(drill, now)
    return drill


def offset_of(drill: Drill) -> timedelta:
    """How far the drill's clock runs ahead of the wall clock (fixed once it ended)."""
    if drill.intake is not None:
        return timedelta(seconds=drill.intake.drill_clock_offset)
    report = drill.report or {}
    return timedelta(seconds=report.get("drill", {}).get("offset_seconds", 0))


def drill_now(drill: Drill, real_now: datetime) -> datetime:
    """Now on the drill's clock."""
    return real_now + offset_of(drill)


def _clock(drill: Drill) -> referral_ops.DrillClock:
    return referral_ops.DrillClock(drill.intake_id, offset_of(drill))


def next_deadline(drill: Drill) -> datetime | None:
    """The earliest deadline of the drill's offers still waiting (drill time), if any."""
    if drill.state != "running" or drill.intake_id is None:
        return None
    return db.session.scalar(
        select(func.min(Offer.deadline_at)).join(Referral, Referral.id == Offer.referral_id)
        .where(Offer.state == "pending", Referral.intake_id == drill.intake_id, Referral.is_drill.is_(True)))


def jump_to_next_deadline(actor, drill: Drill, real_now: datetime) -> str:
    """Move the drill's clock forward to its next deadline and run its escalation there, so the chair sees what
    happens when nobody answers without waiting for it. Never backwards."""
    _require_chair(actor)
    sync(drill, real_now)
    if drill.state != "running":
        raise DrillRefused("This drill has ended.")
    deadline = next_deadline(drill)
    if deadline is None:
        raise DrillRefused("No offer of this drill is waiting for a deadline.")
    intake = drill.intake
    before = drill_now(drill, real_now)
    intake.drill_clock_offset = max(intake.drill_clock_offset, math.ceil((deadline - real_now).total_seconds()))
    now = drill_now(drill, real_now)
    referral_ops.add_event(drill.referral, "clock_moved", now, actor, None,
                           detail=f"Drill clock moved forward {_minutes(now - before)} min to the next deadline")
    audit.record(actor, "drill.clock_moved", drill, fields=["drill_clock_offset"], now=real_now)
    db.session.commit()
    summary = referral_ops.escalation_pass(now, drill=_clock(drill))
    sync(drill, real_now)
    return summary


def _minutes(span: timedelta) -> int:
    return max(0, round(span.total_seconds() / 60))


def tick_drills(real_now: datetime) -> str:
    """The `tick` job for drills: each running drill's escalation pass at that drill's own time, then its end
    checked (accepted, unassigned)."""
    drills = db.session.scalars(select(Drill).where(Drill.state == "running").order_by(Drill.id)).all()
    ended = 0
    for drill in drills:
        if drill.intake is None:
            continue
        referral_ops.escalation_pass(drill_now(drill, real_now), drill=_clock(drill))
        sync(drill, real_now)
        ended += drill.state != "running"
    return f"{len(drills)} drill(s) run, {ended} ended"


def ending(drill: Drill) -> str | None:
    """Why a running drill ends now (its referral was accepted, went to the committee queue or was withdrawn), or
    None. Read-only: pages show it, and `sync` (tick and the chair's actions) ends the drill."""
    if drill.state != "running" or drill.referral_id is None:
        return None
    state = db.session.scalar(select(Referral.state).where(Referral.id == drill.referral_id))
    if state in ("accepted", "in_progress", "closed"):
        return "accepted"
    return state if state in ("unassigned", "withdrawn") else None


def sync(drill: Drill, real_now: datetime) -> None:
    """End a running drill whose referral was accepted, went to the committee queue or was withdrawn."""
    reason = ending(drill)
    if reason is not None:
        _end(drill, reason, real_now)


def stop(actor, drill: Drill, real_now: datetime) -> None:
    """A chair stops a running drill: what still waits for a provider is withdrawn (it leaves every inbox and the
    queue), and the report is kept as it stands."""
    _require_chair(actor)
    sync(drill, real_now)
    if drill.state != "running":
        raise DrillRefused("This drill has already ended.")
    now = drill_now(drill, real_now)
    open_ids = db.session.scalars(select(Referral.id).where(
        Referral.intake_id == drill.intake_id, Referral.is_drill.is_(True), Referral.state.in_(OPEN_STATES))).all()
    if open_ids:
        db.session.execute(update(Offer).where(Offer.referral_id.in_(open_ids), Offer.state == "pending")
                           .values(state="withdrawn", answered_at=now).execution_options(synchronize_session=False))
        db.session.execute(update(Referral).where(Referral.id.in_(open_ids), Referral.state.in_(OPEN_STATES))
                           .values(state="withdrawn", updated_at=now).execution_options(synchronize_session=False))
        for referral_id in open_ids:
            referral_ops.add_event(db.session.get(Referral, referral_id), "withdrawn", now, actor, None,
                                   detail="Drill stopped by a chair")
    audit.record(actor, "drill.stopped", drill, fields=["state"], now=real_now)
    db.session.flush()
    db.session.expire_all()
    _end(drill, "stopped", real_now)


def _end(drill: Drill, reason: str, real_now: datetime) -> None:
    drill.report_json = json.dumps(build_report(drill, real_now, ending=reason))
    drill.state, drill.end_reason, drill.ended_at = "ended", reason, real_now
    db.session.commit()


# ----- the report ----------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _kinds_for(service_type_ids: list[int]) -> list:
    """The kinds of on-call response answering for any of the service types (each once)."""
    kinds = {}
    for service_type_id in service_type_ids:
        for kind in oncall_ops.kinds_for_service_type(service_type_id):
            kinds[kind.id] = kind
    return list(kinds.values())


def _who_was_on_call(kinds: list, at: datetime) -> list[dict]:
    """Who was on call for the kinds at a moment (names and agencies only)."""
    if not kinds:
        return []
    answers = oncall_ops.who_is_on_call(at, kinds)
    return [{"kind": answer.kind.name, "required_24_7": answer.kind.required_24_7,
             "primaries": [_on_call_name(on.shift) for on in answer.primaries],
             "backups": [_on_call_name(on.shift) for on in answer.backups]} for answer in answers]


def _on_call_name(shift) -> str:
    return f"{shift.who} ({shift.agency.name})"


def _lapsed(service_type_ids: list[int], at: datetime) -> list[str]:
    """Member agencies offering one of the services that could not be offered a referral at `at`, and why."""
    on = local_date(at)
    found = []
    for service_type in db.session.scalars(select(ServiceType).where(ServiceType.id.in_(service_type_ids))
                                           .order_by(ServiceType.name)):
        rows = db.session.execute(
            select(Agency.name, certified_condition(on), agreement_current_condition(on),
                   vetting_current_condition(on))
            .where(Agency.membership_status == "member", offers_service_condition(service_type.id))
            .order_by(Agency.name)).all()
        for name, certified, agreement, vetting in rows:
            why = [text for ok, text in ((agreement, "its referral agreement had lapsed"),
                                         (certified, "no staff member held a current core certificate"),
                                         (vetting, "its volunteer vetting had lapsed")) if not ok]
            if why:
                found.append(f"{name} offers {service_type.name.lower()} but could not be offered it: "
                             f"{' and '.join(why)}.")
    return found


def build_report(drill: Drill, real_now: datetime, ending: str = "") -> dict:
    """The drill's report: the timeline against the deadlines in both clocks, who was offered it, who was on call
    and notified, and what failed. Plain JSON (times as ISO text), kept as it stands when the drill ends."""
    zone = task_force_zone()
    offset = offset_of(drill)
    referrals = db.session.scalars(select(Referral).where(Referral.intake_id == drill.intake_id,
                                                          Referral.is_drill.is_(True)).order_by(Referral.id)).all()
    ids = [r.id for r in referrals]
    events = db.session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id.in_(ids))
                                .order_by(ReferralEvent.at, ReferralEvent.id)).all() if ids else []
    real_of = {(e.referral_id, e.agency_id, e.at): e.real_at for e in events}
    offers = db.session.scalars(select(Offer).where(Offer.referral_id.in_(ids)).order_by(Offer.id)).all() if ids else []
    service_names = {r.id: r.service_type.name for r in referrals}
    case = next((r for r in referrals if r.id == drill.referral_id), None)

    offer_rows = []
    for offer in offers:
        allowed = offer.deadline_at - offer.offered_at
        # A withdrawn offer was never answered: it took nothing to measure.
        took = (offer.answered_at - offer.offered_at) if offer.answered_at is not None \
            and offer.state in ("accepted", "declined", "expired") else None
        offered_real = real_of.get((offer.referral_id, offer.agency_id, offer.offered_at))
        answered_real = real_of.get((offer.referral_id, offer.agency_id, offer.answered_at))
        offer_rows.append({
            "referral_id": offer.referral_id, "service": service_names[offer.referral_id],
            "agency": offer.agency.name, "state": offer.state,
            "offered_at": _iso(offer.offered_at), "offered_real_at": _iso(offered_real),
            "deadline_at": _iso(offer.deadline_at),
            "answered_at": _iso(offer.answered_at), "answered_real_at": _iso(answered_real),
            "decline_reason": offer.decline_reason,
            "allowed_minutes": _minutes(allowed),
            "took_minutes": _minutes(took) if took is not None else None,
            "took_real_minutes": (_minutes(answered_real - offered_real) if took is not None
                                  and answered_real is not None and offered_real is not None else None),
            "on_time": (offer.answered_at <= offer.deadline_at) if offer.answered_at is not None
            and offer.state in ("accepted", "declined") else None,
        })

    findings: list[dict] = []
    service_type_id = case.service_type_id if case is not None else None
    type_ids = [service_type_id] if service_type_id else []
    type_ids += [t.id for t in db.session.scalars(select(ServiceType).where(ServiceType.code.in_(drill.needs)))]
    # The whole response: the kinds answering for case management and for every need of the person.
    kinds = _kinds_for(type_ids)
    on_call_at_start = _who_was_on_call(kinds, drill.simulated_start)
    moments = [drill.simulated_start] + [e.at for e in events if e.kind == "escalated"]
    gaps_seen = set()
    for moment in moments:
        for answer in _who_was_on_call(kinds, moment):
            if not answer["primaries"] and answer["kind"] not in gaps_seen:
                gaps_seen.add(answer["kind"])
                findings.append({"kind": "gap", "text": (
                    f"Nobody was on call for {answer['kind']} at "
                    f"{moment.astimezone(zone).strftime('%a %d %b %H:%M')} (drill time): a gap in the on-call "
                    "roster" + (" — and no backup either." if not answer["backups"] else "; only a backup was on.")
                )})
    if service_type_id and not oncall_ops.kinds_for_service_type(service_type_id):
        findings.append({"kind": "gap", "text": "No kind of on-call response answers for case management: "
                                                "nobody on call could be reached."})
    findings += [{"kind": "lapsed", "text": text} for text in _lapsed(type_ids, drill.simulated_start)]
    for row in offer_rows:
        if row["state"] == "expired":
            findings.append({"kind": "no_answer", "text": f"No answer from {row['agency']} within "
                                                          f"{row['allowed_minutes']} min ({row['service']})."})
    if case is not None and not case.candidates:
        findings.append({"kind": "no_candidate", "text": "No provider in the directory matched the person: there "
                                                         "was no candidate at all."})
    unmet = db.session.scalars(select(ServiceType.name).join(UnmetNeed, UnmetNeed.service_type_id == ServiceType.id)
                               .where(UnmetNeed.intake_id == drill.intake_id)).all() if drill.intake_id else []
    findings += [{"kind": "unmet", "text": f"No provider could receive {name.lower()} for this person."}
                 for name in unmet]
    if ending == "unassigned":
        findings.append({"kind": "queue", "text": "Nobody took the referral: it ended in the committee queue."})
    if ending == "stopped" and case is not None and not case.accepted_agency_id:
        findings.append({"kind": "stopped", "text": "The drill was stopped before any provider accepted."})

    accepted = next((row for row in offer_rows if row["referral_id"] == drill.referral_id
                     and row["state"] == "accepted"), None)
    first_offer = next((row for row in offer_rows if row["referral_id"] == drill.referral_id), None)
    summary = {"offers": len([row for row in offer_rows if row["referral_id"] == drill.referral_id]),
               "accepted_by": accepted["agency"] if accepted else None,
               "minutes_to_acceptance": None, "real_minutes_to_acceptance": None}
    if accepted and first_offer:
        summary["minutes_to_acceptance"] = _minutes(datetime.fromisoformat(accepted["answered_at"])
                                                    - datetime.fromisoformat(first_offer["offered_at"]))
        if accepted["answered_real_at"] and first_offer["offered_real_at"]:
            summary["real_minutes_to_acceptance"] = _minutes(
                datetime.fromisoformat(accepted["answered_real_at"])
                - datetime.fromisoformat(first_offer["offered_real_at"]))
    simulated_day = drill.simulated_start.astimezone(zone).date()
    holiday = next((h.name for h in schedule_ops.holidays() if h.day == simulated_day), "")
    return {
        "drill": {
            "id": drill.id, "note": drill.note, "sending_agency": drill.sending_agency.name,
            "started_by": drill.started_by.name, "urgency": drill.urgency, "county": drill.county,
            "needs": [t.name for t in db.session.scalars(select(ServiceType).where(ServiceType.code.in_(drill.needs))
                                                         .order_by(ServiceType.name))],
            "simulated_start_at": _iso(drill.simulated_start), "started_at": _iso(drill.started_at),
            "ended_at": _iso(real_now) if ending else None,
            "ended_sim_at": _iso(real_now + offset) if ending else None,
            "end_reason": END_REASONS.get(ending, ""), "offset_seconds": int(offset.total_seconds()),
            "holiday": holiday,
        },
        "summary": summary,
        "referrals": [{"id": r.id, "service": r.service_type.name, "state": r.state,
                       "case": r.id == drill.referral_id} for r in referrals],
        "offers": offer_rows,
        "timeline": [{"at": _iso(e.at), "real_at": _iso(e.real_at), "referral_id": e.referral_id, "kind": e.kind,
                      "detail": e.detail} for e in events],
        "on_call_at_start": on_call_at_start,
        "notified": [e.detail for e in events if e.kind == "oncall_notified"],
        "findings": findings,
    }


def report_for_display(report: dict) -> dict:
    """The report with its times as datetimes again (keys ending in `_at`, and the timeline's `at`)."""
    def convert(value, key=""):
        if isinstance(value, dict):
            return {k: convert(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, str) and (key.endswith("_at") or key == "at"):
            return datetime.fromisoformat(value)
        return value
    return convert(report)


def current_report(drill: Drill, real_now: datetime) -> dict:
    """The kept report of an ended drill, or the report so far of a running one."""
    if drill.state != "running" and drill.report is not None:
        return report_for_display(drill.report)
    return report_for_display(build_report(drill, real_now))


# ----- lists and access ------------------------------------------------------------------------------

def get_drill_or_404(drill_id: int) -> Drill:
    drill = db.session.get(Drill, drill_id)
    if drill is None:
        abort(404)
    return drill


def drills_query(running: bool):
    """Running drills (newest first), or past ones."""
    query = select(Drill).order_by(Drill.started_at.desc(), Drill.id.desc())
    return query.where(Drill.state == "running") if running else query.where(Drill.state != "running")


def sending_agencies() -> list[Agency]:
    """The members that may send a drill's referral."""
    return db.session.scalars(select(Agency).where(Agency.membership_status == "member")
                              .order_by(Agency.name)).all()


# ----- clean-up --------------------------------------------------------------------------------------

def clean_up(actor, drill: Drill, real_now: datetime) -> dict[str, int]:
    """Remove an ended drill's records — intake, consent, unmet needs, referrals and their offers, events and
    contacts, the case records and everything case work attached, notifications, and mail not yet sent — in one
    transaction, touching nothing real. The report and the audit entries stay; ids are never given again
    (NEVER_REUSED_IDS). Returns how many rows of each kind went."""
    _require_chair(actor)
    sync(drill, real_now)
    if drill.state == "running":
        raise DrillRefused("Stop the drill before cleaning it up.")
    if drill.state == "cleaned":
        raise DrillRefused("This drill was already cleaned up.")
    intake_id = drill.intake_id
    counts: dict[str, int] = {}
    if intake_id is not None:
        intake = db.session.get(Intake, intake_id)
        if intake is None or not intake.is_drill:  # never: a drill's intake is a drill's
            raise DrillRefused("This drill's intake is not a drill's: nothing was removed.")
        referrals = select(Referral.id).where(Referral.intake_id == intake_id, Referral.is_drill.is_(True))
        appointments = select(Appointment.id).where(Appointment.referral_id.in_(referrals))
        drill.intake_id = drill.referral_id = None
        db.session.flush()
        steps = [
            ("appointment support",
             delete(AppointmentSupport).where(AppointmentSupport.appointment_id.in_(appointments))),
            ("appointments", delete(Appointment).where(Appointment.referral_id.in_(referrals))),
            ("messages", delete(Message).where(Message.referral_id.in_(referrals))),
            ("concerns", delete(Concern).where(Concern.referral_id.in_(referrals))),
            ("case events", delete(CaseEvent).where(CaseEvent.referral_id.in_(referrals))),
            ("plan steps", delete(PlanStep).where(PlanStep.referral_id.in_(referrals))),
            ("case needs", delete(CaseNeed).where(CaseNeed.referral_id.in_(referrals))),
            ("case files", delete(CaseFile).where(CaseFile.referral_id.in_(referrals))),
            ("contacts", delete(ReferralContact).where(ReferralContact.referral_id.in_(referrals))),
            ("events", delete(ReferralEvent).where(ReferralEvent.referral_id.in_(referrals))),
            ("offers", delete(Offer).where(Offer.referral_id.in_(referrals))),
            ("referrals", delete(Referral).where(Referral.intake_id == intake_id, Referral.is_drill.is_(True))),
            ("notifications", delete(Notification).where(Notification.drill_of == intake_id)),
            ("unsent mail", delete(OutboxMessage).where(OutboxMessage.drill_of == intake_id,
                                                        or_(OutboxMessage.status == "pending",
                                                            OutboxMessage.status == "failed"))),
            ("unmet needs", delete(UnmetNeed).where(UnmetNeed.intake_id == intake_id, UnmetNeed.is_drill.is_(True))),
            ("intake needs", delete(IntakeNeed).where(IntakeNeed.intake_id == intake_id)),
            ("intake languages", delete(IntakeLanguage).where(IntakeLanguage.intake_id == intake_id)),
            ("consents", delete(Consent).where(Consent.intake_id == intake_id)),
            ("intakes", delete(Intake).where(Intake.id == intake_id, Intake.is_drill.is_(True))),
        ]
        for name, statement in steps:
            counts[name] = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
    drill.state, drill.cleaned_at, drill.cleaned_by_id = "cleaned", real_now, actor.id
    audit.record(actor, "drill.cleaned_up", drill, fields=sorted(name for name, n in counts.items() if n),
                 now=real_now)
    db.session.commit()
    db.session.expire_all()
    return counts

"""Case work after acceptance (the seed: the case manager "is responsible for conducting an individual needs
assessment and assisting the victim in accessing the services and supports needed"): the needs assessment, the
service plan, onward referrals to any service, transfer and reopening.

A case is a case-management referral (no parent) accepted by the viewer's agency. Its record — the file, needs,
plan and case timeline — belongs to that agency alone (DESIGN §5: 404 to everyone else, the intake's author
included). Onward referrals and transfers are ordinary referrals: created, offered, escalated, accepted and closed
by the referrals module, which knows nothing of this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort
from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from csrn.audit import operations as audit
from csrn.cases.models import NEED_STATUSES, CaseEvent, CaseFile, CaseNeed, PlanStep
from csrn.concurrency import StaleEdit, check_version
from csrn.directory.models import ServiceType
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.intake.models import UnmetNeed
from csrn.pathways.models import Pathway
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Offer, Referral
from csrn.roles import RECEIVER_ROLES

OPEN = ("accepted", "in_progress")
CASE_STATES = (*OPEN, "closed")
URGENCIES = ("emergency", "urgent", "routine")


class CaseRefused(Exception):
    """The change is not possible now; the message says why, in words for the case manager."""


# ----- finding a case ----------------------------------------------------------------------------

def holds(user, referral: Referral) -> bool:
    """Whether the user works the case: a case manager (or admin) of the agency that accepted this case-management
    referral. Staff are never assigned cases, so they see none; volunteers hold only onward referrals."""
    return bool(user.agency_id is not None and referral.parent_id is None
                and referral.accepted_agency_id == user.agency_id and referral.state in CASE_STATES
                and user.has_role(*RECEIVER_ROLES))


def get_case_or_404(case_id: int, user) -> Referral:
    """The case, or a 404 for anyone outside the accepting agency (the sender and the intake's author included)."""
    case = db.session.get(Referral, case_id)
    if case is None or not holds(user, case):
        abort(404)
    return case


def case_file(case: Referral) -> CaseFile | None:
    """The case's file: None until the needs assessment starts."""
    return db.session.scalar(select(CaseFile).where(CaseFile.referral_id == case.id))


def needs_of(case: Referral) -> list[CaseNeed]:
    return db.session.scalars(select(CaseNeed).where(CaseNeed.referral_id == case.id).order_by(CaseNeed.id)).all()


def steps_of(case: Referral) -> list[PlanStep]:
    return db.session.scalars(select(PlanStep).where(PlanStep.referral_id == case.id)
                              .order_by(PlanStep.position, PlanStep.id)).all()


def onward_referrals(case: Referral) -> list[Referral]:
    """The case's onward referrals, oldest first."""
    return db.session.scalars(select(Referral).where(Referral.parent_id == case.id).order_by(Referral.id)).all()


def transfers_of(case: Referral) -> list[Referral]:
    """The transfers sent from this case, oldest first."""
    return db.session.scalars(select(Referral).where(Referral.transferred_from_id == case.id)
                              .order_by(Referral.id)).all()


def events_of(case: Referral) -> list[CaseEvent]:
    return db.session.scalars(select(CaseEvent).where(CaseEvent.referral_id == case.id)
                              .order_by(CaseEvent.at, CaseEvent.id)).all()


def require_open(case: Referral) -> None:
    """Refuse any change to a closed case."""
    if case.state not in OPEN:
        raise CaseRefused("This case is closed. Reopen it first.")


def add_case_event(case: Referral, actor, kind: str, summary: str, now: datetime, text: str = "") -> None:
    """An entry of the case's own timeline (not committed)."""
    db.session.add(CaseEvent(referral_id=case.id, at=now, actor_id=actor.id, kind=kind, summary=summary[:300],
                             text=text))


def service_type(type_id: int | None) -> ServiceType | None:
    """An active service type by id."""
    if type_id is None:
        return None
    found = db.session.get(ServiceType, type_id)
    return found if found is not None and found.active else None


# ----- needs assessment --------------------------------------------------------------------------

def start_assessment(actor, case: Referral, now: datetime) -> CaseFile:
    """Open the case's file with the intake's needs; the referral moves to `in_progress`. Starting twice (two
    colleagues at once) opens one file."""
    require_open(case)
    existing = case_file(case)
    if existing is not None:
        return existing
    file = CaseFile(referral_id=case.id, case_manager_id=actor.id, assessment_started_at=now, goals="",
                    updated_at=now)
    db.session.add(file)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return case_file(case)
    types = {t.code: t for t in db.session.scalars(select(ServiceType).where(ServiceType.code.in_(case.intake.needs)))}
    for code in case.intake.needs:
        if code in types:
            db.session.add(CaseNeed(referral_id=case.id, service_type_id=types[code].id, status="in_progress",
                                    notes="", found_in="intake", updated_at=now))
    referral_ops.mark_in_progress(actor, case, now)
    add_case_event(case, actor, "assessment_started", "Needs assessment started", now)
    audit.record(actor, "case.assessment_started", case, fields=["state"], now=now)
    db.session.commit()
    return file


@dataclass
class NeedAnswer:
    """What the assessment form says of one need."""

    need_id: int
    status: str
    notes: str


def save_assessment(actor, case: Referral, answers: list[NeedAnswer], goals: str, new_type_id: int | None,
                    seen_version: int | None, now: datetime) -> list[str]:
    """Record the needs' statuses and notes, a need found later, and the person's goals (R7: the version the form
    was loaded with must be current). A need newly marked unmet is counted for the gap analysis, as found in an
    assessment, unless this person's need of that type is counted already. Returns what changed (field names)."""
    require_open(case)
    file = case_file(case)
    if file is None:
        raise CaseRefused("Start the needs assessment first.")
    check_version(file, seen_version)
    needs = {need.id: need for need in needs_of(case)}
    changed: set[str] = set()
    for answer in answers:
        need = needs.get(answer.need_id)
        if need is None or answer.status not in NEED_STATUSES:
            continue
        if answer.status != need.status:
            if answer.status == "unmet":
                _count_unmet(case, need.service_type_id, now)
            need.status, need.updated_at = answer.status, now
            changed.add("needs.status")
        if answer.notes != need.notes:
            need.notes, need.updated_at = answer.notes, now
            changed.add("needs.notes")
    new_type = service_type(new_type_id)
    if new_type is not None and new_type.id not in {need.service_type_id for need in needs.values()}:
        db.session.add(CaseNeed(referral_id=case.id, service_type_id=new_type.id, status="in_progress", notes="",
                                found_in="assessment", updated_at=now))
        changed.add("needs.added")
    if goals != file.goals:
        file.goals = goals
        changed.add("goals")
    if changed:
        file.updated_at = now
        try:
            db.session.flush()  # the versioned UPDATE: 0 rows when someone saved since the check above
        except StaleDataError:
            db.session.rollback()
            raise StaleEdit(StaleEdit.message) from None
        add_case_event(case, actor, "assessment_updated",
               "Needs assessment updated" + (f": a need found later ({new_type.name})" if "needs.added" in changed
                                             else ""), now)
        audit.record(actor, "case.assessment_saved", case, fields=sorted(changed), now=now)
    db.session.commit()
    return sorted(changed)


def _count_unmet(case: Referral, type_id: int, now: datetime) -> None:
    already = db.session.scalar(select(exists().where(UnmetNeed.intake_id == case.intake_id,
                                                      UnmetNeed.service_type_id == type_id)))
    if not already:
        intake_ops.record_unmet_need(case.intake, type_id, now, found_in="assessment")


# ----- service plan ------------------------------------------------------------------------------

def fitting_pathways(case: Referral) -> list[Pathway]:
    """The active pathways whose population includes the person (the intake's rule)."""
    intake = case.intake
    return intake_ops.fitting_pathways({"age_group": intake.age_group, "gender": intake.gender,
                                        "citizenship": intake.citizenship,
                                        "trafficking_type": intake.trafficking_type})


def start_plan(actor, case: Referral, pathway: Pathway | None, now: datetime) -> None:
    """Begin the service plan: from a pathway that fits the person (its steps become planned onward referrals, in
    order, with its guidance) or from scratch."""
    require_open(case)
    file = case_file(case)
    if file is None:
        raise CaseRefused("Start the needs assessment first.")
    if file.plan_started_at is not None:
        raise CaseRefused("This case has a plan already: add, move or remove its steps.")
    if pathway is not None and pathway.id not in {p.id for p in fitting_pathways(case)}:
        raise CaseRefused("Choose a pathway that fits the person.")
    file.plan_started_at, file.updated_at = now, now
    if pathway is not None:
        file.plan_pathway_id = pathway.id
        for step in pathway.steps:
            db.session.add(PlanStep(referral_id=case.id, position=step.position, service_type_id=step.service_type_id,
                                    guidance=step.guidance, note="", created_at=now))
    add_case_event(case, actor, "plan_started",
           f"Service plan started from the pathway “{pathway.name}”" if pathway else "Service plan started", now)
    audit.record(actor, "case.plan_started", case, fields=["plan_pathway_id"] if pathway else [], now=now)
    db.session.commit()


def add_step(actor, case: Referral, type_id: int | None, note: str, now: datetime) -> PlanStep:
    """Add a step at the end of the plan."""
    require_open(case)
    file = case_file(case)
    if file is None or file.plan_started_at is None:
        raise CaseRefused("Start a service plan first.")
    chosen = service_type(type_id)
    if chosen is None:
        raise CaseRefused("Choose a service.")
    last = db.session.scalar(select(func.max(PlanStep.position)).where(PlanStep.referral_id == case.id)) or 0
    step = PlanStep(referral_id=case.id, position=last + 1, service_type_id=chosen.id, guidance="", note=note,
                    created_at=now)
    db.session.add(step)
    add_case_event(case, actor, "step_added", f"Plan step added: {chosen.name}", now)
    audit.record(actor, "case.step_added", case, fields=["service_type_id"] + (["note"] if note else []), now=now)
    db.session.commit()
    return step


def get_step_or_404(case: Referral, step_id: int) -> PlanStep:
    step = db.session.get(PlanStep, step_id)
    if step is None or step.referral_id != case.id:
        abort(404)
    return step


def move_step(actor, case: Referral, step: PlanStep, offset: int, now: datetime) -> None:
    """Swap a step with the one before (-1) or after (+1) it."""
    require_open(case)
    steps = steps_of(case)
    index = next(i for i, s in enumerate(steps) if s.id == step.id)
    other = index + (1 if offset > 0 else -1)
    if not 0 <= other < len(steps):
        return
    # Renumber the whole plan in its shown order, then swap: positions stay distinct whatever they were.
    for number, each in enumerate(steps, start=1):
        each.position = number
    steps[index].position, steps[other].position = steps[other].position, steps[index].position
    audit.record(actor, "case.step_moved", case, fields=["position"], now=now)
    db.session.commit()


def remove_step(actor, case: Referral, step: PlanStep, now: datetime) -> None:
    """Remove a planned step (one already sent stays: its referral is withdrawn from its own page)."""
    require_open(case)
    if step.onward_id is not None:
        raise CaseRefused("This step was sent: withdraw its referral instead.")
    name = step.service_type.name
    db.session.delete(step)
    add_case_event(case, actor, "step_removed", f"Plan step removed: {name}", now)
    audit.record(actor, "case.step_removed", case, fields=["plan"], now=now)
    db.session.commit()


STEP_STATES = {"planned": "Planned", "offered": "Offered", "reoffered": "Declined and re-offered",
               "queue": "In the committee queue", "accepted": "Accepted", "done": "Done", "withdrawn": "Withdrawn"}


def referral_progress(referral: Referral | None) -> str:
    """Where an onward referral (or a plan step's) stands, as a key of STEP_STATES."""
    if referral is None:
        return "planned"
    if referral.state == "offered":
        return "reoffered" if any(o.state in ("declined", "expired") for o in referral.offers) else "offered"
    return {"unassigned": "queue", "accepted": "accepted", "in_progress": "accepted", "closed": "done",
            "withdrawn": "withdrawn"}[referral.state]


# ----- onward referrals and transfers ------------------------------------------------------------

def matches_for(case: Referral, chosen: ServiceType, urgency: str, now: datetime) -> list:
    """The providers of the service for this person, ranked by the intake's matcher; never the case's own agency."""
    return intake_ops.match_intake(case.intake, chosen, now, urgency=urgency, exclude={case.accepted_agency_id})


def _order(matches: list, receiver_id: int | None, backups: list[int]) -> list[int]:
    ranked = [m.candidate.agency_id for m in matches]
    if ranked and receiver_id not in ranked:
        raise CaseRefused("Choose a provider from the list.")
    if not ranked:
        return []
    chosen = [receiver_id] + [b for b in dict.fromkeys(backups) if b in ranked and b != receiver_id]
    return chosen + [agency_id for agency_id in ranked if agency_id not in chosen]


def _submitted(key: str | None, case: Referral) -> Referral | None:
    """The referral a form submission already created from this case (a repeated or double-clicked submit)."""
    if not key:
        return None
    found = db.session.scalar(select(Referral).where(Referral.submission_key == key))
    if found is not None and case.id not in (found.parent_id, found.transferred_from_id):
        raise CaseRefused("This form was already used. Start again from the case page.")
    return found


def send_onward(actor, case: Referral, chosen: ServiceType, receiver_id: int | None, backups: list[int],
                urgency: str, now: datetime, step: PlanStep | None = None,
                submission_key: str | None = None) -> Referral:
    """Refer the person onward for any service: the chosen provider first, then the backups, then the other
    matches, through the same offers, deadlines and escalation as every referral (none matched: the committee
    queue). Sent by the case's agency; a plan step, if given, follows the referral. A repeated submission (same
    key) returns the referral the first one created."""
    require_open(case)
    if (already := _submitted(submission_key, case)) is not None:
        return already
    if urgency not in URGENCIES:
        raise CaseRefused("Choose how urgent it is.")
    if step is not None and (step.referral_id != case.id or step.onward_id is not None
                             or step.service_type_id != chosen.id):
        raise CaseRefused("This plan step was sent already.")
    order = _order(matches_for(case, chosen, urgency, now), receiver_id, backups)
    try:
        onward = referral_ops.create_referral(actor, case.intake, chosen.id, order, now, parent=case,
                                              urgency=urgency, submission_key=submission_key)
    except IntegrityError:  # the same submission, at the same moment
        db.session.rollback()
        if (already := _submitted(submission_key, case)) is not None:
            return already
        raise
    if step is not None:
        # Claimed with one conditional UPDATE: the same step sent twice at once makes one referral, not two.
        claimed = db.session.execute(
            update(PlanStep).where(PlanStep.id == step.id, PlanStep.onward_id.is_(None))
            .values(onward_id=onward.id).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            db.session.rollback()
            raise CaseRefused("This plan step was sent already.")
    add_case_event(case, actor, "onward_sent", f"Onward referral #{onward.id} for {chosen.name.lower()} sent", now)
    audit.record(actor, "case.onward_sent", onward, fields=["service_type_id", "urgency"], now=now)
    db.session.commit()
    return onward


def open_transfer(case: Referral) -> Referral | None:
    """A transfer of this case still waiting for a provider."""
    return db.session.scalar(select(Referral).where(Referral.transferred_from_id == case.id,
                                                    Referral.state.in_(("offered", "unassigned"))).limit(1))


def case_management() -> ServiceType:
    return intake_ops.service_type_by_code(intake_ops.CASE_MANAGEMENT)


def transfer(actor, case: Referral, receiver_id: int | None, backups: list[int], reason: str,
             now: datetime, submission_key: str | None = None) -> Referral:
    """Send the case to another case-management provider: a new case-management referral linked to this one; when
    it is accepted, the referrals module closes this case as transferred. One transfer waits at a time (a unique
    index holds it when two are sent at once)."""
    require_open(case)
    if (already := _submitted(submission_key, case)) is not None:
        return already
    if not reason:
        raise CaseRefused("Say why the case is transferred.")
    if open_transfer(case) is not None:
        raise CaseRefused("A transfer of this case is already waiting for an answer.")
    chosen = case_management()
    order = _order(matches_for(case, chosen, case.urgency, now), receiver_id, backups)
    try:
        moved = referral_ops.create_referral(actor, case.intake, chosen.id, order, now, transferred_from=case,
                                             urgency=case.urgency, submission_key=submission_key)
    except IntegrityError:
        db.session.rollback()
        if (already := _submitted(submission_key, case)) is not None:
            return already
        raise CaseRefused("A transfer of this case is already waiting for an answer.") from None
    add_case_event(case, actor, "transfer_sent", f"Transfer sent as referral #{moved.id}", now, text=reason)
    audit.record(actor, "case.transfer_sent", case, fields=["reason"], now=now)
    db.session.commit()
    return moved


def reopen(actor, case: Referral, reason: str, now: datetime) -> None:
    """Reopen a closed case (people come back), with the reason on the case's timeline."""
    if not reason:
        raise CaseRefused("Say why the case is reopened.")
    try:
        referral_ops.reopen(actor, case, "in_progress" if case_file(case) else "accepted", now)
    except referral_ops.RefusedTransition as exc:
        raise CaseRefused(str(exc)) from exc
    add_case_event(case, actor, "reopened", "Case reopened", now, text=reason)
    audit.record(actor, "case.reopened", case, fields=["reason"], now=now)
    db.session.commit()


# ----- what comes next ---------------------------------------------------------------------------

@dataclass
class CaseLine:
    """A case with what waits on it, for the dashboard and the case list."""

    case: Referral
    file: CaseFile | None
    next_step: str


def next_step(case: Referral, file: CaseFile | None, steps: list[PlanStep], onward: list[Referral]) -> str:
    """The one thing the case manager should do or watch next."""
    if case.state == "closed":
        return "Closed"
    if file is None:
        return "Start the needs assessment"
    progress = [(r, referral_progress(r)) for r in onward]
    queued = [r for r, state in progress if state == "queue"]
    if queued:
        return f"Onward referral #{queued[0].id} is in the committee queue"
    reoffered = [r for r, state in progress if state == "reoffered"]
    if reoffered:
        return f"Onward referral #{reoffered[0].id} was declined and re-offered"
    waiting = [s for s in steps if s.onward_id is None]
    if waiting:
        return f"{len(waiting)} plan step{'s' if len(waiting) != 1 else ''} waiting to be sent"
    pending = [r for r, state in progress if state == "offered"]
    if pending:
        return f"{len(pending)} onward offer{'s' if len(pending) != 1 else ''} pending"
    if file.plan_started_at is None:
        return "Make a service plan"
    return "Nothing waiting"


def case_lines(cases: list[Referral]) -> list[CaseLine]:
    """Each case with its file and next step (a few queries for the whole list, not per case)."""
    ids = [c.id for c in cases]
    if not ids:
        return []
    files = {f.referral_id: f for f in db.session.scalars(select(CaseFile).where(CaseFile.referral_id.in_(ids)))}
    steps: dict[int, list[PlanStep]] = {i: [] for i in ids}
    for step in db.session.scalars(select(PlanStep).where(PlanStep.referral_id.in_(ids))):
        steps[step.referral_id].append(step)
    onward: dict[int, list[Referral]] = {i: [] for i in ids}
    for child in db.session.scalars(select(Referral).where(Referral.parent_id.in_(ids)).order_by(Referral.id)):
        onward[child.parent_id].append(child)
    return [CaseLine(c, files.get(c.id), next_step(c, files.get(c.id), steps[c.id], onward[c.id])) for c in cases]


def worked_by(user):
    """SQL: the ids of the cases (any state) of the user's agency that the user works — the one who started the
    assessment, or before that the one who accepted."""
    accepted_by = (select(Offer.answered_by_id).where(Offer.referral_id == Referral.id, Offer.state == "accepted")
                   .scalar_subquery())
    return (select(Referral.id).outerjoin(CaseFile, CaseFile.referral_id == Referral.id)
            .where(Referral.parent_id.is_(None), Referral.accepted_agency_id == user.agency_id,
                   func.coalesce(CaseFile.case_manager_id, accepted_by) == user.id))


def agency_cases_query(user, mine: bool = False, closed: bool = False):
    """The cases of the user's agency (open, or closed), newest first; `mine`: those the user works."""
    query = (select(Referral).where(Referral.parent_id.is_(None), Referral.accepted_agency_id == user.agency_id,
                                    Referral.state.in_(("closed",) if closed else OPEN)))
    if mine:
        query = query.where(Referral.id.in_(worked_by(user)))
    return query.order_by(Referral.created_at.desc(), Referral.id.desc())


def my_open_cases(user, limit: int = 20) -> list[CaseLine]:
    """The dashboard's panel: my open cases with their next step."""
    if user.agency_id is None or not user.has_role(*RECEIVER_ROLES):
        return []
    return case_lines(db.session.scalars(agency_cases_query(user, mine=True).limit(limit)).all())


def parent_case_of(referral: Referral, user) -> Referral | None:
    """The case an onward referral belongs to, when the user works that case (None for everyone else)."""
    if referral.parent_id is None:
        return None
    parent = db.session.get(Referral, referral.parent_id)
    return parent if parent is not None and holds(user, parent) else None


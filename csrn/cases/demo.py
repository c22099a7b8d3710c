"""A demo case in progress, worked through the real operations: an assessment, a plan from a pathway, and two
onward referrals — one accepted by the demo's pro bono immigration attorney, one declined and re-offered; then its
coordination: an immigration-court date whose checklist is partly done (an interpreter referral accepted by the
demo's pro bono interpreter), a clinic visit that clashes with it, a message thread and an open concern."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from csrn.auth.models import User
from csrn.cases import coordination
from csrn.cases import operations as ops
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.pathways.models import Pathway
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral
from csrn.settings.operations import task_force_zone

PERSON = {"urgency": "urgent", "county": "Alder", "age_group": "25_plus", "gender": "female",
          "citizenship": "foreign", "trafficking_type": "labour", "languages": ["vi"], "interpreter_needed": True,
          "needs": ["case_management", "immigration_legal", "interpretation", "mental_health"],
          "alias": "Lan", "consent": "yes", "consent_how": "written", "consent_with": ["receiver", "onward"],
          "consent_categories": ["identity", "contact", "immigration"], "contact_phone": "+1 555 0199 0042",
          "safe_channel": "Through the Safe Harbor advocate only", "narrative": "Worked 14-hour days in a nail "
          "salon for two years; passport kept by the owner."}


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def _agency_of(email: str) -> int:
    return _user(email).agency_id


def seed_cases(now: datetime) -> None:
    """Safe Harbor's case for a Vietnamese-speaking survivor of labour trafficking, two days into case work."""
    officer, case_manager = _user("detective@demo.example"), _user("casemanager@demo.example")
    start = now - timedelta(days=2, hours=4)
    draft = intake_ops.start_draft(officer, {}, start)
    intake_ops.save_draft(draft, {**PERSON, "consent_date": start.date().isoformat(),
                                  "receiver": case_manager.agency_id}, 5, start)
    case = intake_ops.submit(officer, draft, draft.submission_key, start)
    referral_ops.accept(case_manager, case, start + timedelta(minutes=40))
    case = db.session.get(Referral, case.id)
    assessed = now - timedelta(days=2)
    file = ops.start_assessment(case_manager, case, assessed)
    needs = {need.service_type.code: need for need in ops.needs_of(case)}
    ops.save_assessment(case_manager, case, [
        ops.NeedAnswer(needs["case_management"].id, "met", "Weekly check-ins at the office; bus pass given."),
        ops.NeedAnswer(needs["immigration_legal"].id, "in_progress", "Wants to stay; afraid of deportation."),
    ], "To get her passport back, to send money home legally, and to work in a salon of her own one day.",
        None, file.version, assessed)
    pathway = db.session.scalar(select(Pathway).where(Pathway.name.like("Foreign-national adults%")))
    ops.start_plan(case_manager, case, pathway, assessed + timedelta(minutes=20))
    legal, interpreting, _ = ops.steps_of(case)
    # The immigration attorney (a pro bono volunteer) accepted the first step.
    attorney = _user("volunteer@demo.example")
    sent = now - timedelta(hours=26)
    onward = ops.send_onward(case_manager, case, legal.service_type, attorney.agency_id, [], "routine", sent,
                             step=legal)
    referral_ops.accept(attorney, onward, sent + timedelta(hours=6))
    # Interpreting: Language Bridge declined (no capacity this week); the volunteer interpreter was offered it next.
    sent = now - timedelta(hours=3)
    backup = _agency_of("interpreter@demo.example")
    onward = ops.send_onward(case_manager, db.session.get(Referral, case.id), interpreting.service_type,
                             _agency_of("interpreters@demo.example"), [backup], "routine", sent, step=interpreting)
    referral_ops.decline(_user("interpreters@demo.example"), onward, "no_capacity",
                         "Our Vietnamese interpreters are booked this week.", sent + timedelta(hours=2))

    _seed_coordination(db.session.get(Referral, case.id), now)


def _seed_coordination(case: Referral, now: datetime) -> None:
    case_manager, attorney = _user("casemanager@demo.example"), _user("volunteer@demo.example")
    interpreter = _user("interpreter@demo.example")
    # The hearing: next week, 09:30 in the task force's zone.
    local_day = (now + timedelta(days=8)).astimezone(task_force_zone()).date()
    hearing = datetime(local_day.year, local_day.month, local_day.day, 9, 30, tzinfo=task_force_zone())
    court = coordination.save_appointment(case_manager, case, None, {
        "kind": "court", "provider_agency_id": None, "starts_at": hearing, "duration_minutes": 120,
        "place": "Immigration Court, 3rd floor, 100 Federal Plaza, Riverton", "accompaniment_needed": True,
        "interpreter_needed": True}, now - timedelta(hours=20))
    coordination.save_appointment(case_manager, case, None, {
        "kind": "legal", "provider_agency_id": attorney.agency_id, "starts_at": hearing - timedelta(days=3),
        "duration_minutes": 60, "place": "By video call", "accompaniment_needed": False,
        "interpreter_needed": True}, now - timedelta(hours=20))
    # A clinic visit booked by someone else, 30 minutes after the hearing ends: flagged as a clash.
    coordination.save_appointment(case_manager, case, None, {
        "kind": "medical", "provider_agency_id": None, "starts_at": hearing + timedelta(hours=2, minutes=30),
        "duration_minutes": 45, "place": "Mercy Community Clinic, 800 Hospital Drive", "accompaniment_needed": False,
        "interpreter_needed": True}, now - timedelta(hours=19))
    supports = {s.item: s for s in coordination.supports_of(court)}
    coordination.set_support(case_manager, case, supports["accompaniment"], "done",
                             _user("agencyadmin@demo.example").id, now - timedelta(hours=18))
    interpreting = intake_ops.service_type_by_code(coordination.INTERPRETATION)
    onward = ops.send_onward(case_manager, case, interpreting, interpreter.agency_id, [], "urgent",
                             now - timedelta(hours=18))
    coordination.link_support(supports["interpreter"], case, onward)
    db.session.commit()
    referral_ops.accept(interpreter, onward, now - timedelta(hours=16))
    # Messages with the attorney on the immigration referral; the attorney's request, still open.
    legal = next(r for r in ops.onward_referrals(case) if r.accepted_agency_id == attorney.agency_id)
    coordination.post_message(case_manager, legal, "Lan can meet on Tuesday afternoon; she prefers the video call "
                                                   "with the interpreter on the line.", now - timedelta(hours=12))
    coordination.post_message(attorney, legal, "Tuesday 14:00 works. Please bring any pay slips or messages from "
                                               "the salon owner.", now - timedelta(hours=10))
    coordination.raise_concern(attorney, legal, "request", "I need a copy of the passport page the owner kept, or "
                                                          "a statement that it was taken, before the hearing.",
                               now - timedelta(hours=9))

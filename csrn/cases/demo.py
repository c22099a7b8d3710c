"""A demo case in progress, worked through the real operations: an assessment, a plan from a pathway, and two
onward referrals — one accepted by the demo's pro bono immigration attorney, one declined and re-offered."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from csrn.auth.models import User
from csrn.cases import operations as ops
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.pathways.models import Pathway
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral

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

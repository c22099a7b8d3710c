"""Case work without HTTP: the needs assessment, the plan from a pathway, onward referrals through the real offers
and escalation, transfer, closing and reopening, the next step and who may see the case (DESIGN §5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from csrn.cases import operations as ops
from csrn.cases.models import CaseEvent, CaseNeed, PlanStep
from csrn.concurrency import StaleEdit
from csrn.extensions import db
from csrn.intake.models import UnmetNeed
from csrn.pathways import operations as pathway_ops
from csrn.referrals import consent as consent_ops
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral
from tests.conftest import NOW
from tests.referral_factories import (
    ALIAS,
    consent_answers,
    events_of,
    make_provider,
    make_sender,
    new_user,
    notifications_of,
    referral,
    send_intake,
    type_id,
)

T = NOW + timedelta(minutes=5)


def a_case(needs=("case_management", "immigration_legal", "mental_health"), with_=("receiver",), **answers):
    """A case-management referral accepted by its case holder; the officer who wrote the intake."""
    holder = make_provider("Case holder", case_managers=2)
    officer = make_sender()
    case = send_intake(officer, receiver=holder.agency_id, needs=list(needs), citizenship="foreign",
                       **consent_answers(with_=with_), **answers)
    referral_ops.accept(holder.case_manager, case, T)
    return referral(case.id), holder, officer


def test_starting_the_assessment_opens_the_file_with_the_intakes_needs_and_moves_the_case_to_in_progress(ctx):
    case, holder, _ = a_case()
    assert case.state == "accepted"
    file = ops.start_assessment(holder.case_manager, case, T)
    case = referral(case.id)
    assert case.state == "in_progress"
    assert file.case_manager_id == holder.case_manager.id
    assert [n.service_type.code for n in ops.needs_of(case)] == ["case_management", "immigration_legal",
                                                                 "mental_health"]
    assert {n.status for n in ops.needs_of(case)} == {"in_progress"}
    assert [e.kind for e in events_of(case.id, "in_progress")] == ["in_progress"]
    # A second start (a colleague at the same time) opens nothing new.
    assert ops.start_assessment(holder.case_manager, case, T).id == file.id
    assert len(ops.needs_of(case)) == 3


def test_the_assessment_records_statuses_notes_goals_and_a_need_found_later(ctx):
    case, holder, _ = a_case()
    file = ops.start_assessment(holder.case_manager, case, T)
    needs = {n.service_type.code: n for n in ops.needs_of(case)}
    answers = [ops.NeedAnswer(needs["mental_health"].id, "met", "GOALNOTE71 sees a counsellor weekly"),
               ops.NeedAnswer(needs["immigration_legal"].id, "declined", "")]
    changed = ops.save_assessment(holder.case_manager, case, answers, "GOALS55 to find work", type_id("dental"),
                                  file.version, T)
    assert changed == ["goals", "needs.added", "needs.notes", "needs.status"]
    needs = {n.service_type.code: n for n in ops.needs_of(case)}
    assert needs["mental_health"].status == "met" and needs["immigration_legal"].status == "declined"
    assert needs["dental"].found_in == "assessment" and needs["dental"].status == "in_progress"
    assert ops.case_file(case).goals == "GOALS55 to find work"
    # Encrypted at rest: the database holds neither the goals nor the notes in clear.
    raw = " ".join(str(v) for v in db.session.execute(text("SELECT goals FROM case_file")).scalars())
    raw += " ".join(str(v) for v in db.session.execute(text("SELECT notes FROM case_need")).scalars())
    assert "GOALS55" not in raw and "GOALNOTE71" not in raw


def test_a_stale_assessment_form_is_refused(ctx):
    case, holder, _ = a_case()
    file = ops.start_assessment(holder.case_manager, case, T)
    seen = file.version
    ops.save_assessment(holder.case_manager, case, [], "First", None, seen, T)
    with pytest.raises(StaleEdit):
        ops.save_assessment(holder.case_manager, case, [], "Second", None, seen, T)
    assert ops.case_file(case).goals == "First"


def test_a_need_found_unmet_in_the_assessment_is_counted_once_for_the_gap_analysis(ctx):
    case, holder, _ = a_case(needs=("case_management",))
    file = ops.start_assessment(holder.case_manager, case, T)
    ops.save_assessment(holder.case_manager, case, [], "", type_id("dental"), file.version, T)
    dental = next(n for n in ops.needs_of(case) if n.service_type.code == "dental")
    before = db.session.scalar(select(db.func.count()).select_from(UnmetNeed))
    ops.save_assessment(holder.case_manager, case, [ops.NeedAnswer(dental.id, "unmet", "")], "", None,
                        ops.case_file(case).version, T)
    rows = db.session.scalars(select(UnmetNeed).where(UnmetNeed.intake_id == case.intake_id)).all()
    assert [(r.service_type.code, r.found_in, r.citizenship) for r in rows] == [("dental", "assessment", "foreign")]
    # Back to in progress and unmet again: still one.
    for status in ("in_progress", "unmet"):
        ops.save_assessment(holder.case_manager, case, [ops.NeedAnswer(dental.id, status, "")], "", None,
                            ops.case_file(case).version, T)
    assert db.session.scalar(select(db.func.count()).select_from(UnmetNeed)) == before + 1


def _pathway(*codes, **targets):
    return pathway_ops.save_pathway(None, None, {"name": f"Pathway {'-'.join(codes)}", "description": ""}, targets,
                                    [(type_id(code), f"Guidance for {code}") for code in codes], None, NOW)


def test_a_plan_from_a_fitting_pathway_plans_its_steps_in_order(ctx):
    case, holder, _ = a_case()
    fits = _pathway("immigration_legal", "mental_health", citizenship=["foreign"])
    other = _pathway("dental", citizenship=["us"])
    with pytest.raises(ops.CaseRefused, match="needs assessment first"):
        ops.start_plan(holder.case_manager, case, fits, T)
    ops.start_assessment(holder.case_manager, case, T)
    assert [p.id for p in ops.fitting_pathways(case)] == [fits.id]
    with pytest.raises(ops.CaseRefused, match="fits the person"):
        ops.start_plan(holder.case_manager, case, other, T)
    ops.start_plan(holder.case_manager, case, fits, T)
    steps = ops.steps_of(case)
    assert [(s.service_type.code, s.guidance) for s in steps] == [
        ("immigration_legal", "Guidance for immigration_legal"), ("mental_health", "Guidance for mental_health")]
    assert {ops.referral_progress(s.onward) for s in steps} == {"planned"}
    with pytest.raises(ops.CaseRefused, match="has a plan already"):
        ops.start_plan(holder.case_manager, case, None, T)


def test_steps_are_added_moved_and_removed_until_sent(ctx):
    case, holder, _ = a_case()
    ops.start_assessment(holder.case_manager, case, T)
    ops.start_plan(holder.case_manager, case, None, T)
    for code in ("emergency_shelter", "dental", "food_clothing"):
        ops.add_step(holder.case_manager, case, type_id(code), "", T)
    first, second, third = ops.steps_of(case)
    ops.move_step(holder.case_manager, case, third, -1, T)
    assert [s.service_type.code for s in ops.steps_of(case)] == ["emergency_shelter", "food_clothing", "dental"]
    ops.move_step(holder.case_manager, case, first, -1, T)  # the first cannot move up: nothing changes
    assert [s.service_type.code for s in ops.steps_of(case)] == ["emergency_shelter", "food_clothing", "dental"]
    ops.remove_step(holder.case_manager, case, second, T)
    assert [s.service_type.code for s in ops.steps_of(case)] == ["emergency_shelter", "food_clothing"]
    dental = make_provider("Dental clinic", type_codes=("dental",))
    housing = make_provider("Housing", type_codes=("emergency_shelter",))
    step = ops.steps_of(case)[0]
    ops.send_onward(holder.case_manager, case, step.service_type, housing.agency_id, [], "routine", T, step=step)
    with pytest.raises(ops.CaseRefused, match="withdraw its referral"):
        ops.remove_step(holder.case_manager, case, ops.steps_of(case)[0], T)
    with pytest.raises(ops.CaseRefused, match="Choose a service"):
        ops.add_step(holder.case_manager, case, None, "", T)
    assert dental.agency_id  # a second provider type exists and changes nothing above


def test_an_onward_referral_is_matched_for_the_person_sent_by_the_case_holder_and_follows_its_step(ctx):
    case, holder, officer = a_case()
    legal = make_provider("Legal aid", type_codes=("immigration_legal",))
    us_only = make_provider("US-only legal", type_codes=("immigration_legal",), facets={"citizenship": ["us"]})
    own = db.session.get(type(case), case.id)
    ops.start_assessment(holder.case_manager, own, T)
    ops.start_plan(holder.case_manager, own, None, T)
    step = ops.add_step(holder.case_manager, own, type_id("immigration_legal"), "", T)
    chosen = step.service_type
    ranked = [m.candidate.agency_id for m in ops.matches_for(own, chosen, "urgent", T)]
    assert legal.agency_id in ranked and us_only.agency_id not in ranked and holder.agency_id not in ranked
    with pytest.raises(ops.CaseRefused, match="from the list"):
        ops.send_onward(holder.case_manager, own, chosen, us_only.agency_id, [], "urgent", T, step=step)
    onward = ops.send_onward(holder.case_manager, own, chosen, legal.agency_id, [], "urgent", T, step=step)
    assert onward.parent_id == case.id and onward.sending_agency_id == holder.agency_id
    assert onward.urgency == "urgent" and onward.pending_offer.agency_id == legal.agency_id
    assert db.session.get(PlanStep, step.id).onward_id == onward.id
    assert ops.referral_progress(onward) == "offered"
    # The officer who wrote the intake sees nothing of it; the case holder is its sender.
    assert referral_ops.relation(onward, officer) is None
    assert referral_ops.relation(onward, holder.case_manager) == "sender"
    assert referral_ops.relation(onward, legal.case_manager) == "offered"


def test_a_declined_onward_offer_goes_to_the_next_provider_and_the_plan_says_so(ctx):
    case, holder, _ = a_case()
    first = make_provider("Counselling one", type_codes=("mental_health",))
    second = make_provider("Counselling two", type_codes=("mental_health",))
    ops.start_assessment(holder.case_manager, case, T)
    chosen = db.session.get(type(case.service_type), type_id("mental_health"))
    onward = ops.send_onward(holder.case_manager, case, chosen, first.agency_id, [second.agency_id], "routine", T)
    referral_ops.decline(first.case_manager, onward, "no_capacity", "", T + timedelta(minutes=1))
    onward = referral(onward.id)
    assert onward.pending_offer.agency_id == second.agency_id
    assert ops.referral_progress(onward) == "reoffered"
    assert ops.next_step(case, ops.case_file(case), [], [onward]) == \
        f"Onward referral #{onward.id} was declined and re-offered"
    referral_ops.accept(second.case_manager, onward, T + timedelta(minutes=2))
    assert ops.referral_progress(referral(onward.id)) == "accepted"
    referral_ops.close(second.case_manager, referral(onward.id), "engaged", T + timedelta(days=3))
    assert ops.referral_progress(referral(onward.id)) == "done"
    # The case manager who sent it was told of the acceptance and the closing (as any sender is).
    texts = [n.text for n in notifications_of(holder.case_manager_ids[0])]
    assert f"Referral #{onward.id} was accepted by Counselling two" in texts
    assert any(t.startswith(f"Referral #{onward.id} was closed") for t in texts)


def test_an_onward_referral_nobody_can_receive_goes_to_the_committee_queue(ctx):
    case, holder, _ = a_case()
    ops.start_assessment(holder.case_manager, case, T)
    chosen = db.session.get(type(case.service_type), type_id("repatriation"))
    onward = ops.send_onward(holder.case_manager, case, chosen, None, [], "routine", T)
    assert referral(onward.id).state == "unassigned"
    assert ops.next_step(case, ops.case_file(case), [], [referral(onward.id)]) == \
        f"Onward referral #{onward.id} is in the committee queue"


def test_nothing_changes_on_a_closed_case_until_it_is_reopened(ctx):
    case, holder, officer = a_case()
    ops.start_assessment(holder.case_manager, case, T)
    referral_ops.close(holder.case_manager, referral(case.id), "engaged", T + timedelta(days=1))
    case = referral(case.id)
    assert case.closed_at is not None
    chosen = db.session.get(type(case.service_type), type_id("mental_health"))
    with pytest.raises(ops.CaseRefused, match="closed"):
        ops.send_onward(holder.case_manager, case, chosen, None, [], "routine", T)
    with pytest.raises(ops.CaseRefused, match="closed"):
        ops.start_plan(holder.case_manager, case, None, T)
    with pytest.raises(ops.CaseRefused, match="Say why"):
        ops.reopen(holder.case_manager, case, "", T)
    ops.reopen(holder.case_manager, case, "REASON42 came back after a month", T + timedelta(days=30))
    case = referral(case.id)
    assert (case.state, case.outcome, case.closed_at) == ("in_progress", "", None)
    assert [e.kind for e in events_of(case.id, "reopened")] == ["reopened"]
    assert "REASON42" not in " ".join(e.detail for e in events_of(case.id))  # the reason is the case's record
    assert any(e.text.startswith("REASON42") for e in ops.events_of(case))
    with pytest.raises(ops.CaseRefused, match="not closed"):
        ops.reopen(holder.case_manager, case, "again", T)


def test_a_case_reopens_as_accepted_when_case_work_never_began(ctx):
    case, holder, _ = a_case()
    referral_ops.close(holder.case_manager, case, "lost_contact", T)
    ops.reopen(holder.case_manager, referral(case.id), "Phoned back", T)
    assert referral(case.id).state == "accepted"


def test_a_transfer_once_accepted_closes_the_case_as_transferred(ctx):
    case, holder, officer = a_case(with_=("receiver",))
    other = make_provider("Other case management")
    ops.start_assessment(holder.case_manager, case, T)
    with pytest.raises(ops.CaseRefused, match="Say why"):
        ops.transfer(holder.case_manager, case, other.agency_id, [], "", T)
    moved = ops.transfer(holder.case_manager, case, other.agency_id, [], "Moving to Cedar county", T)
    assert moved.transferred_from_id == case.id and moved.parent_id is None
    assert moved.sending_agency_id == holder.agency_id and moved.pending_offer.agency_id == other.agency_id
    with pytest.raises(ops.CaseRefused, match="already waiting"):
        ops.transfer(holder.case_manager, case, other.agency_id, [], "Again", T)
    # The officer follows the original case only.
    assert referral_ops.relation(moved, officer) is None
    referral_ops.accept(other.case_manager, moved, T + timedelta(hours=1))
    case = referral(case.id)
    assert (case.state, case.outcome) == ("closed", "transferred") and case.closed_at is not None
    assert ops.referral_progress(referral(moved.id)) == "accepted"
    with pytest.raises(ops.CaseRefused, match="transferred"):
        ops.reopen(holder.case_manager, case, "Back", T + timedelta(hours=2))
    # Consent for "the chosen receiver" never reaches the provider the case holder chose.
    shared = consent_ops.shared_categories(referral(moved.id), other.agency_id, False, T + timedelta(hours=2))
    assert shared == set()



def test_only_the_accepting_agencys_case_managers_hold_the_case(ctx):
    case, holder, officer = a_case()
    staff = new_user(holder.agency_id, ("staff",))
    admin = new_user(holder.agency_id, ("agency_admin",))
    outsider = make_provider("Outsider")
    assert ops.holds(holder.case_manager, case) and ops.holds(admin, case)
    assert not ops.holds(staff, case)
    assert not ops.holds(officer, case)
    assert not ops.holds(outsider.case_manager, case)
    # An onward referral is never a case, even for its own receiver.
    legal = make_provider("Legal aid", type_codes=("immigration_legal",))
    ops.start_assessment(holder.case_manager, case, T)
    chosen = db.session.get(type(case.service_type), type_id("immigration_legal"))
    onward = ops.send_onward(holder.case_manager, case, chosen, legal.agency_id, [], "routine", T)
    referral_ops.accept(legal.case_manager, onward, T)
    assert not ops.holds(legal.case_manager, referral(onward.id))
    assert not ops.holds(legal.case_manager, case)


def test_my_open_cases_and_their_next_steps(ctx):
    case, holder, _ = a_case()
    colleague = db.session.get(type(holder.case_manager), holder.case_manager_ids[1])
    mine = ops.my_open_cases(holder.case_manager)
    assert [(line.case.id, line.next_step) for line in mine] == [(case.id, "Start the needs assessment")]
    assert ops.my_open_cases(colleague) == []
    # The colleague starts the assessment: the case is theirs from then on.
    ops.start_assessment(colleague, case, T)
    assert ops.my_open_cases(holder.case_manager) == []
    assert [line.next_step for line in ops.my_open_cases(colleague)] == ["Make a service plan"]
    ops.start_plan(colleague, case, None, T)
    ops.add_step(colleague, case, type_id("emergency_shelter"), "", T)
    assert [line.next_step for line in ops.my_open_cases(colleague)] == ["1 plan step waiting to be sent"]
    referral_ops.close(colleague, referral(case.id), "engaged", T)
    assert ops.my_open_cases(colleague) == []


def test_the_case_timeline_says_what_happened_and_keeps_reasons_encrypted(ctx):
    case, holder, _ = a_case()
    ops.start_assessment(holder.case_manager, case, T)
    other = make_provider("Other case management")
    ops.transfer(holder.case_manager, case, other.agency_id, [], f"{ALIAS} asked to move", T)
    kinds = [e.kind for e in ops.events_of(case)]
    assert kinds == ["assessment_started", "transfer_sent"]
    raw = " ".join(str(v) for v in db.session.execute(text("SELECT text FROM case_event")).scalars())
    assert ALIAS not in raw
    assert db.session.scalar(select(db.func.count()).select_from(CaseEvent)) == 2
    assert db.session.scalar(select(db.func.count()).select_from(CaseNeed)) == 3
    assert isinstance(case, Referral)


def test_the_demo_has_a_case_in_progress_with_a_plan_and_two_onward_referrals(ctx, monkeypatch, tmp_path):
    """The demo case: assessed, a plan from a pathway, an onward referral accepted by the pro bono immigration
    attorney, one declined and re-offered (to the pro bono interpreter), one step still planned."""
    import csrn.demo
    from csrn.auth.models import User

    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    csrn.demo.seed(password="demo password for tests", force=True, now=NOW)
    holder = db.session.scalar(User.by_email("casemanager@demo.example"))
    lines = ops.my_open_cases(holder)
    case = next(line.case for line in lines if ops.case_file(line.case) is not None)
    assert case.state == "in_progress"
    file = ops.case_file(case)
    assert file.goals and file.plan_pathway.name.startswith("Foreign-national adults")
    steps = ops.steps_of(case)
    assert [ops.referral_progress(s.onward) for s in steps] == ["accepted", "reoffered", "planned"]
    attorney = db.session.scalar(User.by_email("volunteer@demo.example"))
    interpreter = db.session.scalar(User.by_email("interpreter@demo.example"))
    assert steps[0].onward.accepted_agency_id == attorney.agency_id
    assert steps[1].onward.pending_offer.agency_id == interpreter.agency_id
    assert referral_ops.relation(steps[0].onward, attorney) == "receiver"
    assert "re-offered" in next(line.next_step for line in lines if line.case.id == case.id)


# ----- races and repeats (each would leave two holders, two referrals or a 500) -------------------

def test_closing_a_case_withdraws_its_waiting_transfer_and_a_late_acceptance_is_refused(ctx):
    case, holder, officer = a_case()
    other = make_provider("Other case management")
    moved = ops.transfer(holder.case_manager, case, other.agency_id, [], "Moving", T)
    stale_offer_holder = referral(moved.id)  # what the other agency's page showed before the close
    referral_ops.close(holder.case_manager, referral(case.id), "client_declined", T + timedelta(minutes=1))
    moved = referral(moved.id)
    assert moved.state == "withdrawn" and [o.state for o in moved.offers] == ["withdrawn"]
    assert [e.detail for e in events_of(moved.id, "withdrawn")] == ["Withdrawn: the case it would take over was closed"]
    with pytest.raises(referral_ops.RefusedTransition):
        referral_ops.accept(other.case_manager, stale_offer_holder, T + timedelta(minutes=2))
    assert referral(case.id).outcome == "client_declined"
    with pytest.raises(ops.CaseRefused, match="closed"):  # and no new transfer of a closed case
        ops.transfer(holder.case_manager, referral(case.id), other.agency_id, [], "Again", T)


def test_a_transfer_whose_case_closed_meanwhile_cannot_be_accepted(ctx):
    """The case closed between the offer and the answer (a race the close lost nothing to): the acceptance is
    refused and nothing of it stays."""
    case, holder, _ = a_case()
    other = make_provider("Other case management")
    moved = ops.transfer(holder.case_manager, case, other.agency_id, [], "Moving", T)
    db.session.execute(update(Referral).where(Referral.id == case.id).values(state="closed", outcome="other"))
    db.session.commit()
    with pytest.raises(referral_ops.RefusedTransition, match="no longer stands"):
        referral_ops.accept(other.case_manager, referral(moved.id), T + timedelta(minutes=2))
    assert referral(moved.id).state == "offered" and referral(moved.id).accepted_agency_id is None
    assert referral(case.id).outcome == "other"


def test_the_closing_of_a_transferred_case_does_not_say_who_holds_it_now(ctx):
    case, holder, officer = a_case()
    other = make_provider("Other case management")
    moved = ops.transfer(holder.case_manager, case, other.agency_id, [], "Moving", T)
    referral_ops.accept(other.case_manager, moved, T + timedelta(minutes=2))
    details = " ".join(e.detail for e in events_of(case.id))
    assert "Other case management" not in details and f"#{moved.id}" not in details
    assert "Closed: Transferred" in details


def test_a_second_transfer_waiting_at_the_same_time_is_refused_by_the_database(ctx, monkeypatch):
    case, holder, _ = a_case()
    first, second = make_provider("First"), make_provider("Second")
    ops.transfer(holder.case_manager, case, first.agency_id, [], "Moving", T)
    monkeypatch.setattr(ops, "open_transfer", lambda case: None)  # as if both checked before either wrote
    with pytest.raises(ops.CaseRefused, match="already waiting"):
        ops.transfer(holder.case_manager, referral(case.id), second.agency_id, [], "Moving too", T)
    assert len(ops.transfers_of(referral(case.id))) == 1


def test_a_plan_step_sent_twice_at_once_makes_one_referral(ctx):
    case, holder, _ = a_case()
    legal = make_provider("Legal aid", type_codes=("immigration_legal",))
    ops.start_assessment(holder.case_manager, case, T)
    ops.start_plan(holder.case_manager, case, None, T)
    step = ops.add_step(holder.case_manager, case, type_id("immigration_legal"), "", T)
    first = ops.send_onward(holder.case_manager, case, step.service_type, legal.agency_id, [], "routine", T,
                            step=step)
    # A second request loaded the step before the first one's send committed: in its memory, not yet sent.
    chosen = step.service_type
    db.session.expunge(db.session.get(PlanStep, step.id))
    stale = PlanStep(id=step.id, referral_id=case.id, service_type_id=chosen.id, onward_id=None)
    with pytest.raises(ops.CaseRefused, match="sent already"):
        ops.send_onward(holder.case_manager, referral(case.id), chosen, legal.agency_id, [], "routine", T,
                        step=stale)
    assert [r.id for r in ops.onward_referrals(referral(case.id))] == [first.id]


def test_the_same_onward_form_submitted_twice_creates_one_referral(ctx):
    case, holder, _ = a_case()
    legal = make_provider("Legal aid", type_codes=("immigration_legal",))
    ops.start_assessment(holder.case_manager, case, T)
    chosen = db.session.get(type(case.service_type), type_id("immigration_legal"))
    first = ops.send_onward(holder.case_manager, case, chosen, legal.agency_id, [], "routine", T,
                            submission_key="k" * 32)
    again = ops.send_onward(holder.case_manager, referral(case.id), chosen, legal.agency_id, [], "routine", T,
                            submission_key="k" * 32)
    assert again.id == first.id and len(ops.onward_referrals(referral(case.id))) == 1
    other_case, other_holder, _ = a_case()
    ops.start_assessment(other_holder.case_manager, other_case, T)
    with pytest.raises(ops.CaseRefused, match="already used"):
        ops.send_onward(other_holder.case_manager, other_case, chosen, legal.agency_id, [], "routine", T,
                        submission_key="k" * 32)


def test_an_assessment_saved_by_someone_else_after_the_check_is_a_stale_edit_not_an_error(ctx):
    case, holder, _ = a_case()
    file = ops.start_assessment(holder.case_manager, case, T)
    seen = file.version
    # Another request saves between this one's version check and its commit.
    db.session.execute(text("UPDATE case_file SET version = version + 1 WHERE id = :id"), {"id": file.id})
    with pytest.raises(StaleEdit):
        ops.save_assessment(holder.case_manager, case, [], "Mine", None, seen, T)
    db.session.expire_all()
    assert ops.case_file(case).goals == ""


def test_staff_of_the_holding_agency_have_no_hand_in_its_onward_referrals(ctx):
    """They are not assigned cases: not the sender of what the case sends, not in their lists, no withdrawing."""
    case, holder, _ = a_case()
    staff = new_user(holder.agency_id, ("staff",))
    legal = make_provider("Legal aid", type_codes=("immigration_legal",))
    ops.start_assessment(holder.case_manager, case, T)
    chosen = db.session.get(type(case.service_type), type_id("immigration_legal"))
    onward = ops.send_onward(holder.case_manager, case, chosen, legal.agency_id, [], "routine", T)
    assert referral_ops.relation(onward, staff) is None
    visible = set(db.session.scalars(referral_ops.visible_query(staff).with_only_columns(text("referral.id"))))
    assert onward.id not in visible
    with pytest.raises(referral_ops.RefusedTransition):
        referral_ops.withdraw(staff, onward, T)
    assert referral(onward.id).state == "offered"
    admin = new_user(holder.agency_id, ("agency_admin",))
    assert referral_ops.relation(referral(onward.id), admin) == "sender"

"""Drills without HTTP: the real intake submit at a simulated hour, the drill's clock (deadlines, jumps, both clocks
on its events), the person on call reached in drill time, DRILL on every notice and subject, no real figure moved,
the report kept as it stood, and a clean-up that removes every record of the drill and nothing real."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from csrn.audit.models import AuditEvent
from csrn.directory.models import Service, ServiceType
from csrn.drills import operations as ops
from csrn.drills.models import Drill
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.intake.models import Intake, UnmetNeed
from csrn.notify.models import Notification, OutboxMessage
from csrn.oncall import operations as oncall_ops
from csrn.oncall.models import ResponseKind
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral
from tests.conftest import NOW
from tests.referral_factories import (
    counts,
    events_of,
    make_chair,
    make_provider,
    make_sender,
    new_user,
    notifications_of,
    offers_of,
    referral,
    send_intake,
    type_id,
    write_settings,
)

CHICAGO = ZoneInfo("America/Chicago")
SUNDAY_2AM = datetime(2026, 12, 13, 2, 0, tzinfo=CHICAGO)  # a week after NOW's Sunday, in the night
WEDNESDAY_10AM = datetime(2026, 12, 9, 10, 0, tzinfo=CHICAGO)


@pytest.fixture
def network(ctx):
    """Providers A and B (case management), a police department that sends, a chair, and Case management on call
    08:00–20:00 every day by a staff member of B (nights are the roster's gap)."""
    write_settings(emergency_minutes=20)
    a, b = make_provider("Provider A"), make_provider("Provider B")
    police = make_sender(name="Alder Police")
    chair = make_chair()
    kind = ResponseKind(name="Case management", required_24_7=True, position=0, created_at=NOW, updated_at=NOW,
                        service_types=[db.session.get(ServiceType, type_id("case_management"))])
    db.session.add(kind)
    db.session.commit()
    on_call = new_user(b.agency_id, ("staff",))
    on_call.name = "Olive Oncall"
    db.session.commit()
    oncall_ops.save_shift(chair, None, dict(agency_id=b.agency_id, kind_id=kind.id, user_id=on_call.id,
                                            display_name="", phone="555-0100", role="primary", pattern="weekly",
                                            weekdays=list(range(7)), starts=time(8), ends=time(20)), None, NOW)
    return {"A": a, "B": b, "police": police, "chair": chair, "on_call": on_call}


def values(network, start=WEDNESDAY_10AM, **extra) -> dict:
    return {"sending_agency_id": network["police"].agency_id, "urgency": "emergency", "needs": [],
            "county": "Alder", "note": "Test", "simulated_start": start.astimezone(UTC), **extra}


def start(network, start=WEDNESDAY_10AM, now=NOW, **extra) -> Drill:
    return ops.start_drill(network["chair"], values(network, start, **extra), now)


def fresh(drill_id: int) -> Drill:
    db.session.expire_all()
    return db.session.get(Drill, drill_id)


def test_a_drill_goes_through_the_real_submit_at_the_simulated_hour(network):
    """A fictional person (DRILL in every name field) from the chosen agency, matched and offered like any intake;
    the offer is made and due in drill time; the notice and the mail say [DRILL] and go out on the wall clock."""
    drill = start(network)
    case = referral(drill.referral_id)
    assert case.is_drill and case.intake.is_drill and case.sending_agency_id == network["police"].agency_id
    assert "DRILL" in case.intake.alias and "DRILL" in case.intake.narrative and "DRILL" in case.intake.contact_phone
    [offer] = offers_of(case.id)
    assert offer.agency_id in (network["A"].agency_id, network["B"].agency_id)
    assert offer.offered_at == WEDNESDAY_10AM and offer.deadline_at == WEDNESDAY_10AM + timedelta(minutes=20)
    manager = db.session.get(type(network["chair"]), (network["A"] if offer.agency_id == network["A"].agency_id
                                                      else network["B"]).case_manager_ids[0])
    [notice] = notifications_of(manager.id)
    assert notice.text.startswith("[DRILL] New emergency referral offer") and notice.created_at == NOW
    [mail] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == manager.email)).all()
    assert mail.subject.startswith("[DRILL] CSRN:") and mail.next_attempt_at == NOW
    [created] = events_of(case.id, "offered")
    assert (created.at, created.real_at) == (WEDNESDAY_10AM, NOW)
    assert ops.drill_now(drill, NOW + timedelta(minutes=5)) == WEDNESDAY_10AM + timedelta(minutes=5)


def test_only_chairs_start_drills_and_never_from_a_suspended_agency(network):
    with pytest.raises(ops.DrillRefused):
        ops.start_drill(network["police"], values(network), NOW)
    network["police"].agency.membership_status = "suspended"
    db.session.commit()
    before = counts()
    with pytest.raises(ops.DrillRefused, match="suspended"):
        start(network)
    assert counts() == before and db.session.scalar(select(func.count()).select_from(Drill)) == 0


def test_the_drill_escalates_on_its_own_clock_and_reaches_the_person_on_call(network):
    """Nobody answers: `tick` at the wall-clock time when the drill's deadline has passed expires the offer in drill
    time and reaches the person on call (in drill time, their shift) with [DRILL]; the real pass never touched it."""
    drill = start(network)
    first = offers_of(drill.referral_id)[0]
    assert referral_ops.escalation_pass(NOW + timedelta(days=30)) == "0 offer(s) escalated"  # the real pass
    assert ops.tick_drills(NOW + timedelta(minutes=19)) == "1 drill(s) run, 0 ended"
    assert offers_of(drill.referral_id)[0].state == "pending"
    ops.tick_drills(NOW + timedelta(minutes=21))
    offers = offers_of(drill.referral_id)
    assert offers[0].id == first.id and offers[0].state == "expired"
    assert offers[0].answered_at == WEDNESDAY_10AM + timedelta(minutes=21)
    [reached] = events_of(drill.referral_id, "oncall_notified")
    assert "Olive Oncall" in reached.detail and reached.real_at == NOW + timedelta(minutes=21)
    [notice] = notifications_of(network["on_call"].id)
    assert notice.text.startswith("[DRILL] On call for case management")
    assert notice.link == f"/referrals/{drill.referral_id}"
    assert offers[1].state == "pending" and offers[1].deadline_at == WEDNESDAY_10AM + timedelta(minutes=41)


def test_a_drill_in_the_rosters_gap_names_it_and_the_jump_shows_the_escalation_without_waiting(network):
    """Sunday 02:00: nobody is on call. The chair jumps the clock to the deadline: the offer expires, nobody on call
    is reached, the next provider is offered; the report names the gap and the unanswered offer."""
    kind_id = db.session.scalar(select(ResponseKind.id))
    oncall_ops.save_shift(network["chair"], None, dict(  # a backup held by a name only: shown, never notified
        agency_id=network["B"].agency_id, kind_id=kind_id, user_id=None, display_name="Night desk", phone="555-0101",
        role="backup", pattern="weekly", weekdays=list(range(7)), starts=time(20), ends=time(8)), None, NOW)
    drill = start(network, start=SUNDAY_2AM)
    ops.jump_to_next_deadline(network["chair"], drill, NOW + timedelta(minutes=1))
    offers = offers_of(drill.referral_id)
    assert [o.state for o in offers] == ["expired", "pending"]
    assert offers[0].answered_at == SUNDAY_2AM + timedelta(minutes=20)
    assert events_of(drill.referral_id, "oncall_notified") == []
    assert [e.detail for e in events_of(drill.referral_id, "clock_moved")] == [
        "Drill clock moved forward 19 min to the next deadline"]
    report = ops.build_report(fresh(drill.id), NOW + timedelta(minutes=1))
    kinds = [f["kind"] for f in report["findings"]]
    assert "gap" in kinds and "no_answer" in kinds
    gap = next(f["text"] for f in report["findings"] if f["kind"] == "gap")
    assert "Nobody was on call for Case management at Sun 13 Dec 02:00" in gap
    assert report["on_call_at_start"][0]["primaries"] == []
    assert report["on_call_at_start"][0]["backups"] == ["Night desk (Provider B)"]
    assert gap.endswith("only a backup was on.")


def test_two_drills_run_at_once_without_touching_each_other_or_a_real_offer(network):
    real = send_intake(network["police"], NOW, receiver=network["A"].agency_id, urgency="emergency")
    night, day = start(network, start=SUNDAY_2AM), start(network)
    ops.jump_to_next_deadline(network["chair"], night, NOW + timedelta(minutes=1))
    assert [o.state for o in offers_of(night.referral_id)] == ["expired", "pending"]
    assert [o.state for o in offers_of(day.referral_id)] == ["pending"]
    assert [o.state for o in offers_of(real.id)] == ["pending"]
    # The real offer is overdue at NOW + 21 min, and only the real pass takes it.
    ops.tick_drills(NOW + timedelta(minutes=25))
    assert [o.state for o in offers_of(real.id)] == ["pending"]
    assert referral_ops.escalation_pass(NOW + timedelta(minutes=25)) == "1 offer(s) escalated"


def test_acceptance_ends_the_drill_with_both_clocks_and_takes_no_real_capacity(network):
    drill = start(network)
    offer = offers_of(drill.referral_id)[0]
    provider = network["A"] if offer.agency_id == network["A"].agency_id else network["B"]
    slots = db.session.get(Service, provider.service_id).open_slots
    case = referral(drill.referral_id)
    referral_ops.accept(provider.case_manager, case, referral_ops.clock(case, NOW + timedelta(minutes=7)))
    assert db.session.get(Service, provider.service_id).open_slots == slots
    ops.tick_drills(NOW + timedelta(minutes=8))
    drill = fresh(drill.id)
    assert (drill.state, drill.end_reason) == ("ended", "accepted")
    report = drill.report
    assert report["summary"]["accepted_by"] == provider.name
    assert report["summary"]["minutes_to_acceptance"] == 7 and report["summary"]["real_minutes_to_acceptance"] == 7
    [row] = report["offers"]
    assert row["answered_at"] == (WEDNESDAY_10AM + timedelta(minutes=7)).astimezone(UTC).isoformat()
    assert row["answered_real_at"] == (NOW + timedelta(minutes=7)).isoformat() and row["on_time"] is True


def test_no_candidate_at_all_ends_in_the_queue_with_the_reason(network):
    """No active case-management service anywhere, at night: the drill ends unassigned at once."""
    for provider in (network["A"], network["B"]):
        db.session.get(Service, provider.service_id).status = "inactive"
    db.session.commit()
    drill = start(network, start=SUNDAY_2AM)
    drill = fresh(drill.id)
    assert (drill.state, drill.end_reason) == ("ended", "unassigned")
    kinds = [f["kind"] for f in drill.report["findings"]]
    assert "no_candidate" in kinds and "queue" in kinds and "gap" in kinds


def test_a_lapsed_agreement_is_named_in_the_report(network):
    db.session.get(type(network["police"].agency), network["A"].agency_id).mou_renewal_on = datetime(2026, 1, 1).date()
    db.session.commit()
    drill = start(network)
    texts = [f["text"] for f in ops.build_report(fresh(drill.id), NOW)["findings"] if f["kind"] == "lapsed"]
    assert texts == ["Provider A offers case management but could not be offered it: its referral agreement had "
                     "lapsed."]


def test_stop_withdraws_what_waits_and_keeps_the_report(network):
    drill = start(network)
    ops.stop(network["chair"], drill, NOW + timedelta(minutes=3))
    drill = fresh(drill.id)
    assert (drill.state, drill.end_reason) == ("ended", "stopped")
    assert referral(drill.referral_id).state == "withdrawn"
    assert [o.state for o in offers_of(drill.referral_id)] == ["withdrawn"]
    assert "stopped" in [f["kind"] for f in drill.report["findings"]]
    with pytest.raises(ops.DrillRefused):
        ops.stop(network["chair"], drill, NOW + timedelta(minutes=4))


def test_clean_up_removes_every_record_of_the_drill_and_nothing_real(network):
    """Intake, consent, referral, offers, events, notices and unsent mail go; the report, the audit entries and
    everything real stay; an id is never given again."""
    real = send_intake(network["police"], NOW, receiver=network["A"].agency_id, urgency="emergency")
    before = counts()
    real_notices = db.session.scalar(select(func.count()).select_from(Notification))
    drill = start(network, needs=["dental"])  # nobody offers it: an unmet need, the drill's own
    ops.jump_to_next_deadline(network["chair"], drill, NOW + timedelta(minutes=1))
    intake_id, referral_id = drill.intake_id, drill.referral_id
    with pytest.raises(ops.DrillRefused, match="Stop"):
        ops.clean_up(network["chair"], drill, NOW + timedelta(minutes=2))
    ops.stop(network["chair"], drill, NOW + timedelta(minutes=2))
    report = fresh(drill.id).report_json
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    removed = ops.clean_up(network["chair"], fresh(drill.id), NOW + timedelta(minutes=3))
    assert removed["referrals"] == 1 and removed["intakes"] == 1 and removed["notifications"] >= 1
    assert counts() == before
    assert db.session.scalar(select(func.count()).select_from(Notification)) == real_notices
    drill = fresh(drill.id)
    assert drill.state == "cleaned" and drill.report_json == report and drill.intake_id is None
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audits + 1
    assert referral(real.id).state == "offered" and db.session.get(Referral, referral_id) is None
    again = send_intake(network["police"], NOW, receiver=network["A"].agency_id, urgency="emergency")
    assert again.id > referral_id and again.intake_id > intake_id
    with pytest.raises(ops.DrillRefused, match="already"):
        ops.clean_up(network["chair"], drill, NOW + timedelta(minutes=4))


def test_a_drill_moves_no_real_figure(network):
    """The matcher's load (pending offers per provider), the committee queue's count and the unmet needs are the
    same before and after drills that offer, escalate and end in the queue."""
    def figures():
        candidates = intake_ops.load_candidates(db.session.get(ServiceType, type_id("case_management")), NOW)
        return ({c.agency_id: c.pending_offers for c in candidates},
                db.session.scalar(select(func.count()).select_from(
                    referral_ops.queue_query().where(Referral.is_drill.is_(False)).order_by(None).subquery())),
                db.session.scalar(select(func.count()).select_from(UnmetNeed).where(UnmetNeed.is_drill.is_(False))))
    send_intake(network["police"], NOW, receiver=network["A"].agency_id, urgency="emergency")
    before = figures()
    drill = start(network, start=SUNDAY_2AM)
    ops.jump_to_next_deadline(network["chair"], drill, NOW + timedelta(minutes=1))
    ops.jump_to_next_deadline(network["chair"], fresh(drill.id), NOW + timedelta(minutes=2))
    assert referral(drill.referral_id).state == "unassigned"
    assert figures() == before
    assert db.session.scalar(select(func.count()).select_from(Intake).where(Intake.is_drill.is_(True))) == 1


def test_clean_up_removes_the_case_work_done_on_a_drill(network):
    """Accepted, assessed, an appointment and a message: all of it goes with the drill."""
    from csrn.cases import coordination
    from csrn.cases import operations as case_ops
    from csrn.cases.models import Appointment, CaseFile, CaseNeed, Message

    before = counts()
    drill = start(network)
    offer = offers_of(drill.referral_id)[0]
    provider = network["A"] if offer.agency_id == network["A"].agency_id else network["B"]
    case = referral(drill.referral_id)
    referral_ops.accept(provider.case_manager, case, referral_ops.clock(case, NOW + timedelta(minutes=5)))
    later = NOW + timedelta(minutes=10)
    case_ops.start_assessment(provider.case_manager, referral(drill.referral_id), later)
    coordination.save_appointment(provider.case_manager, referral(drill.referral_id), None, {
        "kind": "medical", "provider_agency_id": None, "starts_at": later + timedelta(days=1),
        "duration_minutes": 30, "place": "DRILL clinic", "accompaniment_needed": False,
        "interpreter_needed": False}, later)
    coordination.post_message(provider.case_manager, referral(drill.referral_id), "DRILL message", later)
    ops.tick_drills(later)
    assert fresh(drill.id).state == "ended"
    ops.clean_up(network["chair"], fresh(drill.id), later)
    for model in (CaseFile, CaseNeed, Appointment, Message):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0
    assert counts() == before

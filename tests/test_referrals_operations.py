"""Referral operations without HTTP: accept, decline, withdraw and close by the right people only (AC4),
deadlines in business hours, the escalation pass, offers by hand, and notifications without client details (P5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select

from csrn.audit import operations as audit_ops
from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.directory.models import Service
from csrn.extensions import db
from csrn.notify.models import Notification, OutboxMessage
from csrn.referrals import operations as ops
from csrn.referrals.models import Offer, Referral, ReferralEvent
from csrn.schedules.models import Holiday
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW
from tests.referral_factories import (
    SENTINELS,
    consent_answers,
    events_of,
    make_chair,
    make_provider,
    make_sender,
    new_user,
    notifications_of,
    offers_of,
    referral,
    send_intake,
)

CHICAGO = ZoneInfo("America/Chicago")


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


@pytest.fixture
def world(ctx):
    """Three receivable providers (A, B, C), a sender agency with an author and an agency admin, a chair."""
    a, b, c = (make_provider(f"Provider {n}", case_managers=2, staff=True, open_slots=1) for n in "ABC")
    author = make_sender()
    sender_admin = new_user(author.agency_id, ("agency_admin",))
    chair = make_chair()
    outsider = make_sender(roles=("case_manager",))
    db.session.commit()
    return {"A": a, "B": b, "C": c, "author": author, "sender_admin": sender_admin, "chair": chair,
            "outsider": outsider}


def routed(world, urgency="routine", backups=("B",), **answers) -> Referral:
    """A referral offered to A first, with B (by default) as backup, then the rest."""
    return send_intake(world["author"], NOW, receiver=world["A"].agency_id,
                       backups=[world[name].agency_id for name in backups], urgency=urgency, **answers)


# ----- accept ------------------------------------------------------------------------------------

def test_the_offered_agencys_case_manager_accepts(world):
    """Offer and referral accepted, one event, the slot taken, the sender told; the audit names the field."""
    r = routed(world)
    cm = world["A"].case_manager
    offer = ops.accept(cm, r, NOW + timedelta(minutes=5))
    r = referral(r.id)
    assert (r.state, r.accepted_agency_id) == ("accepted", world["A"].agency_id)
    assert db.session.get(Offer, offer.id).state == "accepted"
    assert db.session.get(Offer, offer.id).answered_by_id == cm.id
    assert len(events_of(r.id, "accepted")) == 1
    assert db.session.get(Service, world["A"].service_id).open_slots == 0
    told = [n.text for n in notifications_of(world["author"].id)]
    assert told == [f"Referral #{r.id} was accepted by Provider A"]
    assert [n.text for n in notifications_of(world["sender_admin"].id)] == told
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "referral.accepted"))
    assert event.fields == "state" and event.object_id == str(r.id)


@pytest.mark.parametrize("who", ["other_provider", "sender", "sender_admin", "staff_of_offered", "outsider",
                                 "chair"])
def test_nobody_else_accepts_or_declines(world, who):
    """AC4: only the offered agency's case managers (or agency admins) answer the offer."""
    r = routed(world)
    actor = {"other_provider": world["B"].case_manager, "sender": world["author"],
             "sender_admin": world["sender_admin"], "staff_of_offered": user(world["A"].staff_id),
             "outsider": world["outsider"], "chair": world["chair"]}[who]
    with pytest.raises(ops.RefusedTransition):
        ops.accept(actor, r, NOW)
    with pytest.raises(ops.RefusedTransition):
        ops.decline(actor, r, "no_capacity", "", NOW)
    r = referral(r.id)
    assert r.state == "offered" and r.pending_offer.agency_id == world["A"].agency_id
    assert events_of(r.id, "accepted") == [] and events_of(r.id, "declined") == []


def test_the_second_acceptance_is_told_someone_else_answered(world):
    """A colleague accepting the same offer a moment later is refused with a clear message and writes no event."""
    r = routed(world)
    first, second = (user(i) for i in world["A"].case_manager_ids)
    ops.accept(first, r, NOW)
    with pytest.raises(ops.RefusedTransition, match="Someone else answered"):
        ops.accept(second, referral(r.id), NOW + timedelta(seconds=1))
    with pytest.raises(ops.RefusedTransition, match="Someone else answered"):
        ops.decline(second, referral(r.id), "no_capacity", "", NOW + timedelta(seconds=1))
    assert len(events_of(r.id, "accepted")) == 1
    assert referral(r.id).accepted_agency_id == world["A"].agency_id


def test_a_stale_copy_loses_at_the_conditional_update(world):
    """R1 without threads: a copy loaded before the first acceptance still loses (rowcount 0), no event."""
    r = routed(world)
    first, second = (user(i) for i in world["A"].case_manager_ids)
    db.session.expire_all()
    stale = db.session.get(Referral, r.id)  # loaded by the second request before the first one commits
    assert stale.pending_offer is not None
    for loaded in (stale, *stale.offers):
        db.session.expunge(loaded)
    ops.accept(first, db.session.get(Referral, r.id), NOW)
    with pytest.raises(ops.RefusedTransition, match="Someone else answered"):
        ops.accept(second, stale, NOW)
    assert len(events_of(r.id, "accepted")) == 1


def test_open_slots_never_below_zero_and_never_blocking(world):
    """R2: slots 1 → 0 on the first acceptance; the second is accepted too and slots stay 0; unknown stays unknown."""
    one, two = routed(world), routed(world)
    cm = world["A"].case_manager
    ops.accept(cm, one, NOW)
    ops.accept(cm, referral(two.id), NOW)
    assert referral(two.id).state == "accepted"
    assert db.session.get(Service, world["A"].service_id).open_slots == 0
    service = db.session.get(Service, world["B"].service_id)
    service.open_slots = None
    db.session.commit()
    three = routed(world, backups=("B",))
    ops.decline(world["A"].case_manager, three, "no_capacity", "", NOW)
    ops.accept(world["B"].case_manager, referral(three.id), NOW)
    assert db.session.get(Service, world["B"].service_id).open_slots is None


def test_accept_after_withdrawal_is_refused(world):
    """A withdrawn referral cannot be accepted; nothing is written."""
    r = routed(world)
    ops.withdraw(world["author"], r, NOW)
    with pytest.raises(ops.RefusedTransition):
        ops.accept(world["A"].case_manager, referral(r.id), NOW)
    assert referral(r.id).state == "withdrawn"
    assert events_of(r.id, "accepted") == []


# ----- decline and escalation on decline ------------------------------------------------------------

def test_decline_offers_the_next_candidate_at_once_and_tells_chairs_and_sender(world):
    """The backup gets the next offer immediately; chairs and the sender are told; the reason is recorded."""
    r = routed(world)
    ops.decline(world["A"].case_manager, r, "no_capacity", "Full this week.", NOW + timedelta(minutes=3))
    r = referral(r.id)
    offers = offers_of(r.id)
    assert [(o.agency_id, o.state) for o in offers] == [(world["A"].agency_id, "declined"),
                                                        (world["B"].agency_id, "pending")]
    assert (offers[0].decline_reason, offers[0].decline_text) == ("no_capacity", "Full this week.")
    assert offers[1].offered_at == NOW + timedelta(minutes=3)
    assert r.state == "offered"
    assert [e.kind for e in events_of(r.id)] == ["created", "offered", "declined", "escalated", "offered"]
    assert any("escalated (declined by Provider A)" in n.text for n in notifications_of(world["chair"].id))
    assert any("escalated" in n.text for n in notifications_of(world["author"].id))
    assert notifications_of(world["B"].case_manager_ids[0])  # the next provider is told of its offer


def test_decline_needs_a_known_reason(world):
    """No reason, or an unknown one: refused, the offer still pending."""
    r = routed(world)
    for reason in ("", "because"):
        with pytest.raises(ops.RefusedTransition):
            ops.decline(world["A"].case_manager, r, reason, "", NOW)
    assert referral(r.id).pending_offer.agency_id == world["A"].agency_id


def test_last_decline_puts_the_referral_in_the_queue(world):
    """Declined by every candidate: unassigned, chairs notified of the queue."""
    r = routed(world)
    for name in ("A", "B", "C"):
        ops.decline(world[name].case_manager, referral(r.id), "not_eligible", "", NOW)
    r = referral(r.id)
    assert r.state == "unassigned" and r.pending_offer is None
    assert events_of(r.id)[-1].kind == "unassigned"
    assert f"Referral #{r.id} is in the committee queue" in [n.text for n in notifications_of(world["chair"].id)]


# ----- withdraw and close ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["author", "sender_admin"])
def test_the_sending_agency_withdraws(world, who):
    """The referral and its pending offer are withdrawn, with an event."""
    r = routed(world)
    ops.withdraw(world[who], r, NOW)
    r = referral(r.id)
    assert r.state == "withdrawn"
    assert [o.state for o in offers_of(r.id)] == ["withdrawn"]
    assert events_of(r.id)[-1].kind == "withdrawn"


@pytest.mark.parametrize("who", ["receiver", "other_provider", "chair", "outsider"])
def test_only_the_sender_withdraws(world, who):
    """AC4: the receiver, another provider, a chair or an outsider cannot withdraw."""
    r = routed(world)
    actor = {"receiver": world["A"].case_manager, "other_provider": world["B"].case_manager,
             "chair": world["chair"], "outsider": world["outsider"]}[who]
    with pytest.raises(ops.RefusedTransition):
        ops.withdraw(actor, r, NOW)
    assert referral(r.id).state == "offered"


def test_an_accepted_referral_cannot_be_withdrawn(world):
    """Once accepted it stays accepted."""
    r = routed(world)
    ops.accept(world["A"].case_manager, r, NOW)
    with pytest.raises(ops.RefusedTransition):
        ops.withdraw(world["author"], referral(r.id), NOW)
    assert referral(r.id).state == "accepted"


def test_the_accepting_agency_closes_with_an_outcome(world):
    """Closed with an outcome, an event, and the sender told (without client details)."""
    r = routed(world, **consent_answers())
    ops.accept(world["A"].case_manager, r, NOW)
    ops.close(world["A"].case_manager, referral(r.id), "engaged", NOW + timedelta(days=3))
    r = referral(r.id)
    assert (r.state, r.outcome) == ("closed", "engaged")
    assert events_of(r.id)[-1].detail == "Closed: Services engaged"
    assert f"Referral #{r.id} was closed (services engaged)" in [n.text for n in notifications_of(world["author"].id)]


@pytest.mark.parametrize("who", ["author", "other_provider", "staff_of_receiver", "chair"])
def test_only_the_accepting_agency_closes(world, who):
    """AC4: the sender, another provider, staff of the receiver and chairs cannot close."""
    r = routed(world)
    ops.accept(world["A"].case_manager, r, NOW)
    actor = {"author": world["author"], "other_provider": world["B"].case_manager,
             "staff_of_receiver": user(world["A"].staff_id), "chair": world["chair"]}[who]
    with pytest.raises(ops.RefusedTransition):
        ops.close(actor, referral(r.id), "engaged", NOW)
    assert referral(r.id).state == "accepted"


def test_no_skipped_states(world):
    """Closing an offered referral, an unknown outcome, or closing twice: refused."""
    r = routed(world)
    with pytest.raises(ops.RefusedTransition):
        ops.close(world["A"].case_manager, r, "engaged", NOW)  # not accepted yet
    ops.accept(world["A"].case_manager, referral(r.id), NOW)
    with pytest.raises(ops.RefusedTransition):
        ops.close(world["A"].case_manager, referral(r.id), "solved", NOW)
    ops.close(world["A"].case_manager, referral(r.id), "lost_contact", NOW)
    with pytest.raises(ops.RefusedTransition):
        ops.close(world["A"].case_manager, referral(r.id), "engaged", NOW)
    assert referral(r.id).outcome == "lost_contact"


# ----- deadlines ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "hours", "holidays", "expected"), [
    # Friday 16:00, two business hours: one on Friday, one on Monday.
    (datetime(2026, 12, 4, 16, 0, tzinfo=CHICAGO), 2, set(), datetime(2026, 12, 7, 10, 0, tzinfo=CHICAGO)),
    # The same across a Monday holiday: Tuesday.
    (datetime(2026, 12, 4, 16, 0, tzinfo=CHICAGO), 2, {date(2026, 12, 7)},
     datetime(2026, 12, 8, 10, 0, tzinfo=CHICAGO)),
    # Saturday: nothing counts until Monday 09:00.
    (datetime(2026, 11, 28, 15, 0, tzinfo=CHICAGO), 8, set(), datetime(2026, 11, 30, 17, 0, tzinfo=CHICAGO)),
    # Before opening on a weekday: counts from 09:00.
    (datetime(2026, 12, 1, 6, 0, tzinfo=CHICAGO), 3, set(), datetime(2026, 12, 1, 12, 0, tzinfo=CHICAGO)),
    # 48 hours from Friday noon over a weekend and Christmas Day (a Friday).
    (datetime(2026, 12, 18, 12, 0, tzinfo=CHICAGO), 48, {date(2026, 12, 25)},
     datetime(2026, 12, 29, 12, 0, tzinfo=CHICAGO)),
    # Across the end of daylight saving time (1 November 2026): local office hours still hold.
    (datetime(2026, 10, 30, 16, 0, tzinfo=CHICAGO), 2, set(), datetime(2026, 11, 2, 16, 0, tzinfo=UTC)),
])
def test_business_deadline_skips_nights_weekends_and_holidays(ctx, start, hours, holidays, expected):
    """Monday to Friday 09:00–17:00 in the task force's zone, holidays skipped."""
    assert ops.business_deadline(start, hours, CHICAGO, holidays) == expected


def _settings(**values):
    row = TaskForceSettings(id=1, name="Task force", timezone="America/Chicago", counties_json="[]",
                            fallback_phone="", emergency_minutes=30, urgent_hours=4, routine_business_hours=48,
                            retention_days=1095, version=1)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.merge(row)
    db.session.commit()


def test_offer_deadlines_by_urgency_and_settings(ctx):
    """Emergency 30 minutes, urgent 4 hours, routine 48 business hours (the zone's, holidays skipped);
    each configurable."""
    _settings()
    db.session.add(Holiday(day=date(2026, 12, 1), name="A holiday"))
    db.session.commit()
    assert ops.offer_deadline("emergency", NOW) == NOW + timedelta(minutes=30)
    assert ops.offer_deadline("urgent", NOW) == NOW + timedelta(hours=4)
    # Saturday 09:00 Chicago: Mon 30 Nov, (Tue 1 Dec a holiday), Wed 2 ... 6 working days later: Tue 8 Dec 17:00.
    assert ops.offer_deadline("routine", NOW) == datetime(2026, 12, 8, 17, 0, tzinfo=CHICAGO)
    _settings(emergency_minutes=10, urgent_hours=1, routine_business_hours=2)
    assert ops.offer_deadline("emergency", NOW) == NOW + timedelta(minutes=10)
    assert ops.offer_deadline("urgent", NOW) == NOW + timedelta(hours=1)
    assert ops.offer_deadline("routine", NOW) == datetime(2026, 11, 30, 11, 0, tzinfo=CHICAGO)


# ----- the escalation pass ---------------------------------------------------------------------------------

def test_the_real_escalation_pass_never_touches_a_drill_and_a_drills_pass_no_real_offer(world):
    """Drills run on their own clock: the real pass filters on the referral's is_drill, a drill's pass on its own
    intake."""
    real = send_intake(world["author"], NOW, receiver=world["A"].agency_id, urgency="emergency")
    drill = send_intake(world["author"], NOW, receiver=world["A"].agency_id, urgency="emergency")
    db.session.get(type(drill), drill.id).is_drill = True
    db.session.commit()
    later = NOW + timedelta(minutes=31)
    assert ops.escalation_pass(later) == "1 offer(s) escalated"
    assert referral(drill.id).pending_offer.agency_id == world["A"].agency_id  # untouched
    assert referral(real.id).pending_offer is None or referral(real.id).pending_offer.agency_id != world["A"].agency_id
    other = ops.DrillClock(intake_id=real.intake_id, offset=timedelta(0))  # another drill's pass: not this one's
    assert ops.escalation_pass(later, drill=other) == "0 offer(s) escalated"
    assert ops.escalation_pass(later, drill=ops.drill_clock(referral(drill.id))) == "1 offer(s) escalated"
    assert referral(drill.id).offers[0].state == "expired"


@pytest.mark.parametrize(("urgency", "deadline"), [
    ("emergency", NOW + timedelta(minutes=30)),
    ("urgent", NOW + timedelta(hours=4)),
    ("routine", datetime(2026, 12, 7, 17, 0, tzinfo=UTC)),  # Saturday: Mon 30 Nov 09:00 + 48 business hours
])
def test_escalation_pass_expires_overdue_offers_and_offers_the_next(world, urgency, deadline):
    """Nothing before the deadline; at it, the offer expires and the backup is offered; a second pass does nothing;
    with no candidate left the referral is unassigned."""
    # Only A and B: C cannot receive any more (its agreement lapses).
    c = db.session.get(Service, world["C"].service_id).agency
    c.mou_renewal_on = date(2026, 1, 1)
    db.session.commit()
    r = send_intake(world["author"], NOW, receiver=world["A"].agency_id, backups=[world["B"].agency_id],
                    urgency=urgency)
    assert r.candidates == [world["A"].agency_id, world["B"].agency_id]
    assert r.pending_offer.deadline_at == deadline

    assert ops.escalation_pass(deadline - timedelta(seconds=1)) == "0 offer(s) escalated"
    assert referral(r.id).pending_offer.agency_id == world["A"].agency_id

    assert ops.escalation_pass(deadline) == "1 offer(s) escalated"
    r = referral(r.id)
    assert [(o.agency_id, o.state) for o in offers_of(r.id)] == [(world["A"].agency_id, "expired"),
                                                                (world["B"].agency_id, "pending")]
    assert [e.kind for e in events_of(r.id)][-4:] == ["offered", "expired", "escalated", "offered"]
    assert any(f"Referral #{r.id} escalated (no answer from Provider A)" == n.text
               for n in notifications_of(world["chair"].id))
    assert any("escalated" in n.text for n in notifications_of(world["author"].id))

    before = db.session.scalar(select(func.count()).select_from(ReferralEvent))
    assert ops.escalation_pass(deadline) == "0 offer(s) escalated"  # idempotent
    assert db.session.scalar(select(func.count()).select_from(ReferralEvent)) == before

    second_deadline = r.pending_offer.deadline_at
    assert second_deadline > deadline
    ops.escalation_pass(second_deadline + timedelta(days=30))
    r = referral(r.id)
    assert r.state == "unassigned" and r.pending_offer is None
    assert [o.state for o in offers_of(r.id)] == ["expired", "expired"]
    assert ops.escalation_pass(second_deadline + timedelta(days=31)) == "0 offer(s) escalated"


def test_the_pass_works_in_chunks_each_offer_once_with_its_timeline_audit_and_notices(world):
    """Five overdue emergencies, two to a chunk: three go on to B, two (nobody left) to the queue; each has one
    expiry, one escalation and one audit entry; chairs, the author and B's case managers are told, by mail too."""
    onward = [routed(world, urgency="emergency").id for _ in range(3)]
    for name in ("B", "C"):  # from now on only A can receive: the next two referrals have no one after A
        db.session.get(Service, world[name].service_id).agency.mou_renewal_on = date(2026, 1, 1)
    db.session.commit()
    stranded = [routed(world, urgency="emergency", backups=()).id for _ in range(2)]
    when = NOW + timedelta(minutes=31)

    assert ops.escalation_pass(when, chunk=2) == "5 offer(s) escalated"

    b = world["B"].agency_id
    for rid in onward:
        assert [(o.agency_id, o.state) for o in offers_of(rid)] == [(world["A"].agency_id, "expired"), (b, "pending")]
        assert [e.kind for e in events_of(rid)][-4:] == ["offered", "expired", "escalated", "offered"]
        assert offers_of(rid)[-1].deadline_at == when + timedelta(minutes=30)
        assert referral(rid).state == "offered"
    for rid in stranded:
        assert [o.state for o in offers_of(rid)] == ["expired"]
        assert [e.kind for e in events_of(rid)][-3:] == ["expired", "escalated", "unassigned"]
        assert referral(rid).state == "unassigned"
    expiries = db.session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "referral.offer_expired"))
    assert sorted(expiries) == sorted(str(rid) for rid in onward + stranded)
    assert audit_ops.verify_chain() == (True, None)
    chair_texts = [n.text for n in notifications_of(world["chair"].id)]
    assert sorted(t for t in chair_texts if "escalated (no answer from Provider A)" in t) == sorted(
        f"Referral #{rid} escalated (no answer from Provider A)" for rid in onward + stranded)
    assert sorted(t for t in chair_texts if "committee queue" in t) == sorted(
        f"Referral #{rid} is in the committee queue" for rid in stranded)
    assert len([n for n in notifications_of(world["author"].id) if "escalated" in n.text]) == 5
    offer_notice = "New emergency referral offer for case management"
    for manager_id in world["B"].case_manager_ids:
        assert [n.text for n in notifications_of(manager_id)] == [offer_notice] * 3
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == db.session.scalar(
        select(func.count()).select_from(Notification))
    assert ops.escalation_pass(when, chunk=2) == "0 offer(s) escalated"


def test_an_answered_offer_is_never_expired(world):
    """Accepted before the pass: the pass leaves it alone."""
    r = routed(world, urgency="emergency")
    ops.accept(world["A"].case_manager, r, NOW + timedelta(minutes=29))
    assert ops.escalation_pass(NOW + timedelta(hours=2)) == "0 offer(s) escalated"
    assert referral(r.id).state == "accepted"


def test_overdue_is_known_before_the_pass(world):
    """`overdue` says so as soon as the deadline passes."""
    r = routed(world, urgency="urgent")
    offer = r.pending_offer
    assert not ops.overdue(offer, NOW + timedelta(hours=3, minutes=59))
    assert ops.overdue(offer, NOW + timedelta(hours=4))


def test_escalate_cli_runs_the_pass_at_the_given_time(app, runner):
    """`flask csrn escalate --now ISO` escalates what is overdue at that time, outside any request."""
    with app.app_context():
        a = make_provider("Provider A")
        make_provider("Provider B")
        r = send_intake(make_sender(), NOW, receiver=a.agency_id, urgency="emergency")
        referral_id = r.id
    early = runner.invoke(args=["csrn", "escalate", "--now", (NOW + timedelta(minutes=10)).isoformat()])
    assert early.exit_code == 0, early.output
    assert "0 offer(s) escalated" in early.output
    result = runner.invoke(args=["csrn", "escalate", "--now", (NOW + timedelta(minutes=31)).isoformat()])
    assert result.exit_code == 0, result.output
    assert "1 offer(s) escalated" in result.output
    with app.app_context():
        assert [o.state for o in offers_of(referral_id)] == ["expired", "pending"]
        link = db.session.scalar(select(Notification.link).where(Notification.text.like("%escalated%")).limit(1))
        assert link == f"/referrals/{referral_id}"


# ----- offers by hand ---------------------------------------------------------------------------------------

def test_chairs_offer_a_queued_referral_by_hand_to_a_receivable_provider(ctx):
    """Only chairs; only referrals in the queue; only providers that can receive referrals."""
    chair = make_chair()
    sender = make_sender()
    r = send_intake(sender, NOW)  # nobody offers case management yet: unassigned
    assert r.state == "unassigned"
    good = make_provider("Late joiner")
    uncertified = make_provider("Uncertified", certified=False)
    shelter_only = make_provider("Shelter only", type_codes=("emergency_shelter",))
    agency = db.session.get(Service, good.service_id).agency
    for actor in (sender, good.case_manager):
        with pytest.raises(ops.RefusedTransition):
            ops.offer_by_hand(actor, r, agency, NOW)
    for provider in (uncertified, shelter_only):
        with pytest.raises(ops.RefusedTransition):
            ops.offer_by_hand(chair, r, db.session.get(Service, provider.service_id).agency, NOW)
    assert referral(r.id).state == "unassigned"
    offer = ops.offer_by_hand(chair, referral(r.id), agency, NOW)
    r = referral(r.id)
    assert (r.state, r.pending_offer.id, offer.offered_by_id) == ("offered", offer.id, chair.id)
    with pytest.raises(ops.RefusedTransition):
        ops.offer_by_hand(chair, r, agency, NOW)  # no longer in the queue
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "referral.offered_by_hand"))


# ----- queries -----------------------------------------------------------------------------------------------

def test_the_inbox_leaves_each_referrals_intake_unloaded(world):
    """The inbox shows each offer's referral (urgency, service, sender) and nothing of its intake: the intake — the
    client's encrypted fields — is not read or decrypted for it, and is still there when something asks for it."""
    offered = routed(world)
    referral_id, intake_id = offered.id, offered.intake_id
    receiver = world["A"].case_manager
    db.session.expunge_all()
    inbox = db.session.scalars(ops.inbox_query(db.session.merge(receiver))).all()
    assert [o.referral_id for o in inbox] == [referral_id]
    state = inspect(inbox[0].referral)
    assert "intake" in state.unloaded
    assert {"service_type", "sending_agency", "urgency"} <= set(state.dict)
    assert inbox[0].referral.intake.id == intake_id  # loaded on demand


def test_inbox_queue_and_list_scopes(world):
    """The inbox holds my agency's pending offers; the queue the unassigned; the list what I may see."""
    offered = routed(world)
    emergency = routed(world, urgency="emergency")
    for name in ("A", "B", "C"):
        ops.decline(world[name].case_manager, referral(emergency.id), "no_capacity", "", NOW)
    inbox = db.session.scalars(ops.inbox_query(world["A"].case_manager)).all()
    assert [o.referral_id for o in inbox] == [offered.id]
    assert db.session.scalars(ops.inbox_query(world["B"].case_manager)).all() == []
    assert [r.id for r in db.session.scalars(ops.queue_query())] == [emergency.id]
    assert [r.id for r in db.session.scalars(ops.list_query(world["author"]))] == [emergency.id, offered.id]
    assert [r.id for r in db.session.scalars(ops.list_query(world["chair"]))] == [emergency.id]
    assert [r.id for r in db.session.scalars(ops.list_query(world["outsider"]))] == []
    assert [r.id for r in db.session.scalars(ops.list_query(world["author"], "offered"))] == [offered.id]
    for r in db.session.scalars(select(Referral)):
        for who in (world["A"].case_manager, world["B"].case_manager, world["chair"], world["outsider"],
                    world["author"], user(world["A"].staff_id)):
            listed = r.id in {x.id for x in db.session.scalars(ops.visible_query(who))}
            assert listed == (ops.relation(r, who) is not None), (r.id, who.email)


# ----- P5: notifications carry no client information ---------------------------------------------------------

def test_no_notification_or_mail_contains_identifying_information(world):
    """Through offer, decline, escalation, expiry, queue, hand offer, acceptance, close and withdrawal, with
    consent for everything: no notification text or link and no outbox subject or body holds a sentinel."""
    answers = consent_answers(with_=("receiver", "backups", "chairs"),
                              categories=("identity", "contact", "immigration", "health", "narrative"))
    one = routed(world, urgency="emergency", **answers)
    ops.decline(world["A"].case_manager, one, "safety", "", NOW)
    ops.escalation_pass(NOW + timedelta(hours=1))
    ops.decline(world["C"].case_manager, referral(one.id), "language", "", NOW + timedelta(hours=1))
    assert referral(one.id).state == "unassigned"
    ops.offer_by_hand(world["chair"], referral(one.id), db.session.get(Service, world["A"].service_id).agency,
                      NOW + timedelta(hours=2))
    ops.accept(world["A"].case_manager, referral(one.id), NOW + timedelta(hours=2))
    ops.close(world["A"].case_manager, referral(one.id), "engaged", NOW + timedelta(days=2))
    two = routed(world, **answers)
    ops.withdraw(world["author"], two, NOW)

    notifications = db.session.scalars(select(Notification)).all()
    mails = db.session.scalars(select(OutboxMessage)).all()
    assert len(notifications) > 10 and len(mails) == len(notifications)
    for n in notifications:
        assert not any(s in n.text or s in n.link for s in SENTINELS), n.text
    for m in mails:
        assert not any(s in m.subject or s in m.body for s in SENTINELS), m.subject
        assert "http://localhost/referrals/" in m.body  # a link, built from CSRN_BASE_URL
    for e in db.session.scalars(select(ReferralEvent)):
        assert not any(s in e.detail for s in SENTINELS)


def test_the_queue_lists_a_referral_escalated_and_still_on_offer(world):
    """A decline moves the referral to its backup and marks it escalated: the chairs' queue lists it (on offer),
    while a referral nobody has declined stays out of it."""
    fresh = routed(world)
    moved = routed(world, urgency="urgent")
    ops.decline(world["A"].case_manager, referral(moved.id), "no_capacity", "", NOW)
    assert referral(moved.id).state == "offered" and referral(moved.id).escalated_at == NOW
    assert referral(fresh.id).escalated_at is None
    assert [r.id for r in db.session.scalars(ops.queue_query())] == [moved.id]

"""Intake operations without HTTP: drafts and their purge, submission in one transaction (R4, R5), unmet needs,
the committee queue when nothing matches, consent validity and scope (P1), pathways that fit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text
from werkzeug.exceptions import NotFound

from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.intake.models import Intake, IntakeDraft, UnmetNeed
from csrn.notify.models import Notification, OutboxMessage
from csrn.pathways.operations import save_pathway
from csrn.referrals import consent as consent_ops
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Consent, Offer, Referral
from tests.conftest import NOW
from tests.referral_factories import (
    ALIAS,
    SENTINELS,
    answers_for,
    consent_answers,
    counts,
    make_chair,
    make_provider,
    make_sender,
    notifications_of,
    offers_of,
    send_intake,
    type_id,
)

# ----- drafts ------------------------------------------------------------------------------------


def test_a_draft_keeps_every_answer_and_merges_steps(ctx):
    """Each step's answers are merged into the draft; the furthest step is remembered."""
    user = make_sender()
    draft = intake_ops.start_draft(user, {"urgency": "urgent", "county": "Cedar"}, NOW)
    intake_ops.save_draft(draft, {"alias": ALIAS, "age_group": "minor"}, 2, NOW + timedelta(minutes=1))
    intake_ops.save_draft(draft, {"county": "Alder"}, 1, NOW + timedelta(minutes=2))
    db.session.expire_all()
    stored = db.session.get(IntakeDraft, draft.id)
    assert stored.answers == {"urgency": "urgent", "county": "Alder", "alias": ALIAS, "age_group": "minor"}
    assert stored.step == 2 and stored.updated_at == NOW + timedelta(minutes=2)
    raw = db.session.execute(text("SELECT data FROM intake_draft WHERE id = :id"), {"id": draft.id}).scalar_one()
    assert ALIAS not in raw  # identifying answers are encrypted at rest


def test_a_suspended_agency_cannot_start_an_intake(ctx):
    """Any active user of any agency that is not suspended; a suspended agency's users are refused."""
    applicant = make_sender(membership_status="applicant")
    assert intake_ops.can_start_intake(applicant)
    suspended = make_sender(membership_status="suspended")
    with pytest.raises(intake_ops.CannotStartIntake):
        intake_ops.start_draft(suspended, {"urgency": "routine"}, NOW)
    assert db.session.scalar(select(IntakeDraft).where(IntakeDraft.user_id == suspended.id)) is None


def test_drafts_belong_to_their_author(ctx):
    """Listed only to the owner; anyone else's draft is a 404, even a colleague's."""
    owner = make_sender()
    colleague = db.session.get(User, make_sender().id)
    colleague.agency_id = owner.agency_id
    db.session.commit()
    draft = intake_ops.start_draft(owner, {"urgency": "routine"}, NOW)
    assert [d.id for d in intake_ops.drafts_of(owner)] == [draft.id]
    assert intake_ops.drafts_of(colleague) == []
    assert intake_ops.get_draft_or_404(draft.id, owner).id == draft.id
    with pytest.raises(NotFound):
        intake_ops.get_draft_or_404(draft.id, colleague)


def test_purge_deletes_drafts_unused_for_seven_days(ctx):
    """Unused 7 days and a minute: gone; unused 6 days 23 hours: kept; recently resumed: kept."""
    user = make_sender()
    old = intake_ops.start_draft(user, {"urgency": "routine"}, NOW - timedelta(days=7, minutes=1))
    young = intake_ops.start_draft(user, {"urgency": "routine"}, NOW - timedelta(days=6, hours=23))
    resumed = intake_ops.start_draft(user, {"urgency": "routine"}, NOW - timedelta(days=30))
    intake_ops.save_draft(resumed, {"county": "Alder"}, 1, NOW - timedelta(days=1))
    ids = old.id, young.id, resumed.id
    assert intake_ops.purge_drafts(NOW) == "1 draft(s) purged"
    db.session.expire_all()
    assert db.session.get(IntakeDraft, ids[0]) is None
    assert db.session.get(IntakeDraft, ids[1]) is not None
    assert db.session.get(IntakeDraft, ids[2]) is not None


# ----- submission ----------------------------------------------------------------------------------

def test_submit_creates_intake_consent_referral_and_first_offer(ctx):
    """The chosen receiver is offered first, then the backups in order, then the other matches; its case
    managers are notified; the draft is gone; the audit row names fields, never values."""
    first, second, third = (make_provider(f"Provider {n}") for n in "ABC")
    sender = make_sender()
    referral = send_intake(sender, receiver=second.agency_id, backups=[third.agency_id],
                           **consent_answers(with_=("receiver",), categories=("identity",)))
    assert referral.state == "offered"
    assert referral.candidates == [second.agency_id, third.agency_id, first.agency_id]
    assert [(o.agency_id, o.state) for o in offers_of(referral.id)] == [(second.agency_id, "pending")]
    assert referral.sending_agency_id == sender.agency_id and referral.created_by_id == sender.id
    assert not referral.is_drill
    intake = referral.intake
    assert (intake.urgency, intake.county, intake.age_group, intake.gender, intake.trafficking_type) == (
        "routine", "Alder", "25_plus", "female", "sex")
    assert intake.alias == ALIAS
    consent = consent_ops.consent_of(intake)
    assert consent.given and consent.how == "verbal" and consent.with_receiver and not consent.with_backups
    assert consent.categories == ["identity"] and consent.given_on == date(2026, 11, 1)
    assert db.session.scalar(select(IntakeDraft).where(IntakeDraft.user_id == sender.id)) is None
    assert [n.link for n in notifications_of(second.case_manager_ids[0])] == [f"/referrals/{referral.id}"]
    assert notifications_of(first.case_manager_ids[0]) == []
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "intake.submitted"))
    assert "alias" in event.fields.split(",")
    assert not any(s in event.fields for s in SENTINELS)


def test_without_consent_nothing_identifying_is_shared(ctx):
    """P2: no consent still routes; the consent record says not given and shares nothing."""
    provider = make_provider()
    referral = send_intake(make_sender(), consent="no", alias=ALIAS)
    assert referral.state == "offered" and referral.pending_offer.agency_id == provider.agency_id
    consent = consent_ops.consent_of(referral.intake)
    assert not consent.given and consent.how == "none" and consent.categories == []
    assert consent_ops.shared_categories(referral, provider.agency_id, False, NOW) == set()


def test_the_same_submission_twice_creates_one_referral(ctx):
    """R4: a repeated submission (same key) returns the first referral and creates nothing."""
    make_provider()
    sender = make_sender()
    draft = intake_ops.start_draft(sender, {}, NOW)
    intake_ops.save_draft(draft, answers_for(), 5, NOW)
    key = draft.submission_key
    first = intake_ops.submit(sender, draft, key, NOW)
    before = counts()
    again = intake_ops.submit(sender, None, key, NOW + timedelta(seconds=2))
    assert again.id == first.id
    assert counts() == before
    assert len(db.session.scalars(select(Intake).where(Intake.submission_key == key)).all()) == 1


def test_a_failure_in_the_middle_leaves_nothing_and_keeps_the_draft(ctx, monkeypatch):
    """R5: the referral and its offer, notifications and outbox are written, then something fails: the rollback
    takes the intake, consent, unmet needs and everything else with it; the draft survives."""
    make_provider()
    sender = make_sender()
    make_chair()
    draft = intake_ops.start_draft(sender, {}, NOW)
    intake_ops.save_draft(draft, {**answers_for(needs=["case_management", "dental"]), **consent_answers()}, 5, NOW)
    before = counts()
    real = referral_ops.create_referral

    def create_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        db.session.flush()
        assert db.session.scalar(select(Offer.id)) is not None  # the offer really was written
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(referral_ops, "create_referral", create_then_fail)
    with pytest.raises(RuntimeError):
        intake_ops.submit(sender, draft, draft.submission_key, NOW)
    db.session.rollback()  # what the request's teardown does
    assert counts() == before
    assert db.session.get(IntakeDraft, draft.id).answers["alias"] == ALIAS
    for model in (Intake, Consent, Referral, Offer, UnmetNeed, Notification, OutboxMessage):
        assert db.session.scalar(select(model.id)) is None


def test_unmet_needs_are_recorded_for_needs_nobody_can_receive(ctx):
    """A need with no receivable provider for this person is recorded with the dimensions; served ones are not.
    Opening hours do not make a need unmet, even for an emergency."""
    make_provider("Case managers", type_codes=("case_management", "medical"))
    make_provider("Adults-only dentist", type_codes=("dental",), facets={"age": ["25_plus"]})
    make_provider("Uncertified shelter", type_codes=("emergency_shelter",), certified=False)
    make_provider("Daytime clinic", type_codes=("mental_health",), is_24_7=False)
    referral = send_intake(make_sender(), urgency="emergency", age_group="minor", county="Cedar",
                           needs=["case_management", "medical", "dental", "emergency_shelter", "mental_health"])
    unmet = db.session.scalars(select(UnmetNeed).where(UnmetNeed.intake_id == referral.intake_id)).all()
    assert {u.service_type_id for u in unmet} == {type_id("dental"), type_id("emergency_shelter")}
    for need in unmet:
        assert (need.age_group, need.gender, need.citizenship, need.trafficking_type, need.county) == (
            "minor", "female", "unknown", "sex", "Cedar")
        assert need.recorded_on == NOW.date()


def test_no_case_management_match_goes_to_the_committee_queue(ctx):
    """Nobody can take it: the referral is unassigned, no offer, chairs notified, case management unmet."""
    make_provider("Daytime only", is_24_7=False)  # closed now: no emergency match
    chair = make_chair()
    sender = make_sender()
    referral = send_intake(sender, urgency="emergency", **consent_answers())
    assert referral.state == "unassigned"
    assert offers_of(referral.id) == []
    texts = [n.text for n in notifications_of(chair.id)]
    assert texts == [f"Referral #{referral.id} is in the committee queue"]
    assert not any(s in t for t in texts for s in SENTINELS)
    assert db.session.scalars(select(UnmetNeed.service_type_id).where(UnmetNeed.intake_id == referral.intake_id)
                              ).all() == []  # the daytime provider could receive it on another day


def test_case_management_nobody_offers_is_an_unmet_need(ctx):
    """With no case-management provider in the network, case management is recorded as unmet too."""
    make_chair()
    referral = send_intake(make_sender(), needs=["case_management", "transport"])
    assert referral.state == "unassigned"
    unmet = db.session.scalars(select(UnmetNeed.service_type_id).where(UnmetNeed.intake_id == referral.intake_id))
    assert set(unmet) == {type_id("case_management"), type_id("transport")}


def test_posted_receiver_outside_the_matches_is_ignored(ctx):
    """A receiver that is not a match (say, not certified) is never offered; the top match is."""
    good = make_provider("Good")
    uncertified = make_provider("Uncertified", certified=False)
    referral = send_intake(make_sender(), receiver=uncertified.agency_id, backups=[uncertified.agency_id])
    assert referral.candidates == [good.agency_id]
    assert referral.pending_offer.agency_id == good.agency_id


# ----- consent -------------------------------------------------------------------------------------

def test_consent_validity(ctx):
    """Given, not revoked, not past its expiry date (valid through the expiry day)."""
    make_provider()
    referral = send_intake(make_sender(), **consent_answers(expires="2026-11-28"))
    consent = consent_ops.consent_of(referral.intake)
    assert consent_ops.consent_valid(consent, NOW)
    assert not consent_ops.consent_valid(consent, NOW + timedelta(days=1))
    consent.expires_on = None
    assert consent_ops.consent_valid(consent, NOW + timedelta(days=3650))
    consent.given = False
    assert not consent_ops.consent_valid(consent, NOW)
    assert not consent_ops.consent_valid(None, NOW)


def test_consent_scope_receiver_backups_named_and_chairs(ctx):
    """The receiver, the chosen backups, named agencies and chairs each only when the consent covers them."""
    receiver, backup, other_match, named = (make_provider(n) for n in ("R", "B", "O", "N"))
    sender = make_sender()

    def scope(with_, agencies=()):
        referral = send_intake(sender, receiver=receiver.agency_id, backups=[backup.agency_id],
                               **consent_answers(with_=with_, consent_agencies=list(agencies)))
        return {name: consent_ops.shared_categories(referral, p.agency_id, False, NOW)
                for name, p in (("receiver", receiver), ("backup", backup), ("other", other_match),
                                ("named", named))} | {
            "chair": consent_ops.shared_categories(referral, None, True, NOW)}

    both = {"identity", "contact"}
    assert scope(("receiver",)) == {"receiver": both, "backup": set(), "other": set(), "named": set(),
                                    "chair": set()}
    assert scope(("backups",)) == {"receiver": set(), "backup": both, "other": set(), "named": set(),
                                   "chair": set()}
    assert scope(("chairs",)) == {"receiver": set(), "backup": set(), "other": set(), "named": set(),
                                  "chair": both}
    assert scope((), agencies=[named.agency_id]) == {"receiver": set(), "backup": set(), "other": set(),
                                                     "named": both, "chair": set()}


def test_revoking_hides_everything_at_once_and_is_audited(ctx):
    """After revocation no one it covered sees anything; the audit row names the field, not values."""
    receiver = make_provider()
    sender = make_sender()
    referral = send_intake(sender, **consent_answers(with_=("receiver", "backups", "chairs")))
    assert consent_ops.shared_categories(referral, receiver.agency_id, False, NOW) == {"identity", "contact"}
    consent_ops.revoke_consent(sender, referral.intake, NOW + timedelta(hours=1))
    assert consent_ops.shared_categories(referral, receiver.agency_id, False, NOW + timedelta(hours=1)) == set()
    assert consent_ops.shared_categories(referral, None, True, NOW + timedelta(hours=1)) == set()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "consent.revoked"))
    assert event.fields == "revoked_at" and event.actor_id == sender.id
    consent_ops.revoke_consent(sender, referral.intake, NOW + timedelta(hours=2))  # twice: nothing new
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "consent.revoked")).all()) == 1


def test_extra_answers_in_a_draft_never_set_ownership_or_drill(ctx):
    """AC3 at the operation: whatever a draft holds, the intake and referral belong to the actor's agency."""
    make_provider()
    sender = make_sender()
    other = make_sender()
    draft = intake_ops.start_draft(sender, {}, NOW)
    intake_ops.save_draft(draft, {**answers_for(), "agency_id": other.agency_id, "created_by_id": other.id,
                                  "is_drill": True, "state": "accepted", "sending_agency_id": other.agency_id}, 5, NOW)
    referral = intake_ops.submit(sender, draft, draft.submission_key, NOW)
    assert (referral.intake.agency_id, referral.intake.created_by_id, referral.intake.is_drill) == (
        sender.agency_id, sender.id, False)
    assert (referral.sending_agency_id, referral.state, referral.is_drill) == (sender.agency_id, "offered", False)


# ----- pathways ------------------------------------------------------------------------------------

def test_fitting_pathways_use_the_dimensions_and_unknown_fits(ctx):
    """A pathway for foreign nationals fits a foreign national and an unknown citizenship, not a U.S. citizen."""
    chair = make_chair()
    save_pathway(chair, None, {"name": "Foreign nationals, labour"},
                 {"citizenship": ["foreign"], "trafficking": ["labour"]},
                 [(type_id("immigration_legal"), "T visa screening first.")], None, NOW)
    save_pathway(chair, None, {"name": "Anyone"}, {}, [(type_id("case_management"), "")], None, NOW)
    names = [p.name for p in intake_ops.fitting_pathways({"citizenship": "foreign", "trafficking_type": "labour"})]
    assert names == ["Anyone", "Foreign nationals, labour"]
    assert [p.name for p in intake_ops.fitting_pathways({"citizenship": "unknown"})] == [
        "Anyone", "Foreign nationals, labour"]
    assert [p.name for p in intake_ops.fitting_pathways({"citizenship": "us", "trafficking_type": "labour"})] == [
        "Anyone"]
    assert [p.name for p in intake_ops.fitting_pathways({"trafficking_type": "sex"})] == ["Anyone"]

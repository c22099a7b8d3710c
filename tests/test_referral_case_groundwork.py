"""Groundwork for case work (the case-work issue's "fix first"): onward referrals sent by the case-holding agency
with a link to their case, drills passed down, the intake's author limited to the case itself, consent for onward
providers, and closed_at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from csrn.extensions import db
from csrn.referrals import consent as consent_ops
from csrn.referrals import operations as referral_ops
from tests.conftest import NOW
from tests.referral_factories import consent_answers, make_provider, make_sender, send_intake, type_id


def accepted_case(with_=("receiver",), named=()):
    """A case-management referral accepted by its receiver, the provider, and the officer who sent it."""
    receiver = make_provider("Case holder")
    officer = make_sender()
    case = send_intake(officer, receiver=receiver.agency_id,
                       **consent_answers(with_=with_, consent_agencies=list(named)))
    referral_ops.accept(receiver.case_manager, case, NOW + timedelta(minutes=5))
    return db.session.get(type(case), case.id), receiver, officer


def onward(case, receiver, to_agency_id: int, service: str = "case_management", is_drill: bool = False):
    """An onward referral of the case, sent by the case holder's case manager."""
    return referral_ops.create_referral(receiver.case_manager, case.intake, type_id(service), [to_agency_id],
                                        NOW + timedelta(hours=1), is_drill=is_drill, parent=case)


def test_an_onward_referral_is_sent_by_the_case_holder_and_linked_to_its_case(ctx):
    """Not by the intake's agency: the agency holding the case sends it, and it names the case."""
    case, receiver, officer = accepted_case()
    legal = make_provider("Legal aid")
    child = onward(case, receiver, legal.agency_id)
    assert child.sending_agency_id == receiver.agency_id != officer.agency_id
    assert child.parent_id == case.id and child.parent.id == case.id
    assert child.pending_offer.agency_id == legal.agency_id
    assert not child.is_drill


def test_a_drill_case_makes_drill_children(ctx):
    """is_drill passes from a parent to its children, whatever the caller says."""
    case, receiver, _ = accepted_case()
    case.is_drill = True
    db.session.commit()
    assert onward(case, receiver, make_provider("Clinic").agency_id).is_drill


def test_the_intakes_author_follows_the_case_only(ctx):
    """The officer who wrote the intake is the case's author, and sees nothing of an onward referral."""
    case, receiver, officer = accepted_case()
    child = onward(case, receiver, make_provider("Shelter").agency_id)
    assert referral_ops.relation(case, officer) == "author"
    assert referral_ops.relation(child, officer) is None
    visible = set(db.session.scalars(referral_ops.visible_query(officer).with_only_columns(text("referral.id"))))
    assert case.id in visible and child.id not in visible
    assert referral_ops.relation(child, receiver.case_manager) == "sender"


@pytest.mark.parametrize("with_, named, onward_sees", [
    (("receiver",), False, False),  # consent for the chosen receiver never reaches onward providers
    (("receiver", "onward"), False, True),
    ((), True, True),  # an agency named in the consent
])
def test_consent_reaches_an_onward_receiver_only_when_it_covers_it(ctx, with_, named, onward_sees):
    """DESIGN §5 "onward receivers": identifying information only if consent covers them."""
    legal = make_provider("Legal aid")
    case, receiver, _ = accepted_case(with_=with_, named=[legal.agency_id] if named else ())
    child = onward(case, receiver, legal.agency_id)
    referral_ops.accept(legal.case_manager, child, NOW + timedelta(hours=2))
    child = db.session.get(type(child), child.id)
    shared = consent_ops.shared_categories(child, legal.agency_id, False, NOW + timedelta(hours=3))
    assert shared == ({"identity", "contact"} if onward_sees else set())
    assert referral_ops.relation(child, legal.case_manager) == "receiver"


def test_closing_sets_closed_at(ctx):
    """closed_at is when the case was closed (reporting and the retention purge count from it)."""
    case, receiver, _ = accepted_case()
    assert case.closed_at is None
    referral_ops.close(receiver.case_manager, case, "engaged", NOW + timedelta(days=3))
    assert db.session.get(type(case), case.id).closed_at == NOW + timedelta(days=3)

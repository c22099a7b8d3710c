"""What the person on call may see and receive (the security review's findings): the summary only while nobody has
the case, the backup only when the primary leaves within an emergency deadline, feeds audited and stopped with the
account's other credentials, stable feed UIDs."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from csrn.audit.models import AuditEvent
from csrn.auth import operations as auth_ops
from csrn.auth import tokens
from csrn.auth.models import User
from csrn.extensions import db
from csrn.oncall import feeds
from csrn.oncall.models import ResponseKind, Shift
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral
from tests.conftest import NOW, Browser
from tests.referral_factories import make_provider, make_sender, new_agency, new_user, send_intake, type_id


def kind_for(code: str = "case_management") -> ResponseKind:
    """A 24/7 kind answering for a service type."""
    from csrn.directory.models import ServiceType

    kind = ResponseKind(name=f"Kind {code}", required_24_7=True, created_at=NOW, updated_at=NOW,
                        service_types=[db.session.get(ServiceType, type_id(code))])
    db.session.add(kind)
    db.session.commit()
    return kind


def shift_for(kind, user, role="primary", starts=time(0), ends=time(0)) -> Shift:
    """A weekly shift every day (00:00 to 00:00: around the clock) unless told otherwise."""
    shift = Shift(agency_id=user.agency_id, kind_id=kind.id, user_id=user.id, phone="555 0100", role=role,
                  pattern="weekly", weekdays="0 1 2 3 4 5 6", starts=starts, ends=ends, created_at=NOW,
                  updated_at=NOW)
    db.session.add(shift)
    db.session.commit()
    return shift


@pytest.fixture
def on_call_officer(ctx):
    """A 24/7 case-management kind whose primary is an officer of a police department (cannot receive)."""
    police = new_agency("Police on call", agreement=False)
    officer = new_user(police.id, roles=("staff",))
    shift_for(kind_for(), officer)
    return officer


def expire_first_offer(referral) -> Referral:
    """Let the pending offer run out and escalate it."""
    deadline = referral.pending_offer.deadline_at
    referral_ops.escalation_pass(deadline + timedelta(minutes=1))
    return db.session.get(Referral, referral.id)


def test_the_person_on_call_sees_the_summary_only_while_nobody_has_the_case(on_call_officer):
    """Reached on an escalation: the summary, not who took the person in once a provider accepts."""
    first, second = make_provider("First refuge"), make_provider("Second refuge")
    referral = send_intake(make_sender(), receiver=first.agency_id, backups=[second.agency_id], urgency="urgent")
    referral = expire_first_offer(referral)
    assert referral_ops.relation(referral, on_call_officer) == "oncall"
    assert referral.id in db.session.scalars(referral_ops.visible_query(on_call_officer).with_only_columns(
        Referral.id)).all()
    referral_ops.accept(second.case_manager, referral, NOW + timedelta(hours=6))
    referral = db.session.get(Referral, referral.id)
    assert referral_ops.relation(referral, on_call_officer) is None
    assert referral.id not in db.session.scalars(referral_ops.visible_query(on_call_officer).with_only_columns(
        Referral.id)).all()


def test_the_on_call_page_hides_the_timeline_and_who_was_offered(app, on_call_officer):
    """The page the person on call opens: the sender's phone, no timeline, no provider named."""
    first, second = make_provider("Hidden refuge one"), make_provider("Hidden refuge two")
    referral = send_intake(make_sender(), receiver=first.agency_id, backups=[second.agency_id], urgency="urgent")
    referral = expire_first_offer(referral)
    email = on_call_officer.email
    db.session.commit()
    client = Browser(app.test_client())
    client.login(email)
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "You were reached as the person on call" in html
    assert "Hidden refuge" not in html and "Timeline" not in html


def test_a_routine_escalation_wakes_the_backup_only_if_the_primary_leaves_within_an_emergency_deadline(ctx):
    """The window is the emergency deadline (the offer the on-call agency gets), not 48 business hours."""
    kind = kind_for()
    primary_agency, backup_agency = new_agency("Primary desk", agreement=False), new_agency("Backup desk",
                                                                                            agreement=False)
    primary, backup = new_user(primary_agency.id), new_user(backup_agency.id)
    shift_for(kind, primary)  # around the clock: never leaves within 30 minutes
    shift_for(kind, backup, role="backup")
    provider = make_provider("Routine refuge")
    referral = expire_first_offer(send_intake(make_sender(), receiver=provider.agency_id, urgency="routine"))
    assert referral_ops.relation(referral, primary) == "oncall"
    assert referral_ops.relation(referral, backup) is None


def test_feeds_are_audited_and_stop_with_a_password_change(app, login_as):
    """Making and stopping a feed are audited; a password change stops every feed of the account."""
    client = login_as(roles=("staff",))
    page = client.get("/oncall/feeds")
    assert page.status_code == 200
    made = client.post("/oncall/feeds/oncall-mine", {})
    url = made.get_data(as_text=True).split('<code class="secret">')[1].split("<")[0]
    path = url.split("127.0.0.1", 1)[-1].split("localhost", 1)[-1]
    path = path[path.index("/oncall/feeds/"):]
    assert client.client.get(path).status_code == 200
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert "oncall.feed_made" in actions
        user = db.session.get(User, client.user.id)
        auth_ops.change_password(user, "a brand new passphrase for the feed test", NOW)
    assert app.test_client().get(path).status_code == 404


def test_an_occurrence_running_at_the_windows_edge_keeps_its_uid(ctx):
    """Two polls an hour apart give the same UID for a shift running across the start of the feed's window."""
    agency = new_agency("Feed desk", agreement=False)
    user = new_user(agency.id)
    shift_for(kind_for("safety_planning"), user, starts=time(20), ends=time(8))
    raw = tokens.issue_access("oncall-mine", user, NOW)
    db.session.commit()
    token = tokens.find_access("oncall-mine", raw, NOW)

    def uids(at):
        return {str(event["uid"]) for event in Calendar.from_ical(feeds.calendar(token, at)).walk("VEVENT")}

    # The feed's window starts a week back: at 23:00 and at 00:00 it starts inside the same 20:00–08:00 shift.
    at = NOW.replace(hour=23)
    first, second = uids(at), uids(at + timedelta(hours=1))
    assert first and first == second

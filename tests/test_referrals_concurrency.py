"""Exactly once, for real (SECURITY R1, R2, L1): threads commit to a database of their own (SQLite file or a
fresh PostgreSQL database), each request in its own client and app context.

- 20 case managers accept one referral at the same moment: one acceptance, one `accepted` event, no 500, the
  others told someone else answered.
- An accept racing a withdrawal: one winner, and the loser is told; a withdrawal racing the escalation pass
  leaves no offer pending.
- Two escalation passes at once: each overdue offer escalated once; two chairs offering by hand, one offer.
- 20 referrals accepted at once by a service with 3 open slots: all accepted, slots 0.
- The audit chain stays valid throughout.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from csrn.audit import operations as audit
from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.directory.models import Service
from csrn.extensions import db
from csrn.referrals import operations as ops
from csrn.referrals.models import Offer, Referral, ReferralEvent
from tests.conftest import Browser
from tests.referral_factories import make_chair, make_provider, make_sender, send_intake

pytestmark = pytest.mark.concurrency


@pytest.fixture
def default_session_mode():
    """Give sessions SQLAlchemy's default join mode (conftest's teardown sets an unknown one)."""
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def capp(committed_app, default_session_mode):
    return committed_app


def run_together(count: int, work) -> list:
    """Run work(i) in `count` threads released at the same moment; re-raise the first error."""
    start = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=60)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert not errors, errors
    return results


def browser_for(app, email: str, n: int) -> Browser:
    """A logged-in client of its own, from an address of its own (login limits are per address)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.0.{n // 200}.{n % 200 + 1}"
    b = Browser(client)
    b.login(email)
    return b


def post_and_read(b: Browser, url: str, token: str, page: str) -> tuple[int, str]:
    """POST with the token a page gave earlier; return the status and the page the redirect leads to."""
    response = b.client.post(url, data={"csrf_token": token})
    if response.status_code != 303:
        return response.status_code, response.get_data(as_text=True)
    return 303, b.get(response.headers["Location"]).get_data(as_text=True)


def chain_is_intact(app) -> None:
    with app.app_context():
        assert audit.verify_chain() == (True, None)
        db.session.remove()


def test_twenty_simultaneous_accepts_of_one_referral(capp):
    """One acceptance, one `accepted` event, one slot taken, no 500; the 19 others told someone else answered."""
    with capp.app_context():
        now = utcnow()
        provider = make_provider("Receiver", now=now, case_managers=20, open_slots=5)
        referral_id = send_intake(make_sender(), now, receiver=provider.agency_id).id
        emails = provider.case_manager_emails
        db.session.remove()
    browsers = [browser_for(capp, email, n) for n, email in enumerate(emails)]
    url = f"/referrals/{referral_id}"
    tokens = [b.token(url) for b in browsers]  # every page loaded before anyone clicks

    results = run_together(20, lambda i: post_and_read(browsers[i], f"{url}/accept", tokens[i], url))

    statuses = [status for status, _ in results]
    assert statuses == [303] * 20, statuses
    winners = [html for _, html in results if "Accepted. The sender has been told" in html]
    losers = [html for _, html in results if "Someone else answered this offer first." in html]
    assert (len(winners), len(losers)) == (1, 19)
    with capp.app_context():
        referral = db.session.get(Referral, referral_id)
        assert (referral.state, referral.accepted_agency_id) == ("accepted", provider.agency_id)
        assert [o.state for o in referral.offers] == ["accepted"]
        kinds = db.session.scalars(select(ReferralEvent.kind).where(ReferralEvent.referral_id == referral_id)).all()
        assert kinds.count("accepted") == 1
        assert db.session.get(Service, provider.service_id).open_slots == 4
        db.session.remove()
    chain_is_intact(capp)


def test_accept_racing_withdraw_has_one_winner(capp):
    """Five referrals, each accepted by the receiver and withdrawn by the sender at the same moment."""
    rounds = 5
    with capp.app_context():
        now = utcnow()
        provider = make_provider("Receiver", now=now, open_slots=None)
        author = make_sender()
        referral_ids = [send_intake(author, now, receiver=provider.agency_id).id for _ in range(rounds)]
        author_email, manager_email = author.email, provider.case_manager_emails[0]
        db.session.remove()
    manager = browser_for(capp, manager_email, 1)
    sender = browser_for(capp, author_email, 2)
    for referral_id in referral_ids:
        url = f"/referrals/{referral_id}"
        manager_token, sender_token = manager.token(url), sender.token(url)

        def work(i, url=url, manager_token=manager_token, sender_token=sender_token):
            if i == 0:
                return post_and_read(manager, f"{url}/accept", manager_token, url)
            return post_and_read(sender, f"{url}/withdraw", sender_token, url)

        (accept_status, accept_page), (withdraw_status, withdraw_page) = run_together(2, work)
        assert (accept_status, withdraw_status) == (303, 303)
        accepted = "Accepted. The sender has been told" in accept_page
        withdrawn = "Referral withdrawn." in withdraw_page
        assert accepted != withdrawn, (accept_page[-3000:], withdraw_page[-3000:])
        with capp.app_context():
            referral = db.session.get(Referral, referral_id)
            kinds = db.session.scalars(select(ReferralEvent.kind)
                                       .where(ReferralEvent.referral_id == referral_id)).all()
            if accepted:
                assert referral.state == "accepted" and [o.state for o in referral.offers] == ["accepted"]
                assert kinds.count("accepted") == 1 and "withdrawn" not in kinds
                assert "can no longer be withdrawn" in withdraw_page
            else:
                assert referral.state == "withdrawn" and [o.state for o in referral.offers] == ["withdrawn"]
                assert kinds.count("withdrawn") == 1 and "accepted" not in kinds
                assert "Accepted." not in accept_page
            db.session.remove()
    chain_is_intact(capp)


def test_withdraw_racing_the_escalation_pass_leaves_no_pending_offer(capp):
    """An overdue offer escalated while the sender withdraws: withdrawn, and no offer left pending."""
    rounds = 5
    with capp.app_context():
        sent_at = utcnow() - timedelta(hours=1)
        first = make_provider("First", now=sent_at)
        backup = make_provider("Backup", now=sent_at)
        make_chair()
        author = make_sender()
        author_id = author.id
        db.session.remove()
    for _ in range(rounds):
        with capp.app_context():
            referral_id = send_intake(db.session.get(User, author_id), sent_at, receiver=first.agency_id,
                                      backups=[backup.agency_id], urgency="emergency").id
            db.session.remove()

        def work(i, referral_id=referral_id):
            with capp.app_context():
                try:
                    if i == 0:
                        return ops.escalation_pass(utcnow())
                    ops.withdraw(db.session.get(User, author_id), db.session.get(Referral, referral_id), utcnow())
                    return "withdrawn"
                finally:
                    db.session.remove()

        run_together(2, work)
        with capp.app_context():
            referral = db.session.get(Referral, referral_id)
            assert referral.state == "withdrawn"
            assert "pending" not in [o.state for o in referral.offers], [o.state for o in referral.offers]
            db.session.remove()
    chain_is_intact(capp)


def test_two_chairs_offering_by_hand_at_once_make_one_offer(capp):
    """Two chairs offer the same queued referral by hand at the same moment: one offer, the other refused."""
    with capp.app_context():
        now = utcnow()
        referral_id = send_intake(make_sender(), now).id  # nobody offers case management yet: the queue
        chairs = [make_chair().id, make_chair().id]
        targets = [make_provider(f"Late joiner {n}", now=now).agency_id for n in range(2)]
        db.session.remove()

    def work(i):
        from csrn.agencies.models import Agency

        with capp.app_context():
            try:
                ops.offer_by_hand(db.session.get(User, chairs[i]), db.session.get(Referral, referral_id),
                                  db.session.get(Agency, targets[i]), utcnow())
                return "offered"
            except ops.RefusedTransition:
                return "refused"
            finally:
                db.session.remove()

    assert sorted(run_together(2, work)) == ["offered", "refused"]
    with capp.app_context():
        referral = db.session.get(Referral, referral_id)
        assert referral.state == "offered" and [o.state for o in referral.offers] == ["pending"]
        db.session.remove()
    chain_is_intact(capp)


@pytest.mark.parametrize("chunk", [ops.ESCALATION_CHUNK, 3])
def test_two_escalation_passes_at_once_escalate_each_offer_once(capp, chunk):
    """Eight overdue emergency offers, two passes at the same moment (all in one chunk, or chunks of three that
    interleave): eight escalations in all, one each."""
    count = 8
    with capp.app_context():
        sent_at = utcnow() - timedelta(hours=1)
        first = make_provider("First", now=sent_at)
        backup = make_provider("Backup", now=sent_at)
        chair = make_chair()
        author = make_sender()
        referral_ids = [send_intake(author, sent_at, receiver=first.agency_id, backups=[backup.agency_id],
                                    urgency="emergency").id for _ in range(count)]
        chair_id = chair.id
        db.session.remove()
    when = sent_at + timedelta(minutes=31)

    def one_pass(i):
        with capp.app_context():
            try:
                return ops.escalation_pass(when, chunk=chunk)
            finally:
                db.session.remove()

    results = run_together(2, one_pass)
    assert sum(int(result.split()[0]) for result in results) == count, results
    with capp.app_context():
        for referral_id in referral_ids:
            offers = db.session.scalars(select(Offer).where(Offer.referral_id == referral_id).order_by(Offer.id)).all()
            assert [(o.agency_id, o.state) for o in offers] == [(first.agency_id, "expired"),
                                                                (backup.agency_id, "pending")]
            kinds = db.session.scalars(select(ReferralEvent.kind)
                                       .where(ReferralEvent.referral_id == referral_id)).all()
            assert kinds.count("expired") == 1 and kinds.count("escalated") == 1
        from csrn.notify.models import Notification

        escalations = db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == chair_id, Notification.text.like("%escalated%")))
        assert escalations == count
        assert ops.escalation_pass(when) == "0 offer(s) escalated"
        db.session.remove()
    chain_is_intact(capp)


def test_twenty_acceptances_by_a_service_with_three_slots(capp):
    """R2: all twenty accepted at once; the counter stops at zero and never blocks."""
    count = 20
    with capp.app_context():
        now = utcnow()
        provider = make_provider("Receiver", now=now, case_managers=count, open_slots=3)
        author = make_sender()
        referral_ids = [send_intake(author, now, receiver=provider.agency_id).id for _ in range(count)]
        emails = provider.case_manager_emails
        db.session.remove()
    browsers = [browser_for(capp, email, n) for n, email in enumerate(emails)]
    tokens = [b.token(f"/referrals/{rid}") for b, rid in zip(browsers, referral_ids, strict=True)]

    results = run_together(count, lambda i: post_and_read(browsers[i], f"/referrals/{referral_ids[i]}/accept",
                                                          tokens[i], f"/referrals/{referral_ids[i]}"))

    assert [status for status, _ in results] == [303] * count
    assert all("Accepted. The sender has been told" in html for _, html in results)
    with capp.app_context():
        states = db.session.scalars(select(Referral.state).where(Referral.id.in_(referral_ids))).all()
        assert states == ["accepted"] * count
        assert db.session.get(Service, provider.service_id).open_slots == 0
        accepted_events = db.session.scalar(select(func.count()).select_from(ReferralEvent)
                                            .where(ReferralEvent.kind == "accepted"))
        assert accepted_events == count
        assert db.session.scalar(select(func.count()).select_from(User)) >= count
        db.session.remove()
    chain_is_intact(capp)

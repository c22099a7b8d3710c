"""Scheduled jobs on several hosts (SECURITY L1, R5): two `tick` runs at the same moment — as two hosts' cron would
start them — send each mail once to a real SMTP server (aiosmtpd) and escalate each overdue offer once; two senders
at once claim each message for one of them; a claim left by a sender that died is taken over after its time-out; a
job's lock is held by one run at a time. On both databases (threads commit to a database of their own)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from csrn.cli import in_url_context, tick_summaries
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.locks import job_lock
from csrn.notify import operations as notify_ops
from csrn.notify.models import OutboxMessage
from csrn.referrals.models import ReferralEvent
from tests.referral_factories import make_chair, make_provider, make_sender, send_intake
from tests.test_outbox import Collector, free_port
from tests.test_referrals_concurrency import run_together

pytestmark = pytest.mark.concurrency
MAILS = 30


@pytest.fixture
def capp(committed_app):
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")
    return committed_app


@pytest.fixture
def smtp(capp, monkeypatch):
    from aiosmtpd.controller import Controller
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    for key, value in (("MAIL_SERVER", "127.0.0.1"), ("MAIL_PORT", controller.port), ("MAIL_USE_TLS", False),
                       ("MAIL_USERNAME", "")):
        monkeypatch.setitem(capp.config, key, value)
    yield handler
    controller.stop()


def _queue(app, now, count=MAILS) -> None:
    with app.app_context():
        for n in range(count):
            notify_ops.queue_mail(f"person{n}@example.org", f"Notice {n}", f"Body {n}", now)
        db.session.commit()
        db.session.remove()


def _received(handler) -> list[str]:
    return sorted(message["To"] for message in handler.messages)


def test_two_ticks_at_once_send_each_mail_and_escalate_each_offer_once(capp, smtp):
    sent_at = utcnow() - timedelta(hours=1)
    with capp.app_context():
        first, backup = make_provider("First", now=sent_at), make_provider("Backup", now=sent_at)
        make_chair()
        author = make_sender()
        referral_ids = [send_intake(author, sent_at, receiver=first.agency_id, backups=[backup.agency_id],
                                    urgency="emergency").id for _ in range(6)]
        db.session.remove()
    now = sent_at + timedelta(minutes=31)
    _queue(capp, now)
    tick = in_url_context(capp, tick_summaries)
    results = run_together(2, lambda i: tick(now))
    # Notices queued by the escalations while the other run held the outbox go with the next minute's tick.
    results.append(tick(now + timedelta(minutes=1)))
    # Every notice the escalations queued (to the chairs and the backups) and the 30 queued before: each once —
    # as many messages reached the server as there are rows in the outbox, all of them sent.
    received = _received(smtp)
    assert len(received) == db_count(capp) == db_count(capp, OutboxMessage.status == "sent") > MAILS, results
    assert {f"person{n}@example.org" for n in range(MAILS)} <= set(received)
    assert all(received.count(f"person{n}@example.org") == 1 for n in range(MAILS))
    with capp.app_context():
        for referral_id in referral_ids:
            kinds = db.session.scalars(select(ReferralEvent.kind).where(ReferralEvent.referral_id == referral_id)).all()
            assert kinds.count("escalated") == 1, kinds
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.status != "sent")) == 0
        db.session.remove()
    # A fourth tick finds nothing left to do.
    assert "outbox: 0 sent" in tick(now + timedelta(minutes=2))


def db_count(app, *conditions) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(*conditions))
        finally:
            db.session.remove()


def test_two_senders_at_once_claim_each_message_for_one(capp, smtp):
    """Without the job lock (two senders racing inside it, or a lock lost): the claims alone keep it to once."""
    now = utcnow()
    _queue(capp, now)

    def send(i):
        with capp.app_context():
            try:
                return notify_ops.send_pending(now, limit=MAILS)
            finally:
                db.session.remove()

    results = run_together(2, send)
    assert sum(result["sent"] for result in results) == MAILS, results
    assert _received(smtp) == sorted(f"person{n}@example.org" for n in range(MAILS))


def test_a_claim_left_by_a_sender_that_died_is_taken_over_after_the_time_out(capp, smtp):
    now = utcnow()
    _queue(capp, now, count=2)
    with capp.app_context():
        first, second = db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == first)
                           .values(claimed_by="host-a:1:dead", claimed_at=now - timedelta(minutes=1)))
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == second)
                           .values(claimed_by="host-a:1:dead", claimed_at=now - notify_ops.CLAIM_TIMEOUT
                                   - timedelta(seconds=1)))
        db.session.commit()
        assert notify_ops.send_pending(now)["sent"] == 1  # the fresh claim is another sender's: left alone
        assert notify_ops.send_pending(now + notify_ops.CLAIM_TIMEOUT)["sent"] == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.status == "sent", OutboxMessage.claimed_by == "")) == 2
        db.session.remove()
    assert _received(smtp) == ["person0@example.org", "person1@example.org"]


def test_a_jobs_lock_is_held_by_one_run_at_a_time(capp):
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def holder():
        with capp.app_context(), job_lock("escalations") as held:
            seen["first"] = held
            inside.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert inside.wait(timeout=30)
    try:
        with capp.app_context():
            with job_lock("escalations") as held:
                seen["second"] = held
            with job_lock("outbox") as other:  # another job's lock is free
                seen["other job"] = other
            line = in_url_context(capp, tick_summaries)(utcnow())
    finally:
        release.set()
        thread.join()
    assert seen == {"first": True, "second": False, "other job": True}
    assert "escalations: skipped, another run is doing it" in line
    with capp.app_context(), job_lock("escalations") as held:
        assert held  # released when the first run ended

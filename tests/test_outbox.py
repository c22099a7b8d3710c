"""The e-mail outbox: header injection refused, sent by `tick` through real SMTP, backoff, admin page."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from csrn.notify.operations import MailHeaderError, queue_mail

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
LIVE_TOKEN = "SENTINEL-LIVE-TOKEN-h7Qk2vX9pL4mZ8rT1wY6"
BODY = f"Set your password: https://csrn.example.org/reset/{LIVE_TOKEN}\nThe link works once."


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        return [message_from_bytes(envelope.content, policy=default_policy) for envelope in self.envelopes]


@pytest.fixture
def smtp_server(app, monkeypatch):
    """A real SMTP server on 127.0.0.1 that collects what it receives; the app is pointed at it."""
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
    monkeypatch.setitem(app.config, "MAIL_USERNAME", "")
    yield handler
    controller.stop()


@pytest.fixture
def smtp_down(app, monkeypatch):
    """Point the app at a port where no SMTP server listens."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())


def _queue(app, *messages) -> list[int]:
    with app.app_context():
        rows = [queue_mail(to, subject, body, NOW) for to, subject, body in messages]
        db.session.commit()
        return [row.id for row in rows]


def _message(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


def _tick(runner, at: datetime):
    result = runner.invoke(args=["csrn", "tick", "--now", at.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


# ----- queue_mail ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "to, subject",
    [
        ("a@b.org\r\nBcc: x@evil.example", "Hello"),
        ("a@b.org\nBcc: x@evil.example", "Hello"),
        ("a@b.org", "Hello\r\nBcc: x@evil.example"),
        ("a@b.org", "Hello\rBcc: x@evil.example"),
        ("a@b.org", "Hello\nBcc: x@evil.example"),
        ("a@b.org\x00", "Hello"),
    ],
    ids=["to-crlf", "to-lf", "subject-crlf", "subject-cr", "subject-lf", "to-nul"],
)
def test_queue_mail_refuses_header_injection(ctx, to, subject):
    """Line breaks in an address or subject would add headers: refused, and nothing is queued."""
    with pytest.raises(MailHeaderError):
        queue_mail(to, subject, "body", NOW)
    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_queue_mail_writes_a_pending_row_in_the_callers_transaction(ctx):
    """queue_mail only adds a row; nothing is sent until after commit, and a rollback drops it."""
    queue_mail("someone@example.org", "Hello", BODY, NOW)
    db.session.flush()
    message = db.session.scalars(select(OutboxMessage)).one()
    assert (message.status, message.attempts, message.next_attempt_at) == ("pending", 0, NOW)
    db.session.rollback()
    assert db.session.scalars(select(OutboxMessage)).all() == []


# ----- tick sends through SMTP -------------------------------------------------------------------

def test_tick_sends_pending_mail_once(app, runner, smtp_server):
    """tick delivers each pending message to the SMTP server, marks it sent, and sends nothing twice."""
    first, second = _queue(
        app,
        ("officer@example.org", "A referral needs an answer", BODY),
        ("chair@example.org", "Weekly summary", "Nothing urgent."),
    )
    output = _tick(runner, NOW + timedelta(minutes=1))
    assert "outbox: 2 sent, 0 deferred, 0 failed" in output
    assert len(smtp_server.envelopes) == 2
    delivered = {message["To"]: message for message in smtp_server.messages}
    assert set(delivered) == {"officer@example.org", "chair@example.org"}
    assert delivered["officer@example.org"]["Subject"] == "A referral needs an answer"
    assert delivered["officer@example.org"]["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert LIVE_TOKEN in delivered["officer@example.org"].get_content()
    assert smtp_server.envelopes[0].rcpt_tos in (["officer@example.org"], ["chair@example.org"])

    for message_id in (first, second):
        message = _message(app, message_id)
        assert message.status == "sent"
        assert message.sent_at == NOW + timedelta(minutes=1)
        assert message.attempts == 1

    output = _tick(runner, NOW + timedelta(minutes=2))
    assert "outbox: 0 sent, 0 deferred, 0 failed" in output
    assert len(smtp_server.envelopes) == 2


def test_tick_sends_nothing_before_the_message_is_due(app, runner, smtp_server):
    """--now sets the clock: a tick "before" the message was queued leaves it pending."""
    (message_id,) = _queue(app, ("a@example.org", "Later", "body"))
    assert "0 sent" in _tick(runner, NOW - timedelta(minutes=5))
    assert smtp_server.envelopes == []
    assert _message(app, message_id).status == "pending"


def test_tick_without_mail_server_leaves_mail_pending(app, runner, monkeypatch):
    """With no MAIL_SERVER configured, tick keeps the mail for later and counts no attempt."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")
    (message_id,) = _queue(app, ("a@example.org", "Hello", "body"))
    _tick(runner, NOW + timedelta(minutes=1))
    message = _message(app, message_id)
    assert (message.status, message.attempts) == ("pending", 0)


# ----- server down: backoff, then failed ---------------------------------------------------------

def test_server_down_defers_with_backoff_then_fails(app, runner, smtp_down):
    """With the SMTP server down, each due attempt waits longer (at most an hour); a day after it was queued the
    message is failed, shown as such on the outbox page, and never tried again."""
    (message_id,) = _queue(app, ("a@example.org", "Hello", BODY))
    clock = NOW
    delays = []
    while True:
        output = _tick(runner, clock)
        message = _message(app, message_id)
        if message.status == "failed":
            assert "outbox: 0 sent, 0 deferred, 1 failed" in output
            break
        assert "outbox: 0 sent, 1 deferred, 0 failed" in output
        assert message.status == "pending" and message.last_error and not message.claimed_by
        delay = message.next_attempt_at - clock
        delays.append(delay)
        # Not due yet a moment before the backoff ends: no attempt is made.
        assert "0 deferred" in _tick(runner, message.next_attempt_at - timedelta(seconds=1))
        assert _message(app, message_id).attempts == len(delays)
        clock = message.next_attempt_at
    assert delays == sorted(delays) and delays[0] >= timedelta(minutes=1)
    assert max(delays) == timedelta(hours=1) and delays.count(timedelta(hours=1)) > 1  # capped, not abandoned
    assert NOW + timedelta(hours=23) <= clock <= NOW + timedelta(days=1)  # given up after about a day, not before
    assert message.attempts == len(delays) + 1 and message.sent_at is None
    # Failed mail is never retried.
    assert "0 sent, 0 deferred, 0 failed" in _tick(runner, clock + timedelta(days=1))
    assert _message(app, message_id).attempts == len(delays) + 1


def test_deferred_mail_is_sent_once_the_server_is_back(app, runner, monkeypatch, smtp_server):
    """A message deferred while the server was down is delivered on the first tick after it returns."""
    working_port = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())
    (message_id,) = _queue(app, ("a@example.org", "Hello", BODY))
    assert "1 deferred" in _tick(runner, NOW)
    monkeypatch.setitem(app.config, "MAIL_PORT", working_port)
    retry_at = _message(app, message_id).next_attempt_at
    assert "1 sent" in _tick(runner, retry_at)
    assert len(smtp_server.envelopes) == 1
    message = _message(app, message_id)
    assert (message.status, message.attempts) == ("sent", 2)


# ----- the admin outbox page -------------------------------------------------------------------

def test_outbox_page_shows_recipient_and_subject_but_never_the_body(app, login_as):
    """Admins see who mail goes to and its subject; bodies with live links never reach the page."""
    _queue(app, ("invitee@example.org", "Your CSRN invitation", BODY))
    admin = login_as(roles=("admin",), agency_id=None)
    response = admin.get("/admin/outbox/")
    assert response.status_code == 200
    page = response.get_data(as_text=True).replace("<wbr>", "")
    assert "invitee@example.org" in page
    assert "Your CSRN invitation" in page
    assert LIVE_TOKEN not in page
    assert "/reset/" not in page


def test_failed_mail_is_counted_and_said_on_the_outbox_page(app, login_as):
    (message_id,) = _queue(app, ("gone@example.org", "Your referral was escalated", BODY))
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        message.status, message.last_error = "failed", "connect: [Errno 111] Connection refused"
        db.session.commit()
    page = login_as(roles=("admin",), agency_id=None).get("/admin/outbox/").get_data(as_text=True)
    assert "1 failed" in page and "Connection refused" in page and LIVE_TOKEN not in page


@pytest.mark.parametrize("roles", [("staff",), ("case_manager",), ("agency_admin",), ("chair",)])
def test_outbox_page_is_for_admins_only(login_as, roles):
    """Every other role gets 403."""
    assert login_as(roles=roles).get("/admin/outbox/").status_code == 403


def test_outbox_page_needs_a_login(client):
    """Anonymous visitors are sent to log in."""
    response = client.get("/admin/outbox/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_outbox_page_lists_the_newest_message_first(app, login_as):
    """By when each message was queued, whatever order the rows were written in (the demo writes older ones last)."""
    with app.app_context():
        queue_mail("later@example.org", "Queued later", "Body", datetime(2026, 11, 2, tzinfo=UTC))
        queue_mail("earlier@example.org", "Queued earlier", "Body", datetime(2026, 11, 1, tzinfo=UTC))
        db.session.commit()
    page = login_as(roles=("admin",), agency_id=None).get("/admin/outbox/").get_data(as_text=True).replace("<wbr>", "")
    assert page.index("Queued later") < page.index("Queued earlier")

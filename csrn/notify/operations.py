"""Notices to users (in the app and by mail), the outbox, and sending it through SMTP from the `tick` job."""

from __future__ import annotations

import os
import smtplib
import socket
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, func, or_, select, update

from csrn.extensions import db
from csrn.notify.models import Notification, OutboxMessage
from csrn.security import one_line

# A message that cannot be delivered is retried with a growing wait (2, 4, 8 … minutes, at most an hour) and given
# up (failed, shown on the outbox page) once it is a day old.
FIRST_RETRY = timedelta(minutes=2)
LONGEST_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=1)
CLAIM_TIMEOUT = timedelta(minutes=10)  # a sender that claimed a message and died: another may retry it after this
DRILL_MARK = "[DRILL]"  # first in every notice and subject about a drill


class MailHeaderError(ValueError):
    """An address or subject would inject headers."""


def _single_line(value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise MailHeaderError("line breaks are not allowed in mail headers")
    return value


def mail_row(to_addr: str, subject: str, body: str, now: datetime, drill_of: int | None = None) -> dict:
    """An outbox message's values, headers checked (for one INSERT of many messages)."""
    return dict(
        drill_of=drill_of,
        created_at=now,
        to_addr=_single_line(to_addr.strip()),
        subject=_single_line(subject.strip())[:200],
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        sent_at=None,
        last_error="",
    )


def queue_mail(to_addr: str, subject: str, body: str, now: datetime) -> OutboxMessage:
    """Add a message to the outbox in the current transaction; `tick` sends it after commit."""
    message = OutboxMessage(**mail_row(to_addr, subject, body, now))
    db.session.add(message)
    return message


def mails_to(address: str, since: datetime) -> int:
    """How many messages the outbox holds for this address since `since` (sent or not): what public forms cap."""
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.to_addr == address.strip(), OutboxMessage.created_at >= since)) or 0


def mail_configured() -> bool:
    """Whether an SMTP server is configured."""
    return bool(current_app.config.get("MAIL_SERVER"))


def links_on_screen() -> bool:
    """Whether a single-use link (an invitation) may be shown to the person who caused it: never in production
    (SECURITY A6: it goes by e-mail only); in development and test when no mail server would send it."""
    return current_app.config.get("CSRN_ENV") != "production" and not mail_configured()


def _connect() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20)
    if config.get("MAIL_USE_TLS"):
        smtp.starttls()
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


def _due(now: datetime):
    """SQL: a message a sender may take now: pending, due, and not claimed by another sender (or claimed so long
    ago that the sender must have died)."""
    return (OutboxMessage.status == "pending",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < now - CLAIM_TIMEOUT))


def claim(now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` due messages for this sender, by one conditional UPDATE: of two senders at once (two
    hosts' ticks), each message goes to one — the second finds it claimed and skips it."""
    me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:80]
    candidates = select(OutboxMessage.id).where(*_due(now)).order_by(OutboxMessage.id).limit(limit)
    claimed = db.session.scalars(
        update(OutboxMessage).where(OutboxMessage.id.in_(candidates.scalar_subquery()), *_due(now))
        .values(claimed_by=me, claimed_at=now).returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)).all()
    db.session.commit()
    return sorted(claimed)


def send_pending(now: datetime, limit: int = 100) -> dict[str, int]:
    """Send due pending messages this sender claimed; failures wait longer each time and are given up after a
    day."""
    counts = {"sent": 0, "failed": 0, "deferred": 0}
    if not mail_configured():
        return counts
    ids = claim(now, limit)
    if not ids:
        return counts
    due = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)).all()
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    try:
        smtp = _connect()
    except (OSError, smtplib.SMTPException) as exc:
        for message in due:
            _defer(message, now, f"connect: {exc}")
            counts["failed" if message.status == "failed" else "deferred"] += 1
        db.session.commit()
        return counts
    with smtp:
        for message in due:
            email = EmailMessage()
            email["From"] = sender
            email["To"] = message.to_addr
            email["Subject"] = message.subject
            email.set_content(message.body)
            try:
                smtp.send_message(email)
            except (OSError, smtplib.SMTPException) as exc:
                _defer(message, now, str(exc))
                counts["failed" if message.status == "failed" else "deferred"] += 1
            else:
                message.status = "sent"
                message.sent_at = now
                message.attempts += 1
                message.claimed_by, message.claimed_at = "", None
                counts["sent"] += 1
            db.session.commit()
    return counts


def _defer(message: OutboxMessage, now: datetime, error: str) -> None:
    """Try again later, each time waiting twice as long (at most an hour); a day after it was queued, give up."""
    message.attempts += 1
    message.last_error = error[:1000]
    message.claimed_by, message.claimed_at = "", None
    wait = min(FIRST_RETRY * 2 ** (message.attempts - 1), LONGEST_RETRY)
    if now + wait >= message.created_at + GIVE_UP_AFTER:
        message.status = "failed"
    else:
        message.next_attempt_at = now + wait


# ----- notices: what every module sends ----------------------------------------------------------

def notify(users, text: str, link: str, now: datetime, email: bool = True, drill_of: int | None = None) -> None:
    """Tell users what happened, in the app and by e-mail — a sentence and a link, never client details. About a
    drill (`drill_of`: its intake), the notice and the subject say "[DRILL]" first; `now` is the wall clock."""
    notices = Notices(now)
    notices.add(users, text, link, email, drill_of)
    notices.write()


class Notices:
    """Notifications and mails gathered (anything with `id` and `email` is a recipient), then written with one
    INSERT per table: what `notify` writes, for a whole chunk of escalations at once."""

    def __init__(self, now: datetime):
        self.now = now
        self.base = current_app.config["CSRN_BASE_URL"].rstrip("/")  # links in mail are absolute
        self.notifications: list[dict] = []
        self.mails: list[dict] = []

    def add(self, users, text: str, link: str, email: bool = True, drill_of: int | None = None) -> None:
        """One notice to each user (once, however often listed); about a drill, marked "[DRILL]" and kept with it."""
        if drill_of is not None:
            text = f"{DRILL_MARK} {text}"
        seen = set()
        for user in users:
            if user.id in seen:
                continue
            seen.add(user.id)
            self.notifications.append(dict(user_id=user.id, created_at=self.now, text=text[:300], link=link,
                                           drill_of=drill_of))
            if email:
                subject = one_line(f"{DRILL_MARK} CSRN: {text.removeprefix(DRILL_MARK + ' ')[:150]}"
                                   if drill_of is not None else f"CSRN: {text[:150]}")
                self.mails.append(mail_row(user.email, subject, f"{text}\n\nOpen it in CSRN: {self.base}{link}\n",
                                           self.now, drill_of))

    def write(self) -> None:
        """Insert what was gathered, in the current transaction."""
        for model, rows in ((Notification, self.notifications), (OutboxMessage, self.mails)):
            if rows:
                db.session.execute(model.__table__.insert(), rows)
        self.notifications, self.mails = [], []


def unread_count(user) -> int:
    """How many notifications the user has not read (every page's header asks)."""
    return db.session.scalar(_unread_query(), {"user_id": user.id}) or 0


@cache
def _unread_query():
    # Built once per process: building and keying a statement costs more than SQLite takes to answer this one.
    return (select(func.count()).select_from(Notification)
            .where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None)))

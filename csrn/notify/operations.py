"""Queue e-mail in the outbox and send it through SMTP from the `tick` job."""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import or_, select

from csrn.extensions import db
from csrn.notify.models import OutboxMessage

MAX_ATTEMPTS = 5


class MailHeaderError(ValueError):
    """An address or subject would inject headers."""


def _single_line(value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise MailHeaderError("line breaks are not allowed in mail headers")
    return value


def mail_row(to_addr: str, subject: str, body: str, now: datetime) -> dict:
    """An outbox message's values, headers checked (for one INSERT of many messages)."""
    return dict(
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


def mail_configured() -> bool:
    """Whether an SMTP server is configured."""
    return bool(current_app.config.get("MAIL_SERVER"))


def _connect() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20)
    if config.get("MAIL_USE_TLS"):
        smtp.starttls()
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


def send_pending(now: datetime, limit: int = 100) -> dict[str, int]:
    """Send due pending messages; failures back off and give up after a few attempts."""
    counts = {"sent": 0, "failed": 0, "deferred": 0}
    if not mail_configured():
        return counts
    due = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .where(or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    if not due:
        return counts
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
                counts["sent"] += 1
            db.session.commit()
    return counts


def _defer(message: OutboxMessage, now: datetime, error: str) -> None:
    message.attempts += 1
    message.last_error = error[:1000]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
    else:
        message.next_attempt_at = now + timedelta(minutes=2**message.attempts)

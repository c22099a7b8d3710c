"""The development mailbox: where the demo's mail can be read when no mail server is configured.

Development only (SECURITY A6). Bodies hold live links (invitations, password resets), so this page exists only
when CSRN_ENV is development: `create_app` registers the blueprint in development alone, and the page answers 404
should the environment say otherwise. Even there, a user reads only the mail addressed to them — the recipient,
as A6 allows everywhere; an administrator, who in development runs the server and holds its (published)
development keys, reads every message, including those to people without an account (agency contact addresses,
volunteer applicants, reset links of a forgotten password).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select, update

from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from csrn.notify.operations import mail_configured
from csrn.roles import ADMIN
from csrn.routing import requested_page

bp = Blueprint("devmail", __name__, url_prefix="/dev/mailbox")

PER_PAGE = 20


def mailbox_active() -> bool:
    """Whether mail goes to the development mailbox: in development, with no mail server configured."""
    return current_app.config.get("CSRN_ENV") == "development" and not mail_configured()


def deliver_to_mailbox(now: datetime) -> dict[str, int]:
    """`tick`'s delivery in development without SMTP: mark every due pending message sent (into this mailbox), in
    one UPDATE. Counts are those of `send_pending`."""
    if not mailbox_active():
        raise RuntimeError("The development mailbox is for development without a mail server only.")
    delivered = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .where(or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
        .values(status="sent", sent_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return {"sent": delivered, "deferred": 0, "failed": 0}


@bp.before_request
def development_only():
    """Answer 404 outside development, whatever registered the blueprint."""
    if current_app.config.get("CSRN_ENV") != "development":
        abort(404)


@bp.get("/")
@login_required
def index():
    """The outbox's messages with their bodies, newest first: every one for an administrator, one's own otherwise."""
    everyone = current_user.has_role(ADMIN)
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if not everyone:
        query = query.where(func.lower(OutboxMessage.to_addr) == current_user.email.lower())
    page = db.paginate(query, page=requested_page(), per_page=PER_PAGE, error_out=False)
    return render_template("notify/devmail.html", page=page, everyone=everyone, delivering=mailbox_active())

"""The outbox page: recipients and subjects only, never bodies with live links."""

from flask import render_template
from sqlalchemy import func, select

from csrn.extensions import db
from csrn.notify import bp
from csrn.notify.models import OutboxMessage
from csrn.roles import ADMIN
from csrn.routing import requested_page
from csrn.security import roles_required


@bp.get("/")
@roles_required(ADMIN)
def index():
    """List outgoing mail by recipient, subject and state."""
    page = db.paginate(
        select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()),
        page=requested_page(),
        per_page=50,
        error_out=False,
    )
    failed = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed"))
    return render_template("notify/outbox.html", page=page, failed=failed)

"""The audit log page for administrators."""

from flask import render_template
from sqlalchemy import select

from csrn.audit import bp
from csrn.audit.models import AuditEvent
from csrn.extensions import db
from csrn.roles import ADMIN
from csrn.routing import requested_page
from csrn.security import roles_required


@bp.get("/")
@roles_required(ADMIN)
def index():
    """List audit events, newest first."""
    page = db.paginate(
        select(AuditEvent).order_by(AuditEvent.id.desc()),
        page=requested_page(),
        per_page=50,
        error_out=False,
    )
    return render_template("audit/index.html", page=page)

"""The in-app notification list."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select, update

from csrn.clock import utcnow
from csrn.extensions import db
from csrn.forms import EmptyForm
from csrn.notify.models import Notification
from csrn.routing import requested_page

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
@login_required
def index():
    """The user's notifications, newest first."""
    page = db.paginate(select(Notification).where(Notification.user_id == current_user.id)
                       .order_by(Notification.id.desc()), page=requested_page(),
                       per_page=30, error_out=False)
    return render_template("notify/notifications.html", page=page, form=EmptyForm())


@bp.post("/read")
@login_required
def mark_read():
    """Mark every notification read."""
    form = EmptyForm()
    if form.validate_on_submit():
        db.session.execute(update(Notification).where(Notification.user_id == current_user.id,
                                                      Notification.read_at.is_(None)).values(read_at=utcnow()))
        db.session.commit()
    return redirect(url_for("notifications.index"), code=303)

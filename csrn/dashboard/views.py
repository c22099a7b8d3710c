"""The dashboard at `/`: one panel per concern, chosen by the user's roles."""

from flask import render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from csrn.agencies import operations as agency_ops
from csrn.agencies.models import MEMBERSHIP_STATUSES, Agency
from csrn.cases import coordination
from csrn.cases import operations as case_ops
from csrn.clock import utcnow
from csrn.dashboard import bp
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.notify.models import OutboxMessage
from csrn.oncall import operations as oncall_ops
from csrn.protocols import operations as protocol_ops
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral
from csrn.roles import ADMIN, CHAIR, RECEIVER_ROLES
from csrn.settings.operations import get_settings


def _membership_counts() -> list[tuple[str, str, int]]:
    rows = dict(
        db.session.execute(
            select(Agency.membership_status, func.count()).group_by(Agency.membership_status)
        ).all()
    )
    return [(key, label, rows.get(key, 0)) for key, label in MEMBERSHIP_STATUSES.items()]


def _outbox_counts() -> dict[str, int]:
    return dict(
        db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )


@bp.get("/")
@login_required
def index():
    """Show the panels the user's roles call for."""
    panels = {"agency": current_user.agency}
    now = utcnow()
    panels["drafts"] = intake_ops.drafts_of(current_user)
    panels["oncall"] = oncall_ops.who_is_on_call(now)
    panels["fallback_phone"] = get_settings().fallback_phone
    if current_user.has_role(*RECEIVER_ROLES) and current_user.agency_id:
        panels["offers"] = db.session.scalars(referral_ops.inbox_query(current_user)).all()
        panels["now"] = now
        panels["cases"] = case_ops.my_open_cases(current_user)
        panels["appointments"] = coordination.upcoming_for(current_user, now)
    panels["concerns"] = coordination.open_concerns_for(current_user)
    panels["protocols_to_acknowledge"] = protocol_ops.pending_acknowledgements(current_user)
    if current_user.has_role(CHAIR):
        panels["membership"] = _membership_counts()
        panels["protocols_due"] = protocol_ops.pages_due_for_review(protocol_ops.local_date(utcnow()))
        panels["losing_certification"] = agency_ops.losing_certification(utcnow())
        panels["next_gap"] = oncall_ops.next_gap(now)
        # The urgent made loud: what waits for a chair, most urgent first, with how long it has waited.
        # A drill's referrals are shown in the queue (marked DRILL) but raise no alarm here and count in no figure.
        real = referral_ops.queue_query().where(Referral.is_drill.is_(False))
        panels["waiting"] = db.session.scalars(real.limit(10)).all()
        panels["queue_count"] = db.session.scalar(select(func.count()).select_from(real.order_by(None).subquery()))
        panels["queue_drills"] = db.session.scalar(select(func.count()).select_from(
            referral_ops.queue_query().where(Referral.is_drill.is_(True)).order_by(None).subquery()))
    if current_user.has_role(ADMIN):
        panels["outbox"] = _outbox_counts()
    return render_template("dashboard/index.html", panels=panels)

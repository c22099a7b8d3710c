"""The audit log, searchable by those it is for (SECURITY L1, DESIGN §2 and §5): administrators search the whole log
at /admin/audit/ and export what they found (after a fresh log-in, A8); an agency's admins read the entries about
their own agency — its users' actions, its users and the agency itself, and the referrals it sent or holds (who
opened our clients' details, who exported what, who was invited and by whom). The log records field names, never
values, and these pages join to no client data. Viewing and exporting are audited in their turn.

In the top layer (it reads the referrals an agency sent or holds, and re-authentication from auth).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import String, and_, cast, or_, select

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.auth.sessions import fresh_login_required
from csrn.clock import utcnow
from csrn.database import escape_like
from csrn.exports import csv_response
from csrn.extensions import db
from csrn.referrals.models import Referral
from csrn.roles import ADMIN, AGENCY_ADMIN
from csrn.routing import requested_page
from csrn.security import roles_required
from csrn.settings.operations import task_force_zone

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

PER_PAGE = 50
# Readable names of the actions people ask about most; every other code is read as "Thing: what happened".
ACTION_NAMES = {
    "referral.viewed_identifying": "Opened a person's identifying details",
    "referral.contact_opened": "Opened a person's contact details",
    "auth.login": "Logged in",
    "auth.login_failed": "Failed to log in",
    "auth.reauthenticated": "Entered their password again",
    "audit.viewed": "Searched the audit log",
    "audit.exported": "Exported the audit log",
    "retention.purged": "Purged after the retention period",
    "intake.submitted": "Submitted an intake",
    "consent.revoked": "Recorded that consent was revoked",
}


def action_name(code: str) -> str:
    if code in ACTION_NAMES:
        return ACTION_NAMES[code]
    thing, _, what = code.partition(".")
    return f"{thing.replace('_', ' ').capitalize()}: {what.replace('_', ' ')}" if what else code


@dataclass
class Filters:
    actor: str = ""
    agency: int | None = None
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    first: date | None = None
    last: date | None = None

    @classmethod
    def from_args(cls, args) -> tuple[Filters, list[str]]:
        """The filters asked for; what could not be read is left out and said."""
        problems = []

        def text(name: str, limit: int) -> str:
            value = (args.get(name) or "").strip()
            if "\x00" in value or len(value) > limit:
                problems.append(f"The {name.replace('_', ' ')} was too long or not text: left out.")
                return ""
            return value

        def day(name: str) -> date | None:
            value = (args.get(name) or "").strip()
            if not value:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                problems.append("Give the dates as YYYY-MM-DD.")
                return None

        agency = args.get("agency") or ""
        found = cls(actor=text("actor", 254), agency=int(agency) if agency.isdigit() and len(agency) < 10 else None,
                    action=text("action", 80), object_type=text("object_type", 60),
                    object_id=text("object_id", 60), first=day("from"), last=day("to"))
        return found, problems

    def conditions(self) -> list:
        zone = task_force_zone()
        found = []
        if self.actor:
            found.append(AuditEvent.actor_email.ilike(f"%{escape_like(self.actor)}%", escape="\\"))
        if self.agency is not None:
            found.append(AuditEvent.actor_agency_id == self.agency)
        if self.action:
            found.append(AuditEvent.action == self.action)
        if self.object_type:
            found.append(AuditEvent.object_type == self.object_type)
        if self.object_id:
            found.append(AuditEvent.object_id == self.object_id)
        if self.first:
            found.append(AuditEvent.at >= datetime.combine(self.first, time(0), tzinfo=zone))
        if self.last:
            found.append(AuditEvent.at < datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=zone))
        return found

    def args(self) -> dict:
        """As query arguments (the shareable URL, the pages, the export)."""
        names = {"first": "from", "last": "to"}
        return {names.get(f.name, f.name): (value.isoformat() if isinstance(value, date) else value)
                for f in fields(self) if (value := getattr(self, f.name)) not in (None, "")}

    def used(self) -> list[str]:
        return sorted(self.args())


def about_agency(agency_id: int):
    """SQL: an entry about this agency — one of its users did it, or it is about the agency, one of its users, or a
    referral it sent or holds."""
    users = select(cast(User.id, String)).where(User.agency_id == agency_id)
    referrals = select(cast(Referral.id, String)).where(
        or_(Referral.sending_agency_id == agency_id, Referral.accepted_agency_id == agency_id))
    return or_(AuditEvent.actor_agency_id == agency_id,
               and_(AuditEvent.object_type == "agency", AuditEvent.object_id == str(agency_id)),
               and_(AuditEvent.object_type == "user", AuditEvent.object_id.in_(users)),
               and_(AuditEvent.object_type == "referral", AuditEvent.object_id.in_(referrals)))


def _choices(scope) -> tuple[list[str], list[str]]:
    actions = db.session.scalars(select(AuditEvent.action).where(*scope).distinct().order_by(AuditEvent.action)).all()
    types = db.session.scalars(select(AuditEvent.object_type).where(*scope, AuditEvent.object_type != "")
                               .distinct().order_by(AuditEvent.object_type)).all()
    return actions, types


def _search(scope: list, endpoint: str, title: str, agency: Agency | None = None):
    filters, problems = Filters.from_args(request.args)
    query = select(AuditEvent).where(*scope, *filters.conditions()).order_by(AuditEvent.id.desc())
    page = db.paginate(query, page=requested_page(), per_page=PER_PAGE, error_out=False)
    audit.record(current_user, "audit.viewed", agency, fields=filters.used() or ["all"], now=utcnow(),
                 object_type=None if agency else "audit_log")
    db.session.commit()
    template = "audit/_results.html" if request.headers.get("HX-Request") else "audit/index.html"
    actions, types = _choices(scope)
    agencies = (db.session.execute(select(Agency.id, Agency.name).order_by(Agency.name)).all()
                if agency is None else [])
    return render_template(template, page=page, filters=filters, args=filters.args(), problems=problems,
                           endpoint=endpoint, title=title, actions=actions, types=types, agencies=agencies,
                           agency=agency, action_name=action_name)


@bp.get("/")
@roles_required(ADMIN)
def index():
    """The whole log, searched by actor, agency, action, object and date."""
    return _search([], "audit.index", "Audit log")


@bp.get("/export.csv")
@roles_required(ADMIN)
@fresh_login_required
def export_csv():
    """The search as CSV (re-authentication first: a bulk export), audited."""
    filters, _ = Filters.from_args(request.args)
    events = db.session.scalars(select(AuditEvent).where(*filters.conditions()).order_by(AuditEvent.id)).all()
    zone = task_force_zone()
    header = ["id", "when", "actor", "actor_agency_id", "action", "action_name", "object_type", "object_id",
              "fields", "from"]
    rows = [[e.id, e.at.astimezone(zone).isoformat(timespec="seconds"), e.actor_email, e.actor_agency_id or "",
             e.action, action_name(e.action), e.object_type, e.object_id, e.fields, e.ip] for e in events]
    audit.record(current_user, "audit.exported", object_type="audit_log", fields=filters.used() or ["all"],
                 now=utcnow())
    db.session.commit()
    return csv_response("csrn-audit-log.csv", header, rows)


@bp.get("/agency")
@roles_required(AGENCY_ADMIN)
def agency_log():
    """What the log says about the admin's own agency: its users' actions, and the entries about it, its users and
    the referrals it sent or holds."""
    agency = db.session.get(Agency, current_user.agency_id) if current_user.agency_id else None
    if agency is None:
        abort(404)
    return _search([about_agency(agency.id)], "audit.agency_log", f"Audit log of {agency.name}", agency)

"""Agency queries and changes, taking the acting user and the time explicitly."""

from __future__ import annotations

from datetime import datetime

from flask import abort
from sqlalchemy import Select, func, select

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.auth.models import ADMIN, AGENCY_ADMIN, CHAIR
from csrn.concurrency import check_version
from csrn.extensions import db


def escape_like(term: str) -> str:
    """Escape LIKE wildcards so a search for `%` or `_` finds those characters only."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def agency_list_query(search: str = "", status: str = "", agency_type: str = "") -> Select:
    """Agencies visible to every logged-in user, filtered and ordered by name."""
    query = select(Agency)
    if search:
        query = query.where(Agency.name.ilike(f"%{escape_like(search)}%", escape="\\"))
    if status:
        query = query.where(Agency.membership_status == status)
    if agency_type:
        query = query.where(Agency.agency_type == agency_type)
    return query.order_by(func.lower(Agency.name), Agency.id)


def get_agency_or_404(agency_id: int) -> Agency:
    """Load an agency profile (shared: any logged-in user may read it)."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        abort(404)
    return agency


def can_edit_everything(user) -> bool:
    """Chairs edit every field of every agency."""
    return user.has_role(CHAIR)


def can_edit_profile(user, agency: Agency) -> bool:
    """Chairs edit any agency; agency admins edit their own agency's profile."""
    return can_edit_everything(user) or (user.has_role(AGENCY_ADMIN) and user.agency_id == agency.id)


def can_see_internal_notes(user, agency: Agency) -> bool:
    """Internal notes: chairs, admins, and the agency's own agency admins."""
    return user.has_role(CHAIR, ADMIN) or (user.has_role(AGENCY_ADMIN) and user.agency_id == agency.id)


def get_agency_for_edit_or_404(agency_id: int, user) -> Agency:
    """Load an agency the user may edit; anyone else gets a 404, not a hint that it exists."""
    agency = get_agency_or_404(agency_id)
    if not can_edit_profile(user, agency):
        abort(404)
    return agency


def create_agency(actor, values: dict, now: datetime) -> Agency:
    """Create an agency (chairs) and record it."""
    agency = Agency(created_at=now, updated_at=now, **values)
    db.session.add(agency)
    db.session.flush()
    audit.record(actor, "agency.create", agency, fields=values.keys(), now=now)
    db.session.commit()
    return agency


def update_agency(actor, agency: Agency, values: dict, seen_version: int | None, now: datetime) -> Agency:
    """Save changes to an agency, refusing if someone else saved it since the form was loaded."""
    check_version(agency, seen_version)
    changed = [key for key, value in values.items() if getattr(agency, key) != value]
    for key, value in values.items():
        setattr(agency, key, value)
    if changed:
        agency.updated_at = now
        audit.record(actor, "agency.update", agency, fields=changed, now=now)
    db.session.commit()
    return agency

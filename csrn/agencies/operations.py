"""Agency queries and changes, taking the acting user and the time explicitly."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from functools import cache

from flask import abort
from sqlalchemy import Date, Select, and_, bindparam, exists, func, or_, select, update

from csrn.agencies.models import Agency, Certificate, MembershipChange, TrainingCourse
from csrn.audit import operations as audit
from csrn.auth.models import User
from csrn.concurrency import check_version
from csrn.database import escape_like
from csrn.extensions import db
from csrn.notify.operations import queue_mail
from csrn.roles import ADMIN, AGENCY_ADMIN, CHAIR
from csrn.settings.operations import task_force_zone


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
    agency = db.session.scalar(_agency_query(), {"agency_id": agency_id})
    if agency is None:
        abort(404)
    return agency


@cache
def _agency_query():
    # Built once per process: session.get builds its statement anew each time (more than SQLite takes to answer).
    return select(Agency).where(Agency.id == bindparam("agency_id"))


def can_edit_everything(user) -> bool:
    """Chairs edit every field of every agency."""
    return user.has_role(CHAIR)


def can_edit_profile(user, agency: Agency) -> bool:
    """Chairs edit any agency; agency admins edit their own agency's profile."""
    return can_edit_everything(user) or (user.has_role(AGENCY_ADMIN) and user.agency_id == agency.id)


def can_see_internal_notes(user, agency: Agency) -> bool:
    """Internal notes: chairs, admins, and the agency's own agency admins."""
    return user.has_role(CHAIR, ADMIN) or (user.has_role(AGENCY_ADMIN) and user.agency_id == agency.id)


def can_see_membership_reasons(user, agency: Agency) -> bool:
    """Why an agency's membership changed (e.g. why it was suspended): chairs and the agency's own agency admins."""
    return user.has_role(CHAIR) or (user.has_role(AGENCY_ADMIN) and user.agency_id is not None
                                    and user.agency_id == agency.id)


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


# ----- certification (DESIGN §4.4); who can receive referrals is `csrn.directory.receiving` ------------

def local_date(t: datetime) -> date:
    """The task force's calendar date at time t (certificates are valid through their expiry date)."""
    return t.astimezone(task_force_zone()).date()


def valid_core_certificates(on: date):
    """SQL: verified core certificates valid on `on`, held by active users of the agency in the outer query."""
    return (
        select(Certificate.id)
        .join(User, User.id == Certificate.user_id)
        .join(TrainingCourse, TrainingCourse.id == Certificate.course_id)
        .where(
            User.agency_id == Agency.id,
            User.active.is_(True),
            Certificate.status == "verified",
            TrainingCourse.is_core.is_(True),
            Certificate.completed_on <= on,
            or_(Certificate.expires_on.is_(None), Certificate.expires_on >= on),
        )
    )


def certified_condition(on: date):
    """SQL: the agency is a member with an active user holding a verified core certificate valid on `on`."""
    return and_(Agency.membership_status == "member", exists(valid_core_certificates(on)))


def agreement_current_condition(on: date):
    """SQL: the agency's referral agreement with the task force is signed and not past renewal."""
    return and_(
        Agency.mou_signed_on.is_not(None),
        Agency.mou_signed_on <= on,
        or_(Agency.mou_renewal_on.is_(None), Agency.mou_renewal_on >= on),
    )


def is_certified(agency: Agency, t: datetime) -> bool:
    """Whether the agency is certified at time t."""
    return bool(db.session.scalar(_standing_query()[0], {"agency_id": agency.id, "on": local_date(t)}))


def agreement_current(agency: Agency, t: datetime) -> bool:
    """Whether the agency's referral agreement is current at time t."""
    return bool(db.session.scalar(_standing_query()[1], {"agency_id": agency.id, "on": local_date(t)}))


def standing(agency: Agency, t: datetime) -> tuple[bool, bool]:
    """(certified, agreement current) at time t, in one query (what the agency's page shows)."""
    certified, agreement = db.session.execute(
        _standing_query()[2], {"agency_id": agency.id, "on": local_date(t)}).one()
    return bool(certified), bool(agreement)


@cache
def _standing_query():
    # Built once per process (the conditions take the date as a parameter): building and keying these statements
    # costs more than the database takes to answer them.
    on = bindparam("on", type_=Date)
    this = Agency.id == bindparam("agency_id")
    certified = exists().where(this, certified_condition(on))
    agreement = exists().where(this, agreement_current_condition(on))
    return select(certified), select(agreement), select(certified.label("certified"), agreement.label("agreement"))


# ----- the membership workflow ------------------------------------------------------------------

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "prospect": ("applicant", "listed"),
    "applicant": ("in_training", "prospect", "listed"),
    "in_training": ("member", "applicant"),
    "member": ("suspended", "lapsed"),
    "suspended": ("member", "lapsed"),
    "lapsed": ("in_training", "member"),
    "listed": ("prospect",),
}


class TransitionRefused(Exception):
    """The membership change is not allowed now."""


def change_membership(actor, agency: Agency, to_status: str, reason: str, t: datetime) -> MembershipChange:
    """Move an agency one step through the workflow, recording who, when and why."""
    from_status = agency.membership_status
    if to_status not in TRANSITIONS.get(from_status, ()):
        raise TransitionRefused(f"An agency cannot go from {from_status} to {to_status}.")
    if to_status == "member" and not has_current_core_certificate(agency, t):
        raise TransitionRefused(
            "Becoming a member needs at least one active user with a verified, current core trafficking certificate."
        )
    if not reason.strip():
        raise TransitionRefused("Say why the status changes.")
    # The check and the write are one UPDATE, so two chairs cannot both move the agency from the same state.
    result = db.session.execute(
        update(Agency)
        .where(Agency.id == agency.id, Agency.membership_status == from_status)
        .values(membership_status=to_status, updated_at=t, version=Agency.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise TransitionRefused("Someone else changed this agency's status just now. Reload and try again.")
    change = MembershipChange(agency_id=agency.id, from_status=from_status, to_status=to_status,
                              reason=reason.strip(), changed_by_id=getattr(actor, "id", None), changed_at=t)
    db.session.add(change)
    audit.record(actor, "agency.membership_changed", agency, fields=["membership_status"], now=t)
    db.session.commit()
    db.session.refresh(agency)
    return change


def has_current_core_certificate(agency: Agency, t: datetime) -> bool:
    """Whether any active user of the agency holds a verified core certificate valid at t (status aside)."""
    return bool(db.session.scalar(select(
        exists().where(Agency.id == agency.id, exists(valid_core_certificates(local_date(t)))))))


def membership_history(agency: Agency) -> list[MembershipChange]:
    """The agency's status changes, newest first."""
    return db.session.scalars(_history_query(), {"agency_id": agency.id}).all()


@cache
def _history_query():
    return (select(MembershipChange).where(MembershipChange.agency_id == bindparam("agency_id"))
            .order_by(MembershipChange.changed_at.desc(), MembershipChange.id.desc()))


def update_agreement(actor, agency: Agency, values: dict, t: datetime) -> None:
    """Record the agency's referral agreement with the task force."""
    changed = [key for key, value in values.items() if getattr(agency, key) != value]
    for key, value in values.items():
        setattr(agency, key, value)
    agency.updated_at = t
    audit.record(actor, "agency.agreement_updated", agency, fields=changed, now=t)
    db.session.commit()


# ----- courses and certificates -----------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """The same day `months` later (the last day of the month when it does not exist)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def expiry_for(course: TrainingCourse, completed_on: date) -> date | None:
    """A certificate is valid through this date (None: never expires)."""
    if not course.valid_months:
        return None
    return add_months(completed_on, course.valid_months) - timedelta(days=1)


def save_course(actor, course: TrainingCourse | None, values: dict, t: datetime) -> TrainingCourse:
    """Create or update a course (chairs)."""
    if course is None:
        course = TrainingCourse(created_at=t)
        db.session.add(course)
    changed = [key for key, value in values.items() if getattr(course, key, None) != value]
    for key, value in values.items():
        setattr(course, key, value)
    db.session.flush()
    audit.record(actor, "training.course_saved", course, fields=changed, now=t)
    db.session.commit()
    return course


def record_certificate(actor, user, course: TrainingCourse, completed_on: date, number: str,
                       stored_file, t: datetime) -> Certificate:
    """Record a completion for a user of the actor's agency; it is pending until a chair verifies it."""
    certificate = Certificate(
        user_id=user.id,
        agency_id=user.agency_id,
        course_id=course.id,
        completed_on=completed_on,
        expires_on=expiry_for(course, completed_on),
        certificate_number=number,
        file_name=stored_file.name if stored_file else None,
        file_original_name=stored_file.original_name if stored_file else "",
        file_mime=stored_file.mime if stored_file else "",
        status="pending",
        recorded_by_id=actor.id,
        recorded_at=t,
    )
    db.session.add(certificate)
    db.session.flush()
    audit.record(actor, "training.certificate_recorded", certificate,
                 fields=["course_id", "completed_on", "certificate_number", "file_name"], now=t)
    db.session.commit()
    return certificate


def decide_certificate(actor, certificate: Certificate, verified: bool, reason: str, t: datetime) -> None:
    """Verify or reject a pending certificate (chairs); only a pending one can be decided."""
    result = db.session.execute(
        update(Certificate)
        .where(Certificate.id == certificate.id, Certificate.status == "pending")
        .values(status="verified" if verified else "rejected", decided_by_id=actor.id, decided_at=t,
                rejection_reason="" if verified else reason.strip())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise TransitionRefused("This certificate has already been decided.")
    audit.record(actor, "training.certificate_" + ("verified" if verified else "rejected"), certificate,
                 fields=["status"], now=t)
    db.session.commit()
    db.session.refresh(certificate)


def certificates_query(user, status: str = ""):
    """Certificates the user may see: chairs all, agency admins their agency's, anyone their own."""
    query = select(Certificate).join(User, User.id == Certificate.user_id)
    if not user.has_role(CHAIR):
        if user.has_role(AGENCY_ADMIN) and user.agency_id:
            query = query.where(or_(Certificate.agency_id == user.agency_id, Certificate.user_id == user.id))
        else:
            query = query.where(Certificate.user_id == user.id)
    if status:
        query = query.where(Certificate.status == status)
    return query.order_by(Certificate.recorded_at.desc(), Certificate.id.desc())


def get_certificate_or_404(certificate_id: int, user) -> Certificate:
    """A certificate the user may see, or 404 (the same scope as the list)."""
    certificate = db.session.scalar(certificates_query(user).where(Certificate.id == certificate_id))
    if certificate is None:
        abort(404)
    return certificate


# ----- the chair's overview --------------------------------------------------------------------

def overview_rows(agencies: list[Agency], t: datetime) -> dict[int, dict]:
    """Per agency: certified now, certified in 30 days, certified users, next certificate expiry."""
    on, later = local_date(t), local_date(t) + timedelta(days=30)
    ids = [agency.id for agency in agencies]
    if not ids:
        return {}
    valid = and_(Certificate.status == "verified", TrainingCourse.is_core.is_(True), User.active.is_(True),
                 Certificate.completed_on <= on,
                 or_(Certificate.expires_on.is_(None), Certificate.expires_on >= on))
    rows = db.session.execute(
        select(User.agency_id, func.count(func.distinct(User.id)), func.min(Certificate.expires_on))
        .select_from(Certificate)
        .join(User, User.id == Certificate.user_id)
        .join(TrainingCourse, TrainingCourse.id == Certificate.course_id)
        .where(User.agency_id.in_(ids), valid)
        .group_by(User.agency_id)
    ).all()
    stats = {agency_id: (count, first_expiry) for agency_id, count, first_expiry in rows}
    certified_now = set(db.session.scalars(select(Agency.id).where(Agency.id.in_(ids), certified_condition(on))))
    certified_later = set(db.session.scalars(select(Agency.id).where(Agency.id.in_(ids), certified_condition(later))))
    result = {}
    for agency in agencies:
        count, first_expiry = stats.get(agency.id, (0, None))
        result[agency.id] = {
            "certified": agency.id in certified_now,
            "certified_users": count,
            "next_expiry": first_expiry,
            "losing_certification": agency.id in certified_now and agency.id not in certified_later,
            "agreement_current": _agreement_current_on(agency, on),
        }
    return result


def _agreement_current_on(agency: Agency, on: date) -> bool:
    return bool(agency.mou_signed_on and agency.mou_signed_on <= on
                and (agency.mou_renewal_on is None or agency.mou_renewal_on >= on))


def losing_certification(t: datetime) -> list[Agency]:
    """Agencies certified now that will not be in 30 days, unless something is renewed."""
    on, later = local_date(t), local_date(t) + timedelta(days=30)
    return db.session.scalars(
        select(Agency).where(certified_condition(on), ~certified_condition(later)).order_by(Agency.name)
    ).all()


def expiry_reminders(t: datetime) -> str:
    """The daily job: tell agency admins 30 days before a certificate or agreement expires."""
    target = local_date(t) + timedelta(days=30)
    sent = 0
    certificates = db.session.scalars(
        select(Certificate).where(Certificate.status == "verified", Certificate.expires_on == target)
    ).all()
    agreements = db.session.scalars(select(Agency).where(Agency.mou_renewal_on == target)).all()
    notices: dict[int, list[str]] = {}
    for certificate in certificates:
        notices.setdefault(certificate.agency_id, []).append(
            f"- {certificate.user.name}: {certificate.course.name} expires on {certificate.expires_on:%d %B %Y}"
        )
    for agency in agreements:
        notices.setdefault(agency.id, []).append(
            f"- The referral agreement with the task force is due for renewal on {agency.mou_renewal_on:%d %B %Y}"
        )
    for agency_id, lines in notices.items():
        admins = db.session.scalars(
            select(User).where(User.agency_id == agency_id, User.active.is_(True))
        ).all()
        for admin in admins:
            if admin.has_role(AGENCY_ADMIN):
                queue_mail(admin.email, "CSRN: training or agreement expiring in 30 days",
                           "These expire in 30 days. Renew them to keep receiving referrals:\n\n"
                           + "\n".join(lines) + "\n", t)
                sent += 1
    db.session.commit()
    return f"{sent} expiry reminder(s) queued"

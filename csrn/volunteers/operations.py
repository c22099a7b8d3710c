"""Volunteer applications and their vetting, as plain functions taking the actor and the time.

The public side (no account): `submit_application`, `find_by_token`, `request_status_link`,
`withdraw`. The chairs' side: `board`, `record_item`, `clear_item`, `change_status`, `approve`.
`renewal_pass` is the daily job. `sync_vetting` writes the verdict of the vetting onto the volunteer's
one-person provider (`Agency.vetted_until`) after every change, for the receiving rule in `directory` to read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import abort
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from csrn.agencies.models import Agency, Certificate, MembershipChange, TrainingCourse
from csrn.agencies.operations import expiry_for, local_date
from csrn.audit import operations as audit
from csrn.auth import operations as auth_ops
from csrn.auth import tokens
from csrn.auth.models import User
from csrn.concurrency import check_version
from csrn.directory.models import Service, ServiceType
from csrn.extensions import db
from csrn.links import external_url
from csrn.notify.operations import mails_to, notify, queue_mail
from csrn.roles import CHAIR, VOLUNTEER
from csrn.settings.operations import get_settings
from csrn.types import keyed_hashes
from csrn.volunteers.models import (
    BOARD_COLUMNS,
    PROFESSIONS,
    STATUSES,
    TRANSITIONS,
    WITHDRAWABLE,
    FormStamp,
    VettingItem,
    VolunteerApplication,
    VolunteerEvent,
)

REMIND_DAYS = 30
LICENSED = {code for code, (_, licensed, _, _) in PROFESSIONS.items() if licensed}
APPLICANT_FIELDS = (
    "name", "email", "phone", "profession", "profession_other", "licence_number", "licence_jurisdiction",
    "languages", "language_pairs", "practice_areas", "hours_per_month", "availability",
    "reference1_name", "reference1_contact", "reference2_name", "reference2_contact",
    "background_check_consent", "confidentiality_acknowledged",
)


class VettingError(Exception):
    """A chair's change the vetting rules do not allow; the message says why."""


# ----- the checklist ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemSpec:
    code: str
    label: str
    guidance: str
    expires: bool = False
    course_kind: str = ""


IDENTITY = ItemSpec("identity", "Identity verified", "A photo ID seen in person or on a video call.")
LICENCE = ItemSpec("licence", "Licence or bar membership verified",
                   "Checked with the licensing board or bar of the stated jurisdiction; note its expiry.",
                   expires=True)
BACKGROUND = ItemSpec("background_check", "Background check", "Cleared by the task force's background check "
                      "provider; the result stays with the committee.", expires=True)
REFERENCES = ItemSpec("references", "Two references contacted", "Both references spoken to; note who and when.")
CORE_TRAINING = ItemSpec("core_training", "Core trafficking training",
                         "A verified completion of a core course (the same courses agencies take).",
                         expires=True, course_kind="core")
TRAUMA_TRAINING = ItemSpec("trauma_training", "Trauma-informed training",
                           "A trauma-informed care course (the same courses agencies take).",
                           expires=True, course_kind="any")
CONFIDENTIALITY = ItemSpec("confidentiality", "Confidentiality agreement signed",
                           "The task force's confidentiality agreement, signed; attach it.", expires=True)
INTERVIEW = ItemSpec("interview", "Interview", "A conversation with a chair or a member they name.")
LANGUAGE = ItemSpec("language_assessment", "Language assessment",
                    "Each stated language pair assessed by a qualified assessor.", expires=True)


def checklist_for(profession: str) -> list[ItemSpec]:
    """The vetting checklist of a profession (DESIGN §4.8); every item is required."""
    items = [IDENTITY]
    if profession in LICENSED:
        items.append(LICENCE)
    items += [BACKGROUND, REFERENCES, CORE_TRAINING, TRAUMA_TRAINING, CONFIDENTIALITY, INTERVIEW]
    if profession == "interpreter":
        items.append(LANGUAGE)
    return items


# ----- applying --------------------------------------------------------------------------------------

def _normalised_answers(values: dict) -> str:
    normal = {}
    for key in APPLICANT_FIELDS:
        value = values.get(key, "")
        if isinstance(value, str):
            value = " ".join(value.split()).casefold()
        elif isinstance(value, list | tuple):
            value = sorted(value)
        normal[key] = value
    return json.dumps(normal, sort_keys=True, default=str)


def fingerprints(values: dict) -> list[str]:
    """Keyed hashes (HMAC-SHA256) of the normalised answers under each configured key, the current one first: the
    same answers give the same fingerprint, and a dump of the table cannot be matched against guessed answers."""
    return keyed_hashes("volunteer-answers", _normalised_answers(values))


def fingerprint(values: dict) -> str:
    """The fingerprint of the answers under the current key (see `fingerprints`)."""
    return fingerprints(values)[0]


def normalised_email(email: str) -> str:
    return (email or "").strip().lower()


def email_hashes(email: str) -> list[str]:
    """Keyed hashes of the normalised address under each configured key, the current one first: how an
    application is found by its (encrypted) e-mail address."""
    return keyed_hashes("volunteer-email", normalised_email(email))


def _status_link(raw: str) -> str:
    return external_url("volunteers.status", token=raw)


# The public form and the link request mail whatever address is typed in: at most this many a day to any one
# address (counted from the outbox), so nobody can use CSRN to flood a stranger's mailbox.
MAILS_PER_ADDRESS_PER_DAY = 3


def _mail_status_link(application: VolunteerApplication, raw: str, now: datetime, first: bool) -> None:
    """Mail the private status link, unless the address has had its day's share of mail already."""
    if mails_to(application.email, now - timedelta(days=1)) >= MAILS_PER_ADDRESS_PER_DAY:
        audit.record(None, "volunteer.mail_withheld", application, now=now)
        return
    task_force = get_settings().name
    opening = ("Thank you for applying to volunteer with the Coordinated Service Referral Network of "
               f"{task_force}." if first else "You asked for the link to your volunteer application again.")
    queue_mail(
        application.email,
        f"Your volunteer application to {task_force}",
        f"Hello {application.name},\n\n{opening}\n\nFollow your application here (keep this link private; "
        f"anyone with it can see your application's stage and withdraw it):\n{_status_link(raw)}\n\n"
        "If you did not apply, ignore this message.\n",
        now,
    )


def _event(application: VolunteerApplication, kind: str, now: datetime, actor=None, from_status: str = "",
           to_status: str = "", detail: str = "") -> None:
    db.session.add(VolunteerEvent(application_id=application.id, at=now, actor_id=getattr(actor, "id", None),
                                  kind=kind, from_status=from_status, to_status=to_status, detail=detail))


def _notify_chairs(text: str, link: str, now: datetime) -> None:
    notify(auth_ops.chairs(), text, link, now, email=False)


@dataclass
class Submitted:
    """What the applicant is shown: the application, and its link when this request created it."""

    application: VolunteerApplication
    raw_token: str | None
    created: bool


# A public form's stamp is good for a day (the view signs and checks it); used ones are kept that long.
STAMP_LIFETIME = timedelta(days=1)


def claim_form_stamp(nonce: str, now: datetime) -> bool:
    """Use up a form stamp's nonce; False when it was used already (a replayed form). Written in the caller's
    transaction, so it is used up only if the submission commits; a unique index settles two at once."""
    if not nonce or len(nonce) > 64:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(FormStamp(nonce=nonce, used_at=now))
    except IntegrityError:
        return False
    return True


def purge_form_stamps(now: datetime) -> str:
    """The daily job: forget used stamps older than a stamp may be (they are refused as stale anyway)."""
    result = db.session.execute(delete(FormStamp).where(FormStamp.used_at < now - STAMP_LIFETIME - timedelta(hours=1)))
    db.session.commit()
    return f"{result.rowcount} used form stamp(s) forgotten"


def submit_application(values: dict, now: datetime) -> Submitted:
    """Create an application with its checklist, or find the identical one already received."""
    values = dict(values)
    values["email"] = normalised_email(values["email"])
    prints = fingerprints(values)
    print_ = prints[0]
    existing = db.session.scalar(
        select(VolunteerApplication).where(
            VolunteerApplication.fingerprint.in_(prints),
            VolunteerApplication.status.not_in(("withdrawn", "declined")),
        ).order_by(VolunteerApplication.id).limit(1)
    )
    if existing is not None:
        return Submitted(existing, None, False)
    raw = tokens.new_raw_token()
    stored = {key: values[key] for key in APPLICANT_FIELDS if key in values}
    for key in ("languages", "practice_areas"):
        stored[key] = " ".join(stored.get(key) or [])
    application = VolunteerApplication(
        **stored, fingerprint=print_, email_hash=email_hashes(values["email"])[0],
        status_token_hash=tokens.hash_token(raw), applied_at=now, updated_at=now, status="applied",
    )
    for order, spec in enumerate(checklist_for(values["profession"])):
        application.items.append(VettingItem(code=spec.code, label=spec.label, guidance=spec.guidance,
                                             sort_order=order, expires=spec.expires, course_kind=spec.course_kind))
    db.session.add(application)
    db.session.flush()
    _event(application, "applied", now, to_status="applied")
    audit.record(None, "volunteer.applied", application, fields=sorted(stored), now=now)
    _mail_status_link(application, raw, now, first=True)
    _notify_chairs("A new pro bono volunteer application arrived.", f"/volunteers/{application.id}", now)
    db.session.commit()
    return Submitted(application, raw, True)


# A status link stops working this long after the application last changed (a new link, asked for by e-mail,
# counts as a change): a link found in an old mailbox years later opens nothing.
STATUS_LINK_LIFETIME = timedelta(days=180)


def find_by_token(raw: str, now: datetime) -> VolunteerApplication | None:
    """The application whose status link this is, while the link is alive; else None (a 404 for the caller)."""
    if not raw or len(raw) > 200:
        return None
    application = db.session.scalar(
        select(VolunteerApplication).where(VolunteerApplication.status_token_hash == tokens.hash_token(raw)))
    if application is None or now - application.updated_at > STATUS_LINK_LIFETIME:
        return None
    return application


def get_by_token_or_404(raw: str, now: datetime) -> VolunteerApplication:
    application = find_by_token(raw, now)
    if application is None:
        abort(404)
    return application


def request_status_link(email: str, now: datetime) -> int:
    """Send a fresh link (retiring the old one) for each open application of this e-mail; say nothing."""
    applications = db.session.scalars(
        select(VolunteerApplication).where(VolunteerApplication.email_hash.in_(email_hashes(email)),
                                           VolunteerApplication.status != "withdrawn")
    ).all()
    for application in applications:
        raw = tokens.new_raw_token()
        application.status_token_hash = tokens.hash_token(raw)
        application.updated_at = now  # the new link lives STATUS_LINK_LIFETIME from now
        _mail_status_link(application, raw, now, first=False)
        audit.record(None, "volunteer.status_link_resent", application, now=now)
    if not applications:
        audit.record(None, "volunteer.status_link_unknown", object_type="volunteer_application", now=now)
    db.session.commit()
    return len(applications)


def withdraw(application: VolunteerApplication, now: datetime) -> None:
    """The applicant withdraws; an approved volunteer's account is closed and they leave matching."""
    if application.status not in WITHDRAWABLE:
        raise VettingError("This application can no longer be withdrawn.")
    previous = application.status
    application.status = "withdrawn"
    application.updated_at = now
    if application.user is not None and application.user.active:
        application.user.active = False
        application.user.session_version += 1
    if application.agency is not None:
        _leave_directory(application.agency, now)
    _event(application, "withdrawn", now, from_status=previous, to_status="withdrawn")
    sync_vetting(application)
    audit.record(None, "volunteer.withdrawn", application, fields=["status"], now=now)
    _notify_chairs("A volunteer application was withdrawn by the applicant.", f"/volunteers/{application.id}", now)
    db.session.commit()


def _leave_directory(agency: Agency, now: datetime) -> None:
    """A withdrawn volunteer's one-person provider lapses and its services stop (the history says why)."""
    for service in db.session.scalars(select(Service).where(Service.agency_id == agency.id)).all():
        service.status = "inactive"
        service.updated_at = now
    if agency.membership_status != "lapsed":
        db.session.add(MembershipChange(agency_id=agency.id, from_status=agency.membership_status,
                                        to_status="lapsed", reason="The volunteer withdrew.", changed_at=now))
        agency.membership_status = "lapsed"
        agency.updated_at = now


def applicant_view(application: VolunteerApplication, today: date) -> list[tuple[str, str]]:
    """What the applicant sees of the checklist: each item's label and "done", "expired" or "to do"."""
    rows = []
    for item in application.items:
        if not item.done:
            state = "to do"
        elif item.expired_on(today):
            state = "expired"
        else:
            state = "done"
        rows.append((item.label, state))
    return rows


# ----- the chairs' side ------------------------------------------------------------------------------

def get_application_or_404(application_id: int) -> VolunteerApplication:
    application = db.session.get(VolunteerApplication, application_id)
    if application is None:
        abort(404)
    return application


def get_item_or_404(application: VolunteerApplication, item_id: int) -> VettingItem:
    item = db.session.get(VettingItem, item_id)
    if item is None or item.application_id != application.id:
        abort(404)
    return item


@dataclass
class Board:
    """The vetting board: applications by column (oldest first, at most `limit` each), with counts."""

    columns: dict[str, list[VolunteerApplication]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    limit: int = 100

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)


def board(profession: str = "", language: str = "", limit_per_column: int = 100) -> Board:
    """Applications on the board (withdrawn ones leave it), filtered by profession and language."""
    conditions = [VolunteerApplication.status.in_(BOARD_COLUMNS)]
    if profession:
        conditions.append(VolunteerApplication.profession == profession)
    if language:
        # Codes are stored space-separated; pad both sides so "en" never matches "ben".
        conditions.append((" " + VolunteerApplication.languages + " ").contains(f" {language} ", autoescape=True))
    counts = dict(db.session.execute(
        select(VolunteerApplication.status, func.count()).where(*conditions).group_by(VolunteerApplication.status)
    ).all())
    result = Board(columns={}, counts={status: counts.get(status, 0) for status in BOARD_COLUMNS},
                   limit=limit_per_column)
    for status in BOARD_COLUMNS:
        result.columns[status] = list(db.session.scalars(
            select(VolunteerApplication).where(*conditions, VolunteerApplication.status == status)
            .order_by(VolunteerApplication.applied_at, VolunteerApplication.id).limit(limit_per_column)
        ).all()) if result.counts[status] else []
    return result


def missing_items(application: VolunteerApplication, today: date) -> list[VettingItem]:
    """Required items not done, or done and expired."""
    return [item for item in application.items if item.required and (not item.done or item.expired_on(today))]


def record_item(actor, application: VolunteerApplication, item: VettingItem, values: dict, stored_file,
                now: datetime) -> VettingItem:
    """Record a checklist item as done: when, notes, an expiry (training: from the course), a document."""
    if application.status == "withdrawn":
        raise VettingError("The applicant withdrew this application.")
    course = None
    if item.course_kind:
        course = db.session.get(TrainingCourse, values.get("course_id") or 0)
        if course is None or not course.active or (item.course_kind == "core" and not course.is_core):
            raise VettingError("Choose the course the volunteer completed"
                               + (" (a core course)." if item.course_kind == "core" else "."))
    done_on: date = values["done_on"]
    if done_on > local_date(now):
        raise VettingError("The date it was done is in the future.")
    item.done_on = done_on
    item.notes = values.get("notes") or ""
    item.done_by_id = actor.id
    item.recorded_at = now
    if course is not None:
        item.course_id = course.id
        item.expires_on = expiry_for(course, done_on)
    elif item.expires:
        item.expires_on = values.get("expires_on")
    if item.expires_on is not None and item.expires_on < done_on:
        raise VettingError("The expiry date is before the date it was done.")
    if stored_file is not None:
        item.file_name = stored_file.name
        item.file_original_name = stored_file.original_name
        item.file_mime = stored_file.mime
    application.updated_at = now
    _event(application, "item_recorded", now, actor=actor, detail=item.label)
    sync_vetting(application)
    if course is not None and application.user is not None:
        _certificate_from(actor, application, item, now)
    audit.record(actor, "volunteer.item_recorded", application,
                 fields=["done_on", "notes", "expires_on", "course_id", "file_name"], now=now)
    db.session.commit()
    return item


def clear_item(actor, application: VolunteerApplication, item: VettingItem, now: datetime) -> None:
    """Mark an item as not done again (the history keeps who did what)."""
    item.done_on = None
    item.done_by_id = None
    item.recorded_at = None
    item.expires_on = None
    item.course_id = None
    item.notes = ""
    item.file_name = None
    item.file_original_name = ""
    item.file_mime = ""
    application.updated_at = now
    _event(application, "item_cleared", now, actor=actor, detail=item.label)
    sync_vetting(application)
    audit.record(actor, "volunteer.item_cleared", application, fields=["done_on"], now=now)
    db.session.commit()


def allowed_moves(application: VolunteerApplication) -> tuple[str, ...]:
    return TRANSITIONS.get(application.status, ())


def change_status(actor, application: VolunteerApplication, to_status: str, reason: str, seen_version: int | None,
                  now: datetime, service_type_id: int | None = None) -> str | None:
    """Move an application on the board; hold and decline need a reason; approval checks the list.

    Returns the invitation link when this change was the first approval (else None).
    """
    if actor is None or not actor.has_role(CHAIR):
        raise VettingError("Only chairs vet volunteers.")
    check_version(application, seen_version)
    if to_status not in allowed_moves(application):
        raise VettingError(f"An application that is {application.status_label.lower()} cannot become "
                           f"{STATUSES.get(to_status, to_status).lower()}.")
    if to_status in ("on_hold", "declined") and not reason.strip():
        raise VettingError("Say why: the reason goes on the application's history.")
    if to_status == "approved":
        return approve(actor, application, now, service_type_id=service_type_id)
    previous = application.status
    application.status = to_status
    application.status_reason = reason.strip()
    application.updated_at = now
    _event(application, "status", now, actor=actor, from_status=previous, to_status=to_status,
           detail=reason.strip())
    sync_vetting(application)
    audit.record(actor, "volunteer.status_changed", application, fields=["status", "status_reason"], now=now)
    db.session.commit()
    return None


def approve(actor, application: VolunteerApplication, now: datetime, service_type_id: int | None = None) -> str | None:
    """Approve when every required item is done and current; the first approval brings them into the network.

    Returns the invitation link the first approval sent (else None).
    """
    if actor is None or not actor.has_role(CHAIR):
        raise VettingError("Only chairs vet volunteers.")
    missing = missing_items(application, local_date(now))
    if missing:
        raise VettingError("Not every required item is done: " + "; ".join(item.label for item in missing) + ".")
    previous = application.status
    if application.agency_id is None:
        type_code = PROFESSIONS[application.profession][2]
        service_type = (db.session.get(ServiceType, service_type_id) if service_type_id else
                        db.session.scalar(select(ServiceType).where(ServiceType.code == type_code))
                        if type_code else None)
        if service_type is None:
            raise VettingError("Choose the service this volunteer offers.")
        if db.session.scalar(User.by_email(application.email)) is not None:
            raise VettingError("An account with this e-mail address already exists; ask an administrator.")
        link = _bring_into_network(actor, application, service_type, now)
    else:
        link = None
        user = application.user
        if user is not None and not user.active:
            user.active = True
    application.status = "approved"
    application.status_reason = ""
    application.approved_at = application.approved_at or now
    application.updated_at = now
    _event(application, "status", now, actor=actor, from_status=previous, to_status="approved")
    sync_vetting(application)
    audit.record(actor, "volunteer.approved", application, fields=["status", "agency_id", "user_id"], now=now)
    db.session.commit()
    return link


def _bring_into_network(actor, application: VolunteerApplication, service_type, now: datetime) -> str:
    """A one-person provider (member, agreement signed), its service, the account and its certificates."""

    confidentiality = next((item for item in application.items if item.code == "confidentiality"), None)
    signed_on = confidentiality.done_on if confidentiality else local_date(now)
    agency = Agency(
        name=application.name, agency_type=PROFESSIONS[application.profession][3],
        description=f"Pro bono {application.profession_label.lower()} (an approved volunteer of the task force).",
        phone=application.phone, membership_status="member", mou_signed_on=signed_on,
        mou_renewal_on=confidentiality.expires_on if confidentiality else None,
        mou_signatory=application.name, created_at=now, updated_at=now,
    )
    db.session.add(agency)
    db.session.flush()
    db.session.add(MembershipChange(agency_id=agency.id, from_status="prospect", to_status="member",
                                    reason="Approved pro bono volunteer.", changed_by_id=actor.id, changed_at=now))
    hours = application.hours_per_month
    areas = ", ".join(application.area_labels)
    service = Service(
        agency_id=agency.id, service_type_id=service_type.id, name=f"Pro bono {service_type.name.lower()}",
        description=(f"Up to {hours} hours a month." + (f" Areas of practice: {areas}." if areas else "")
                     + (f" Availability: {application.availability}" if application.availability else "")),
        status="active", cost="pro_bono", how_to_refer="Offer the referral through CSRN.",
        created_at=now, updated_at=now, capacity_confirmed_at=now,
    )
    db.session.add(service)
    db.session.flush()
    if application.language_codes:
        service.set_values("language", application.language_codes)
    user = auth_ops.create_user(actor, application.email, application.name, {VOLUNTEER}, agency.id, now)
    user.invited_by_id = actor.id  # the approving chair: the volunteer role in their own provider, nothing else
    application.agency = agency
    application.user_id = user.id
    application.service_type_id = service_type.id
    db.session.flush()
    for item in application.items:
        if item.course_id is not None and item.done:
            _certificate_from(actor, application, item, now)
    link = auth_ops.send_invitation(actor, user, now)
    audit.record(actor, "volunteer.provider_created", agency, fields=["name", "agency_type"], now=now)
    return link


def _certificate_from(actor, application: VolunteerApplication, item: VettingItem, now: datetime) -> None:
    """A training item becomes the volunteer's verified certificate (the membership rule then applies)."""
    db.session.add(Certificate(
        user_id=application.user_id, agency_id=application.agency_id, course_id=item.course_id,
        completed_on=item.done_on, expires_on=item.expires_on, status="verified",
        file_name=item.file_name, file_original_name=item.file_original_name, file_mime=item.file_mime,
        recorded_by_id=actor.id, recorded_at=now, decided_by_id=actor.id, decided_at=now,
    ))


def days_since(application: VolunteerApplication, now: datetime) -> int:
    return max(0, (local_date(now) - local_date(application.applied_at)).days)


# ----- matching and renewal --------------------------------------------------------------------------

def vetted_until(application: VolunteerApplication) -> date | None:
    """The last day the volunteer may receive referrals: approved with every required item done, through the
    earliest expiry of a required item (for good when none expires); None when not approved or an item is missing."""
    required = [item for item in application.items if item.required]
    if application.status != "approved" or any(not item.done for item in required):
        return None
    return min((item.expires_on for item in required if item.expires_on is not None), default=date.max)


def sync_vetting(application: VolunteerApplication) -> None:
    """Keep the provider's copy of the vetting verdict current (call after any change to the application or items)."""
    if application.agency is not None:
        application.agency.vetting_required = True
        application.agency.vetted_until = vetted_until(application)


def renewal_pass(now: datetime) -> str:
    """The daily job: approved volunteers with an expired item become renewal due; chairs hear 30 days ahead."""
    today = local_date(now)
    moved = reminded = 0
    approved = db.session.scalars(
        select(VolunteerApplication).where(VolunteerApplication.status == "approved")).all()
    for application in approved:
        if missing_items(application, today):
            application.status = "renewal_due"
            application.updated_at = now
            _event(application, "status", now, from_status="approved", to_status="renewal_due",
                   detail="A vetting item expired.")
            sync_vetting(application)
            audit.record(None, "volunteer.renewal_due", application, fields=["status"], now=now)
            _notify_chairs("A pro bono volunteer is due for renewal: an item of their vetting expired.",
                           f"/volunteers/{application.id}", now)
            moved += 1
            continue
        horizon = today + timedelta(days=REMIND_DAYS)
        soon = [item for item in application.items
                if item.expires_on is not None and item.expires_on <= horizon and item.reminded_for != item.expires_on]
        if soon:
            for item in soon:
                item.reminded_for = item.expires_on
            _notify_chairs(f"A pro bono volunteer's vetting item expires within {REMIND_DAYS} days.",
                           f"/volunteers/{application.id}", now)
            reminded += 1
    db.session.commit()
    return f"{moved} volunteer(s) moved to renewal due, {reminded} reminder(s)"

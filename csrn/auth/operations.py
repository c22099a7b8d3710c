"""Passwords, login, logout, user creation, invitations and role grants (and their approval by an agency's
admins); plain functions taking the actor and time."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from csrn.audit import operations as audit
from csrn.auth import sessions, tokens, twofactor
from csrn.auth.models import AccessRequest, ResetRequest, User, UserRole
from csrn.clock import utcnow
from csrn.database import escape_like
from csrn.extensions import db
from csrn.links import external_url, path_for
from csrn.notify.operations import notify, queue_mail
from csrn.roles import ADMIN, AGENCY_ADMIN, CASE_MANAGER, CHAIR, ROLES, STAFF, VOLUNTEER
from csrn.security import safe_next
from csrn.settings.operations import get_settings


def password_hasher() -> PasswordHasher:
    """argon2id with this environment's cost parameters (cheap in tests)."""
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return password_hasher().hash(password)


# One hash of nobody's password per process (and per set of cost parameters, which tests change), so that
# an unknown e-mail costs one argon2 verification, exactly as a known one does (SECURITY A5). Keyed on the
# parameters themselves: a key holding the hasher object (its repr has its address) missed every time.
_DUMMY_HASHES: dict[tuple, str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    """The process's hash of a random password for these parameters, made the first time it is asked for."""
    key = (hasher.type, hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len,
           hasher.salt_len)
    if key not in _DUMMY_HASHES:
        # Two threads may both make one on the very first call; either hash serves equally well.
        _DUMMY_HASHES.setdefault(key, hasher.hash(secrets.token_urlsafe(32)))
    return _DUMMY_HASHES[key]


def _dummy_verify(password: str) -> None:
    """Spend the same work as a real check, so unknown e-mails answer as slowly as known ones."""
    hasher = password_hasher()
    try:
        hasher.verify(_dummy_hash(hasher), password)
    except VerificationError:
        pass


def password_inputs(user: User) -> list[str]:
    """What an attacker would know of the user, for the password check: e-mail, name, agency, task force."""
    return [user.email, user.name, user.agency.name if user.agency else "", get_settings().name]


def check_password(user: User, password: str) -> bool:
    """Verify the password; rehash in place when the parameters have changed."""
    if not user.password_hash:
        _dummy_verify(password)
        return False
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def authenticate(email: str, password: str, now: datetime) -> User | None:
    """Return the active user with these credentials; failures are audited (success is, at login)."""
    user = db.session.scalar(User.by_email(email))
    if user is None:
        _dummy_verify(password)
        audit.record(None, "auth.login_failed", object_type="user", now=now)
        db.session.commit()
        return None
    if not check_password(user, password) or not user.active:
        audit.record(user, "auth.login_failed", user, now=now)
        db.session.commit()
        return None
    db.session.commit()  # a rehash, if the parameters changed
    return user


def logout(user: User, now: datetime) -> None:
    """End every session of the user and record it."""

    sessions.end_all(user, now)
    audit.record(user, "auth.logout", user, now=now)
    db.session.commit()


def create_user(
    actor,
    email: str,
    name: str,
    roles,
    agency_id: int | None,
    now: datetime,
    password: str | None = None,
) -> User:
    """Create a user with the given roles (the caller decides who may grant which)."""
    if set(roles).difference(ROLES):
        raise ValueError("unknown role")
    user = User(
        email=email.strip().lower(),
        name=name.strip(),
        agency_id=agency_id,
        created_at=now,
        password_hash=hash_password(password) if password else None,
        active=True,
        session_version=1,
    )
    user.set_roles(roles)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", user, fields=["email", "name", "roles", "agency_id"], now=now)
    return user


def load_user_from_session_id(session_id: str) -> User | None:
    """Flask-Login loader: the user, only if active and the session version still matches."""
    try:
        user_id, version = (int(part) for part in session_id.split(":", 1))
    except ValueError:
        return None
    found = sessions.user_and_session(user_id)
    if found is None:
        return None
    user, row = found
    if not user.active or user.session_version != version:
        return None
    if sessions.current(user, utcnow(), row) is None:
        return None
    return user


def unauthorized_response():
    """Send anonymous visitors to the login page; htmx requests get HX-Redirect, not a login form."""

    target = request.full_path if request.method == "GET" else request.path
    target = target[:-1] if target.endswith("?") else target
    login_url = url_for("auth.login", next=safe_next(target, "/"))
    if getattr(request, "htmx", False):
        response = current_app.response_class("", status=401)
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    return redirect(login_url)


def is_authenticated() -> bool:
    """Whether the current request has a logged-in user."""
    return bool(current_user and current_user.is_authenticated)


# ----- who may grant what (DESIGN §2, SECURITY A6) -------------------------------------------------
#
# Agency admins invite and manage their own agency's users, as staff, case manager or agency admin, at once.
# Anyone outside an agency (a chair, an administrator) may only ask: an invitation, a role grant or a reactivation
# into the agency waits for one of its agency admins to approve it (an AccessRequest) and has no effect before —
# no account, no link, no role. One exception keeps an agency without an admin from being stuck: a chair or an
# administrator may make the first agency admin of an agency that has no active one (every chair is told). Only
# administrators grant chair or administrator (with the same approval when the person belongs to an agency). A pro
# bono volunteer's one-person provider has no other users: the volunteer role comes only from the vetting.

AGENCY_ROLES = frozenset({STAFF, CASE_MANAGER, AGENCY_ADMIN})
GRANTABLE_BY_AGENCY_ADMIN = AGENCY_ROLES
NETWORK_ROLES = frozenset({CHAIR, ADMIN})


class NotAllowed(Exception):
    """The actor may not make this change."""


def is_agency_admin_of(actor: User, agency_id: int | None) -> bool:
    """Whether the actor is an (active) agency admin of that agency: its insider for user management."""
    return (agency_id is not None and actor.active and actor.agency_id == agency_id
            and actor.has_role(AGENCY_ADMIN))


def grantable_roles(actor: User, agency_id: int | None) -> set[str]:
    """Roles the actor may grant at once to a user of that agency: its agency admins the agency's roles (and chair or
    administrator if they are administrators too); administrators, chair and administrator to people of no agency."""
    if agency_id is None:
        return set(NETWORK_ROLES) if actor.has_role(ADMIN) else set()
    if not is_agency_admin_of(actor, agency_id):
        return set()
    return set(AGENCY_ROLES) | (set(NETWORK_ROLES) if actor.has_role(ADMIN) else set())


def requestable_roles(actor: User, agency_id: int | None) -> set[str]:
    """Roles the actor may ask the agency's admins to grant: chairs and administrators outside the agency the
    agency's roles, administrators chair and administrator as well."""
    if agency_id is None or is_agency_admin_of(actor, agency_id) or not actor.has_role(CHAIR, ADMIN):
        return set()
    return set(AGENCY_ROLES) | (set(NETWORK_ROLES) if actor.has_role(ADMIN) else set())


def manageable_roles(actor: User, agency_id: int | None) -> set[str]:
    """Roles the actor may grant or ask for in that agency (what the forms offer)."""
    return grantable_roles(actor, agency_id) | requestable_roles(actor, agency_id)


def has_active_agency_admin(agency_id: int) -> bool:
    """Whether an active account of the agency holds the agency admin role (an invited one counts)."""
    return db.session.scalar(select(func.count()).select_from(User).join(UserRole, UserRole.user_id == User.id).where(
        User.agency_id == agency_id, User.active.is_(True), UserRole.role == AGENCY_ADMIN)) > 0


def volunteer_provider_ids() -> set[int]:
    """The agencies that are a pro bono volunteer's one-person provider (they hold a volunteer's account)."""
    return set(db.session.scalars(select(User.agency_id).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == VOLUNTEER, User.agency_id.is_not(None))))


def _refuse_volunteer_provider(agency_id: int | None) -> None:
    if agency_id is not None and agency_id in volunteer_provider_ids():
        raise NotAllowed("A pro bono volunteer's provider has no other users.")


def may_make_first_agency_admin(actor: User, agency_id: int | None, roles) -> bool:
    """Whether a chair or administrator may make (invite, or grant) the first agency admin of an agency that has no
    active one: agency roles only, the agency admin role among them."""
    roles = set(roles)
    return (agency_id is not None and actor.has_role(CHAIR, ADMIN) and not is_agency_admin_of(actor, agency_id)
            and AGENCY_ADMIN in roles and roles <= AGENCY_ROLES and not has_active_agency_admin(agency_id))


def can_manage(actor: User, target: User) -> bool:
    """Whether the actor may see the target's account (chairs and administrators: everyone's)."""
    if actor.has_role(ADMIN, CHAIR):
        return True
    return is_agency_admin_of(actor, target.agency_id)


def can_change(actor: User, target: User) -> bool:
    """Whether the actor may change the target's account: not their own, not a volunteer's (the vetting's), and
    every role the target holds is one the actor may grant or ask for in its agency."""
    if actor.id == target.id or not can_manage(actor, target) or VOLUNTEER in target.roles:
        return False
    return target.roles <= manageable_roles(actor, target.agency_id)


def users_query(actor: User, search: str = "", agency_id: int | None = None):
    """Users the actor may manage, in name order (one scope for the list and the detail page)."""
    query = select(User)
    if not actor.has_role(ADMIN, CHAIR):
        # An agency admin of no agency manages nobody (never "every user without an agency").
        query = query.where(User.agency_id.is_not(None), User.agency_id == actor.agency_id)
    elif agency_id:
        query = query.where(User.agency_id == agency_id)
    if search:
        pattern = f"%{escape_like(search)}%"
        query = query.where(or_(User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\")))
    return query.options(selectinload(User.invited_by), selectinload(User.approved_by)).order_by(
        func.lower(User.name), User.id)


def get_user_for_management_or_404(user_id: int, actor: User) -> User:
    """Load a user the actor may manage; everyone else gets a 404."""
    target = db.session.get(User, user_id)
    if target is None or not can_manage(actor, target):
        abort(404)
    return target


@dataclass
class Invitation:
    """What an invitation did: the account and its link (made at once), or the request waiting for approval."""

    user: User | None = None
    link: str | None = None
    request: AccessRequest | None = None
    first_agency_admin: bool = False


def _check_address_free(email: str) -> None:
    if db.session.scalar(User.by_email(email)) is not None:
        raise ValueError("An account with this e-mail address already exists.")
    waiting = select(AccessRequest.id).where(AccessRequest.kind == "invite", AccessRequest.state == "pending",
                                             AccessRequest.email == email.strip().lower())
    if db.session.scalar(waiting) is not None:
        raise ValueError("An invitation for this e-mail address is waiting for approval.")


def invite_user(actor: User, email: str, name: str, agency_id: int | None, roles, now: datetime) -> Invitation:
    """Invite a person: at once (an account without a password, an invitation link by e-mail) when the actor may
    grant the roles in that agency or is making its first agency admin; otherwise, if the actor may ask, a request
    its agency admins approve or refuse (no account and no link before that)."""
    roles = set(roles)
    if not roles or not roles <= set(ROLES) - {VOLUNTEER}:
        raise NotAllowed("You may not grant those roles in that agency.")
    _refuse_volunteer_provider(agency_id)
    _check_address_free(email)
    first = not roles <= grantable_roles(actor, agency_id) and may_make_first_agency_admin(actor, agency_id, roles)
    if roles <= grantable_roles(actor, agency_id) or first:
        user = create_user(actor, email, name, roles, agency_id, now)
        user.invited_by_id = actor.id
        link = send_invitation(actor, user, now)
        audit.record(actor, "user.invite", user, fields=["email", "roles", "agency_id"], now=now)
        if first:
            audit.record(actor, "user.first_agency_admin", user, fields=["roles"], now=now)
            notify(chairs(), f"{actor.name} invited the first agency admin of {user.agency.name}",
                   path_for("users.show", user_id=user.id), now)
        db.session.commit()
        return Invitation(user=user, link=link, first_agency_admin=first)
    if not roles <= requestable_roles(actor, agency_id):
        raise NotAllowed("You may not grant those roles in that agency.")
    request_ = _request(actor, agency_id, "invite", roles, now, email=email.strip().lower(), name=name.strip())
    audit.record(actor, "user.invite_requested", request_, fields=["email", "name", "roles", "agency_id"], now=now,
                 object_type="access_request")
    db.session.commit()
    return Invitation(request=request_)


def _request(actor: User, agency_id: int, kind: str, roles, now: datetime, user: User | None = None, email: str = "",
             name: str = "") -> AccessRequest:
    """Record a request into the agency and tell its agency admins; refused when none can approve it."""
    admins = users_of(agency_id, AGENCY_ADMIN)
    if not admins:
        raise NotAllowed("That agency has no agency admin to approve this. A chair or an administrator may invite "
                         "its first agency admin.")
    if user is not None and db.session.scalar(select(AccessRequest.id).where(
            AccessRequest.user_id == user.id, AccessRequest.kind == kind, AccessRequest.state == "pending",
            AccessRequest.roles == " ".join(sorted(roles)))):
        raise NotAllowed("The same request for this person is already waiting for approval.")
    request_ = AccessRequest(agency_id=agency_id, kind=kind, user_id=getattr(user, "id", None), email=email,
                             name=name, roles=" ".join(sorted(roles)), requested_by_id=actor.id, requested_at=now,
                             state="pending")
    db.session.add(request_)
    db.session.flush()
    what = {"invite": "An invitation into your agency", "roles": "A role change for one of your agency's users",
            "reactivate": "The reactivation of one of your agency's users"}[kind]
    notify(admins, f"{what} waits for your approval", path_for("users.requests"), now)
    return request_


def can_resend_invitation(actor: User, target: User) -> bool:
    """Whether the actor may send the target a new invitation link: their agency's admins, or whoever invited them."""
    if target.password_hash is not None or not can_change(actor, target):
        return False
    return (is_agency_admin_of(actor, target.agency_id) or target.invited_by_id == actor.id
            or (target.agency_id is None and actor.has_role(ADMIN)))


def resend_invitation(actor: User, user: User, now: datetime) -> str:
    """Issue a fresh invitation link (retiring the old one) for a user who has not set a password."""
    if user.password_hash is not None:
        raise NotAllowed("This person has already set a password.")
    if not can_resend_invitation(actor, user):
        raise NotAllowed("You may not invite this person.")
    link = send_invitation(actor, user, now)
    audit.record(actor, "user.invite_resent", user, now=now)
    db.session.commit()
    return link


def send_invitation(actor: User, user: User, now: datetime) -> str:
    """Issue a single-use invitation link for the user (retiring any earlier one), queue its e-mail, return it."""

    raw = tokens.issue("invite", user, actor, now)
    link = external_url("auth.accept_invitation", token=raw)
    task_force = get_settings().name
    queue_mail(
        user.email,
        f"Your invitation to {task_force} (CSRN)",
        f"Hello {user.name},\n\n{actor.name} has invited you to the Coordinated Service Referral Network of "
        f"{task_force}.\n\nSet your password here (the link works once, for 7 days):\n{link}\n\n"
        "If you did not expect this, ignore this message.\n",
        now,
    )
    return link


# ----- approval by the agency's admins ---------------------------------------------------------------

def pending_requests_query(actor: User):
    """The requests waiting for the actor's approval (those into the agency they are an agency admin of)."""
    if actor.agency_id is None or not is_agency_admin_of(actor, actor.agency_id):
        return select(AccessRequest).where(AccessRequest.id.is_(None))
    return (select(AccessRequest).where(AccessRequest.agency_id == actor.agency_id, AccessRequest.state == "pending")
            .order_by(AccessRequest.requested_at, AccessRequest.id))


def requests_made_query(actor: User, limit: int = 50):
    """The actor's own requests into other agencies, newest first."""
    return (select(AccessRequest).where(AccessRequest.requested_by_id == actor.id)
            .order_by(AccessRequest.requested_at.desc(), AccessRequest.id.desc()).limit(limit))


def requests_about(user: User) -> list[AccessRequest]:
    """The requests concerning an account, newest first (its page shows who asked and who decided)."""
    return db.session.scalars(select(AccessRequest).where(AccessRequest.user_id == user.id)
                              .order_by(AccessRequest.requested_at.desc(), AccessRequest.id.desc())).all()


def get_request_for_decision_or_404(request_id: int, actor: User) -> AccessRequest:
    """A request the actor may decide (an agency admin of its agency); anyone else gets a 404."""
    request_ = db.session.get(AccessRequest, request_id)
    if request_ is None or not is_agency_admin_of(actor, request_.agency_id):
        abort(404)
    return request_


def _decide(actor: User, request_: AccessRequest, state: str, now: datetime) -> None:
    if not is_agency_admin_of(actor, request_.agency_id):
        raise NotAllowed("Only an agency admin of that agency decides this.")
    if request_.requested_by_id == actor.id:
        raise NotAllowed("Someone else must approve your own request.")
    decided = db.session.execute(
        update(AccessRequest).where(AccessRequest.id == request_.id, AccessRequest.state == "pending")
        .values(state=state, decided_by_id=actor.id, decided_at=now).execution_options(synchronize_session=False))
    if decided.rowcount != 1:
        db.session.rollback()
        raise NotAllowed("This request has been decided already.")
    db.session.expire(request_)


def approve_request(actor: User, request_: AccessRequest, now: datetime) -> str | None:
    """An agency admin approves: the invitation is sent (returns its link), the roles granted or the account
    reactivated — as long as the person who asked may still ask for it."""
    _decide(actor, request_, "approved", now)
    requester = request_.requested_by
    roles = request_.role_set
    may_ask = requestable_roles(requester, request_.agency_id) if requester is not None and requester.active else set()
    if not may_ask or not roles <= may_ask:
        db.session.rollback()
        raise NotAllowed("The person who asked may no longer grant this; refuse it.")
    _refuse_volunteer_provider(request_.agency_id)
    link = None
    if request_.kind == "invite":
        _check_address_free(request_.email)
        user = create_user(actor, request_.email, request_.name, roles, request_.agency_id, now)
        user.invited_by_id, user.approved_by_id = requester.id, actor.id
        request_.user_id = user.id
        link = send_invitation(requester, user, now)
        audit.record(actor, "user.invite_approved", user, fields=["email", "roles", "agency_id"], now=now)
    else:
        user = request_.user
        if user is None or user.agency_id != request_.agency_id or VOLUNTEER in user.roles:
            db.session.rollback()
            raise NotAllowed("This person no longer belongs to your agency; refuse it.")
        if request_.kind == "roles":
            user.set_roles(user.roles | roles)
            audit.record(actor, "user.roles_changed", user, fields=["roles"], now=now)
        else:
            user.active = True
            audit.record(actor, "user.reactivated", user, fields=["active"], now=now)
    audit.record(actor, "access_request.approved", request_, now=now, object_type="access_request")
    notify([requester], f"Your request about {request_.subject_name} was approved by {actor.name}",
           path_for("users.requests"), now)
    db.session.commit()
    return link


def refuse_request(actor: User, request_: AccessRequest, now: datetime) -> None:
    """An agency admin refuses: nothing changes; the person who asked is told."""
    _decide(actor, request_, "refused", now)
    audit.record(actor, "access_request.refused", request_, now=now, object_type="access_request")
    if request_.requested_by is not None:
        notify([request_.requested_by], f"Your request about {request_.subject_name} was refused by {actor.name}",
               path_for("users.requests"), now)
    db.session.commit()


def accept_invitation(token, password: str, now: datetime) -> User:
    """Set the invited user's password and use up the token."""

    if not tokens.consume(token, now):
        raise NotAllowed("This invitation link has already been used or has expired.")
    user = token.user
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    audit.record(user, "user.invitation_accepted", user, now=now)
    db.session.commit()
    return user


def request_password_reset(email: str, now: datetime) -> None:
    """Record a reset request for `tick` to answer; say nothing, and do the same work, whatever the address."""
    # No look-up here: a known address used to cost a token and a mail more than an unknown one, which a
    # stopwatch could tell apart (SECURITY A5). `tick` answers within a minute, when it sends the outbox anyway.
    db.session.add(ResetRequest(email=email.strip().lower()[:254], requested_at=now))
    audit.record(None, "auth.reset_requested", object_type="user", now=now)
    db.session.commit()


RESET_REQUESTS_PER_TICK = 500


def answer_reset_requests(now: datetime) -> str:
    """The `tick` job: queue a reset link for each waiting request whose address has an active account."""
    waiting = db.session.scalars(select(ResetRequest).order_by(ResetRequest.id).limit(RESET_REQUESTS_PER_TICK)).all()
    queued = 0
    for row in waiting:
        queued += _answer_reset_request(row.email, now)
        db.session.delete(row)
    db.session.commit()
    return f"{len(waiting)} answered, {queued} link(s) queued"


def _answer_reset_request(email: str, now: datetime) -> bool:
    """Queue a reset link when the e-mail belongs to an active account with a password; whether it did."""
    user = db.session.scalar(User.by_email(email))
    if user is None or not user.active or user.password_hash is None:
        audit.record(None, "auth.reset_requested_unknown", object_type="user", now=now)
        return False
    raw = tokens.issue("reset", user, None, now)
    link = external_url("auth.reset_password", token=raw)
    queue_mail(
        user.email,
        "Reset your CSRN password",
        f"Hello {user.name},\n\nSomeone asked to reset the password of your CSRN account. If it was you, "
        f"choose a new password here (the link works once, for one hour):\n{link}\n\n"
        "If it was not you, ignore this message; your password stays as it is.\n",
        now,
    )
    audit.record(None, "auth.reset_link_queued", user, now=now)
    return True


def reset_password(token, password: str, now: datetime) -> User:
    """Set a new password from a reset link, ending every session; the second factor still applies."""

    if not tokens.consume(token, now):
        raise NotAllowed("This reset link has already been used or has expired.")
    user = token.user
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    sessions.end_all(user, now)
    tokens.revoke_all_access(user, now)
    audit.record(user, "auth.password_reset", user, fields=["password_hash"], now=now)
    db.session.commit()
    return user


def change_password(user: User, new_password: str, now: datetime, keep=None) -> None:
    """Change the password and end every other session."""

    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    sessions.end_all(user, now, keep=keep)
    tokens.revoke_all_access(user, now)
    audit.record(user, "account.password_changed", user, fields=["password_hash"], now=now)
    db.session.commit()


def change_email(user: User, new_email: str, now: datetime) -> None:
    """Change the login e-mail, telling the old address."""

    new_email = new_email.strip().lower()
    existing = db.session.scalar(User.by_email(new_email))
    if existing is not None and existing.id != user.id:
        raise ValueError("Another account already uses this e-mail address.")
    old = user.email
    user.email = new_email
    queue_mail(old, "Your CSRN e-mail address was changed",
               "The e-mail address of your CSRN account was changed. If this was not you, "
               "call your agency admin or the task force chair at once.\n", now)
    audit.record(user, "account.email_changed", user, fields=["email"], now=now)
    db.session.commit()


def set_roles(actor: User, target: User, requested, now: datetime) -> AccessRequest | None:
    """Change the target's roles within what the actor may grant or ask for; other roles stay untouched.

    Removals apply at once (they open nothing). Additions apply at once when the actor may grant them (or makes the
    agency's first agency admin); from outside the agency they become a request its agency admins decide, returned.
    """
    if not can_change(actor, target):
        raise NotAllowed("You may not change this person's roles.")
    changeable = manageable_roles(actor, target.agency_id)
    requested = set(requested)
    if not requested <= changeable:
        raise NotAllowed("You may not grant those roles.")
    new_roles = (target.roles - changeable) | requested
    if not new_roles:
        raise ValueError("Keep at least one role, or deactivate the account instead.")
    added = new_roles - target.roles
    first = (AGENCY_ADMIN in added and not added <= grantable_roles(actor, target.agency_id)
             and may_make_first_agency_admin(actor, target.agency_id, added | (target.roles & AGENCY_ROLES)))
    request_ = None
    if added and not added <= grantable_roles(actor, target.agency_id) and not first:
        # The additions wait; the removals apply now, unless they would leave no role before the approval.
        new_roles = (new_roles - added) or set(target.roles)
        request_ = _request(actor, target.agency_id, "roles", added, now, user=target)
        audit.record(actor, "user.roles_requested", target, fields=["roles"], now=now)
    if target.roles != new_roles:
        target.set_roles(new_roles)
        audit.record(actor, "user.roles_changed", target, fields=["roles"], now=now)
    if first:
        audit.record(actor, "user.first_agency_admin", target, fields=["roles"], now=now)
        notify(chairs(), f"{actor.name} made {target.name} the first agency admin of {target.agency.name}",
               path_for("users.show", user_id=target.id), now)
    db.session.commit()
    return request_


def deactivate(actor: User, target: User, now: datetime) -> None:
    """Deactivate an account and end all its sessions at once (it opens nothing, so no approval is needed)."""

    if not can_change(actor, target):
        raise NotAllowed("You may not deactivate this account.")
    target.active = False
    sessions.end_all(target, now)
    audit.record(actor, "user.deactivated", target, fields=["active"], now=now)
    db.session.commit()


def reactivate(actor: User, target: User, now: datetime) -> AccessRequest | None:
    """Let a deactivated account log in again: at once by the agency's own admins (or an administrator, for people
    of no agency); from outside the agency, a request its agency admins decide (returned)."""
    if not can_change(actor, target):
        raise NotAllowed("You may not reactivate this account.")
    if target.agency_id is not None and not is_agency_admin_of(actor, target.agency_id) and not (
            may_make_first_agency_admin(actor, target.agency_id, target.roles)):
        request_ = _request(actor, target.agency_id, "reactivate", set(), now, user=target)
        audit.record(actor, "user.reactivation_requested", target, fields=["active"], now=now)
        db.session.commit()
        return request_
    target.active = True
    audit.record(actor, "user.reactivated", target, fields=["active"], now=now)
    if target.agency_id is not None and not is_agency_admin_of(actor, target.agency_id):
        audit.record(actor, "user.first_agency_admin", target, fields=["active"], now=now)
        notify(chairs(), f"{actor.name} reactivated {target.name}, the only agency admin of {target.agency.name}",
               path_for("users.show", user_id=target.id), now)
    db.session.commit()
    return None


def reset_second_factor(actor: User, target: User, now: datetime) -> None:
    """An admin removes a user's second factor (lost phone); the user enrols again at next login."""

    if not actor.has_role(ADMIN) or actor.id == target.id:
        raise NotAllowed("Only an administrator may reset another person's second factor.")
    twofactor.disable(target)
    sessions.end_all(target, now)
    audit.record(actor, "user.second_factor_reset", target, fields=["totp_secret"], now=now)
    db.session.commit()


def requires_two_factor(user: User) -> bool:
    """Whether this user must enrol a second factor before reaching anything else."""
    return bool(current_app.config.get("CSRN_REQUIRE_2FA"))


# ----- who to tell: users by role, for every module's notices ------------------------------------

def users_of(agency_id: int, *roles: str) -> list[User]:
    """Active users of the agency holding any of the roles."""
    users = db.session.scalars(select(User).where(User.agency_id == agency_id, User.active.is_(True))).all()
    return [u for u in users if u.has_role(*roles)]


def chairs() -> list[User]:
    """Every active chair (whom escalations, the committee queue and vetting reach)."""
    # The role in SQL: loading every active user (and their roles) cost a quarter second per escalation.
    return db.session.scalars(select(User).where(
        User.active.is_(True), User.id.in_(select(UserRole.user_id).where(UserRole.role == CHAIR)))).all()


def active_users_with_roles(agency_ids, roles) -> dict[int, list]:
    """Active users of these agencies holding any of the roles, as rows (id, email, roles) by agency."""
    found: dict[int, dict[int, SimpleNamespace]] = {}
    if not agency_ids:
        return {}
    for user_id, email, agency_id, role in db.session.execute(
            select(User.id, User.email, User.agency_id, UserRole.role).join(UserRole, UserRole.user_id == User.id)
            .where(User.agency_id.in_(agency_ids), User.active.is_(True), UserRole.role.in_(roles))
            .order_by(User.id)):
        user = found.setdefault(agency_id, {}).setdefault(user_id, SimpleNamespace(id=user_id, email=email,
                                                                                     roles=set()))
        user.roles.add(role)
    return {agency_id: list(users.values()) for agency_id, users in found.items()}

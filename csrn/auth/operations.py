"""Passwords, login, logout and user creation; plain functions taking the actor and time."""

from __future__ import annotations

import secrets
from datetime import datetime
from types import SimpleNamespace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from csrn.audit import operations as audit
from csrn.auth import sessions, tokens, twofactor
from csrn.auth.models import ResetRequest, User, UserRole
from csrn.clock import utcnow
from csrn.database import escape_like
from csrn.extensions import db
from csrn.links import external_url
from csrn.notify.operations import queue_mail
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
    user = db.session.scalar(select(User).where(User.id == user_id))
    if user is None or not user.active or user.session_version != version:
        return None
    if sessions.current(user, utcnow()) is None:
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


# ----- who may grant what --------------------------------------------------------------------

GRANTABLE_BY_AGENCY_ADMIN = frozenset({STAFF, CASE_MANAGER, AGENCY_ADMIN})


def grantable_roles(actor: User, agency_id: int | None) -> set[str]:
    """Roles the actor may grant to a user of that agency (only admins grant chair or admin)."""
    if actor.has_role(ADMIN):
        return set(ROLES) - {VOLUNTEER}
    granted: set[str] = set()
    if actor.has_role(CHAIR) and agency_id is not None:
        granted |= GRANTABLE_BY_AGENCY_ADMIN
    if actor.has_role(AGENCY_ADMIN) and actor.agency_id is not None and actor.agency_id == agency_id:
        granted |= GRANTABLE_BY_AGENCY_ADMIN
    return granted


def can_manage(actor: User, target: User) -> bool:
    """Whether the actor may see and manage the target's account."""
    if actor.has_role(ADMIN, CHAIR):
        return True
    return actor.has_role(AGENCY_ADMIN) and actor.agency_id is not None and actor.agency_id == target.agency_id


def can_change(actor: User, target: User) -> bool:
    """Whether the actor may deactivate or change the target: every role the target holds is theirs to grant."""
    if actor.id == target.id or not can_manage(actor, target):
        return False
    return target.roles <= grantable_roles(actor, target.agency_id)


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
    return query.order_by(func.lower(User.name), User.id)


def get_user_for_management_or_404(user_id: int, actor: User) -> User:
    """Load a user the actor may manage; everyone else gets a 404."""
    target = db.session.get(User, user_id)
    if target is None or not can_manage(actor, target):
        abort(404)
    return target


class NotAllowed(Exception):
    """The actor may not make this change."""


def invite_user(actor: User, email: str, name: str, agency_id: int | None, roles, now: datetime) -> tuple[User, str]:
    """Create an account without a password and an invitation token; queue the e-mail; return (user, link)."""
    roles = set(roles)
    if not roles or not roles <= grantable_roles(actor, agency_id):
        raise NotAllowed("You may not grant those roles in that agency.")
    if db.session.scalar(User.by_email(email)) is not None:
        raise ValueError("An account with this e-mail address already exists.")
    user = create_user(actor, email, name, roles, agency_id, now)
    link = send_invitation(actor, user, now)
    audit.record(actor, "user.invite", user, fields=["email", "roles", "agency_id"], now=now)
    db.session.commit()
    return user, link


def resend_invitation(actor: User, user: User, now: datetime) -> str:
    """Issue a fresh invitation link (retiring the old one) for a user who has not set a password."""
    if user.password_hash is not None:
        raise NotAllowed("This person has already set a password.")
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


def set_roles(actor: User, target: User, requested, now: datetime) -> None:
    """Change the target's roles within what the actor may grant; other roles stay untouched."""
    if not can_change(actor, target):
        raise NotAllowed("You may not change this person's roles.")
    grantable = grantable_roles(actor, target.agency_id)
    requested = set(requested)
    if not requested <= grantable:
        raise NotAllowed("You may not grant those roles.")
    new_roles = (target.roles - grantable) | requested
    if not new_roles:
        raise ValueError("Keep at least one role, or deactivate the account instead.")
    changed = target.roles ^ new_roles
    target.set_roles(new_roles)
    if changed:
        audit.record(actor, "user.roles_changed", target, fields=["roles"], now=now)
    db.session.commit()


def deactivate(actor: User, target: User, now: datetime) -> None:
    """Deactivate an account and end all its sessions at once."""

    if not can_change(actor, target):
        raise NotAllowed("You may not deactivate this account.")
    target.active = False
    sessions.end_all(target, now)
    audit.record(actor, "user.deactivated", target, fields=["active"], now=now)
    db.session.commit()


def reactivate(actor: User, target: User, now: datetime) -> None:
    """Let a deactivated account log in again."""
    if not can_change(actor, target):
        raise NotAllowed("You may not reactivate this account.")
    target.active = True
    audit.record(actor, "user.reactivated", target, fields=["active"], now=now)
    db.session.commit()


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

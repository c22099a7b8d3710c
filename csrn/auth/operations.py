"""Passwords, login, logout and user creation; plain functions taking the actor and time."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select, update

from csrn.audit import operations as audit
from csrn.auth.models import ROLES, User
from csrn.extensions import db


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


_DUMMY_HASH: dict[str, str] = {}


def _dummy_verify(password: str) -> None:
    """Spend the same work as a real check, so unknown e-mails answer as slowly as known ones."""
    hasher = password_hasher()
    key = repr(hasher)
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = hasher.hash("not a real password, only for timing")
    try:
        hasher.verify(_DUMMY_HASH[key], password)
    except VerificationError:
        pass


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
    """Return the active user with these credentials, recording the attempt in the audit log."""
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
    user.last_login_at = now
    audit.record(user, "auth.login", user, now=now)
    db.session.commit()
    return user


def end_all_sessions(user: User) -> None:
    """Bump the session version: every cookie issued before now becomes anonymous."""
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    db.session.expire(user, ["session_version"])


def logout(user: User, now: datetime) -> None:
    """End every session of the user and record it."""
    end_all_sessions(user)
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
    return user


def unauthorized_response():
    """Send anonymous visitors to the login page; htmx requests get HX-Redirect, not a login form."""
    from csrn.security import safe_next

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

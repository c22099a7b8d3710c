"""Server-side session records: idle and absolute timeouts, listing and ending sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache, wraps

from flask import g, redirect, request, session, url_for
from flask_login import login_required
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from csrn.auth.models import User, UserSession
from csrn.clock import utcnow
from csrn.extensions import db

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
FRESH_FOR = timedelta(minutes=10)
# Recording every request would write on every click; a minute's precision is enough.
TOUCH_EVERY = timedelta(seconds=60)
BACKGROUND_HEADER = "X-CSRN-Background"


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def start(user: User, now: datetime) -> UserSession:
    """Record a new session for the user and put its random id in the cookie."""
    sid = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        sid_hash=_hash(sid),
        created_at=now,
        last_seen_at=now,
        reauthenticated_at=now,
        ip=(request.remote_addr or "")[:64],
        user_agent=(request.user_agent.string or "")[:200],
    )
    db.session.add(row)
    session["sid"] = sid
    g.user_session = row
    return row


def expired(row: UserSession, now: datetime) -> bool:
    """Whether the session has ended, sat idle too long, or lived too long."""
    return (
        row.ended_at is not None
        or now - row.last_seen_at > IDLE_TIMEOUT
        or now - row.created_at > ABSOLUTE_TIMEOUT
    )


def user_and_session(user_id: int) -> tuple[User, UserSession] | None:
    """The user and this request's session record of theirs, in one query (with their roles and agency): what
    every logged-in request asks first. None when the cookie has no session id or it is not this user's."""
    sid = session.get("sid")
    if not sid:
        return None
    found = db.session.execute(_user_and_session_query(), {"user_id": user_id, "sid_hash": _hash(sid)}).unique().first()
    return (found[0], found[1]) if found is not None else None


@cache
def _user_and_session_query():
    # Built once per process: every logged-in request runs it, and building and keying a statement costs more than
    # SQLite takes to answer it.
    return (select(User, UserSession)
            .join(UserSession, UserSession.user_id == User.id)
            .where(User.id == bindparam("user_id"), UserSession.sid_hash == bindparam("sid_hash"))
            .options(joinedload(User.role_rows)))


def current(user: User, now: datetime, row: UserSession | None = None) -> UserSession | None:
    """The live session record of this request for the user, touched unless a background request (at most once a
    minute: a write per request would serialise every page on SQLite). `row`: the record already read."""
    if row is None:
        sid = session.get("sid")
        if not sid:
            return None
        row = db.session.scalar(select(UserSession).where(UserSession.sid_hash == _hash(sid)))
    if row is None or row.user_id != user.id:
        return None
    if expired(row, now):
        if row.ended_at is None:
            end_one(row, now)
            db.session.commit()
        return None
    background = request.headers.get(BACKGROUND_HEADER) == "1"
    if not background and now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    g.user_session = row
    return row


def is_fresh(row: UserSession | None, now: datetime) -> bool:
    """Whether the user re-entered their password recently (SECURITY A8)."""
    return row is not None and now - row.reauthenticated_at <= FRESH_FOR


def mark_fresh(row: UserSession, now: datetime) -> None:
    """Record a successful re-authentication."""
    row.reauthenticated_at = now


def keep_codes_to_show(row: UserSession, codes: list[str]) -> None:
    """Hold new recovery codes on the session record, encrypted, until `take_codes_to_show` shows them."""
    row.recovery_codes_to_show = "\n".join(codes)


def take_codes_to_show(row: UserSession | None) -> list[str]:
    """The recovery codes waiting to be shown, removed from the record: they are shown once."""
    if row is None or not row.recovery_codes_to_show:
        return []
    codes = row.recovery_codes_to_show.split("\n")
    row.recovery_codes_to_show = None
    return codes


def end_one(row: UserSession, now: datetime) -> None:
    """End a single session (codes it never showed go with it)."""
    if row.ended_at is None:
        row.ended_at = now
    row.recovery_codes_to_show = None


def end_all(user: User, now: datetime, keep: UserSession | None = None) -> None:
    """End every session of the user (but `keep`), and bump the version so old cookies die too."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    db.session.execute(query.values(ended_at=now, recovery_codes_to_show=None))
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    db.session.expire(user, ["session_version"])


def active_for(user: User, now: datetime) -> list[UserSession]:
    """The user's sessions that are still alive, newest first."""
    rows = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    ).all()
    return [row for row in rows if not expired(row, now)]


def fresh_login_required(view):
    """Require a password (and code) re-entered in the last few minutes (SECURITY A8)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not is_fresh(g.get("user_session"), utcnow()):
            return redirect(url_for("account.reauthenticate", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped

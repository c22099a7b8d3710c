"""Tokens in links (SECURITY A6): 32 random bytes, stored hashed.

Link tokens (invitation, reset, capacity) expire and are used once. Access tokens are long-lived bearer secrets
for feeds (one per user and purpose, valid until renewed or revoked) and for the HSDS API (one per outside system,
by name, held by no user, valid until revoked).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from csrn.auth.models import API_PURPOSE, AccessToken, AuthToken
from csrn.extensions import db

LIFETIMES = {"invite": timedelta(days=7), "reset": timedelta(hours=1), "capacity": timedelta(days=7)}


def hash_token(raw: str) -> str:
    """SHA-256 of a token: enough for 256 random bits, and comparable in the database."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_raw_token() -> str:
    """32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def issue(purpose: str, user, created_by, now: datetime) -> str:
    """Create a token for the user, retire their earlier unused ones of the purpose, return the raw token."""
    db.session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.purpose == purpose, AuthToken.used_at.is_(None))
        .values(used_at=now)
    )
    raw = new_raw_token()
    db.session.add(
        AuthToken(
            purpose=purpose,
            token_hash=hash_token(raw),
            user_id=user.id,
            created_by_id=getattr(created_by, "id", None),
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
        )
    )
    return raw


def issue_for_agency(purpose: str, agency, now: datetime) -> str:
    """Create a token that belongs to an agency (a capacity confirmation link); return the raw token."""
    db.session.execute(
        update(AuthToken)
        .where(AuthToken.agency_id == agency.id, AuthToken.purpose == purpose, AuthToken.used_at.is_(None))
        .values(used_at=now)
    )
    raw = new_raw_token()
    db.session.add(AuthToken(purpose=purpose, token_hash=hash_token(raw), agency_id=agency.id,
                             created_at=now, expires_at=now + LIFETIMES[purpose]))
    return raw


def find_valid(purpose: str, raw: str, now: datetime) -> AuthToken | None:
    """The unused, unexpired token of this purpose for an active account, or None."""
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(
        select(AuthToken).where(AuthToken.token_hash == hash_token(raw), AuthToken.purpose == purpose)
    )
    if token is None or token.used_at is not None or token.expires_at <= now:
        return None
    if token.user_id is not None and not token.user.active:  # deactivation retires the account's links
        return None
    return token


def consume(token: AuthToken, now: datetime) -> bool:
    """Mark the token used; False when another request used it first (one conditional UPDATE)."""
    result = db.session.execute(
        update(AuthToken)
        .where(AuthToken.id == token.id, AuthToken.used_at.is_(None), AuthToken.expires_at > now)
        .values(used_at=now)
    )
    return result.rowcount == 1


# ----- long-lived access tokens --------------------------------------------------------------------

def issue_access(purpose: str, user, now: datetime) -> str:
    """Make the user's token for this purpose, revoking the one before (its URL stops working); return it raw."""
    revoke_access(purpose, user, now)
    raw = new_raw_token()
    db.session.add(AccessToken(purpose=purpose, token_hash=hash_token(raw), user_id=user.id,
                               agency_id=user.agency_id, created_at=now))
    return raw


def revoke_access(purpose: str, user, now: datetime) -> bool:
    """Revoke the user's token for this purpose; whether there was one."""
    result = db.session.execute(
        update(AccessToken)
        .where(AccessToken.user_id == user.id, AccessToken.purpose == purpose, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount > 0


def revoke_all_access(user, now: datetime) -> None:
    """Stop every feed of the user: after a password change or reset, or "log out everywhere else" — whoever
    held the account may have copied a feed address."""
    db.session.execute(update(AccessToken).where(AccessToken.user_id == user.id, AccessToken.revoked_at.is_(None))
                       .values(revoked_at=now))


def access_tokens_of(user) -> dict[str, AccessToken]:
    """The user's live tokens by purpose (to say which feeds exist, never to show them again)."""
    rows = db.session.scalars(select(AccessToken).where(AccessToken.user_id == user.id,
                                                        AccessToken.revoked_at.is_(None)))
    return {row.purpose: row for row in rows}


def find_access(purpose: str, raw: str, now: datetime) -> AccessToken | None:
    """The live token of this purpose for an active account (its use recorded), or None."""
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_token(raw),
                                                        AccessToken.purpose == purpose))
    if token is None or token.revoked_at is not None or token.user is None or not token.user.active:
        return None  # (an API token has no user: it is found by find_api only)
    if token.agency_id is not None and token.agency_id != token.user.agency_id:
        return None  # moved to another agency since: the old agency's roster is no longer theirs
    token.last_used_at = now
    return token


# ----- API tokens (the HSDS API): an outside system's, by name ---------------------------------------

API_NAME_LENGTH = 80
LAST_USE_STEP = timedelta(minutes=1)  # last use to the minute: not a write on every request of a busy client


class TokenNameTaken(ValueError):
    """A live API token already has this name."""


def live_api_token(name: str) -> AccessToken | None:
    """The unrevoked API token of this name, or None."""
    return db.session.scalar(select(AccessToken).where(AccessToken.purpose == API_PURPOSE, AccessToken.name == name,
                                                       AccessToken.revoked_at.is_(None)))


def issue_api(name: str, created_by, now: datetime) -> str:
    """Make an API token for the outside system called `name` (not agency-scoped: it reads the public directory
    only); return it raw, to be shown once. A live token of the same name must be revoked first."""
    name = name.strip()
    if not name or len(name) > API_NAME_LENGTH:
        raise ValueError(f"An API token needs a name of 1 to {API_NAME_LENGTH} characters.")
    if live_api_token(name) is not None:
        raise TokenNameTaken(f"A live API token is already called {name!r}: revoke it first, or choose another name.")
    raw = new_raw_token()
    db.session.add(AccessToken(purpose=API_PURPOSE, token_hash=hash_token(raw), name=name,
                               created_by_id=getattr(created_by, "id", None), created_at=now))
    db.session.flush()
    return raw


def revoke_api(name: str, now: datetime) -> bool:
    """Revoke the live API token of this name (its holder gets 401 from now on); whether there was one."""
    result = db.session.execute(
        update(AccessToken)
        .where(AccessToken.purpose == API_PURPOSE, AccessToken.name == name, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount > 0


def api_tokens() -> list[AccessToken]:
    """Every API token, live ones first, newest first (what the admin page lists; never the token itself)."""
    return db.session.scalars(
        select(AccessToken).where(AccessToken.purpose == API_PURPOSE)
        .order_by(AccessToken.revoked_at.is_not(None), AccessToken.created_at.desc(), AccessToken.id.desc())
    ).all()


def find_api(raw: str, now: datetime) -> AccessToken | None:
    """The live API token for this raw value (its last use recorded, to the minute), or None."""
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_token(raw),
                                                        AccessToken.purpose == API_PURPOSE))
    if token is None or token.revoked_at is not None:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_STEP:
        token.last_used_at = now
    return token

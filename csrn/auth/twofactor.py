"""TOTP second factor (pyotp), QR codes drawn on the server (segno), hashed recovery codes."""

from __future__ import annotations

import hashlib
import io
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, or_, select, update

from csrn.auth.models import RecoveryCode, User
from csrn.extensions import db

ISSUER = "CSRN"
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_secret() -> str:
    """A random base32 TOTP secret."""
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// link an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> bytes:
    """The otpauth link as an SVG QR code."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return buffer.getvalue()


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch.isalnum()).lower()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (±1 for clock drift) whose code matches, or None."""
    code = _normalise_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(user: User, code: str, now: datetime, secret: str | None = None) -> bool:
    """Accept a code once: its step must be newer than the last one used (one conditional UPDATE)."""
    secret = secret or user.totp_secret
    if not secret:
        return False
    step = matching_step(secret, code, now)
    if step is None:
        return False
    result = db.session.execute(
        update(User)
        .where(User.id == user.id)
        .where(or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
    )
    db.session.expire(user, ["totp_last_step"])
    return result.rowcount == 1


def _hash_code(code: str) -> str:
    return hashlib.sha256(_normalise_code(code).encode("utf-8")).hexdigest()


def new_recovery_codes(user: User, now: datetime) -> list[str]:
    """Replace the user's recovery codes with ten new ones; return them to show once."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(code), created_at=now))
    return codes


def use_recovery_code(user: User, code: str, now: datetime) -> bool:
    """Spend one unused recovery code (one conditional UPDATE)."""
    if len(_normalise_code(code)) != 10:
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_code(code))
        .where(RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    return result.rowcount == 1


def remaining_recovery_codes(user: User) -> int:
    """How many unused recovery codes the user has."""
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


def verify_second_factor(user: User, code: str, now: datetime) -> bool:
    """A TOTP code or, failing that, a recovery code."""
    return verify_totp(user, code, now) or use_recovery_code(user, code, now)


def enable(user: User, now: datetime) -> None:
    """Make the pending secret the user's second factor."""
    user.totp_secret = user.totp_pending_secret
    user.totp_pending_secret = None
    user.totp_enabled_at = now


def disable(user: User) -> None:
    """Remove the user's second factor and recovery codes (an admin reset, or before re-enrolling)."""
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))

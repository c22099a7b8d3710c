"""Device cookies (SECURITY A4, S1): OWASP's "Slow down online guessing attacks with device cookies".

A browser that logged in to an account successfully holds a signed, HttpOnly cookie naming that account (its id and
a random nonce). It logs nobody in — it is not a "remember me" cookie: it only tells the login form that this
browser has logged in to this account before, so that its attempts count against its own per-device limit
(`lockout.DEVICE`) instead of the limits that every untrusted client shares. Attackers guessing from many addresses
lock out untrusted clients, never the officer's own browser.

One cookie holds up to `MAX_ACCOUNTS` accounts (a shared desk), newest first; each entry lives `MAX_AGE` from the
login that issued it, and every successful login issues a new nonce. Path `/login` (the form and the code step), so
no other request carries it; logout leaves it (Clear-Site-Data names no "cookies").
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from csrn.auth.models import User
from csrn.extensions import db

COOKIE_NAME = "csrn_device"
COOKIE_PATH = "/login"
MAX_AGE = timedelta(days=365)
MAX_ACCOUNTS = 5
SALT = "csrn-device-cookie"


def _serializer() -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts every one: retired SECRET_KEYs keep cookies valid.
    keys = [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.secret_key]
    return URLSafeSerializer(keys, salt=SALT)


def _entries() -> list[tuple[int, str, int]]:
    """The (user id, nonce, issued at) entries of this request's device cookie that are signed and still alive."""
    raw = request.cookies.get(COOKIE_NAME, "")
    if not raw or len(raw) > 2000:
        return []
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return []
    oldest = time.time() - MAX_AGE.total_seconds()
    entries = []
    for item in data if isinstance(data, list) else []:
        if (isinstance(item, list) and len(item) == 3 and isinstance(item[0], int) and isinstance(item[1], str)
                and isinstance(item[2], int) and item[2] >= oldest):
            entries.append((item[0], item[1], item[2]))
    return entries[:MAX_ACCOUNTS]


def device_for(email: str) -> str | None:
    """The nonce naming this browser for the account of this e-mail, when it holds a valid device cookie for it;
    else None (the account is looked up only when the browser holds a device cookie at all)."""
    entries = _entries()
    if not entries:
        return None
    user_id = db.session.scalar(select(User.id).where(User.email == (email or "").strip().lower()))
    return next((nonce for uid, nonce, _ in entries if user_id is not None and uid == user_id), None)


def remember(response, user_id: int) -> None:
    """After a successful login: a new device cookie entry for the account (the browser's others kept)."""
    entries = [[uid, nonce, issued] for uid, nonce, issued in _entries() if uid != user_id]
    entries.insert(0, [user_id, secrets.token_urlsafe(16), int(time.time())])
    response.set_cookie(
        COOKIE_NAME, _serializer().dumps(entries[:MAX_ACCOUNTS]), max_age=int(MAX_AGE.total_seconds()),
        path=COOKIE_PATH, secure=current_app.config.get("SESSION_COOKIE_SECURE", False), httponly=True,
        samesite="Strict",
    )

"""API tokens of the HSDS API, issued and revoked with their audit entries (the admin page and the CLI both call
these). A token belongs to an outside system, by name; it is not agency-scoped: it reads the public directory only
(SECURITY AC1). Only its hash is kept, so the raw token is returned once, to be shown once."""

from __future__ import annotations

from datetime import datetime

from csrn.audit import operations as audit
from csrn.auth import tokens
from csrn.auth.models import AccessToken
from csrn.extensions import db

TokenNameTaken = tokens.TokenNameTaken


def issue_token(actor, name: str, now: datetime) -> tuple[str, AccessToken]:
    """Issue an API token for the outside system `name` and audit it (actor None: the command line); return the
    raw token and its row. ValueError for an empty or too long name, TokenNameTaken when a live token has it."""
    raw = tokens.issue_api(name, actor, now)
    token = tokens.live_api_token(name.strip())
    audit.record(actor, "api_token.issued", object_type="api_token", object_id=token.id, fields=["name"], now=now)
    db.session.commit()
    return raw, token


def revoke_token(actor, name: str, now: datetime) -> AccessToken | None:
    """Revoke the live API token of this name and audit it; the token, or None when no live token has the name."""
    token = tokens.live_api_token(name)
    if token is None or not tokens.revoke_api(name, now):
        db.session.rollback()
        return None
    audit.record(actor, "api_token.revoked", object_type="api_token", object_id=token.id, fields=["name"], now=now)
    db.session.commit()
    return token

"""Security headers, role checks and the object-permission helpers every module uses."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, request
from flask_login import current_user, login_required

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# Endpoints reachable without logging in (SECURITY AC2). Every other endpoint needs a login.
PUBLIC_ENDPOINTS = {
    "static", "health.healthz", "auth.login", "auth.login_code", "auth.accept_invitation",
    "auth.reset_request", "auth.reset_password", "directory.confirm_link",
    "volunteers.apply", "volunteers.status", "volunteers.withdraw", "volunteers.request_link", "oncall.feed",
    "cases.feed",
    # The HSDS API checks its bearer token itself (401 JSON, never the login page), or is public by a setting;
    # its OpenAPI document and schemas are open to all.
    "hsds_api.meta", "hsds_api.services", "hsds_api.service", "hsds_api.organizations", "hsds_api.organization",
    "hsds_api.service_at_locations", "hsds_api.service_at_location", "hsds_api.taxonomies", "hsds_api.taxonomy",
    "hsds_api.taxonomy_terms", "hsds_api.taxonomy_term", "hsds_api.openapi", "hsds_api.schema",
}


def one_line(text: str) -> str:
    """Stored text for a place where a line break is not text (a mail header, a calendar line, a download's name):
    on one line, control characters as spaces. A value written by an import or a restore may hold one."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def set_security_headers(response):
    """Add CSP, nosniff, referrer policy, HSTS (production), no-store and Vary on every response."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    if current_app.config.get("HSTS"):
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if request.endpoint != "static":
        # Pages may hold client details: never cache them anywhere.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
        response.vary.add("HX-Request")
    return response


def roles_required(*roles: str):
    """Require a logged-in user holding at least one of the roles; 403 otherwise."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def is_safe_next(target: str | None) -> bool:
    """Whether a ?next= value is a path on this site (never another host or scheme)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str = "/") -> str:
    """Return the target when it is a local path, else the default."""
    return target if is_safe_next(target) else default

"""Links built inside operations, which also run outside requests (scheduled jobs, the demo seed)."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for


def path_for(endpoint: str, **values) -> str:
    """The site-relative path of an endpoint, with or without a request (never from the request's Host)."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context("/"):
        return url_for(endpoint, **values)


def external_url(endpoint: str, **values) -> str:
    """An absolute link for mail, built from CSRN_BASE_URL."""
    return current_app.config["CSRN_BASE_URL"].rstrip("/") + path_for(endpoint, **values)

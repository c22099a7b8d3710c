"""Template filters and globals: local times, role names and the navigation."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, url_for
from flask_login import current_user
from sqlalchemy.exc import DBAPIError

from csrn.directory.languages import language_name
from csrn.notify.operations import unread_count
from csrn.roles import ADMIN, AGENCY_ADMIN, CHAIR, RECEIVER_ROLES, VOLUNTEER
from csrn.settings.operations import get_settings, task_force_zone


def navigation() -> list[tuple[str, str, str]]:
    """The navigation entries (endpoint, label, url) the current user's roles allow."""
    if not current_user.is_authenticated:
        return []
    items = [("dashboard.index", "Home")]
    if current_user.roles == {VOLUNTEER}:
        # An approved pro bono volunteer: their offers and the protocols meant for them.
        items += [("referrals.index", "Referrals"), ("referrals.inbox", "Inbox"), ("oncall.now", "On call"),
                  ("protocols.index", "Protocols"), ("account.index", "Account")]
        return [(endpoint, label, url_for(endpoint)) for endpoint, label in items]
    if current_user.agency is not None and current_user.agency.membership_status != "suspended":
        items.append(("intake.new", "New intake"))
    items += [("oncall.now", "On call"), ("referrals.index", "Referrals")]
    if current_user.has_role(*RECEIVER_ROLES):
        items += [("referrals.inbox", "Inbox"), ("cases.index", "Cases")]
    if current_user.has_role(CHAIR):
        items.append(("referrals.queue", "Queue"))
    items += [("directory.search", "Directory"), ("agencies.index", "Agencies"), ("trainings.index", "Training"),
              ("pathways.index", "Pathways")]
    items.append(("protocols.index", "Protocols"))
    if current_user.has_role(AGENCY_ADMIN) and current_user.agency_id:
        items.append(("agencies.show", "My agency"))
    if current_user.has_role(AGENCY_ADMIN, CHAIR):
        items.append(("cases.concerns", "Concerns"))
    if current_user.has_role(AGENCY_ADMIN, CHAIR, ADMIN):
        items.append(("users.index", "Users"))
    if current_user.has_role(ADMIN):
        items += [("settings.edit", "Settings"), ("notify.index", "Outbox"), ("audit.index", "Audit log")]
    if current_user.has_role(CHAIR):
        items += [("volunteers.board", "Volunteers"), ("agencies.create", "New agency")]
    items.append(("account.index", "Account"))
    result = []
    for endpoint, label in items:
        args = {"agency_id": current_user.agency_id} if endpoint == "agencies.show" else {}
        result.append((endpoint, label, url_for(endpoint, **args)))
    return result


def register(app: Flask) -> None:
    """Add the filters and globals every template may use."""

    @app.template_filter("localtime")
    def localtime(value: datetime | None, fmt: str = "%-d %b %Y, %H:%M") -> str:
        if value is None:
            return ""
        return value.astimezone(task_force_zone()).strftime(fmt)

    @app.template_filter("longdate")
    def longdate(value: date | None) -> str:
        return value.strftime("%-d %B %Y") if value else ""

    app.add_template_filter(language_name, "language_name")

    @app.template_filter("language_names")
    def language_names(codes) -> str:
        """Language codes as names, comma-separated (one call: `map("language_name")` costs a call per code)."""
        return ", ".join(language_name(code) for code in codes or ())

    @app.template_filter("extract")
    def extract(key, mapping: dict):
        """Look a code up in a dict of labels: `codes|map("extract", labels)`."""
        return mapping.get(key, key)

    @app.template_filter("safe_url")
    def safe_url(value: str | None) -> str:
        """Only http(s) links ever reach an href, whatever is in the database."""
        value = (value or "").strip()
        return value if value.lower().startswith(("https://", "http://")) else ""

    def task_force_name() -> str:
        try:
            return get_settings().name
        except DBAPIError:  # error pages render even when the database is down
            return "CSRN"

    @app.context_processor
    def inject():
        return {"navigation": navigation, "task_force_name": task_force_name, "unread_notifications": unread}

    def unread() -> int:
        return unread_count(current_user) if current_user.is_authenticated else 0

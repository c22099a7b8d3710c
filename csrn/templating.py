"""Template filters and globals: local times, role names and the navigation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask import Flask, current_app, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.exc import DBAPIError

from csrn.clock import utcnow
from csrn.directory.languages import language_name
from csrn.gaps import operations as gaps_ops
from csrn.notify.operations import unread_count
from csrn.roles import ADMIN, AGENCY_ADMIN, CHAIR, RECEIVER_ROLES, VOLUNTEER
from csrn.settings.operations import get_settings, task_force_zone


@dataclass
class Nav:
    """The header: the daily work always in view, the rest grouped in menus (DESIGN §2: what the roles allow)."""

    primary: list[tuple[str, str, str]] = field(default_factory=list)  # (endpoint, label, url)
    menus: list[tuple[str, list[tuple[str, str, str]]]] = field(default_factory=list)  # (label, entries)
    account: list[tuple[str, str, str]] = field(default_factory=list)

    def endpoints(self) -> list[str]:
        """Every endpoint the header links, in order (what the tests compare across roles)."""
        return ([e for e, _, _ in self.primary] + [e for _, items in self.menus for e, _, _ in items]
                + [e for e, _, _ in self.account])


def _entries(pairs) -> list[tuple[str, str, str]]:
    # The header's links are the same on every page: each built once per app, mount point and argument (building
    # two dozen URLs was a fifth of a small page's cost).
    built = current_app.extensions.setdefault("csrn.nav_urls", {})
    root = request.script_root
    result = []
    for endpoint, label in pairs:
        agency_id = current_user.agency_id if endpoint == "agencies.show" else None
        key = (root, endpoint, agency_id)
        if key not in built:
            built[key] = url_for(endpoint, **({"agency_id": agency_id} if agency_id is not None else {}))
        result.append((endpoint, label, built[key]))
    return result


def navigation() -> Nav:
    """The navigation the current user's roles allow: the daily work first, then the network, the committee's
    tools and administration in menus, and the account."""
    if not current_user.is_authenticated:
        return Nav()
    roles = current_user.has_role
    if current_user.roles == {VOLUNTEER}:
        # An approved pro bono volunteer: their offers and the protocols meant for them.
        return Nav(primary=_entries([("dashboard.index", "Home"), ("referrals.index", "Referrals"),
                                     ("referrals.inbox", "Inbox"), ("oncall.now", "On call"),
                                     ("protocols.index", "Protocols")]),
                   account=_entries([("account.index", "Account")]))
    primary = [("dashboard.index", "Home")]
    if current_user.agency is not None and current_user.agency.membership_status != "suspended":
        primary.append(("intake.new", "New intake"))
    primary.append(("referrals.index", "Referrals"))
    if roles(*RECEIVER_ROLES):
        primary += [("referrals.inbox", "Inbox"), ("cases.index", "Cases")]
    primary += [("directory.search", "Directory"), ("oncall.now", "On call")]
    network = [("agencies.index", "Agencies"), ("trainings.index", "Training"), ("pathways.index", "Pathways"),
               ("protocols.index", "Protocols")]
    if gaps_ops.may_see_map(current_user):
        network.insert(1, ("gaps.resource_map", "Resource map"))
    if roles(AGENCY_ADMIN) and current_user.agency_id:
        network.insert(0, ("agencies.show", "My agency"))
    menus = [("Network", network)]
    if roles(CHAIR):
        menus.append(("Committee", [("referrals.queue", "Committee queue"), ("volunteers.board", "Volunteers"),
                                    ("cases.concerns", "Concerns"), ("oncall.coverage", "On-call coverage"),
                                    ("drills.index", "Drills"), ("gaps.demand_report", "Demand and gaps"),
                                    ("gaps.committee_review", "Committee review"),
                                    ("agencies.create", "New agency"),
                                    ("directory.taxonomy", "Service taxonomy"),
                                    ("hsds.upload", "Import HSDS package"),
                                    ("schedules.holidays", "Holidays")]))
    admin = []
    if roles(AGENCY_ADMIN) and not roles(CHAIR):
        admin += [("cases.concerns", "Concerns"), ("oncall.coverage", "On-call coverage")]
    if roles(AGENCY_ADMIN, CHAIR, ADMIN):
        admin.append(("users.index", "Users"))
    if roles(AGENCY_ADMIN) and current_user.agency_id:
        admin.append(("audit.agency_log", "Agency audit log"))
    if roles(ADMIN):
        admin += [("settings.edit", "Settings"), ("api_tokens.index", "API tokens"), ("notify.index", "Outbox"),
                  ("audit.index", "Audit log")]
        if not roles(CHAIR):
            admin.append(("hsds.upload", "Import HSDS package"))
            admin += [("schedules.holidays", "Holidays"), ("gaps.demand_report", "Demand and gaps"),
                      ("gaps.committee_review", "Committee review")]
    if admin:
        menus.append(("Admin", admin))
    account = [("account.index", "Account")]
    if current_app.config.get("CSRN_ENV") == "development" and "devmail.index" in current_app.view_functions:
        account.append(("devmail.index", "Mailbox (development)"))  # the mail the demo sends, development only
    return Nav(primary=_entries(primary), menus=[(label, _entries(items)) for label, items in menus],
               account=_entries(account))


def register(app: Flask) -> None:
    """Add the filters and globals every template may use."""

    @app.template_filter("localtime")
    def localtime(value: datetime | None, fmt: str = "%-d %b %Y, %H:%M") -> str:
        """A time in the task force's zone; a time of day always says its zone ("17:05 CST"), wherever shown."""
        if value is None:
            return ""
        if "%H" in fmt and "%Z" not in fmt:
            fmt += " %Z"
        return value.astimezone(task_force_zone()).strftime(fmt)

    @app.template_filter("breakable")
    def breakable(value) -> Markup:
        """An e-mail address, IP address or dotted code that may wrap only after its "@" and dots."""
        result = escape(value or "")
        for mark, soft in (("@", Markup("@<wbr>")), (".", Markup(".<wbr>")), (":", Markup(":<wbr>"))):
            result = soft.join(result.split(mark))  # the pieces are escaped Markup already
        return result

    @app.template_filter("clock")
    def clock(value: datetime | None) -> str:
        """A time of day in the task force's zone without the zone: for grids that say their zone once."""
        return value.astimezone(task_force_zone()).strftime("%H:%M") if value is not None else ""

    @app.template_filter("waited")
    def waited(since: datetime | None, now: datetime | None = None) -> str:
        """How long since then, in words a person reads at a glance: "25 min", "3 h 10 min", "2 days"."""
        if since is None:
            return ""
        minutes = max(0, int(((now or utcnow()) - since).total_seconds() // 60))
        if minutes < 60:
            return f"{minutes} min"
        if minutes < 48 * 60:
            return f"{minutes // 60} h {minutes % 60} min"
        return f"{minutes // (24 * 60)} days"

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

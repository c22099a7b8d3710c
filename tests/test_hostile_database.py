"""The hostile database (SECURITY H3/V1, issue 22): every text column of every table holds a payload of the corpus.

Forms refuse much of the corpus, and the agency sweeps in test_security_sweep.py put it in an agency's fields and
users' names. Here it goes straight into the database, as a restored backup, an import, a migration or a bug in
another module would leave it. The column walk finds every String, Text and EncryptedText column of every mapped
table; all but the codes, keys, hashes and JSON that `skip_reason` names (each with its reason) get one payload,
the corpus in turn so that each payload lands in several columns, followed by a marker naming the column
(` <<table.column>>`): a finding says where its text came from, and every value, whatever its payload, is checked
for escaping. Encrypted columns are written through their type (Core UPDATEs encrypt them as the ORM does).

- Every GET rule (ids filled by the sweep's ID_FILLERS), every local link and image found on the pages (exports
  with their query strings), every record's page and every list as an htmx fragment, as the owner user, one user
  of the owner agency per role, the agency that sent its case, and anonymously: never a 500, the sweep's page
  checks (no inline script or handler, no script URL, nothing of a payload as an element or htmx attribute), no
  value unescaped, no template evaluated, PDFs that are PDFs, calendar feeds with no line a payload made and no
  client text, and no formula cell in a CSV (SECURITY V6).
- Every export, stored upload's download and calendar feed, and the HSDS package, once with a formula (or a tab,
  or a carriage return) first in every column — each reaches the start of a cell and is neutralised as
  csrn/exports.py does — and once with a line break in every column (headers, feed lines, file names).
- Notices and mail (decrypted through the ORM) that actions and every scheduled job write over hostile records:
  no job stops, no notice carries client text, no subject breaks its line; also with a line break in every column.

Product bugs it found are in tests/_hostile_findings.md and kept out by KNOWN_FINDINGS until they are fixed.
One fill and one crawl per test, not one per payload: the file runs in under a minute on SQLite.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import traceback
from datetime import time, timedelta
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import CheckConstraint, String, UniqueConstraint, func, select, update

from csrn.cli import DAILY_JOBS, TICK_JOBS, _resolve
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.types import EncryptedText
from tests import test_security_sweep
from tests.conftest import NOW
from tests.corpus import NUL_PAYLOAD, PAYLOADS, fit, storable
from tests.test_security_sweep import (
    HX,
    ID_FILLERS,
    ROLES,
    Page,
    _referral_to_owner,
    agency_websites,
    csv_problems,
    get_urls,
    is_local,
    is_public,
    pages_without_ids,
    report,
    response_problems,
)

world = test_security_sweep.world  # the sweep's fixture: the objects its URLs point at, owned by one agency

CRLF_PAYLOAD = next(payload for payload in PAYLOADS if "\r\n" in payload)

# ----- the column walk ----------------------------------------------------------------------------------------------

# Whole tables left as the app wrote them.
SKIP_TABLES = {
    "audit_event": "append-only (triggers refuse UPDATE) and written by the app alone: codes, e-mails, hashes",
    "demand_count": "the gaps roll-up's own codes and counts, rebuilt from the intakes",
    "unmet_need": "copies of the intake's codes (age group, gender, ...) for the gaps report; county is the intake's",
    "service_facet": "facet codes (ages, genders, languages, counties) matched against an intake's codes",
    "intake_language": "language codes from the fixed list",
    "form_stamp": "a nonce",
}
# Single columns, each with its reason (the generic rules in `skip_reason` cover ids, hashes, JSON and CHECKed codes).
SKIP_COLUMNS = {
    "app_user.email": "the login: changing it breaks every log-in of the crawl",
    "app_user.totp_secret": "a base32 secret the two-factor check decodes",
    "app_user.totp_pending_secret": "a base32 secret the two-factor page draws as a QR code",
    "user_session.recovery_codes_to_show": "one-time codes the app parses and shows once",
    "access_request.email": "the address an invitation is sent to and the account is made with",
    "access_request.roles": "space-separated role codes",
    "agency.mou_file_name": "the random name of a stored upload (the download reads the file by it)",
    "agency.mou_file_mime": "the type the upload check sniffed, served as the Content-Type",
    "certificate.file_name": "the random name of a stored upload",
    "certificate.file_mime": "the type the upload check sniffed, served as the Content-Type",
    "vetting_item.file_name": "the random name of a stored upload",
    "vetting_item.file_mime": "the type the upload check sniffed, served as the Content-Type",
    "vetting_item.code": "the checklist item's code, which the vetting rules look items up by",
    "vetting_item.course_kind": "a code: core, any or empty",
    "volunteer_application.languages": "space-separated language codes",
    "volunteer_application.practice_areas": "space-separated practice-area codes",
    "intake.gender": "a gender code from gender_option, matched against service facets",
    "intake_draft.data": "the draft's answers as JSON (encrypted), parsed by the intake form",
    "service_type.code": "the taxonomy code that intake needs, URLs (?type=) and matching use",
    "gender_option.code": "the code intakes and facets store",
    "gap_prospect.segment": "a map column 'kind:value', parsed by the gaps module",
    "shift.weekdays": "space-separated weekday numbers the roster engine parses",
    "protocol_page.slug": "the URL key of a protocol: a payload is no URL path",
    "task_force_settings.timezone": "a zone name: ZoneInfo() of anything else fails (the settings form offers a list)",
    "notification.link": "a path the app built with url_for, never typed by anyone",
    "outbox_message.body": "written by the app: what the notice test reads and checks",
    "outbox_message.claimed_by": "a sender's host:pid",
    "referral.outcome": "a code from OUTCOMES",
    "offer.decline_reason": "a code from DECLINE_REASONS",
    "referral_event.kind": "an event code",
    "case_event.kind": "an event code",
    "volunteer_event.kind": "an event code",
    "volunteer_event.from_status": "a status code",
    "volunteer_event.to_status": "a status code",
    "membership_change.from_status": "a membership status code",
    "membership_change.to_status": "a membership status code",
    "drill.urgency": "an urgency code",
    "drill.end_reason": "a code",
    "capacity_confirmation.method": "a code: link, inline or form",
}
# Product bugs this test found, kept out of it until they are fixed: column -> (the payloads it does not get, why).
# Each is written up in tests/_hostile_findings.md; delete the entry with the fix, and the test checks it again.
KNOWN_FINDINGS: dict = {}  # F1–F4 are fixed
HASHES_AND_KEYS = {"uuid", "hash", "prev_hash", "fingerprint", "nonce", "submission_key"}
CHECKED_CODE = re.compile(r"^\s*(\w+)\s+IN\s*\(", re.IGNORECASE)
# Where a person's case is written down: none of it may reach a notice, a mail or a calendar feed.
CLIENT_TABLES = {"intake", "case_file", "case_need", "plan_step", "case_event", "appointment", "referral_message",
                 "concern", "offer"}
# The settings' counties are JSON (not filled), but a county is typed text: one of them is a payload too.
HOSTILE_COUNTY = '"><img src=x onerror=alert(1)> <<task_force_settings.counties_json>>'


def mapped_tables() -> dict:
    """Every table of a mapped class, by name."""
    return {mapper.local_table.name: mapper.local_table for mapper in db.Model.registry.mappers}


def text_columns() -> list:
    """(table, column) for every String, Text and EncryptedText column, in a stable order."""
    return [(table, column) for _, table in sorted(mapped_tables().items()) for column in table.columns
            if isinstance(column.type, String | EncryptedText)]


def checked_codes(table) -> set[str]:
    """The columns a CHECK constraint holds to a list of values (`state_check`)."""
    return {match.group(1) for constraint in table.constraints if isinstance(constraint, CheckConstraint)
            if (match := CHECKED_CODE.match(str(constraint.sqltext)))}


def skip_reason(table, column) -> str | None:
    """Why a text column keeps what the app wrote (None: it is filled)."""
    key = f"{table.name}.{column.name}"
    if table.name in SKIP_TABLES:
        return SKIP_TABLES[table.name]
    if key in SKIP_COLUMNS:
        return SKIP_COLUMNS[key]
    if column.name.endswith("_json"):
        return "JSON the app parses"
    if column.name in HASHES_AND_KEYS or column.name.endswith("_hash"):
        return "an id, hash or key rows are found by"
    if column.name in checked_codes(table):
        return "a code a CHECK constraint holds to a fixed list"
    return None


def is_unique(table, column) -> bool:
    """Whether two rows may not share the column's value (a unique column, constraint or index)."""
    if column.unique:
        return True
    groups = [c.columns for c in table.constraints if isinstance(c, UniqueConstraint)]
    groups += [index.columns for index in table.indexes if index.unique]
    return any(len(group) == 1 and column.name in group for group in groups)


def hostile_plan(corpus: list[str] = PAYLOADS, offset: int = 0, cycle: bool = True) -> list[tuple]:
    """(table, column, payload) for every filled column: the corpus in turn from its `offset`-th payload, so each
    payload lands in several columns (or, not cycling, that payload in every column). A column with a known finding
    gets the next payload instead of the one that finds it."""
    filled = [(table, column) for table, column in text_columns() if skip_reason(table, column) is None]
    plan = []
    for i, (table, column) in enumerate(filled):
        i = i + offset if cycle else offset
        avoided = KNOWN_FINDINGS.get(f"{table.name}.{column.name}", ((), ""))[0]
        while corpus[i % len(corpus)] in avoided:
            i += 1
        plan.append((table, column, corpus[i % len(corpus)]))
    return plan


def hostile_value(payload: str, table, column, dialect: str, row: int | None = None) -> str:
    """The payload for this column as the database can hold it, with a marker naming the column when it fits.

    A column with a length keeps the payload whole before the marker; a unique column always gets its marker,
    numbered by row, so that its rows stay distinct."""
    marker = f" <<{table.name}.{column.name}{'' if row is None else f'#{row}'}>>"
    payload = storable(payload, dialect)
    length = getattr(column.type, "length", None)
    if length is None or len(payload) + len(marker) <= length:
        return payload + marker
    if row is not None:
        return fit(payload, length - len(marker)) + marker
    return fit(payload, length)


def fill_hostile(app, corpus: list[str] = PAYLOADS, offset: int = 0, cycle: bool = True) -> dict[str, set[str]]:
    """Write the plan into the database (Core UPDATEs: encrypted columns are encrypted by their type); return the
    values stored, by "table.column"."""
    stored: dict[str, set[str]] = {}
    by_table: dict = {}
    for table, column, payload in hostile_plan(corpus, offset, cycle):
        by_table.setdefault(table, []).append((column, payload))
    with app.app_context():
        dialect = db.session.get_bind().dialect.name
        for table, columns in by_table.items():
            plain = {c.name: hostile_value(p, table, c, dialect) for c, p in columns if not is_unique(table, c)}
            unique = [(c, p) for c, p in columns if is_unique(table, c)]
            if plain:
                db.session.execute(update(table).values(**plain))
                for name, value in plain.items():
                    stored[f"{table.name}.{name}"] = {value}
            if unique:
                (key,) = table.primary_key.columns
                for row in db.session.scalars(select(key)).all():
                    values = {c.name: hostile_value(p, table, c, dialect, row) for c, p in unique}
                    db.session.execute(update(table).where(key == row).values(**values))
                    for name, value in values.items():
                        stored.setdefault(f"{table.name}.{name}", set()).add(value)
        db.session.commit()
        db.session.remove()
    return stored


def the_case(world) -> int:
    """The id of the World's case: a referral another agency sent, accepted by the owner agency."""
    return world.value("case_id", ID_FILLERS["case_id"])


def client_markers() -> list[str]:
    """The markers of the columns that hold a person's case (what no notice, mail or feed may carry)."""
    return [f"<<{table.name}.{column.name}" for table, column, _ in hostile_plan()
            if table.name in CLIENT_TABLES and isinstance(column.type, EncryptedText)]


# ----- more of the world: a row in every table that holds text, and consent that shows it ----------------------------

def extend_world(world) -> None:
    """Add what the sweep's World lacks: a declined offer with its text, a message, a resolved concern, a membership
    change, a capacity confirmation, opening hours, a contact of the person on call, the settings row (with a county
    that is itself a payload) — and consent on every intake that shows every client field to every agency and the
    chairs, so that the client text is on the pages it can be on."""
    from csrn.agencies.models import MembershipChange
    from csrn.auth.models import User
    from csrn.cases import coordination
    from csrn.directory.models import CapacityConfirmation, Service
    from csrn.referrals import operations as referral_ops
    from csrn.referrals.models import Consent, Referral, ReferralContact
    from csrn.schedules.models import ScheduleRule
    from csrn.settings.models import TaskForceSettings

    declined_id = _referral_to_owner(False)(world)
    chair_id = world.create_user(roles=("chair",)).id
    with world.app.app_context():
        owner, now = db.session.get(User, world.owner.id), utcnow()
        referral_ops.decline(owner, db.session.get(Referral, declined_id), "no_capacity", "Declined text", now)
        agencies = list(db.session.scalars(select(Referral.sending_agency_id)).all()) + [world.owner_agency_id]
        for consent in db.session.scalars(select(Consent)).all():
            consent.given, consent.how, consent.given_on, consent.expires_on = True, "verbal", NOW.date(), None
            consent.with_receiver = consent.with_backups = consent.with_onward = consent.with_chairs = True
            consent.named_agencies_json = consent.named_explicitly_json = json.dumps(sorted(set(agencies)))
            consent.categories_json = json.dumps(["identity", "contact", "immigration", "health", "narrative"])
        db.session.commit()
        case = db.session.get(Referral, the_case(world))
        coordination.post_message(owner, case, "A message", now)
        concern = coordination.raise_concern(owner, case, "request", "A second concern", now)
        coordination.resolve_concern(db.session.get(User, chair_id), concern, "Resolved so", now)
        service_id = db.session.scalar(select(Service.id).where(Service.agency_id == world.owner_agency_id))
        db.session.add_all([
            MembershipChange(agency_id=world.owner_agency_id, from_status="applicant", to_status="member",
                             reason="Agreement signed", changed_by_id=chair_id, changed_at=NOW),
            CapacityConfirmation(agency_id=world.owner_agency_id, confirmed_at=NOW, method="form",
                                 user_id=owner.id, note="All current"),
            ScheduleRule(service_id=service_id, kind="weekly", weekday=0, opens=time(9), closes=time(17), note="Mon"),
            ScheduleRule(service_id=service_id, kind="closed", start_date=NOW.date() + timedelta(days=20),
                         end_date=NOW.date() + timedelta(days=21), note="Closed for training"),
            ReferralContact(referral_id=declined_id, user_id=owner.id, at=NOW, reason="On call tonight"),
        ])
        if db.session.get(TaskForceSettings, 1) is None:
            db.session.add(TaskForceSettings(id=1, updated_at=NOW))
        settings = db.session.get(TaskForceSettings, 1)
        settings.counties_json = json.dumps(["Alder", HOSTILE_COUNTY])
        db.session.commit()
        db.session.remove()


# ----- fetching and checking ------------------------------------------------------------------------------------------

# iCalendar properties (RFC 5545) the feeds may carry; any other line was made by a payload's line break.
ICS_NAMES = {
    "BEGIN", "END", "PRODID", "VERSION", "CALSCALE", "METHOD", "UID", "DTSTAMP", "DTSTART", "DTEND", "DURATION",
    "SUMMARY", "DESCRIPTION", "LOCATION", "URL", "TZID", "TZOFFSETFROM", "TZOFFSETTO", "TZNAME", "RRULE", "RDATE",
    "STATUS", "TRANSP", "SEQUENCE", "CREATED", "LAST-MODIFIED", "CATEGORIES", "CLASS",
}
EXPORT_SUFFIXES = (".csv", ".pdf", ".ics", ".svg")
CRAWL_LIMIT = 800  # pages per viewer, a safety valve: a crawl that reaches it fails
LINKS_PER_PATTERN = 8  # links with the same path and query names: the map's cells alone are a hundred
EXPORTS_PER_PATTERN = 2  # the same for downloads (a PDF takes a quarter of a second)
BROAD_VIEWERS = ("owner", "chair", "admin", "sender")


def ics_problems(text: str, what: str) -> list[str]:
    """A feed that is not well-formed iCalendar, has a line no property starts, or carries client text."""
    lines = re.sub(r"\r\n[ \t]", "", text).split("\r\n")
    problems = []
    for line in lines:
        name = re.split(r"[;:]", line, maxsplit=1)[0]
        if line and name.upper() not in ICS_NAMES and not name.upper().startswith("X-"):
            problems.append(f"{what}: the feed has a line {line[:60]!r} (a payload's line break?)")
        if "\r" in line or "\n" in line:
            problems.append(f"{what}: a bare line break in {line[:60]!r}")
    if lines.count("BEGIN:VEVENT") != lines.count("END:VEVENT"):
        problems.append(f"{what}: unbalanced VEVENTs")
    problems += [f"{what}: the feed carries client text {marker}" for marker in client_markers() if marker in text]
    return problems


def evaluated(values) -> list[str]:
    """What the template payloads would read as if a template had evaluated them (those with their marker: a
    bare "49" is on many pages)."""
    return [value.replace("{{7*7}}", "49") for value in values if "{{7*7}}" in value and " <<" in value]


def hostile_problems(app, response, what: str, values: list[str], websites: set[str]) -> list[str]:
    """The sweep's checks on one response (headers, no 500, inert HTML, safe CSV), and this file's: no template
    evaluated, PDFs that are PDFs, well-formed feeds, download names on one line.

    Only values that kept their marker are looked for unescaped: one cut short to its column (20 characters of
    `<meta name="htmx-config"`) may be part of the page's own markup, or of another column's text that is shown,
    rightly, with its quotes as they are. The element checks see those anyway."""
    values = [value for value in values if " <<" in value]
    problems = response_problems(response, what, values, websites)
    if response.mimetype == "image/svg+xml" and "default-src 'none'" in response.headers.get(
            "Content-Security-Policy", ""):
        problems = [p for p in problems if "differs from HD1" not in p]  # an image's policy is stricter than HD1
        svg = Page(response.get_data(as_text=True))
        problems += [f"{what}: <{tag}> with {sorted(attrs)} in an image" for tag, attrs, _ in svg.elements
                     if tag in ("script", "foreignobject") or any(name.startswith("on") for name in attrs)]
    disposition = response.headers.get("Content-Disposition", "")
    if "\r" in disposition or "\n" in disposition:
        problems.append(f"{what}: a line break in Content-Disposition {disposition!r}")
    if response.status_code != 200:
        return problems
    if response.mimetype == "text/html":
        html = response.get_data(as_text=True)
        for value in evaluated(values):
            if value in html or str(escape(value)) in html:
                problems.append(f"{what}: a template payload was evaluated ({value[:40]!r})")
        if "&lt;Config" in html or "<Config" in html or app.config["SECRET_KEY"] in html:
            problems.append(f"{what}: the configuration is shown ({{{{config}}}} evaluated)")
    elif response.mimetype == "application/pdf" and not response.get_data().startswith(b"%PDF-"):
        problems.append(f"{what}: not a PDF")
    elif response.mimetype == "text/calendar":
        problems += ics_problems(response.get_data(as_text=True), what)
    return problems


class LoggedErrors(logging.Handler):
    """The tracebacks the app's error handler logs (it answers 500 and logs the exception): a finding's evidence."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def take(self) -> str:
        """The end of the tracebacks logged since the last call."""
        text_ = "\n".join(logging.Formatter().format(record) for record in self.records)
        self.records.clear()
        return "\n".join(text_.splitlines()[-6:])


def fetch(client, url: str, headers: dict | None = None):
    """GET the URL; an exception the app let through (TESTING propagates them) is returned as its traceback."""
    try:
        return client.get(url, headers=headers or {}), None
    except Exception:  # noqa: BLE001 - any error a hostile value causes is a finding, reported with its traceback
        return None, "".join(traceback.format_exc().splitlines(keepends=True)[-12:])


def local_links(html: str, base: str) -> list[str]:
    """The local links and images of a page, resolved against its URL (fragments dropped; static files and the
    log-out left)."""
    links = []
    for tag, attrs, _ in Page(html).elements:
        href = (attrs.get("href") if tag == "a" else attrs.get("src") if tag == "img" else None) or ""
        href = href.strip()
        if not href or href.startswith("#") or not (is_local(href) or href.startswith("?")):
            continue
        url = urljoin(base, href).split("#", 1)[0]
        if not urlsplit(url).path.startswith(("/static/", "/logout")):
            links.append(url)
    return links


def crawl_hostile(app, client, who: str, start: list[tuple[str, dict]], values, websites, seen: dict,
                  follow: bool = True) -> list[str]:
    """Fetch the start URLs and (if asked) every local link they lead to, checking each response; note each
    (who, url, headers) -> status in `seen`."""
    queue, problems, done, patterns = list(start), [], set(), {}
    errors, logger = LoggedErrors(), logging.getLogger("csrn")
    logger.addHandler(errors)
    try:
        problems += _crawl(app, client, who, queue, done, patterns, values, websites, seen, follow, errors)
    finally:
        logger.removeHandler(errors)
    if queue:
        problems.append(f"{who}: the crawl stopped at {CRAWL_LIMIT} pages with {len(queue)} still to fetch")
    return problems


def _crawl(app, client, who, queue, done, patterns, values, websites, seen, follow, errors) -> list[str]:
    problems = []
    while queue and len(done) < CRAWL_LIMIT:
        url, headers = queue.pop(0)
        key = (url, bool(headers))
        if key in done:
            continue
        done.add(key)
        what = f"{who} GET {url[:90]}{' (htmx)' if headers else ''}"
        response, error = fetch(client, url, headers)
        if error:
            seen[(who, url, bool(headers))] = 500
            problems.append(f"{what}: server error (an exception)\n{error}")
            continue
        seen[(who, url, bool(headers))] = response.status_code
        problems += hostile_problems(app, response, what, values, websites)
        if response.status_code >= 500:
            problems.append(f"{what}: the app logged\n{errors.take()}")
        if follow and not headers and response.status_code == 200 and response.mimetype == "text/html":
            for link in local_links(response.get_data(as_text=True), url):
                # A few of each kind of link: by path and the names in its query.
                parts = urlsplit(link)
                pattern = (parts.path, tuple(sorted(name for name, _ in parse_qsl(parts.query))))
                links = patterns.setdefault(pattern, set())
                cap = EXPORTS_PER_PATTERN if parts.path.endswith(EXPORT_SUFFIXES) else LINKS_PER_PATTERN
                if link not in links and len(links) < cap:
                    links.add(link)
                    queue.append((link, {}))
    return problems


def viewers(world, login_as) -> dict:
    """Logged-in clients: the owner user (staff, case manager and agency admin of the owner agency), one user of
    the owner agency per role, and an agency admin and case manager of the agency that sent the owner its case."""
    from csrn.referrals.models import Referral

    with world.app.app_context():
        sender_agency = db.session.get(Referral, the_case(world)).sending_agency_id
        db.session.remove()
    found = {"owner": world.browser("owner")}
    for role in ROLES:
        found[role] = login_as(roles=(role,), agency_id=world.owner_agency_id)
    found["sender"] = login_as(roles=("staff", "case_manager", "agency_admin"), agency_id=sender_agency)
    return found


def extra_urls(app) -> list[str]:
    """Pages of every referral, case, concern, agency, user, volunteer application and drill (the rules' fillers
    point at one of each), and the owner's agency feed."""
    from csrn.agencies.models import Agency
    from csrn.auth.models import User
    from csrn.cases.models import Concern
    from csrn.drills.models import Drill
    from csrn.referrals.models import Referral
    from csrn.volunteers.models import VolunteerApplication

    with app.app_context():
        ids = {model: db.session.scalars(select(model.id)).all()
               for model in (Referral, Concern, Agency, User, VolunteerApplication, Drill)}
        db.session.remove()
    urls = []
    for referral_id in ids[Referral]:
        urls += [f"/referrals/{referral_id}", f"/referrals/{referral_id}/sent", f"/cases/{referral_id}",
                 f"/cases/referrals/{referral_id}"]
    urls += [f"/cases/concerns/{i}" for i in ids[Concern]] + [f"/agencies/{i}" for i in ids[Agency]]
    urls += [f"/users/{i}" for i in ids[User]] + [f"/volunteers/{i}" for i in ids[VolunteerApplication]]
    urls += [f"/drills/{i}" for i in ids[Drill]]
    return urls


def agency_feed(world) -> str:
    """The URL of the owner agency's on-call feed."""
    from csrn.auth import tokens
    from csrn.auth.models import User

    with world.app.app_context():
        raw = tokens.issue_access("oncall-agency", db.session.get(User, world.owner.id), utcnow())
        db.session.commit()
        db.session.remove()
    return f"/oncall/feeds/{raw}.ics"


def all_values(stored: dict[str, set[str]]) -> list[str]:
    """Every value stored (and the hostile county): none may appear unescaped on a page."""
    return [value for values in stored.values() for value in values] + [HOSTILE_COUNTY]


# ----- the tests ------------------------------------------------------------------------------------------------------

def test_the_column_walk_fills_every_text_column_it_does_not_skip_with_a_reason(app):
    """The walk itself: the skip lists name real text columns and tables; every payload lands in several columns."""
    with app.app_context():
        columns = {f"{table.name}.{column.name}" for table, column in text_columns()}
        stale = sorted(set(SKIP_COLUMNS) - columns)
        assert not stale, f"SKIP_COLUMNS names no text column: {stale}"
        assert set(SKIP_TABLES) <= set(mapped_tables()), set(SKIP_TABLES) - set(mapped_tables())
        generic = sorted(key for key in SKIP_COLUMNS
                         if skip_reason(*_table_column(key)) != SKIP_COLUMNS[key] or key.split(".")[0] in SKIP_TABLES)
        assert not generic, f"SKIP_COLUMNS entries a table skip shadows: {generic}"
        plan = hostile_plan()
        filled = {f"{table.name}.{column.name}" for table, column, _ in plan}
        must = {"agency.name", "agency.website", "service.description", "location.address_1", "intake.alias",
                "intake.narrative", "offer.decline_text", "case_file.goals", "case_need.notes", "plan_step.note",
                "case_event.text", "appointment.place", "referral_message.body", "concern.text", "concern.resolution",
                "protocol_version.body", "pathway.description", "volunteer_application.name", "vetting_item.notes",
                "shift.note", "shift_exception.note", "notification.text", "drill.note", "app_user.name",
                "user_session.user_agent", "task_force_settings.name"}
        assert must <= filled, must - filled
        assert set(KNOWN_FINDINGS) <= filled, set(KNOWN_FINDINGS) - filled
        landed = {payload: sum(1 for *_, p in plan if p == payload) for payload in PAYLOADS}
        assert min(landed.values()) >= 2, landed
        assert client_markers(), "no client column is filled"


def _table_column(key: str):
    table_name, column_name = key.split(".")
    table = mapped_tables()[table_name]
    return table, table.columns[column_name]


def test_every_page_and_export_renders_the_hostile_database_inert(app, world, login_as):
    """H3/V1/V6: every GET rule, htmx fragment and linked page or export, as each role and anonymously, over a
    database whose every text column holds a payload: no 500, nothing executable, no formula cell, clean feeds."""
    extend_world(world)
    browsers = viewers(world, login_as)  # logged in before the fill: their sessions' user agents are filled too
    feed = agency_feed(world)
    stored = fill_hostile(app)
    values = all_values(stored)
    websites = agency_websites(app)
    rules = [(rule, url) for rule, url in get_urls(app, world) if rule.endpoint != "static"]
    start = [(url, {}) for rule, url in rules if not is_public(rule)] + [(feed, {})]
    # Those who see most also open every record's page and every list as an htmx fragment.
    more = [(url, {}) for url in extra_urls(app)] + [(url, HX) for url in pages_without_ids(app)]
    problems, seen = [], {}
    for who, browser in browsers.items():
        problems += crawl_hostile(app, browser.client, who, start + (more if who in BROAD_VIEWERS else []),
                                  values, websites, seen)
    anonymous = [(url, {}) for rule, url in rules if is_public(rule)] + [(feed, {})]
    problems += crawl_hostile(app, app.test_client(), "anonymous", anonymous, values, websites, seen, follow=False)
    assert not problems, report(problems)
    # The exports were really fetched, not sent to a re-authentication or refused.
    fetched = {urlsplit(url).path for (_, url, _), status in seen.items() if status == 200}
    for path in ("/agencies/export.csv", "/directory/export.csv", "/directory/print.pdf", "/gaps/demand.csv",
                 "/gaps/demand/trend.csv", "/gaps/review.pdf", "/admin/audit/export.csv", "/gaps/demand/chart.svg"):
        assert path in fetched, f"{path} was never fetched with 200"
    feeds = [path for path in fetched if path.endswith(".ics")]
    assert any(p.startswith("/cases/feed/") for p in feeds) and any(p.startswith("/oncall/feeds/") for p in feeds)
    assert sum(1 for (who, _, hx), status in seen.items() if status == 200 and who == "chair") > 100


# Cells a spreadsheet would run (SECURITY V6): the corpus's formulas, and a tab and a carriage return first.
FORMULAS = [payload for payload in PAYLOADS if payload[:1] in ("=", "+", "-", "@")] + ["\t=1+1", "\r=1+1"]
LINE_BREAKS = {"offset": PAYLOADS.index(CRLF_PAYLOAD), "cycle": False}  # the corpus's line break, in every column
EXPORT_PAGES = ("/agencies/", "/directory/", "/gaps/demand", "/gaps/review", "/admin/audit/", "/cases/")


# Two fills for the exports: a formula first in every column, the corpus's and a tab and a carriage return first (a
# cell a spreadsheet would run, SECURITY V6); and a line break in every column (a header, a feed line, a file name).
EXPORT_FILLS = {"formulas": {"corpus": FORMULAS}, "a line break everywhere": LINE_BREAKS}
DOWNLOADS = ("agencies.agreement_document", "trainings.certificate_file", "volunteers.item_document", "cases.feed",
             "oncall.feed")


@pytest.mark.parametrize("fill", EXPORT_FILLS)
def test_every_export_and_download_survives_the_column_fill(app, world, login_as, tmp_path, fill):
    """V6 and H3: every CSV download, PDF and feed the export pages link to, every stored upload's download and
    every calendar feed, as the owner user, a chair and an administrator, and the HSDS package (`csrn
    export-hsds`): no 500, the checks of the crawl, no cell a spreadsheet would run — and, with the formulas, each
    did reach the start of a cell (neutralised with a quote, as csrn/exports.py does)."""
    from csrn.hsds import export as hsds_export

    extend_world(world)
    browsers = {"owner": world.browser("owner"), "chair": login_as(roles=("chair",)),
                "admin": login_as(roles=("admin",))}
    downloads = [url for rule, url in get_urls(app, world) if rule.endpoint in DOWNLOADS] + [agency_feed(world)]
    stored = fill_hostile(app, **EXPORT_FILLS[fill])
    values, websites = all_values(stored), agency_websites(app)
    problems, seen, csvs = [], {}, []
    for who, browser in browsers.items():
        exports = {link for page in EXPORT_PAGES for link in local_links(browser.get(page).get_data(as_text=True), page)
                   if urlsplit(link).path.endswith(EXPORT_SUFFIXES)}
        start = [(url, {}) for url in sorted(exports) + downloads]
        problems += crawl_hostile(app, browser.client, who, start, values, websites, seen, follow=False)
        csvs += [browser.get(url).get_data(as_text=True) for url in sorted(exports) if ".csv" in url]
    with app.app_context():
        hsds_export.write(hsds_export.build(utcnow()), tmp_path / "hsds")
        db.session.remove()
    for path in sorted((tmp_path / "hsds").glob("*.csv")):
        csvs.append(path.read_text(encoding="utf-8"))
        problems += [f"HSDS {path.name}: {problem}" for problem in csv_problems(csvs[-1])]
    assert not problems, report(problems)
    fetched = {urlsplit(url).path for (_, url, _), status in seen.items() if status == 200}
    assert {"/agencies/export.csv", "/directory/export.csv", "/gaps/demand.csv", "/admin/audit/export.csv",
            "/directory/print.pdf", "/gaps/review.pdf"} <= fetched, fetched
    for start in ("/cases/feed/", "/oncall/feeds/", "/agencies/", "/trainings/certificates/", "/volunteers/"):
        assert any(path.startswith(start) and path.endswith((".ics", "/document", "/file")) for path in fetched), start
    if fill == "formulas":
        starts = {cell[:2] for text_ in csvs for row in csv.reader(io.StringIO(text_)) for cell in row}
        wanted = {"'" + formula[0] for formula in FORMULAS}
        assert wanted <= starts, f"formulas reached no cell's start: {wanted - starts}"


# The notice test fills the database three ways: the corpus in turn (as the crawl does), and a line break or a NUL
# in every column (a subject built from any of them must stay one line, and no job may stop on one).
NOTICE_FILLS = {
    "corpus in turn": {},
    "a line break everywhere": LINE_BREAKS,
    "a NUL everywhere": {"offset": PAYLOADS.index(NUL_PAYLOAD), "cycle": False},  # PostgreSQL: the NUL dropped
}


@pytest.mark.parametrize("fill", NOTICE_FILLS)
def test_notices_about_hostile_records_carry_no_client_text(app, world, login_as, fill):
    """Notices say what happened, never about whom: actions on hostile records (a message, a concern, a decline,
    each typed with markup) and every scheduled job (tick and daily, 3 and 45 days ahead) write notices and mail;
    none stops on a hostile value, none carries client text, no mail subject breaks its line, and the pages that
    show notices (the dashboard, the list, the outbox) stay inert."""
    from csrn.auth.models import User
    from csrn.cases import coordination
    from csrn.notify.models import Notification, OutboxMessage
    from csrn.referrals import operations as referral_ops
    from csrn.referrals.models import Referral

    extend_world(world)
    offered_id = _referral_to_owner(False)(world)
    browsers = {who: world.browser(who) for who in ("owner", "chair", "admin")}
    stored = fill_hostile(app, **NOTICE_FILLS[fill])
    client_text = "<script>alert(1)</script> <<intake.typed>>"  # what a case manager might type about a person
    problems = []
    with app.app_context():
        last_notice = db.session.scalar(select(func.max(Notification.id))) or 0
        last_mail = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
        owner, now = db.session.get(User, world.owner.id), utcnow()
        case = db.session.get(Referral, the_case(world))
        actions = {
            "post a message": lambda: coordination.post_message(owner, case, client_text, now),
            "raise a concern": lambda: coordination.raise_concern(owner, case, "dispute", client_text, now),
            "decline an offer": lambda: referral_ops.decline(owner, db.session.get(Referral, offered_id), "other",
                                                             client_text, now),
        }
        for name, job in TICK_JOBS + DAILY_JOBS:
            for days in (3, 45):
                actions[f"{name} (+{days} days)"] = lambda job=job, days=days: _run_job(app, job, now, days)
        for name, action in actions.items():
            try:
                action()
            except Exception:  # noqa: BLE001 - a hostile value that breaks an action or a job is a finding
                db.session.rollback()
                problems.append(f"{name}: {traceback.format_exc().splitlines()[-1]}")
        notices = db.session.scalars(select(Notification).where(Notification.id > last_notice)).all()
        mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id > last_mail)).all()
        written = [(f"notice #{n.id}", n.text) for n in notices]
        written += [(f"mail #{m.id} subject", m.subject) for m in mails]
        written += [(f"mail #{m.id} body", m.body) for m in mails]
        db.session.remove()
    markers = [*client_markers(), "<<intake.typed>>"]
    for what, text_ in written:
        problems += [f"{what} carries client text {marker}: {text_[:120]!r}" for marker in markers if marker in text_]
    for what, subject in [(what, text_) for what, text_ in written if what.endswith("subject")]:
        if "\r" in subject or "\n" in subject:
            problems.append(f"{what}: a line break in the subject {subject!r}")
    if len(mails) < 5 or len(notices) < 5:
        problems.append(f"only {len(notices)} notice(s) and {len(mails)} mail(s) were written: the test saw too little")
    values = [*all_values(stored), *(text_ for _, text_ in written)]
    websites = agency_websites(app)
    seen: dict = {}
    for who, browser in browsers.items():
        start = [("/", {}), ("/notifications/", {}), ("/notifications/", HX), ("/admin/outbox/", {})]
        problems += crawl_hostile(app, browser.client, who, start, values, websites, seen, follow=False)
    assert not problems, report(problems)


def _run_job(app, job, now, days: int) -> None:
    """A scheduled job as `tick` and `daily` run it: in a request context rooted at the base URL, `days` ahead."""
    with app.test_request_context("/", base_url=app.config["CSRN_BASE_URL"]):
        _resolve(job)(now + timedelta(days=days))


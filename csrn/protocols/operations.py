"""Protocol queries and changes: plain functions taking the acting user and the time explicitly.

Who sees what: chairs read and edit every page and every version, drafts included. Everyone else
reads a page once it is published, and always its published version; users who hold only the
volunteer role read only the pages for volunteers (or for both). A page is *meant for* a user when
its audience covers one of their roles, and those users acknowledge each version published.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import abort
from sqlalchemy import Select, and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from csrn.audit import operations as audit
from csrn.auth.models import User, UserRole
from csrn.concurrency import check_version
from csrn.extensions import db
from csrn.links import external_url
from csrn.notify.operations import queue_mail
from csrn.protocols.models import (
    AUDIENCE_ROLES,
    AUDIENCES,
    ProtocolAcknowledgement,
    ProtocolPage,
    ProtocolVersion,
)
from csrn.roles import CHAIR, VOLUNTEER
from csrn.settings.operations import task_force_zone

# Words the URL map uses next to slugs: a page may never be called these.
RESERVED_SLUGS = {"new", "preview"}
SLUG_MAX = 70
# The daily job reminds an owner again after this long while the review stays overdue.
REMINDER_INTERVAL = timedelta(days=7)


class ProtocolError(Exception):
    """Something the user asked for cannot be done; the message says why, in their words."""


# ----- who may do what ------------------------------------------------------------------------------

def can_edit(user) -> bool:
    """Chairs write, publish and restore protocols."""
    return user.has_role(CHAIR)


def is_volunteer_only(user) -> bool:
    """Whether the user holds no role but volunteer (so reads only the volunteers' pages)."""
    return not (user.roles - {VOLUNTEER})


def readable_audiences(user) -> tuple[str, ...]:
    """The audiences whose published pages the user may read."""
    return ("volunteers", "both") if is_volunteer_only(user) else tuple(AUDIENCES)


def meant_audiences(user) -> tuple[str, ...]:
    """The audiences whose pages ask this user to acknowledge them."""
    return tuple(audience for audience, roles in AUDIENCE_ROLES.items() if user.roles & set(roles))


def can_read(user, page: ProtocolPage) -> bool:
    """Chairs read every page; others a published page of an audience they may read."""
    if can_edit(user):
        return True
    return page.status == "published" and page.audience in readable_audiences(user)


def is_meant_for(user, page: ProtocolPage) -> bool:
    """Whether the page asks this user to acknowledge its published versions."""
    return page.audience in meant_audiences(user) and can_read(user, page)


# ----- loading ----------------------------------------------------------------------------------------

def get_page(slug: str) -> ProtocolPage | None:
    """The page with this slug, or None."""
    return db.session.scalar(select(ProtocolPage).where(ProtocolPage.slug == slug))


def get_page_or_404(slug: str, user) -> ProtocolPage:
    """Load a page the user may read; a draft or another audience's page is a 404 to everyone else."""
    page = get_page(slug)
    if page is None or not can_read(user, page):
        abort(404)
    return page


def get_version(page: ProtocolPage, number: int | None) -> ProtocolVersion | None:
    """Version `number` of the page, or None."""
    if number is None:
        return None
    return db.session.scalar(
        select(ProtocolVersion).where(ProtocolVersion.page_id == page.id, ProtocolVersion.number == number)
    )


def latest_version(page: ProtocolPage) -> ProtocolVersion:
    """The newest version (a draft when it is newer than the published one)."""
    return get_version(page, page.latest_number)


def published_version(page: ProtocolPage) -> ProtocolVersion | None:
    """The version everyone but the chairs reads, or None before the first publication."""
    return get_version(page, page.published_number)


def can_read_version(user, version: ProtocolVersion) -> bool:
    """Chairs read every version; others only versions that have been published."""
    return can_edit(user) or version.published_at is not None


def get_version_or_404(page: ProtocolPage, number: int, user) -> ProtocolVersion:
    """Load a version of a page the user may read; drafts are a 404 to everyone but the chairs."""
    version = get_version(page, number)
    if version is None or not can_read_version(user, version):
        abort(404)
    return version


def shown_version(user, page: ProtocolPage) -> ProtocolVersion:
    """What the page shows: its published version, or (for chairs, before publication) the draft."""
    return published_version(page) or latest_version(page)


def versions_query(user, page: ProtocolPage) -> Select:
    """The versions of a page the user may read, newest first (the history and the diff choices)."""
    query = select(ProtocolVersion).where(ProtocolVersion.page_id == page.id)
    if not can_edit(user):
        query = query.where(ProtocolVersion.published_at.is_not(None))
    return query.order_by(ProtocolVersion.number.desc())


def pages_query(user) -> Select:
    """(page, the version listed) for every page the user may read, by title.

    Chairs see each page's newest version (drafts included); everyone else the published one.
    """
    number = ProtocolPage.latest_number if can_edit(user) else ProtocolPage.published_number
    query = select(ProtocolPage, ProtocolVersion).join(
        ProtocolVersion, and_(ProtocolVersion.page_id == ProtocolPage.id, ProtocolVersion.number == number)
    )
    if not can_edit(user):
        query = query.where(
            ProtocolPage.status == "published", ProtocolPage.audience.in_(readable_audiences(user))
        )
    return query.order_by(func.lower(ProtocolVersion.title), ProtocolPage.id)


def acknowledgement_of(user, version: ProtocolVersion | None) -> ProtocolAcknowledgement | None:
    """The user's acknowledgement of this version, or None."""
    if version is None:
        return None
    return db.session.scalar(
        select(ProtocolAcknowledgement).where(
            ProtocolAcknowledgement.user_id == user.id, ProtocolAcknowledgement.version_id == version.id
        )
    )


def pending_acknowledgements(user) -> list[tuple[ProtocolPage, ProtocolVersion]]:
    """Published pages meant for the user whose current version they have not yet acknowledged."""
    audiences = [audience for audience in meant_audiences(user) if audience in readable_audiences(user)]
    if not audiences:
        return []
    acknowledged = exists().where(
        ProtocolAcknowledgement.version_id == ProtocolVersion.id, ProtocolAcknowledgement.user_id == user.id
    )
    query = (
        select(ProtocolPage, ProtocolVersion)
        .join(ProtocolVersion, and_(ProtocolVersion.page_id == ProtocolPage.id,
                                    ProtocolVersion.number == ProtocolPage.published_number))
        .where(ProtocolPage.status == "published", ProtocolPage.audience.in_(audiences), ~acknowledged)
        .order_by(func.lower(ProtocolVersion.title), ProtocolPage.id)
    )
    return [(page, version) for page, version in db.session.execute(query)]


def chairs_query() -> Select:
    """Active users holding the chair role, by name: who may own a protocol."""
    return (
        select(User)
        .where(User.active.is_(True), User.id.in_(select(UserRole.user_id).where(UserRole.role == CHAIR)))
        .order_by(func.lower(User.name), User.id)
    )


def local_date(now: datetime) -> date:
    """The task force's calendar date at `now` (review dates are calendar dates there)."""
    return now.astimezone(task_force_zone()).date()


def review_is_due(page: ProtocolPage, today: date) -> bool:
    """A review is due on its date and every day after until the date is moved."""
    return page.review_due_on <= today


def pages_due_for_review(today: date) -> list[tuple[ProtocolPage, ProtocolVersion]]:
    """(page, newest version) for every page whose review date has come, most overdue first."""
    query = (
        select(ProtocolPage, ProtocolVersion)
        .join(ProtocolVersion, and_(ProtocolVersion.page_id == ProtocolPage.id,
                                    ProtocolVersion.number == ProtocolPage.latest_number))
        .where(ProtocolPage.review_due_on <= today)
        .order_by(ProtocolPage.review_due_on, func.lower(ProtocolVersion.title))
    )
    return [(page, version) for page, version in db.session.execute(query)]


# ----- changes ----------------------------------------------------------------------------------------

def slugify(title: str) -> str:
    """A URL slug from a title: lower-case ASCII letters, digits and single hyphens."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:SLUG_MAX].strip("-")
    return slug or "protocol"


def unique_slug(title: str) -> str:
    """A slug for a new page that no page has (and no route word is)."""
    base = slugify(title)
    taken = set(db.session.scalars(select(ProtocolPage.slug).where(ProtocolPage.slug.startswith(base))))
    taken |= RESERVED_SLUGS
    candidate, suffix = base, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{base[:SLUG_MAX - len(str(suffix)) - 1]}-{suffix}"
    return candidate


def _check_owner(owner_id: int) -> None:
    owner = db.session.get(User, owner_id)
    if owner is None or not owner.active or not owner.has_role(CHAIR):
        raise ProtocolError("The owner must be an active committee chair.")


def create_page(actor, values: dict, now: datetime, publish: bool = False) -> ProtocolPage:
    """Create a page and its first version (chairs); publish it at once when asked."""
    _check_owner(values["owner_id"])
    for attempt in range(3):
        page = ProtocolPage(
            slug=unique_slug(values["title"]),
            status="draft",
            audience=values["audience"],
            owner_id=values["owner_id"],
            review_due_on=values["review_due_on"],
            latest_number=1,
            created_at=now,
            updated_at=now,
        )
        try:
            with db.session.begin_nested():  # another chair may take the same slug at the same moment
                db.session.add(page)
                db.session.flush()
            break
        except IntegrityError:
            if attempt == 2:
                raise
    db.session.add(ProtocolVersion(
        page_id=page.id,
        number=1,
        title=values["title"],
        body=values["body"],
        change_note=values.get("change_note") or "First version",
        author_id=actor.id,
        created_at=now,
    ))
    db.session.flush()
    audit.record(actor, "protocol.create", page, fields=values.keys(), now=now)
    if publish:
        _publish(actor, page, 1, now)
    db.session.commit()
    return page


TEXT_FIELDS = ("title", "body")
SETTING_FIELDS = ("audience", "owner_id", "review_due_on")


def save_page(actor, page: ProtocolPage, values: dict, seen_version: int | None, now: datetime,
              publish: bool = False) -> ProtocolVersion | None:
    """Save an edit (chairs): a new version when the text changed, the settings in place.

    Refuses (StaleEdit) when someone else saved the page after the form was loaded. With `publish`,
    the newest version is published as well. Returns the new version, or None when the text is
    unchanged.
    """
    check_version(page, seen_version)
    if values["owner_id"] != page.owner_id:
        _check_owner(values["owner_id"])
    latest = latest_version(page)
    new_version = None
    changed = [name for name in SETTING_FIELDS if getattr(page, name) != values[name]]
    if any(getattr(latest, name) != values[name] for name in TEXT_FIELDS):
        number = page.latest_number + 1
        new_version = ProtocolVersion(
            page_id=page.id,
            number=number,
            title=values["title"],
            body=values["body"],
            change_note=values.get("change_note") or "",
            author_id=actor.id,
            created_at=now,
        )
        db.session.add(new_version)
        page.latest_number = number
        changed += [name for name in TEXT_FIELDS if getattr(latest, name) != values[name]] + ["change_note"]
    if "review_due_on" in changed:
        page.review_reminded_at = None  # a new date gets its own reminder when it comes
    for name in SETTING_FIELDS:
        setattr(page, name, values[name])
    if changed:
        page.updated_at = now
        db.session.flush()  # the page's version column refuses a save that raced this one
        audit.record(actor, "protocol.save", page, fields=changed, now=now)
    if publish and page.published_number != page.latest_number:
        _publish(actor, page, page.latest_number, now)
    db.session.commit()
    return new_version


REVIEW_PERIOD = timedelta(days=365)


def suggested_review_date(page: ProtocolPage | None, today: date) -> date:
    """The next review date a form offers: the page's own while it is ahead, else a year from today."""
    if page is not None and page.review_due_on > today:
        return page.review_due_on
    return today + REVIEW_PERIOD


def _publish(actor, page: ProtocolPage, number: int, now: datetime, review_due_on: date | None = None) -> None:
    """The draft → published transition, checked in the same UPDATE that makes it (with the next review date,
    when one is given)."""
    if number != page.latest_number:
        raise ProtocolError(
            f"Version {page.latest_number} was saved after the version you chose. Review it before publishing."
        )
    if page.published_number == number:
        raise ProtocolError(f"Version {number} is already the published version.")
    result = db.session.execute(
        update(ProtocolPage)
        .where(
            ProtocolPage.id == page.id,
            ProtocolPage.latest_number == number,
            or_(ProtocolPage.published_number.is_(None), ProtocolPage.published_number != number),
        )
        .values(status="published", published_number=number, published_at=now, updated_at=now,
                version=ProtocolPage.version + 1,
                **({"review_due_on": review_due_on, "review_reminded_at": None} if review_due_on else {}))
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:
        raise ProtocolError("Someone else changed or published this page just now. Reload it and try again.")
    db.session.execute(
        update(ProtocolVersion)
        .where(ProtocolVersion.page_id == page.id, ProtocolVersion.number == number,
               ProtocolVersion.published_at.is_(None))
        .values(published_at=now, published_by_id=actor.id)
        .execution_options(synchronize_session="fetch")
    )
    audit.record(actor, "protocol.publish", page,
                 fields=["published_number"] + (["review_due_on"] if review_due_on else []), now=now)


def publish(actor, page: ProtocolPage, number: int, now: datetime, review_due_on: date | None = None) -> None:
    """Publish version `number` (chairs): it must still be the newest version; readers must acknowledge it.

    With `review_due_on` (the publish button asks for it), the next review is set in the same change: it must
    be after today, since publishing is the read-through a review asks for.
    """
    if review_due_on is not None and review_due_on <= local_date(now):
        raise ProtocolError("Set the next review to a date after today.")
    _publish(actor, page, number, now, review_due_on)
    db.session.commit()


def restore(actor, page: ProtocolPage, number: int, now: datetime) -> ProtocolVersion:
    """Restore an old version's text as a new (draft) version (chairs); nothing is lost."""
    old = get_version(page, number)
    if old is None:
        raise ProtocolError(f"There is no version {number}.")
    if number == page.latest_number:
        raise ProtocolError(f"Version {number} is already the newest version.")
    new_number = page.latest_number + 1
    version = ProtocolVersion(
        page_id=page.id,
        number=new_number,
        title=old.title,
        body=old.body,
        change_note=f"Restored version {number}",
        restored_from=number,
        author_id=actor.id,
        created_at=now,
    )
    db.session.add(version)
    page.latest_number = new_number
    page.updated_at = now
    db.session.flush()
    audit.record(actor, "protocol.restore", page, fields=["title", "body", "restored_from"], now=now)
    db.session.commit()
    return version


def acknowledge(user, page: ProtocolPage, number: int, now: datetime) -> bool:
    """Record that the user read published version `number`; False if they already had."""
    if not is_meant_for(user, page):
        raise ProtocolError("This protocol does not ask you to acknowledge it.")
    if page.published_number != number:
        raise ProtocolError(
            "A newer version was published after you opened this page. Read it, then acknowledge it."
        )
    version = published_version(page)
    if acknowledgement_of(user, version) is not None:
        return False
    try:
        with db.session.begin_nested():  # a double click arriving twice at once
            db.session.add(ProtocolAcknowledgement(version_id=version.id, user_id=user.id, acknowledged_at=now))
            db.session.flush()
    except IntegrityError:
        return False
    audit.record(user, "protocol.acknowledge", version, fields=["acknowledged_at"], now=now)
    db.session.commit()
    return True


# ----- who has acknowledged ------------------------------------------------------------------------

@dataclass
class AgencyAcknowledgements:
    """One agency's users meant to read a version: who has acknowledged it (and when) and who not."""

    agency_id: int | None
    name: str
    acknowledged: list[tuple[User, datetime]] = field(default_factory=list)
    pending: list[User] = field(default_factory=list)

    @property
    def total(self) -> int:
        """How many of the agency's users the version is meant for."""
        return len(self.acknowledged) + len(self.pending)


def acknowledgement_report(page: ProtocolPage) -> list[AgencyAcknowledgements]:
    """Per agency (users without one last), who has and has not acknowledged the published version."""
    version = published_version(page)
    if version is None:
        return []
    roles = AUDIENCE_ROLES[page.audience]
    query = (
        select(User, ProtocolAcknowledgement.acknowledged_at)
        .outerjoin(ProtocolAcknowledgement, and_(ProtocolAcknowledgement.user_id == User.id,
                                                 ProtocolAcknowledgement.version_id == version.id))
        .where(User.active.is_(True), User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(roles))))
        .order_by(func.lower(User.name), User.id)
    )
    groups: dict[int | None, AgencyAcknowledgements] = {}
    for user, acknowledged_at in db.session.execute(query).unique():
        if page.audience not in readable_audiences(user):
            continue
        group = groups.get(user.agency_id)
        if group is None:
            name = user.agency.name if user.agency else "No agency (volunteers and others)"
            group = groups[user.agency_id] = AgencyAcknowledgements(user.agency_id, name)
        if acknowledged_at is None:
            group.pending.append(user)
        else:
            group.acknowledged.append((user, acknowledged_at))
    return sorted(groups.values(), key=lambda group: (group.agency_id is None, group.name.lower()))


# ----- comparing versions -----------------------------------------------------------------------------

@dataclass
class DiffLine:
    """One line of a comparison: kept, added, removed, or a gap of unchanged lines left out."""

    kind: str  # "same", "added", "removed" or "gap"
    text: str = ""
    old_number: int | None = None
    new_number: int | None = None


@dataclass
class Comparison:
    """What changed between two versions of a page."""

    old: ProtocolVersion
    new: ProtocolVersion
    lines: list[DiffLine]

    @property
    def title_changed(self) -> bool:
        """Whether the title differs."""
        return self.old.title != self.new.title

    @property
    def added(self) -> int:
        """Lines added."""
        return sum(1 for line in self.lines if line.kind == "added")

    @property
    def removed(self) -> int:
        """Lines removed."""
        return sum(1 for line in self.lines if line.kind == "removed")


def diff_lines(old_text: str, new_text: str, context: int = 3) -> list[DiffLine]:
    """A line diff with `context` unchanged lines around each change and gaps marked between them."""
    old_lines, new_lines = old_text.splitlines(), new_text.splitlines()
    if old_lines == new_lines:
        return []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    result: list[DiffLine] = []
    for index, group in enumerate(matcher.get_grouped_opcodes(context)):
        if index or group[0][1] > 0 or group[0][3] > 0:
            result.append(DiffLine("gap"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                result += [DiffLine("same", old_lines[i], i + 1, j1 + i - i1 + 1) for i in range(i1, i2)]
                continue
            if tag in ("replace", "delete"):
                result += [DiffLine("removed", old_lines[i], old_number=i + 1) for i in range(i1, i2)]
            if tag in ("replace", "insert"):
                result += [DiffLine("added", new_lines[j], new_number=j + 1) for j in range(j1, j2)]
    if result:
        last = matcher.get_opcodes()[-1]
        if last[0] == "equal" and last[2] - last[1] > context:
            result.append(DiffLine("gap"))
    return result


def compare(old: ProtocolVersion, new: ProtocolVersion) -> Comparison:
    """Compare two versions of the same page."""
    return Comparison(old, new, diff_lines(old.body, new.body))


# ----- the daily reminder ---------------------------------------------------------------------------

def review_reminders(now: datetime) -> str:
    """The daily job: mail each page's owner when its review is due, then weekly while it stays due.

    The mail names the protocol and links to it; protocols hold no client information.
    """
    today = local_date(now)
    queued = 0
    for page, version in pages_due_for_review(today):
        if page.review_reminded_at is not None and now - page.review_reminded_at < REMINDER_INTERVAL:
            continue
        owner = page.owner
        recipients = [owner] if owner.active else list(db.session.scalars(chairs_query()))
        link = external_url("protocols.show", slug=page.slug)
        body = (
            f"The protocol “{version.title}” was due for review on {page.review_due_on:%d %B %Y}.\n\n"
            f"Read it through, revise it if anything has changed, and choose the next review date:\n{link}\n"
        )
        if not owner.active:
            body += f"\nIts owner, {owner.name}, no longer has an active account: choose a new owner.\n"
        for recipient in recipients:
            queue_mail(recipient.email, "CSRN: a protocol is due for review", body, now)
            queued += 1
        page.review_reminded_at = now
        db.session.flush()
        audit.record(None, "protocol.review_reminder", page, fields=["review_reminded_at"], now=now)
    db.session.commit()
    return f"{queued} protocol review reminder(s) queued"

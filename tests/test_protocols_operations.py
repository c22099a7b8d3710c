"""Protocols, called directly: versions, publishing, restore, diffs, acknowledgements, audiences,
review dates and their reminders, and the Markdown rendering (sanitising, live blocks)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select, update

from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.concurrency import StaleEdit
from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from csrn.protocols import operations as ops
from csrn.protocols.models import ProtocolAcknowledgement, ProtocolPage, ProtocolVersion
from csrn.protocols.render import markdown_to_html, render_protocol, sanitise
from tests.conftest import NOW

TODAY = date(2026, 11, 28)  # NOW's date in UTC, the zone of a task force with default settings

HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<div hx-get="/admin" hx-trigger="load" hx-target="body">x</div>',
    '<form hx-post="/referrals/1/accept" hx-trigger="load">',
    '<div data-hx-post="/x" data-hx-trigger="load">x</div>',
    '<button hx-on:click="alert(1)">x</button>',
    """<meta name="htmx-config" content='{"allowEval":true}'>""",
    '<iframe src="https://evil.example/"></iframe>',
    '<base href="https://evil.example/">',
    '<p style="position:fixed;top:0">x</p>',
    "<svg><script>alert(1)</script></svg>",
    "{{config}}",
    "{{7*7}}",
]


# The same attacks as raw HTML, for the sanitiser on its own (the parser would already escape them).
HOSTILE_HTML = [payload for payload in HOSTILE_MARKDOWN if not payload.startswith("[click]")] + [
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href=" java\tscript:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    '<a href="https://example.org/" onclick="alert(1)" style="color:red" hx-get="/admin">click</a>',
    '<object data="x.swf"></object><embed src="x.swf"><form action="/x"><input name="a"></form>',
    '<!-- comment --><template><script>alert(1)</script></template>',
]


@pytest.fixture
def people(ctx, create_user, create_agency):
    """Users of every kind, loaded in the test's app context."""
    agency_id = create_agency(name="Protocol Test Agency")

    def load(record):
        return db.session.get(User, record.id)

    return {
        "chair": load(create_user(roles=("chair",), agency_id=agency_id)),
        "chair2": load(create_user(roles=("chair",))),
        "staff": load(create_user(roles=("staff",), agency_id=agency_id)),
        "case_manager": load(create_user(roles=("case_manager",))),
        "volunteer": load(create_user(roles=("volunteer",), agency_id=None)),
        "admin": load(create_user(roles=("admin",), agency_id=None)),
    }


def page_values(owner, **overrides) -> dict:
    """What the chair's form would pass to create_page / save_page."""
    values = {
        "title": "First response",
        "body": "## Call\n\nCall the advocate.\n",
        "change_note": "",
        "audience": "members",
        "owner_id": owner.id,
        "review_due_on": TODAY + timedelta(days=365),
    }
    values.update(overrides)
    return values


def new_page(chair, publish=False, **overrides) -> ProtocolPage:
    """Create a page as the chair."""
    return ops.create_page(chair, page_values(chair, **overrides), NOW, publish=publish)


def edit(chair, page, now=NOW, publish=False, **overrides):
    """Save an edit of the page as the chair, starting from its current settings and text."""
    latest = ops.latest_version(page)
    values = page_values(
        chair, title=latest.title, body=latest.body, audience=page.audience, owner_id=page.owner_id,
        review_due_on=page.review_due_on,
    )
    values.update(overrides)
    return ops.save_page(chair, page, values, page.version, now, publish=publish)


# ----- versions, publishing, restore -----------------------------------------------------------------

def test_a_new_page_is_a_draft_with_version_one(people):
    """Creating makes version 1 with its author and note; the page is a draft nobody but chairs reads."""
    page = new_page(people["chair"], change_note="")
    version = ops.latest_version(page)
    assert (page.status, page.latest_number, page.published_number) == ("draft", 1, None)
    assert version.number == 1 and version.author_id == people["chair"].id and version.created_at == NOW
    assert version.change_note == "First version" and version.published_at is None
    assert ops.can_read(people["chair2"], page)
    for name in ("staff", "case_manager", "volunteer", "admin"):
        assert not ops.can_read(people[name], page), name
    assert page.slug == "first-response"


def test_every_changed_save_is_a_version_and_settings_alone_are_not(people):
    """A changed text makes the next version; unchanged text saves the settings and makes none."""
    chair = people["chair"]
    page = new_page(chair)
    second = edit(chair, page, body="## Call\n\nCall the advocate, then the backup.\n", change_note="Backup")
    assert second.number == 2 and page.latest_number == 2
    assert second.change_note == "Backup" and second.author_id == chair.id
    assert ops.get_version(page, 1).body == "## Call\n\nCall the advocate.\n"  # the old text is kept
    assert edit(chair, page, audience="both") is None
    assert page.audience == "both" and page.latest_number == 2
    count = db.session.scalar(
        select(func.count()).select_from(ProtocolVersion).where(ProtocolVersion.page_id == page.id)
    )
    assert count == 2


def test_saves_are_audited_with_field_names_not_text(people):
    """The audit log names what changed, never the protocol text."""
    chair = people["chair"]
    page = new_page(chair, body="Secret-ish wording")
    edit(chair, page, body="Other wording", change_note="Reworded")
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("protocol.%")).order_by(AuditEvent.id)
    ).all()
    assert [event.action for event in events] == ["protocol.create", "protocol.save"]
    assert "body" in events[1].fields and "wording" not in events[1].fields


def test_a_stale_save_is_refused(people):
    """Two chairs load version N of the page; the second save is refused, nothing overwritten (R7)."""
    chair, other = people["chair"], people["chair2"]
    page = new_page(chair)
    seen = page.version
    ops.save_page(chair, page, page_values(chair, body="First chair's text", change_note="a"), seen, NOW)
    with pytest.raises(StaleEdit):
        ops.save_page(other, page, page_values(chair, body="Second chair's text", change_note="b"), seen, NOW)
    db.session.rollback()
    assert ops.latest_version(page).body == "First chair's text"


def test_a_save_racing_another_is_refused_by_the_version_column(people):
    """A save that passed the form check but lost the race is refused at flush, not silently applied."""
    from sqlalchemy.orm.exc import StaleDataError

    chair = people["chair"]
    page = new_page(chair)
    db.session.execute(  # another worker saves between this one's check and its write
        update(ProtocolPage).where(ProtocolPage.id == page.id).values(version=ProtocolPage.version + 1)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(StaleDataError):
        ops.save_page(chair, page, page_values(chair, body="Lost the race", change_note="x"), page.version, NOW)
    db.session.rollback()


def test_publish_makes_the_newest_version_what_readers_see(people):
    """Publishing sets the page's published version; later saves are drafts until published."""
    chair, staff = people["chair"], people["staff"]
    page = new_page(chair, body="Version one text")
    ops.publish(chair, page, 1, NOW)
    assert (page.status, page.published_number, page.published_at) == ("published", 1, NOW)
    assert ops.get_version(page, 1).published_by_id == chair.id
    assert ops.can_read(staff, page) and ops.shown_version(staff, page).body == "Version one text"
    edit(chair, page, body="Version two text", change_note="Draft")
    assert ops.shown_version(staff, page).body == "Version one text"
    assert ops.get_version(page, 2).published_at is None
    assert not ops.can_read_version(staff, ops.get_version(page, 2))
    assert ops.can_read_version(people["chair2"], ops.get_version(page, 2))
    ops.publish(chair, page, 2, NOW + timedelta(hours=1))
    assert ops.shown_version(staff, page).body == "Version two text"
    assert ops.get_version(page, 1).published_at == NOW  # a version once published stays readable


def test_publish_refuses_an_older_version_and_a_second_publication(people):
    """Only the newest version can be published, and only once."""
    chair = people["chair"]
    page = new_page(chair, publish=True)
    with pytest.raises(ops.ProtocolError, match="already the published version"):
        ops.publish(chair, page, 1, NOW)
    edit(chair, page, body="Newer", change_note="n")
    with pytest.raises(ops.ProtocolError, match="Version 2 was saved after"):
        ops.publish(chair, page, 1, NOW)
    assert page.published_number == 1


def test_restore_copies_an_old_version_into_a_new_draft(people):
    """Restoring version 1 makes version 3 with its text; the published version is untouched."""
    chair = people["chair"]
    page = new_page(chair, title="Old title", body="Old text", publish=True)
    edit(chair, page, title="New title", body="New text", change_note="Rewrite", publish=True)
    restored = ops.restore(chair, page, 1, NOW + timedelta(days=1))
    assert (restored.number, restored.title, restored.body) == (3, "Old title", "Old text")
    assert restored.restored_from == 1 and restored.change_note == "Restored version 1"
    assert restored.published_at is None and page.published_number == 2
    assert ops.get_version(page, 2).body == "New text"
    with pytest.raises(ops.ProtocolError, match="already the newest"):
        ops.restore(chair, page, 3, NOW)
    with pytest.raises(ops.ProtocolError, match="no version 9"):
        ops.restore(chair, page, 9, NOW)


def test_the_owner_must_be_an_active_chair(people):
    """A page cannot be given to someone who is not a chair."""
    with pytest.raises(ops.ProtocolError, match="chair"):
        ops.create_page(people["chair"], page_values(people["staff"]), NOW)
    page = new_page(people["chair"])
    with pytest.raises(ops.ProtocolError, match="chair"):
        edit(people["chair"], page, owner_id=people["case_manager"].id)


def test_slugs_are_unique_and_never_a_route_word(people):
    """Two pages with one title get distinct slugs; 'New' and 'Preview' never become slugs."""
    chair = people["chair"]
    assert new_page(chair, title="Referral & acceptance").slug == "referral-acceptance"
    assert new_page(chair, title="Referral — acceptance!").slug == "referral-acceptance-2"
    assert new_page(chair, title="New").slug == "new-2"
    assert new_page(chair, title="Preview").slug == "preview-2"
    assert new_page(chair, title="«»").slug == "protocol"


# ----- comparing versions ------------------------------------------------------------------------

def test_diff_marks_added_and_removed_lines_with_context():
    """A changed line is removed then added; unchanged lines far away become a gap."""
    old = "\n".join(f"line {n}" for n in range(1, 21))
    new = old.replace("line 10", "line ten").replace("line 20", "line 20\nline 21")
    lines = ops.diff_lines(old, new)
    kinds = [(line.kind, line.text) for line in lines]
    assert ("removed", "line 10") in kinds and ("added", "line ten") in kinds and ("added", "line 21") in kinds
    assert kinds[0] == ("gap", "")
    assert kinds.index(("removed", "line 10")) < kinds.index(("added", "line ten"))
    assert ("same", "line 1") not in kinds  # far from any change
    assert ("same", "line 7") in kinds  # three lines of context
    removed = next(line for line in lines if line.kind == "removed")
    assert removed.old_number == 10


def test_diff_of_identical_text_is_empty_and_compare_sees_title_changes(people):
    """Identical bodies have no lines; a new title is reported."""
    assert ops.diff_lines("a\nb", "a\nb") == []
    chair = people["chair"]
    page = new_page(chair, title="Before", body="same")
    edit(chair, page, title="After", change_note="Renamed")
    comparison = ops.compare(ops.get_version(page, 1), ops.get_version(page, 2))
    assert comparison.title_changed and comparison.lines == []
    assert (comparison.added, comparison.removed) == (0, 0)


# ----- audiences and acknowledgements ------------------------------------------------------------

def test_volunteers_read_only_their_pages_and_members_read_all(people):
    """Only-volunteer users see volunteer and both pages; member roles see every published page."""
    chair = people["chair"]
    members = new_page(chair, title="Members only", audience="members", publish=True)
    volunteers = new_page(chair, title="Volunteers only", audience="volunteers", publish=True)
    both = new_page(chair, title="Everyone", audience="both", publish=True)
    new_page(chair, title="Unpublished")

    def titles(user):
        return {version.title for _, version in db.session.execute(ops.pages_query(user))}

    assert titles(people["volunteer"]) == {"Volunteers only", "Everyone"}
    assert titles(people["staff"]) == {"Members only", "Volunteers only", "Everyone"}
    assert titles(people["chair2"]) == {"Members only", "Volunteers only", "Everyone", "Unpublished"}
    assert not ops.can_read(people["volunteer"], members)
    # Meant for: volunteers are asked to acknowledge theirs; members theirs; nobody asks the admin.
    assert ops.is_meant_for(people["volunteer"], volunteers) and ops.is_meant_for(people["volunteer"], both)
    assert not ops.is_meant_for(people["staff"], volunteers) and ops.is_meant_for(people["staff"], members)
    assert not any(ops.is_meant_for(people["admin"], page) for page in (members, volunteers, both))


def test_acknowledging_each_newly_published_version(people):
    """A user acknowledges the published version once; a new publication asks again."""
    chair, staff = people["chair"], people["staff"]
    page = new_page(chair, publish=True)
    assert [p.id for p, _ in ops.pending_acknowledgements(staff)] == [page.id]
    assert ops.acknowledge(staff, page, 1, NOW) is True
    assert ops.acknowledge(staff, page, 1, NOW) is False  # a second click changes nothing
    assert ops.pending_acknowledgements(staff) == []
    edit(chair, page, body="Changed", change_note="c")  # a draft asks nobody
    assert ops.pending_acknowledgements(staff) == []
    ops.publish(chair, page, 2, NOW)
    assert [p.id for p, _ in ops.pending_acknowledgements(staff)] == [page.id]
    with pytest.raises(ops.ProtocolError, match="newer version was published"):
        ops.acknowledge(staff, page, 1, NOW)
    ops.acknowledge(staff, page, 2, NOW)
    count = db.session.scalar(
        select(func.count()).select_from(ProtocolAcknowledgement).where(ProtocolAcknowledgement.user_id == staff.id)
    )
    assert count == 2
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "protocol.acknowledge")) is not None


def test_only_users_a_page_is_meant_for_acknowledge_it(people):
    """The admin, and members on a volunteers' page, are not asked and cannot acknowledge."""
    chair = people["chair"]
    members = new_page(chair, title="M", audience="members", publish=True)
    volunteers = new_page(chair, title="V", audience="volunteers", publish=True)
    draft = new_page(chair, title="D")
    for user, page in ((people["admin"], members), (people["staff"], volunteers), (people["volunteer"], members)):
        with pytest.raises(ops.ProtocolError, match="does not ask you"):
            ops.acknowledge(user, page, 1, NOW)
    with pytest.raises(ops.ProtocolError):
        ops.acknowledge(people["staff"], draft, 1, NOW)
    assert ops.pending_acknowledgements(people["admin"]) == []
    assert [p.id for p, _ in ops.pending_acknowledgements(people["volunteer"])] == [volunteers.id]


def test_the_acknowledgement_report_groups_users_by_agency(people, create_user, create_agency):
    """Per agency: who acknowledged (and when), who has not; inactive users and the admin are left out."""
    chair = people["chair"]
    other_agency = create_agency(name="Aardvark Agency")
    colleague = db.session.get(User, create_user(roles=("case_manager",), agency_id=other_agency).id)
    gone = db.session.get(User, create_user(roles=("staff",), agency_id=other_agency, active=False).id)
    page = new_page(chair, publish=True)
    ops.acknowledge(colleague, page, 1, NOW + timedelta(minutes=5))
    report = {group.name: group for group in ops.acknowledgement_report(page)}
    aardvark = report["Aardvark Agency"]
    assert [(user.id, at) for user, at in aardvark.acknowledged] == [(colleague.id, NOW + timedelta(minutes=5))]
    assert gone not in aardvark.pending and aardvark.total == 1
    own = report["Protocol Test Agency"]
    assert {user.id for user in own.pending} == {chair.id, people["staff"].id}
    everyone = {user.id for group in report.values() for user in group.pending}
    assert people["admin"].id not in everyone and people["volunteer"].id not in everyone
    assert list(report)[0] == "Aardvark Agency"  # agencies by name, users without one last


def test_the_report_of_a_volunteers_page_lists_volunteers_without_an_agency(people):
    """A page for volunteers asks the volunteers, grouped under 'No agency'."""
    page = new_page(people["chair"], audience="volunteers", publish=True)
    report = ops.acknowledgement_report(page)
    assert [group.name for group in report] == ["No agency (volunteers and others)"]
    assert [user.id for user in report[0].pending] == [people["volunteer"].id]
    assert ops.acknowledgement_report(new_page(people["chair"], title="Draft")) == []


# ----- review dates and the daily reminder ----------------------------------------------------------

def test_pages_due_for_review_are_those_on_or_past_their_date(people):
    """Due today and overdue pages are listed, most overdue first; future ones are not."""
    chair = people["chair"]
    overdue = new_page(chair, title="Overdue", review_due_on=TODAY - timedelta(days=30))
    due = new_page(chair, title="Due today", review_due_on=TODAY)
    new_page(chair, title="Later", review_due_on=TODAY + timedelta(days=1))
    assert [page.id for page, _ in ops.pages_due_for_review(TODAY)] == [overdue.id, due.id]


def test_the_daily_reminder_mails_the_owner_weekly_while_a_review_is_due(people, app):
    """One mail to the owner when due, none the next day, another a week later; a new date resets it."""
    chair = people["chair"]
    page = new_page(chair, title="Working with interpreters", review_due_on=TODAY - timedelta(days=1))
    new_page(chair, title="Not yet", review_due_on=TODAY + timedelta(days=10))

    def mails():
        return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()

    assert ops.review_reminders(NOW) == "1 protocol review reminder(s) queued"
    [mail] = mails()
    assert mail.to_addr == chair.email and mail.subject == "CSRN: a protocol is due for review"
    assert "Working with interpreters" in mail.body
    assert f"{app.config['CSRN_BASE_URL']}/protocols/{page.slug}" in mail.body
    assert ops.review_reminders(NOW + timedelta(days=1)).startswith("0 ")
    assert ops.review_reminders(NOW + timedelta(days=7)).startswith("1 ")
    edit(chair, page, review_due_on=TODAY + timedelta(days=9))  # reviewed; the next review is soon
    assert ops.review_reminders(NOW + timedelta(days=8)).startswith("0 ")
    assert ops.review_reminders(NOW + timedelta(days=9)).startswith("1 ")  # the new date's own reminder
    assert len(mails()) == 3
    assert db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "protocol.review_reminder")
    ) == 3


def test_a_deactivated_owners_reminder_goes_to_every_chair(people):
    """Nobody is left unreminded when the owner has left."""
    chair = people["chair"]
    new_page(chair, review_due_on=TODAY)
    chair.active = False
    db.session.commit()
    ops.review_reminders(NOW)
    recipients = set(db.session.scalars(select(OutboxMessage.to_addr)))
    assert recipients == {people["chair2"].email}


def test_the_daily_command_runs_the_review_reminder(people, runner):
    """`flask csrn daily` includes the protocol reminders."""
    new_page(people["chair"], review_due_on=TODAY - timedelta(days=3))
    result = runner.invoke(args=["csrn", "daily", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "protocol review reminders: 1 protocol review reminder(s) queued" in result.output


# ----- rendering: sanitising and live blocks ---------------------------------------------------------

class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


ALLOWED = {"p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
           "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"}


def assert_inert(html: str) -> None:
    """Only allow-listed tags; no handler, style or htmx attribute; links only to safe schemes."""
    for tag, attrs in Elements(html).found:
        assert tag in ALLOWED, f"<{tag}> in {html!r}"
        for name, value in attrs.items():
            assert name in {"href", "title", "start", "rel", "scope"}, f"{name}= in {html!r}"
            if name == "href":
                assert re.match(r"^(https?:|mailto:|tel:|/[^/\\]|#|\?)", value), value
                assert attrs["rel"] == "noopener noreferrer"


@pytest.mark.parametrize("payload", HOSTILE_MARKDOWN)
def test_hostile_markdown_renders_inert(ctx, payload):
    """Each payload, in Markdown, becomes text or nothing: no script, handler, htmx or style survives."""
    html = str(render_protocol(f"Before\n\n{payload}\n\nAfter", NOW))
    assert_inert(html)
    assert "Before" in html and "After" in html
    assert "<script" not in html and "<iframe" not in html and "<meta" not in html and "<base" not in html
    if payload.startswith("{{"):
        assert payload in html and "49" not in html and "Config" not in html


@pytest.mark.parametrize("payload", HOSTILE_HTML)
def test_the_sanitiser_alone_strips_hostile_html(payload):
    """The allow-list is a layer of its own: the same payloads as raw HTML come out inert."""
    html = sanitise(f"<p>Before</p>{payload}<p>After</p>")
    assert_inert(html)
    for marker in ("hx-", "onerror", "onclick", "style=", "javascript:", "data:", "<script", "<meta", "<base",
                   "<iframe", "<svg", "<object", "<embed", "<form", "<input", "<template", "<!--"):
        assert marker not in html.lower(), marker


def test_links_keep_safe_schemes_and_get_rel():
    """http(s), mailto, tel and site-relative links stay, with rel=noopener noreferrer; others go."""
    html = sanitise(markdown_to_html(
        "[a](https://example.org/x) [b](mailto:help@example.org) [c](tel:+15550100) [d](/protocols/) "
        "[e](//evil.example/) [f](vbscript:x)"
    ))
    assert '<a href="https://example.org/x" rel="noopener noreferrer">a</a>' in html
    assert 'href="mailto:help@example.org"' in html and 'href="tel:+15550100"' in html
    assert 'href="/protocols/"' in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert len(hrefs) == 4 and not any("evil" in href or "vbscript" in href for href in hrefs)


def test_markdown_structure_survives_and_images_are_links():
    """Headings (a # heading becomes h2), lists and tables render; images never load from elsewhere."""
    html = sanitise(markdown_to_html(
        "# Top\n\n## Section\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![logo](https://evil.example/x.png)"
    ))
    assert "<h2>Top</h2>" in html and "<h2>Section</h2>" in html and "<h1" not in html
    assert "<li>one</li>" in html and '<th scope="col">a</th>' in html
    assert "<img" not in html and "logo" in html


def test_live_blocks_replace_markers_on_a_line_of_their_own_only(ctx):
    """[[oncall-now]] / [[oncall-week]] alone on a line become server blocks; elsewhere they stay text."""
    text = (
        "Intro\n[[oncall-now]]\nMore text\n\n[[oncall-week]]\n\n"
        "Inline [[oncall-now]] stays.\n\n```\n[[oncall-now]]\n```\n\n    [[oncall-week]]\n"
    )
    html = str(render_protocol(text, NOW))
    assert html.count('class="live-block live-block-now"') == 1
    assert html.count('class="live-block live-block-week"') == 1
    assert "Inline [[oncall-now]] stays." in html
    assert "<code>[[oncall-now]]\n</code>" in html and "<code>[[oncall-week]]\n</code>" in html
    assert "No on-call roster is set up yet" in html
    assert "<p>Intro</p>" in html and "<p>More text</p>" in html


def test_a_marker_cannot_be_forged_with_html(ctx):
    """Escaped HTML around a marker is text, not a live block, and never markup."""
    html = str(render_protocol("<p>[[oncall-now]]</p>", NOW))
    assert "live-block" not in html and "&lt;p&gt;" in html


# ----- the demo ----------------------------------------------------------------------------------

def test_the_demo_seeds_five_published_protocols(ctx):
    """The demo's protocols are published, owned by the demo chair, with the on-call block in the first."""
    from csrn.demo import seed

    seed(password="demo password for tests", force=True, now=NOW)
    rows = db.session.execute(
        select(ProtocolPage, ProtocolVersion).join(
            ProtocolVersion, (ProtocolVersion.page_id == ProtocolPage.id)
            & (ProtocolVersion.number == ProtocolPage.published_number)
        )
    ).all()
    by_title = {version.title: (page, version) for page, version in rows}
    assert len(by_title) == 5
    assert {page.owner.email for page, _ in rows} == {"chair@demo.example"}
    first_response = next(title for title in by_title if title.startswith("Law enforcement"))
    assert "[[oncall-now]]" in by_title[first_response][1].body
    assert by_title["Expectations for pro bono attorneys"][0].audience == "volunteers"
    assert "T visa" in by_title["Expectations for pro bono attorneys"][1].body
    assert all(page.status == "published" for page, _ in rows)
    assert any(page.review_due_on < NOW.date() for page, _ in rows)  # one shows on the chairs' dashboard

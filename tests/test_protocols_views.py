"""Protocol pages through the test client: permissions, drafts, the payload corpus, previews, versions,
restores, acknowledgements, no writes on GET and CSRF on every POST."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import func, select

from csrn.auth.models import User
from csrn.extensions import db
from csrn.protocols import operations as ops
from csrn.protocols.models import ProtocolAcknowledgement, ProtocolPage, ProtocolVersion
from tests.conftest import NOW, csrf_from, task_force_today
from tests.corpus import BIG_PAYLOAD, NUL_PAYLOAD

HX = {"HX-Request": "true"}
NON_CHAIRS = [("staff",), ("case_manager",), ("agency_admin",), ("admin",), ("volunteer",),
              ("staff", "case_manager", "agency_admin")]


@pytest.fixture
def create_protocol(app, create_user):
    """Return a function that creates a protocol page (published unless asked) and returns its slug."""

    def factory(title="First response", body="## Call\n\nCall the on-call advocate.\n", audience="members",
                publish=True, owner_id=None, review_due_on=None, drafts=()):
        with app.app_context():
            owner = db.session.get(User, owner_id or create_user(roles=("chair",)).id)
            values = {
                "title": title, "body": body, "change_note": "", "audience": audience, "owner_id": owner.id,
                "review_due_on": review_due_on or NOW.date() + timedelta(days=200),
            }
            page = ops.create_page(owner, values, NOW, publish=publish)
            for draft in drafts:
                ops.save_page(owner, page, {**values, "body": draft, "change_note": "draft"}, page.version, NOW)
            slug = page.slug
            db.session.remove()
            return slug

    return factory


def form_data(slug_page=None, **overrides) -> dict:
    """A valid chair's protocol form."""
    data = {
        "title": "Referral and acceptance",
        "body": "## No wrong door\n\nStart the referral.\n",
        "change_note": "",
        "audience": "both",
        "owner_id": "",
        "review_due_on": "2027-06-01",
        "action": "save",
    }
    data.update(overrides)
    return data


def page_row(app, slug):
    """The page and its versions, read fresh."""
    with app.app_context():
        page = db.session.scalar(select(ProtocolPage).where(ProtocolPage.slug == slug))
        versions = db.session.scalars(
            select(ProtocolVersion).where(ProtocolVersion.page_id == page.id).order_by(ProtocolVersion.number)
        ).all()
        result = (page.status, page.published_number, page.latest_number, page.version,
                  [(v.number, v.title, v.body, v.change_note) for v in versions])
        db.session.remove()
        return result


def row_counts(app) -> dict[str, int]:
    """Rows in every table but the audit log."""
    with app.app_context():
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables if table.name != "audit_event"
        }
        db.session.remove()
        return counts


class BodyElements(HTMLParser):
    """The elements inside the page's protocol-body containers (and whether each container has hx-disable)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.containers: list[dict] = []
        self.inside: list[tuple[str, dict]] = []
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth:
            self.inside.append((tag, attrs))
            if tag not in ("br", "hr"):
                self.depth += 1
        elif "protocol-body" in (attrs.get("class") or "").split():
            self.containers.append(attrs)
            self.depth = 1

    def handle_startendtag(self, tag, attrs):
        if self.depth:
            self.inside.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if self.depth and tag not in ("br", "hr"):
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text += data


PROTOCOL_TAGS = {"p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
                 "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"}
LIVE_BLOCK_TAGS = {"section", "h3", "p", "strong", "a"}


def body_problems(html: str) -> list[str]:
    """What in the protocol text is not inert (an empty list when all is well)."""
    parsed = BodyElements(html)
    problems = []
    if not parsed.containers:
        return ["no protocol-body container"]
    for container in parsed.containers:
        if "hx-disable" not in container:
            problems.append("a protocol-body container without hx-disable")
    for tag, attrs in parsed.inside:
        if tag not in PROTOCOL_TAGS | LIVE_BLOCK_TAGS:
            problems.append(f"<{tag}> inside the protocol text")
        for name, value in attrs.items():
            if name.startswith(("on", "hx-", "data-")) or name == "style":
                problems.append(f"<{tag} {name}={value!r}>")
            if name == "href" and not re.match(r"^(https?:|mailto:|tel:|/[^/\\])", value or ""):
                problems.append(f"<{tag} href={value!r}>")
    return problems


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><img src=x onerror=alert(1)>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    '<div hx-get="/admin" hx-trigger="load">',
    '<form hx-post="/referrals/1/accept" hx-trigger="load">',
    '<div data-hx-post="/x">',
    '<button hx-on:click="alert(1)">',
    """<meta name="htmx-config" content='{"allowEval":true}'>""",
    '<iframe src="/admin/settings/"></iframe>',
    '<base href="https://evil.example/">',
    '<p style="position:fixed">x</p>',
    "<svg><script>alert(1)</script></svg>",
    "{{config}}",
    "{{7*7}}",
]


# ----- who may do what ------------------------------------------------------------------------------

def chair_only_requests(slug: str) -> list[tuple[str, str]]:
    """Every URL that writes, previews, publishes or restores, or reports acknowledgements."""
    return [
        ("GET", "/protocols/new"),
        ("POST", "/protocols/new"),
        ("POST", "/protocols/preview"),
        ("GET", f"/protocols/{slug}/edit"),
        ("POST", f"/protocols/{slug}/edit"),
        ("POST", f"/protocols/{slug}/publish"),
        ("GET", f"/protocols/{slug}/versions/1/restore"),
        ("POST", f"/protocols/{slug}/versions/1/restore"),
        ("GET", f"/protocols/{slug}/acknowledgements"),
    ]


@pytest.mark.parametrize("roles", NON_CHAIRS, ids="+".join)
def test_no_edit_url_answers_anyone_but_a_chair(app, login_as, create_protocol, roles):
    """Create, edit, preview, publish, restore and the report: 403 (or 404) to every other role, htmx too."""
    slug = create_protocol(drafts=["A newer draft"])
    user = login_as(roles=roles)
    token = csrf_from(user.get("/").get_data(as_text=True))
    before = page_row(app, slug), row_counts(app)
    for method, url in chair_only_requests(slug):
        for headers in ({}, HX):
            data = {**form_data(body="changed", title="Changed", number="2", version="1"), "csrf_token": token}
            response = user.client.open(url, method=method, headers=headers, data=data if method == "POST" else None)
            assert response.status_code in (403, 404), f"{method} {url} {headers}: {response.status_code}"
    assert (page_row(app, slug), row_counts(app)) == before


def test_drafts_are_invisible_to_everyone_but_chairs(app, login_as, create_protocol):
    """A never-published page is a 404 everywhere and absent from the list; chairs see it marked Draft."""
    slug = create_protocol(title="Secret draft protocol", body="Draft-only words", publish=False)
    staff = login_as(roles=("staff",))
    for url in (f"/protocols/{slug}", f"/protocols/{slug}/versions", f"/protocols/{slug}/versions/1",
                f"/protocols/{slug}/compare?old=1&new=1"):
        assert staff.get(url).status_code == 404, url
    assert "Secret draft protocol" not in staff.get("/protocols/").get_data(as_text=True)
    assert staff.post(f"/protocols/{slug}/acknowledge", {"number": "1"}, page="/").status_code == 404
    chair = login_as(roles=("chair",))
    listing = chair.get("/protocols/").get_data(as_text=True)
    assert "Secret draft protocol" in listing and "Draft, never published" in listing
    shown = chair.get(f"/protocols/{slug}").get_data(as_text=True)
    assert "Draft-only words" in shown and "only chairs can see this page" in shown


def test_readers_see_the_published_version_not_the_newer_draft(app, login_as, create_protocol):
    """After a draft is saved, readers still get the published text; the draft's version page is 404."""
    slug = create_protocol(body="Published words", drafts=["Unpublished words"])
    staff = login_as(roles=("staff",))
    shown = staff.get(f"/protocols/{slug}").get_data(as_text=True)
    assert "Published words" in shown and "Unpublished words" not in shown
    assert staff.get(f"/protocols/{slug}/versions/2").status_code == 404
    assert staff.get(f"/protocols/{slug}/compare?old=1&new=2").status_code == 404
    history = staff.get(f"/protocols/{slug}/versions").get_data(as_text=True)
    assert "Version 1" in history and "Version 2" not in history
    chair = login_as(roles=("chair",))
    chair_view = chair.get(f"/protocols/{slug}").get_data(as_text=True)
    assert "Published words" in chair_view and "Version 2, saved by" in chair_view
    assert "Unpublished words" in chair.get(f"/protocols/{slug}/versions/2").get_data(as_text=True)


def test_volunteers_see_only_their_protocols(login_as, create_protocol):
    """A user who is only a volunteer gets 404 on a members' page and reads a volunteers' page."""
    members = create_protocol(title="For members")
    volunteers = create_protocol(title="For volunteers", audience="volunteers")
    volunteer = login_as(roles=("volunteer",), agency_id=None)
    assert volunteer.get(f"/protocols/{members}").status_code == 404
    assert volunteer.get(f"/protocols/{volunteers}").status_code == 200
    listing = volunteer.get("/protocols/").get_data(as_text=True)
    assert "For volunteers" in listing and "For members" not in listing
    staff = login_as(roles=("staff",))
    assert staff.get(f"/protocols/{volunteers}").status_code == 200  # members may read it, not asked to ack
    assert "I have read version" not in staff.get(f"/protocols/{volunteers}").get_data(as_text=True)


# ----- the payload corpus renders inert ---------------------------------------------------------------

@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_protocol_renders_inert(app, login_as, payload):
    """V2: a chair saves each payload in the text and title; the page, version and preview stay inert."""
    chair = login_as(roles=("chair",))
    token = csrf_from(chair.get("/protocols/new").get_data(as_text=True))
    body = f"Intro line\n\n{payload}\n\n[[oncall-now]]\n\nClosing line"
    data = form_data(title=f"T {payload}"[:200], body=body, owner_id=str(chair.user.id), action="publish",
                     csrf_token=token)
    response = chair.client.post("/protocols/new", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[-3000:]
    location = response.headers["Location"]
    staff = login_as(roles=("staff",))
    for viewer in (chair, staff):
        html = viewer.get(location).get_data(as_text=True)
        assert not body_problems(html), body_problems(html)
        assert "Intro line" in html and "Closing line" in html and "No on-call roster is set up yet" in html
        assert f"<h1>T {payload}</h1>" not in html or "<" not in payload  # the title is text, escaped
        assert html.count('<meta name="htmx-config"') == 1
        if payload.startswith("{{"):
            assert payload in BodyElements(html).text
            # Not evaluated: the live block's own clock line ("As of … 2026, 16:49 UTC.") is left out of the look
            # for "49" (its time of day, whatever the zone's format).
            outside_clock = re.sub(r"As of [^\n]*", "", BodyElements(html).text)
            assert "49" not in outside_clock and app.config["SECRET_KEY"] not in html
    slug = location.rstrip("/").rsplit("/", 1)[-1]
    assert not body_problems(chair.get(f"/protocols/{slug}/versions/1").get_data(as_text=True))
    preview = chair.client.post("/protocols/preview", data={"body": body, "csrf_token": token}, headers=HX)
    assert preview.status_code == 200 and not body_problems(preview.get_data(as_text=True))
    assert "<html" not in preview.get_data(as_text=True)


def test_a_too_long_or_nul_text_is_a_message_not_a_500(login_as):
    """V3: 600 kB and NUL are refused with 422 and a message, in the form and in the preview."""
    chair = login_as(roles=("chair",))
    token = csrf_from(chair.get("/protocols/new").get_data(as_text=True))
    for body, message in ((BIG_PAYLOAD, "longer than"), (NUL_PAYLOAD, "NUL character")):
        response = chair.client.post("/protocols/new", data=form_data(
            body=body, owner_id=str(chair.user.id), csrf_token=token))
        assert response.status_code == 422 and message in response.get_data(as_text=True)
        preview = chair.client.post("/protocols/preview", data={"body": body, "csrf_token": token}, headers=HX)
        assert preview.status_code == 422 and message in preview.get_data(as_text=True)


def test_a_title_with_a_line_break_is_refused(login_as):
    """Titles go into mail subjects: one line only."""
    chair = login_as(roles=("chair",))
    response = chair.post("/protocols/new", form_data(title="Line\r\nBcc: x@evil.example", owner_id=str(chair.user.id)))
    assert response.status_code == 422 and "one line" in response.get_data(as_text=True)


# ----- writing, previewing, publishing ---------------------------------------------------------------

def test_a_chair_writes_and_publishes_a_protocol(app, login_as):
    """Create as draft, then edit with a note and publish; the history shows both versions."""
    chair = login_as(roles=("chair",))
    response = chair.post("/protocols/new", form_data(owner_id=str(chair.user.id)))
    assert response.status_code == 303
    slug = "referral-and-acceptance"
    assert response.headers["Location"].endswith(f"/protocols/{slug}")
    assert page_row(app, slug)[:3] == ("draft", None, 1)
    edit_page = chair.get(f"/protocols/{slug}/edit").get_data(as_text=True)
    seen = re.search(r'<input[^>]*name="version"[^>]*value="(\d+)"', edit_page).group(1)
    missing_note = chair.post(f"/protocols/{slug}/edit", form_data(
        owner_id=str(chair.user.id), body="## No wrong door\n\nStart the referral today.\n", version=seen))
    assert missing_note.status_code == 422 and "Say in a line what changed" in missing_note.get_data(as_text=True)
    published = chair.post(f"/protocols/{slug}/edit", form_data(
        owner_id=str(chair.user.id), body="## No wrong door\n\nStart the referral today.\n", version=seen,
        change_note="Today, not tomorrow", action="publish"))
    assert published.status_code == 303
    status, published_number, latest, _, versions = page_row(app, slug)
    assert (status, published_number, latest) == ("published", 2, 2)
    assert versions[1][3] == "Today, not tomorrow"
    history = chair.get(f"/protocols/{slug}/versions").get_data(as_text=True)
    assert "Today, not tomorrow" in history and "Published now" in history


def test_preview_button_without_javascript_saves_nothing(app, login_as, create_protocol):
    """The Preview submit shows the rendered text on the form page; no version is made."""
    slug = create_protocol()
    chair = login_as(roles=("chair",))
    before = page_row(app, slug)
    response = chair.post(f"/protocols/{slug}/edit", form_data(
        owner_id=str(chair.user.id), body="## Fresh heading\n\n**bold** idea", action="preview", version="1"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h2>Fresh heading</h2>" in html and "<strong>bold</strong>" in html
    assert 'name="body"' in html and "**bold** idea" in html  # the text is kept in the editor
    assert page_row(app, slug) == before
    new_preview = chair.post("/protocols/new", form_data(owner_id=str(chair.user.id), body="- item", action="preview"))
    assert new_preview.status_code == 200 and "<li>item</li>" in new_preview.get_data(as_text=True)
    assert row_counts(app)["protocol_page"] == 1


def test_live_preview_answers_a_fragment_to_htmx(login_as):
    """The preview route returns just the rendered fragment, with Vary: HX-Request."""
    chair = login_as(roles=("chair",))
    token = csrf_from(chair.get("/protocols/new").get_data(as_text=True))
    response = chair.client.post("/protocols/preview", data={"body": "# Hello\n\n[[oncall-week]]", "csrf_token": token},
                                 headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "<h2>Hello</h2>" in html and "On call this week" in html and "hx-disable" in html
    assert "HX-Request" in response.headers["Vary"]
    form = chair.get("/protocols/new").get_data(as_text=True)
    assert 'hx-post="/protocols/preview"' in form and 'value="preview"' in form


def test_two_chairs_editing_at_once_do_not_overwrite_each_other(app, login_as, create_protocol):
    """R7: the second save of the same loaded version is told to reload, and its text is kept in the form."""
    slug = create_protocol()
    first, second = login_as(roles=("chair",)), login_as(roles=("chair",))
    owner = str(first.user.id)
    seen = str(page_row(app, slug)[3])
    data = form_data(title="First response", owner_id=owner, version=seen, audience="members")
    assert first.post(f"/protocols/{slug}/edit", {**data, "body": "First chair", "change_note": "1"}).status_code == 303
    response = second.post(f"/protocols/{slug}/edit", {**data, "body": "Second chair", "change_note": "2"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Someone else changed this record" in html and "Second chair" in html
    assert [v[2] for v in page_row(app, slug)[4]] == ["## Call\n\nCall the on-call advocate.\n", "First chair"]


def test_publish_button_publishes_only_the_newest_version(app, login_as, create_protocol):
    """POST publish with the number shown; an older number is refused with a message."""
    slug = create_protocol(drafts=["Second", "Third"])
    chair = login_as(roles=("chair",))
    next_review = (NOW + timedelta(days=400)).date().isoformat()
    refused = chair.post(f"/protocols/{slug}/publish", {"number": "2", "review_due_on": next_review},
                         page=f"/protocols/{slug}")
    assert refused.status_code == 303 and page_row(app, slug)[1] == 1
    assert "Version 3 was saved after" in chair.get(refused.headers["Location"]).get_data(as_text=True)
    assert chair.post(f"/protocols/{slug}/publish", {"number": "3", "review_due_on": next_review},
                      page=f"/protocols/{slug}").status_code == 303
    assert page_row(app, slug)[1] == 3


# ----- versions: compare and restore ----------------------------------------------------------------

def test_compare_shows_added_and_removed_lines_in_words(login_as, create_protocol):
    """The diff marks lines with + and − and says Added/Removed; the text is escaped."""
    slug = create_protocol(body="Keep this\nOld <b>line</b>\nKeep that", drafts=["Keep this\nNew line\nKeep that"])
    chair = login_as(roles=("chair",))
    html = chair.get(f"/protocols/{slug}/compare?old=1&new=2").get_data(as_text=True)
    assert "1</strong> line added" in html and "1</strong> line removed" in html
    removed = '<del class="diff-text">Old &lt;b&gt;line&lt;/b&gt;</del>'
    assert f'<span class="visually-hidden">Removed:</span> {removed}' in html
    assert '<span class="visually-hidden">Added:</span> <ins class="diff-text">New line</ins>' in html
    assert ">+</span>" in html and ">−</span>" in html
    assert "Keep this" in html


def test_restore_asks_first_then_makes_a_new_draft(app, login_as, create_protocol):
    """GET shows a confirm page and changes nothing; POST restores as the next version; htmx gets HX-Redirect."""
    slug = create_protocol(body="Original text", drafts=["Changed text"])
    chair = login_as(roles=("chair",))
    before = page_row(app, slug)
    confirm = chair.get(f"/protocols/{slug}/versions/1/restore")
    assert confirm.status_code == 200 and "Restore version 1?" in confirm.get_data(as_text=True)
    assert page_row(app, slug) == before
    history = chair.get(f"/protocols/{slug}/versions").get_data(as_text=True)
    assert f'hx-post="/protocols/{slug}/versions/1/restore"' in history and "hx-confirm=" in history
    assert f'href="/protocols/{slug}/versions/1/restore"' in history
    response = chair.post(f"/protocols/{slug}/versions/1/restore", {}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/protocols/{slug}/versions/3"
    status, published_number, latest, _, versions = page_row(app, slug)
    assert (published_number, latest) == (1, 3) and versions[2][2] == "Original text"
    assert versions[2][3] == "Restored version 1"


# ----- acknowledgements -------------------------------------------------------------------------------

def test_a_user_acknowledges_and_the_chair_sees_it_per_agency(app, login_as, create_protocol, create_agency):
    """Staff read, press the button once; the chair's report lists them under their agency with the others."""
    agency_id = create_agency(name="Riverside Advocacy")
    slug = create_protocol(title="Confidentiality")
    reader = login_as(roles=("staff",), agency_id=agency_id)
    colleague = login_as(roles=("case_manager",), agency_id=agency_id)
    page = reader.get(f"/protocols/{slug}").get_data(as_text=True)
    assert "I have read version 1" in page
    assert "To acknowledge" in reader.get("/protocols/").get_data(as_text=True)
    assert "Protocols to read and acknowledge" in reader.get("/").get_data(as_text=True)
    response = reader.post(f"/protocols/{slug}/acknowledge", {"number": "1"}, page=f"/protocols/{slug}")
    assert response.status_code == 303
    after = reader.get(f"/protocols/{slug}").get_data(as_text=True)
    assert "You acknowledged version 1" in after and "I have read version 1" not in after
    assert "Protocols to read and acknowledge" not in reader.get("/").get_data(as_text=True)
    reader.post(f"/protocols/{slug}/acknowledge", {"number": "1"}, page=f"/protocols/{slug}")  # twice: still one
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProtocolAcknowledgement)) == 1
        colleague_name = db.session.get(User, colleague.user.id).name
        db.session.remove()
    chair = login_as(roles=("chair",))
    report = chair.get(f"/protocols/{slug}/acknowledgements").get_data(as_text=True)
    row = re.search(r"Riverside Advocacy</a></th>(.*?)</tr>", report, re.S).group(1)
    assert "1 of 2" in row and colleague_name in row


def test_an_acknowledgement_of_an_outdated_version_is_refused(app, login_as, create_protocol, create_user):
    """A reader who opened version 1 before version 2 was published is asked to read version 2 first."""
    slug = create_protocol()
    reader = login_as(roles=("staff",))
    chair = login_as(roles=("chair",))
    with app.app_context():
        page = ops.get_page(slug)
        owner = page.owner
        ops.save_page(owner, page, {"title": "First response", "body": "v2", "change_note": "n", "audience": "members",
                                    "owner_id": owner.id, "review_due_on": page.review_due_on}, page.version, NOW,
                      publish=True)
        db.session.remove()
    response = reader.post(f"/protocols/{slug}/acknowledge", {"number": "1"}, page="/")
    assert "A newer version was published" in reader.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProtocolAcknowledgement)) == 0
        db.session.remove()
    assert chair.get(f"/protocols/{slug}").status_code == 200


# ----- review, print, navigation ------------------------------------------------------------------------

def test_chairs_dashboard_lists_protocols_past_review(login_as, create_protocol):
    """A page whose review date has passed is on the chairs' dashboard, not on the staff's."""
    create_protocol(title="Interpreters guide", review_due_on=NOW.date() - timedelta(days=400))
    chair = login_as(roles=("chair",))
    home = chair.get("/").get_data(as_text=True)
    section = home[home.index("Protocols due for review"):]
    assert "Interpreters guide" in section[:2000]
    assert "Protocols due for review" not in login_as(roles=("staff",)).get("/").get_data(as_text=True)
    assert "Review due" in chair.get("/protocols/").get_data(as_text=True)


def test_a_protocol_prints_with_its_version_and_date(login_as, create_protocol):
    """The page carries a print footer with version and publication date; the stylesheet shows it in print only."""
    slug = create_protocol(title="Printable")
    html = login_as(roles=("staff",)).get(f"/protocols/{slug}").get_data(as_text=True)
    footer = re.search(r'<p class="print-footer">(.*?)</p>', html, re.S).group(1)
    assert "Printable" in footer and "version 1" in footer and f"published {NOW:%-d %B %Y}" in footer
    css = (Path(__file__).resolve().parents[1] / "static/css/csrn.css").read_text()
    assert ".print-footer { display: none; }" in css
    print_rules = css[css.index("@media print", css.index(".print-footer { display: none; }")):]
    assert ".print-footer { display: block; position: fixed; bottom: 0" in print_rules
    assert "box-decoration-break: clone" in print_rules  # each page keeps room for the footer
    assert ".chair-tools" in print_rules and ".acknowledge-form" in print_rules


def test_everyone_has_protocols_in_the_navigation(login_as):
    """The Protocols link is in the main navigation for every role."""
    for roles in (("staff",), ("chair",), ("admin",)):
        nav = login_as(roles=roles).get("/").get_data(as_text=True)
        assert 'href="/protocols/"' in nav and ">Protocols</a>" in nav


# ----- AC5: GET changes nothing; H1: POST needs CSRF -----------------------------------------------------

@pytest.mark.parametrize("roles", [("chair",), ("staff",), ("volunteer",), ("admin",)], ids="+".join)
def test_no_get_changes_any_row(app, login_as, create_protocol, roles):
    """Every protocol GET, page and fragment, as each role leaves every table but the audit log unchanged."""
    slug = create_protocol(review_due_on=NOW.date() - timedelta(days=1), drafts=["draft"])
    user = login_as(roles=roles, agency_id=None if roles == ("volunteer",) else "new")
    urls = ["/", "/protocols/", f"/protocols/{slug}", f"/protocols/{slug}/versions", f"/protocols/{slug}/versions/1",
            f"/protocols/{slug}/versions/2", f"/protocols/{slug}/compare", f"/protocols/{slug}/compare?old=1&new=2",
            f"/protocols/{slug}/edit", "/protocols/new", f"/protocols/{slug}/versions/1/restore",
            f"/protocols/{slug}/acknowledgements", "/protocols/preview", f"/protocols/{slug}/publish",
            f"/protocols/{slug}/acknowledge"]
    before = row_counts(app), page_row(app, slug)
    for url in urls:
        for headers in ({}, HX):
            assert user.get(url, headers=headers).status_code < 500, url
    assert (row_counts(app), page_row(app, slug)) == before


def test_every_protocol_post_needs_a_csrf_token(app, login_as, create_protocol):
    """H1: without a valid token every POST answers 400 and changes nothing, even for a chair."""
    slug = create_protocol(drafts=["draft"])
    chair = login_as(roles=("chair", "staff"))
    before = row_counts(app), page_row(app, slug)
    posts = ["/protocols/new", "/protocols/preview", f"/protocols/{slug}/edit", f"/protocols/{slug}/publish",
             f"/protocols/{slug}/acknowledge", f"/protocols/{slug}/versions/1/restore"]
    for url in posts:
        for headers, data in (({}, {}), (HX, {"csrf_token": "forged"}), ({**HX, "X-CSRFToken": "forged"}, {})):
            response = chair.client.post(url, headers=headers, data={**form_data(number="2"), **data})
            assert response.status_code == 400, url
            assert "security token" in response.get_data(as_text=True)
    assert (row_counts(app), page_row(app, slug)) == before


def test_unknown_slugs_and_versions_are_404(login_as, create_protocol):
    """Unknown pages and version numbers are 404, never 500."""
    slug = create_protocol()
    staff = login_as(roles=("staff",))
    for url in ("/protocols/no-such-page", f"/protocols/{slug}/versions/99", f"/protocols/{slug}/compare?old=1&new=99",
                "/protocols/Bad_Slug"):
        assert staff.get(url).status_code == 404, url
    assert login_as(roles=("chair",)).get(f"/protocols/{slug}/versions/99/restore").status_code == 404


# ----- labels that say what the form does (issue 18) -------------------------------------------------------

def _label(html: str, field_id: str) -> str:
    return re.search(rf'<label for="{field_id}">(.*?)</label>', html, re.S).group(1)


def test_what_changed_says_when_it_is_required(login_as, create_protocol):
    """Editing: the note is required when the text changes, and its label says so rather than "(optional)".
    A new protocol's note is truly optional (it reads "First version")."""
    slug = create_protocol()
    chair = login_as(roles=("chair",))
    edit_label = _label(chair.get(f"/protocols/{slug}/edit").get_data(as_text=True), "change_note")
    assert "(optional)" not in edit_label and "required when the title or text changes" in edit_label
    new_page = chair.get("/protocols/new").get_data(as_text=True)
    assert "(optional)" in _label(new_page, "change_note") and "First version" in new_page


def test_publishing_asks_for_the_next_review_date_and_sets_it(app, login_as, create_protocol):
    """A protocol due for review with a newer draft: the publish button comes with "Next review" (a year on,
    suggested); without a date or with one not after today nothing is published; with one, the version is
    published, the review date set and "Review due" gone."""
    today = task_force_today(app)
    slug = create_protocol(review_due_on=today - timedelta(days=10), drafts=["The reviewed text"])
    chair = login_as(roles=("chair",))
    shown = chair.get(f"/protocols/{slug}").get_data(as_text=True)
    assert "Review due" in shown and "set the next review date when you save or publish" in shown
    publish_form = re.search(r'<form[^>]*class="publish-form".*?</form>', shown, re.S).group(0)
    assert "Next review" in publish_form
    suggested = (today + timedelta(days=365)).isoformat()
    assert re.search(rf'<input[^>]*name="review_due_on"[^>]*type="date"[^>]*value="{suggested}"', publish_form)
    for refused_date, message in (("", "Enter the date of the next review (after today) to publish."),
                                  (today.isoformat(), "Set the next review to a date after today.")):
        response = chair.post(f"/protocols/{slug}/publish", {"number": "2", "review_due_on": refused_date},
                              page=f"/protocols/{slug}")
        assert response.status_code == 303 and page_row(app, slug)[1] == 1
        assert message in chair.get(response.headers["Location"]).get_data(as_text=True)
    response = chair.post(f"/protocols/{slug}/publish", {"number": "2", "review_due_on": suggested},
                          page=f"/protocols/{slug}")
    assert response.status_code == 303 and page_row(app, slug)[1] == 2
    with app.app_context():
        page = db.session.scalar(select(ProtocolPage).where(ProtocolPage.slug == slug))
        assert page.review_due_on.isoformat() == suggested and page.review_reminded_at is None
        db.session.remove()
    after = chair.get(f"/protocols/{slug}").get_data(as_text=True)
    assert "Review due" not in after


def test_the_version_page_publish_button_asks_for_the_next_review_too(login_as, create_protocol):
    slug = create_protocol(drafts=["Second"])
    chair = login_as(roles=("chair",))
    html = chair.get(f"/protocols/{slug}/versions/2").get_data(as_text=True)
    publish_form = re.search(r'<form[^>]*class="publish-form".*?</form>', html, re.S).group(0)
    assert 'name="review_due_on"' in publish_form and "Publish version 2" in publish_form


def test_save_and_publish_refuses_a_review_date_that_has_come(app, login_as, create_protocol):
    """The edit form's Save and publish with the old, past review date: 422 beside the date, nothing saved;
    a draft save with the same date still goes through."""
    today = task_force_today(app)
    slug = create_protocol(review_due_on=today - timedelta(days=3))
    chair = login_as(roles=("chair",))
    edit_page = chair.get(f"/protocols/{slug}/edit").get_data(as_text=True)
    seen = re.search(r'<input[^>]*name="version"[^>]*value="(\d+)"', edit_page).group(1)
    data = form_data(owner_id=str(chair.user.id), title="First response", body="## Call\n\nCall them now.\n",
                     change_note="Now", review_due_on=(today - timedelta(days=3)).isoformat(), version=seen,
                     action="publish")
    response = chair.post(f"/protocols/{slug}/edit", data)
    assert response.status_code == 422
    assert "Publishing starts a new review period: set the next review to a date after today." in \
        response.get_data(as_text=True)
    assert page_row(app, slug)[2] == 1
    assert chair.post(f"/protocols/{slug}/edit", {**data, "action": "save"}).status_code == 303
    assert page_row(app, slug)[2] == 2

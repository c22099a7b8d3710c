"""On-call pages through the test client (DESIGN §4.7): who to call now for every role, the roster, shifts made,
changed and removed (with a confirmation page), errors that keep what was typed, another agency's shift ids (404),
kinds for chairs only, coverage, the printable card, calendar feeds (shown once, bearer URLs that end with
revocation or renewal, valid iCalendar equal to the roster across a daylight-saving change, no client data), and the
same answer in protocols and on the dashboard.

The pages read the wall clock: the roster here is on around the clock (or bounded well inside the feed's window),
so what they show does not depend on when the tests run. Phone widths (390 px) are for the browser tests.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from csrn.auth import tokens
from csrn.auth.models import AccessToken, User
from csrn.clock import utcnow
from csrn.directory.models import ServiceType
from csrn.extensions import db
from csrn.oncall import feeds
from csrn.oncall import operations as ops
from csrn.oncall.models import ResponseKind, Shift, ShiftException
from csrn.protocols import operations as protocol_ops
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import ReferralContact
from csrn.schedules import engine
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW, Browser
from tests.referral_factories import (
    SENTINELS,
    consent_answers,
    make_provider,
    make_sender,
    new_agency,
    new_user,
    offers_of,
    send_intake,
    type_id,
)

CHICAGO = ZoneInfo("America/Chicago")
EVERY_DAY = tuple(range(7))
SUNDAY, SATURDAY = 6, 5
ROLES = [("staff",), ("case_manager",), ("agency_admin",), ("chair",), ("admin",), ("volunteer",)]
NOT_CHAIRS = [("staff",), ("case_manager",), ("agency_admin",), ("admin",), ("volunteer",)]
NO_AGENCY = {("admin",), ("volunteer",)}


# ----- the scene ------------------------------------------------------------------------------------------------

def use_settings(zone: str = "America/Chicago", fallback_phone: str = "555 0199") -> None:
    row = TaskForceSettings(id=1, name="Task force", timezone=zone, counties_json="[]", fallback_phone=fallback_phone,
                            emergency_minutes=30, urgent_hours=4, routine_business_hours=48, retention_days=1095,
                            version=1)
    db.session.merge(row)
    db.session.commit()


def person(agency_id: int | None, name: str, roles=("staff",)) -> User:
    user = new_user(agency_id, roles)
    user.name = name
    db.session.commit()
    return user


def make_kind(name: str, required: bool = True, codes=("case_management",), position: int = 0) -> ResponseKind:
    """A kind stored directly (creating one through the app fails: see test_a_chair_adds_a_kind)."""
    kind = ResponseKind(name=name, required_24_7=required, position=position, created_at=NOW, updated_at=NOW,
                        service_types=[db.session.get(ServiceType, type_id(code)) for code in codes])
    db.session.add(kind)
    db.session.commit()
    return kind


def weekly(actor, agency_id: int, kind_id: int, *, user=None, name: str = "", phone: str = "555-0100",
           role: str = "primary", days=EVERY_DAY, starts=time(0), ends=time(0), **extra) -> Shift:
    """A weekly shift through `save_shift` (by default around the clock)."""
    values = dict(agency_id=agency_id, kind_id=kind_id, user_id=user.id if user else None, display_name=name,
                  phone=phone, role=role, pattern="weekly", weekdays=list(days), starts=starts, ends=ends, **extra)
    return ops.save_shift(actor, None, values, None, NOW)


def once(actor, agency_id: int, kind_id: int, start: datetime, end: datetime, *, user=None, role="primary",
         phone: str = "555-0100") -> Shift:
    """A one-off shift from local start to local end."""
    start, end = start.astimezone(CHICAGO), end.astimezone(CHICAGO)
    values = dict(agency_id=agency_id, kind_id=kind_id, user_id=user.id if user else None, display_name="",
                  phone=phone, role=role, pattern="once", start_date=start.date(), start_time=start.time(),
                  end_date=end.date(), end_time=end.time())
    return ops.save_shift(actor, None, values, None, NOW)


@pytest.fixture
def scene(app):
    """Chicago; a chair; North (admin, Ana primary around the clock at 555-0100, Ben backup at (555) 010-0200, Fay
    with no shift yet) and South (admin, Cora); Case management (24/7, covered) and Crisis response (24/7, nobody)."""
    with app.app_context():
        use_settings()
        north, south = new_agency("North Advocacy"), new_agency("South Shelter")
        chair = person(new_agency("Task Force Office").id, "Chair Person", ("chair",))
        users = {
            "north_admin": person(north.id, "Nora Admin", ("agency_admin",)),
            "south_admin": person(south.id, "Sam Admin", ("agency_admin",)),
            "ana": person(north.id, "Ana Primary"), "ben": person(north.id, "Ben Backup"),
            "fay": person(north.id, "Fay Feed"), "cora": person(south.id, "Cora Night"),
            "north_staff": person(north.id, "Nick Staff"), "chair": chair,
        }
        case = make_kind("Case management", position=0)
        crisis = make_kind("Crisis response", position=1, codes=("emergency_shelter",))
        ana = weekly(chair, north.id, case.id, user=users["ana"])
        ben = weekly(chair, north.id, case.id, user=users["ben"], role="backup", phone="(555) 010-0200")
        result = {
            "north": north.id, "south": south.id, "case": case.id, "crisis": crisis.id,
            "ana_shift": ana.id, "ben_shift": ben.id,
            "emails": {key: user.email for key, user in users.items()},
            "ids": {key: user.id for key, user in users.items()},
        }
        db.session.remove()
    return result


def login(app, email: str) -> Browser:
    browser = Browser(app.test_client())
    browser.login(email)
    return browser


def text_of(html: str) -> str:
    """The visible text of a piece of HTML, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def on_call_people(html: str) -> list[str]:
    """Each person shown on call, as text: role, name, agency, phone, until when."""
    return [text_of(block) for block in re.findall(r'<div class="oncall-person[^"]*">(.*?)</div>', html, re.S)]


def nobody_banners(html: str) -> list[str]:
    return re.findall(r"<strong>Nobody is on call for ([^<]+) right now\.</strong>", html)


def shift_row(shift_id: int) -> Shift | None:
    db.session.expire_all()
    return db.session.get(Shift, shift_id)


# ----- who to call now ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("roles", ROLES)
def test_who_to_call_now_answers_every_role(app, scene, login_as, roles):
    """200 with tap-to-call links for the primary and backup; the 24/7 kind with nobody comes first, loudly, with
    the task force's fallback number."""
    browser = login_as(roles=roles, agency_id=None if roles in NO_AGENCY else "new")
    response = browser.get("/oncall/now")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'href="tel:5550100"' in html and "Call 555-0100" in html
    assert 'href="tel:5550100200"' in html and "Call (555) 010-0200" in html
    primary, backup = on_call_people(html)
    assert all(part in primary for part in ("Primary", "Ana Primary", "North Advocacy", "555-0100"))
    assert all(part in backup for part in ("Backup", "Ben Backup", "North Advocacy", "(555) 010-0200"))
    assert nobody_banners(html) == ["crisis response"]
    banner = html.index("Nobody is on call for crisis response right now")
    assert html.index('href="tel:5550199"', banner) < html.index(f'id="oncall-kind-{scene["case"]}"')
    assert banner < html.index(f'id="oncall-kind-{scene["case"]}"') < html.index("Ana Primary")
    assert "<script" not in html.split("<main", 1)[1].split("</main>", 1)[0]


def test_who_to_call_now_needs_a_login(client, scene):
    response = client.get("/oncall/now")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_who_to_call_now_without_a_roster_gives_the_fallback_number(app, login_as):
    with app.app_context():
        use_settings(fallback_phone="555 0199")
    html = login_as().get("/oncall/now").get_data(as_text=True)
    assert "No on-call roster is set up yet." in html and 'href="tel:5550199"' in html


def test_the_protocol_block_and_the_dashboard_show_the_same_answer_as_oncall_now(app, scene):
    """`[[oncall-now]]` in a protocol and the dashboard's panel show the same people and the same warning."""
    with app.app_context():
        chair = db.session.get(User, scene["ids"]["chair"])
        page = protocol_ops.create_page(chair, {
            "title": "Law enforcement first response", "body": "## Who to call\n\n[[oncall-now]]\n",
            "change_note": "", "audience": "members", "owner_id": chair.id,
            "review_due_on": date(2030, 1, 1)}, NOW, publish=True)
        slug = page.slug
        db.session.remove()
    browser = login(app, scene["emails"]["north_staff"])
    pages = {url: browser.get(url) for url in ("/oncall/now", f"/protocols/{slug}", "/")}
    assert {url: response.status_code for url, response in pages.items()} == dict.fromkeys(pages, 200)
    answers = {url: (on_call_people(r.get_data(as_text=True)), nobody_banners(r.get_data(as_text=True)))
               for url, r in pages.items()}
    expected = answers["/oncall/now"]
    assert len(expected[0]) == 2 and "Ana Primary" in expected[0][0] and "Ben Backup" in expected[0][1]
    assert expected[1] == ["crisis response"]
    assert answers[f"/protocols/{slug}"] == expected and answers["/"] == expected


# ----- the roster ------------------------------------------------------------------------------------------------

def test_the_roster_lists_shifts_with_warnings_and_edit_links_for_those_who_manage_them(app, scene):
    """Every shift with its tap-to-call phone and hours; a warning when two primaries overlap and for a name-only
    shift; edit links only on the shifts the viewer manages."""
    with app.app_context():
        chair = db.session.get(User, scene["ids"]["chair"])
        cora = weekly(chair, scene["south"], scene["case"], user=db.session.get(User, scene["ids"]["cora"]),
                      phone="555-0400", days=(SATURDAY,), starts=time(22), ends=time(6))
        desk = weekly(chair, scene["south"], scene["crisis"], name="Night desk", phone="555-0500")
        cora_id, desk_id = cora.id, desk.id
        db.session.remove()
    edit = {shift: f'/oncall/shifts/{shift}/edit"' for shift in (scene["ana_shift"], cora_id, desk_id)}

    html = login(app, scene["emails"]["chair"]).get("/oncall/").get_data(as_text=True)
    assert "Ana Primary" in html and 'href="tel:555-0100"' in html
    assert "Mon, Tue, Wed, Thu, Fri, Sat, Sun 00:00–00:00 (next day)" in html
    assert "Sat 22:00–06:00 (next day)" in html and "Night desk" in html
    assert "Case management: two primaries are on call at once" in html
    assert "Crisis response, South Shelter: A name only: nobody is notified of escalations on this shift." in html
    assert all(link in html for link in edit.values())

    north_admin = login(app, scene["emails"]["north_admin"]).get("/oncall/").get_data(as_text=True)
    assert edit[scene["ana_shift"]] in north_admin
    assert edit[cora_id] not in north_admin and edit[desk_id] not in north_admin

    staff = login(app, scene["emails"]["north_staff"]).get("/oncall/").get_data(as_text=True)
    assert "Cora Night" in staff and "Night desk" in staff
    assert not any(link in staff for link in edit.values())
    assert "two primaries are on call at once" not in staff
    assert "/oncall/shifts/new" not in staff


# ----- shifts ------------------------------------------------------------------------------------------------------

def shift_form(scene, **overrides) -> dict:
    """North admin's new shift: Ana, Monday, Wednesday and Friday nights."""
    data = {"agency_id": str(scene["north"]), "kind_id": str(scene["case"]), "user_id": str(scene["ids"]["ana"]),
            "display_name": "", "phone": "555-0300", "role": "primary", "pattern": "weekly",
            "weekdays": ["0", "2", "4"], "starts": "22:00", "ends": "06:00", "valid_from": "", "valid_until": "",
            "start_date": "", "start_time": "", "end_date": "", "end_time": "", "note": "Night line"}
    data.update(overrides)
    return data


def version_in(html: str) -> str:
    return re.search(r'name="version"[^>]*value="(\d+)"', html).group(1)


def test_an_agency_admin_adds_changes_and_removes_a_shift(app, scene):
    """Add (then listed), change the phone, add days off, and remove it after a confirmation page."""
    admin = login(app, scene["emails"]["north_admin"])
    added = admin.post("/oncall/shifts/new", shift_form(scene), page="/oncall/shifts/new")
    assert added.status_code == 303 and added.headers["Location"].endswith(f"/oncall/?kind={scene['case']}")
    with app.app_context():
        shift = db.session.scalar(select(Shift).where(Shift.phone == "555-0300"))
        assert (shift.agency_id, shift.user_id, shift.weekdays, shift.starts, shift.ends, shift.note) == (
            scene["north"], scene["ids"]["ana"], "0 2 4", time(22), time(6), "Night line")
        shift_id = shift.id
        db.session.remove()
    roster = admin.get("/oncall/").get_data(as_text=True)
    assert "Mon, Wed, Fri 22:00–06:00 (next day)" in roster and 'href="tel:555-0300"' in roster

    form = admin.get(f"/oncall/shifts/{shift_id}/edit")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'value="555-0300"' in html and 'value="Night line"' in html
    changed = admin.post(f"/oncall/shifts/{shift_id}/edit",
                         shift_form(scene, phone="555-0301", version=version_in(html)),
                         page=f"/oncall/shifts/{shift_id}/edit")
    assert changed.status_code == 303
    with app.app_context():
        assert shift_row(shift_id).phone == "555-0301"
    off = admin.post(f"/oncall/shifts/{shift_id}/exceptions",
                     {"start_date": "2030-12-24", "end_date": "2030-12-26", "note": "leave"},
                     page=f"/oncall/shifts/{shift_id}/edit")
    assert off.status_code == 303
    assert "(leave)" in admin.get(f"/oncall/shifts/{shift_id}/edit").get_data(as_text=True)

    confirm = admin.get(f"/oncall/shifts/{shift_id}/delete")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "Remove this shift?" in page and f'action="/oncall/shifts/{shift_id}/delete"' in page
    assert 'method="post"' in page
    with app.app_context():
        assert shift_row(shift_id) is not None  # a GET removes nothing
    removed = admin.post(f"/oncall/shifts/{shift_id}/delete", {}, page=f"/oncall/shifts/{shift_id}/delete")
    assert removed.status_code == 303
    with app.app_context():
        assert shift_row(shift_id) is None
        assert db.session.scalar(select(func.count()).select_from(ShiftException)) == 0
    assert "555-0301" not in admin.get("/oncall/").get_data(as_text=True)


@pytest.mark.parametrize(("overrides", "message", "kept"), [
    ({"phone": "call me maybe", "user_id": "0", "display_name": "Night desk Q7"},
     "Enter a phone number a phone can dial", ['value="call me maybe"', 'value="Night desk Q7"', 'value="22:00"',
                                               'value="06:00"']),
    ({"pattern": "once", "weekdays": [], "start_date": "2030-12-10", "start_time": "18:00", "end_date": "2030-12-10",
      "end_time": "08:00"},
     "The shift ends before it starts.", ['value="2030-12-10"', 'value="18:00"', 'value="08:00"']),
    ({"user_id": "0", "display_name": ""}, "give the name callers will ask for", ['value="555-0300"']),
])
def test_a_bad_shift_answers_422_and_keeps_what_was_typed(app, scene, overrides, message, kept):
    admin = login(app, scene["emails"]["north_admin"])
    response = admin.post("/oncall/shifts/new", shift_form(scene, **overrides), page="/oncall/shifts/new")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and message in html
    assert all(value in html for value in [*kept, 'value="Night line"'])
    checked = re.findall(r'<input([^>]*)id="weekdays-(\d)"', html)
    if overrides.get("pattern") != "once":
        assert [day for attrs, day in checked if "checked" in attrs] == ["0", "2", "4"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Shift)) == 2  # Ana's and Ben's only


def test_an_agency_admin_cannot_add_a_shift_to_another_agency(app, scene):
    """South's id posted by North's admin: refused with a message (422), nothing saved."""
    admin = login(app, scene["emails"]["north_admin"])
    response = admin.post("/oncall/shifts/new", shift_form(scene, agency_id=str(scene["south"]),
                                                            user_id=str(scene["ids"]["cora"])),
                          page="/oncall/shifts/new")
    assert response.status_code == 422
    assert "Choose an agency whose roster you manage." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Shift).where(
            Shift.agency_id == scene["south"])) == 0


@pytest.fixture
def south_shift(app, scene):
    """Cora's South shift with a day off: its id and the exception's."""
    with app.app_context():
        chair = db.session.get(User, scene["ids"]["chair"])
        shift = weekly(chair, scene["south"], scene["crisis"], user=db.session.get(User, scene["ids"]["cora"]),
                       phone="555-0400", starts=time(8), ends=time(20))
        exception = ops.add_exception(chair, shift, date(2030, 1, 1), date(2030, 1, 2), "leave", NOW)
        ids = (shift.id, exception.id)
        db.session.remove()
    return ids


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/oncall/shifts/{s}/edit"),
    ("POST", "/oncall/shifts/{s}/edit"),
    ("GET", "/oncall/shifts/{s}/delete"),
    ("POST", "/oncall/shifts/{s}/delete"),
    ("POST", "/oncall/shifts/{s}/exceptions"),
    ("POST", "/oncall/shifts/{s}/exceptions/{e}/delete"),
])
@pytest.mark.parametrize("who", ["north_admin", "north_staff"])
def test_another_agencys_shift_ids_are_404(app, scene, south_shift, method, path, who):
    """North's admin (and staff) get 404 on every URL of South's shift; the shift and its day off stay as they were."""
    shift_id, exception_id = south_shift
    url = path.format(s=shift_id, e=exception_id)
    browser = login(app, scene["emails"][who])
    if method == "GET":
        response = browser.get(url)
    else:
        response = browser.post(url, shift_form(scene, agency_id=str(scene["north"]), phone="555-0999",
                                                start_date="2030-02-01", end_date="2030-02-02"), page="/oncall/")
    assert response.status_code == 404
    with app.app_context():
        shift = shift_row(shift_id)
        assert (shift.agency_id, shift.phone) == (scene["south"], "555-0400")
        assert [(e.id, e.start_date) for e in shift.exceptions] == [(exception_id, date(2030, 1, 1))]
    assert login(app, scene["emails"]["chair"]).get(f"/oncall/shifts/{shift_id}/edit").status_code == 200


@pytest.mark.parametrize("roles", [("staff",), ("case_manager",), ("volunteer",)])
def test_only_chairs_and_agency_admins_add_shifts(login_as, scene, roles):
    browser = login_as(roles=roles, agency_id=scene["north"])
    assert browser.get("/oncall/shifts/new").status_code == 403
    assert browser.post("/oncall/shifts/new", shift_form(scene), page="/oncall/").status_code == 403


# ----- kinds of response --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("roles", NOT_CHAIRS)
def test_kind_pages_are_for_chairs_only(app, scene, login_as, roles):
    browser = login_as(roles=roles, agency_id=None if roles in NO_AGENCY else scene["north"])
    assert browser.get("/oncall/kinds/new").status_code == 403
    assert browser.get(f"/oncall/kinds/{scene['case']}/edit").status_code == 403
    assert browser.post("/oncall/kinds/new", {"name": "Sneaky kind"}, page="/oncall/").status_code == 403
    assert browser.post(f"/oncall/kinds/{scene['case']}/edit", {"name": "Renamed", "version": "1"},
                        page="/oncall/").status_code == 403
    with app.app_context():
        assert sorted(db.session.scalars(select(ResponseKind.name))) == ["Case management", "Crisis response"]


def test_a_chair_changes_a_kind_and_is_told_of_a_duplicate_name(app, scene):
    chair = login(app, scene["emails"]["chair"])
    assert chair.get("/oncall/kinds/new").status_code == 200
    form = chair.get(f"/oncall/kinds/{scene['crisis']}/edit")
    assert form.status_code == 200
    version = version_in(form.get_data(as_text=True))
    with app.app_context():
        shelter = str(type_id("emergency_shelter"))
    duplicate = chair.post(f"/oncall/kinds/{scene['crisis']}/edit",
                           {"name": "Case management", "required_24_7": "y", "service_type_ids": [shelter],
                            "position": "1", "active": "y", "version": version},
                           page=f"/oncall/kinds/{scene['crisis']}/edit")
    assert duplicate.status_code == 422
    assert "A kind of response with this name already exists." in duplicate.get_data(as_text=True)
    assert 'value="Case management"' in duplicate.get_data(as_text=True)
    saved = chair.post(f"/oncall/kinds/{scene['crisis']}/edit",
                       {"name": "Emergency shelter", "service_type_ids": [shelter], "position": "1", "active": "y",
                        "version": version}, page=f"/oncall/kinds/{scene['crisis']}/edit")
    assert saved.status_code == 303
    roster = chair.get("/oncall/").get_data(as_text=True)
    assert "Emergency shelter" in roster and "Crisis response" not in roster
    assert nobody_banners(chair.get("/oncall/now").get_data(as_text=True)) == []  # no longer 24/7


def test_a_chair_adds_a_kind(app, scene):
    chair = login(app, scene["emails"]["chair"])
    response = chair.post("/oncall/kinds/new", {"name": "Interpretation", "required_24_7": "y", "position": "2",
                                                "active": "y"}, page="/oncall/kinds/new")
    assert response.status_code == 303
    assert "Interpretation" in chair.get("/oncall/").get_data(as_text=True)


# ----- coverage and the card -------------------------------------------------------------------------------------

def test_coverage_for_chairs_and_for_agency_admins_their_own_agency(app, scene):
    """Cora (South) covers Crisis response around the clock, Ana (North) Case management. The chair sees both
    covered and South's name-only shift flagged; each agency admin sees the other agency's kind as a gap."""
    with app.app_context():
        chair = db.session.get(User, scene["ids"]["chair"])
        weekly(chair, scene["south"], scene["crisis"], user=db.session.get(User, scene["ids"]["cora"]),
               phone="555-0400")
        weekly(chair, scene["south"], scene["crisis"], name="Night desk", role="backup", phone="555-0500")
        db.session.remove()

    def sections(browser) -> dict[str, str]:
        response = browser.get("/oncall/coverage")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return {name: text_of(html.split(f'id="coverage-{kind}"', 1)[1].split("</section>", 1)[0])
                for name, kind in (("case", scene["case"]), ("crisis", scene["crisis"]))} | {"page": text_of(html)}

    chair = sections(login(app, scene["emails"]["chair"]))
    assert "A primary is on call at every minute." in chair["case"] and "A backup is on call" in chair["case"]
    assert "A primary is on call at every minute." in chair["crisis"]
    assert "South Shelter, Night desk: A name only" in chair["crisis"]
    assert "counting your agency's shifts only" not in chair["page"]

    north = sections(login(app, scene["emails"]["north_admin"]))
    assert "counting your agency's shifts only" in north["page"]
    assert "A primary is on call at every minute." in north["case"]
    assert "1 gap with no primary on call." in north["crisis"] and "Night desk" not in north["crisis"]

    south = sections(login(app, scene["emails"]["south_admin"]))
    assert "1 gap with no primary on call." in south["case"] and "Ana Primary" not in south["page"]
    assert "A primary is on call at every minute." in south["crisis"]


@pytest.mark.parametrize("roles", [("staff",), ("case_manager",), ("volunteer",), ("admin",)])
def test_coverage_is_forbidden_to_other_roles(login_as, scene, roles):
    browser = login_as(roles=roles, agency_id=None if roles in NO_AGENCY else scene["north"])
    assert browser.get("/oncall/coverage").status_code == 403


def test_the_card_shows_four_weeks_and_the_print_note(app, scene):
    """From today, 28 days by kind: who is primary and backup each day (their phones in the legend), a 24/7 kind
    with nobody marked NOBODY every day; the date printed and where to check for changes."""
    with app.app_context():
        today = ops.local_today(utcnow())
    response = login(app, scene["emails"]["north_staff"]).get("/oncall/card")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    note = text_of(re.search(r"<p>\s*(Printed .*?)</p>", html, re.S).group(1))
    assert "/oncall/now" in note and "for changes" in note and "If nobody answers: 555 0199." in note
    case = html.split(f'id="card-{scene["case"]}"', 1)[1].split("</section>", 1)[0]
    crisis = html.split(f'id="card-{scene["crisis"]}"', 1)[1].split("</section>", 1)[0]
    four_weeks = [(today + timedelta(days=n)).strftime("%-d %b") for n in range(28)]
    for section in (case, crisis):
        assert re.findall(r'class="oncall-card-date">([^<]+)<', section) == four_weeks
    legend = text_of(case)
    assert "Ana Primary North Advocacy 555-0100" in legend and "Ben Backup North Advocacy (555) 010-0200" in legend
    assert case.count("00:00 Ana Primary<") == 28 and case.count("backup 00:00 Ben Backup<") == 28
    assert "NOBODY" not in case
    assert crisis.count("00:00–00:00 NOBODY") == 28


# ----- calendar feeds -----------------------------------------------------------------------------------------------

def make_feed(browser, purpose: str = "oncall-mine") -> str:
    """Make (or renew) a feed; return the path of the URL the page shows this once."""
    response = browser.post(f"/oncall/feeds/{purpose}", {}, page="/oncall/feeds")
    assert response.status_code == 200
    match = re.search(r'<code class="secret">([^<]+)</code>', response.get_data(as_text=True))
    assert match, "the new feed's URL is not on the page"
    return urlsplit(match.group(1)).path


def test_making_a_feed_shows_its_url_once(app, scene):
    """The URL appears on the page after making it, never again; only its hash is stored."""
    browser = login(app, scene["emails"]["ana"])
    before = browser.get("/oncall/feeds").get_data(as_text=True)
    assert before.count("No feed yet.") == 2
    path = make_feed(browser)
    raw = path.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(raw) >= 40
    after = browser.get("/oncall/feeds").get_data(as_text=True)
    assert raw not in after and "A feed exists" in after and "Renew (the old address stops working)" in after
    with app.app_context():
        stored = db.session.scalars(select(AccessToken.token_hash)).all()
        assert len(stored) == 1 and raw not in stored[0]


def test_the_feed_needs_no_session_and_ends_with_revocation_or_renewal(app, scene, client):
    """text/calendar to anyone holding the URL; the old URL is 404 after renewal, the new one after revocation;
    an unknown token is 404 too."""
    browser = login(app, scene["emails"]["ana"])
    first = make_feed(browser)
    response = client.get(first)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.get_data(as_text=True).startswith("BEGIN:VCALENDAR")
    second = make_feed(browser)
    assert second != first
    assert client.get(first).status_code == 404 and client.get(second).status_code == 200
    assert browser.post("/oncall/feeds/oncall-mine/revoke", {}, page="/oncall/feeds").status_code == 303
    assert client.get(second).status_code == 404
    assert client.get("/oncall/feeds/not-a-real-token.ics").status_code == 404
    assert client.get("/oncall/feeds/" + "A" * 43 + ".ics").status_code == 404


def test_a_deactivated_users_feed_is_404(app, scene, client):
    path = make_feed(login(app, scene["emails"]["ana"]))
    with app.app_context():
        db.session.get(User, scene["ids"]["ana"]).active = False
        db.session.commit()
    assert client.get(path).status_code == 404


def parse(body: bytes | str) -> tuple[Calendar, list[tuple[str, datetime, datetime]]]:
    """The calendar and its events as (UID, start, end) in UTC, read with the icalendar package."""
    calendar = Calendar.from_ical(body)
    events = [(str(event["UID"]), event.decoded("DTSTART").astimezone(UTC), event.decoded("DTEND").astimezone(UTC))
              for event in calendar.walk("VEVENT")]
    return calendar, sorted(events, key=lambda event: (event[1], event[0]))


def test_the_feed_is_icalendar_with_vtimezone_stable_uids_and_the_rosters_hours(app, scene, client):
    """Fay's nights (Mon, Wed, Fri 22:00–06:00 for six weeks) and a one-off cover: one event per occurrence, local
    times with the zone's VTIMEZONE, the phone in each, the same UIDs on a second fetch, and the intervals the
    schedule engine gives; the agency feed has Ana's and Ben's shifts too; nobody else's feed has Fay's."""
    with app.app_context():
        chair = db.session.get(User, scene["ids"]["chair"])
        fay = db.session.get(User, scene["ids"]["fay"])
        today = ops.local_today(utcnow())
        nights = weekly(chair, scene["north"], scene["case"], user=fay, phone="555-0600", days=(0, 2, 4),
                        starts=time(22), ends=time(6), valid_from=today - timedelta(days=3),
                        valid_until=today + timedelta(days=40))
        cover = once(chair, scene["north"], scene["case"],
                     datetime.combine(today + timedelta(days=9), time(9), tzinfo=CHICAGO),
                     datetime.combine(today + timedelta(days=9), time(17), tzinfo=CHICAGO), user=fay, role="backup",
                     phone="555-0601")
        wide = (utcnow() - timedelta(days=30), utcnow() + timedelta(days=90))
        expected = sorted([*engine.intervals(ops.schedule_of(nights, set()), *wide, CHICAGO),
                           *engine.intervals(ops.schedule_of(cover, set()), *wide, CHICAGO)])
        db.session.remove()
    browser = login(app, scene["emails"]["fay"])
    path = make_feed(browser)
    first, second = client.get(path).get_data(), client.get(path).get_data()
    calendar, events = parse(first)
    assert [(start, end) for _, start, end in events] == expected
    assert len({uid for uid, _, _ in events}) == len(events) > 10
    assert parse(second)[1] == events
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "America/Chicago" and zone.walk("STANDARD") and zone.walk("DAYLIGHT")
    for event in calendar.walk("VEVENT"):
        assert event["DTSTART"].params["TZID"] == "America/Chicago"
        assert "Phone on this shift: 555-060" in str(event["DESCRIPTION"])
    assert "Fay Feed" in first.decode() and "Ana Primary" not in first.decode()
    agency = client.get(make_feed(browser, "oncall-agency")).get_data(as_text=True)
    assert "Ana Primary" in agency and "Ben Backup" in agency and "Fay Feed" in agency
    cora_feed = client.get(make_feed(login(app, scene["emails"]["cora"]), "oncall-agency")).get_data(as_text=True)
    assert "Fay Feed" not in cora_feed and "555-0600" not in cora_feed


def feed_events(raw_token_owner_id: int, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """The "my shifts" feed of a user as `now` would serve it (the operation the view calls, with a frozen clock)."""
    user = db.session.get(User, raw_token_owner_id)
    raw = tokens.issue_access("oncall-mine", user, now)
    token = tokens.find_access("oncall-mine", raw, now)
    return parse(feeds.calendar(token, now))[1]


@pytest.mark.parametrize("now", [datetime(2026, 3, 5, 18, tzinfo=UTC), datetime(2026, 10, 29, 18, tzinfo=UTC)])
def test_the_feed_equals_who_is_on_call_across_a_daylight_saving_change(app, scene, now):
    """Fay is primary Sundays 01:00–03:00 and backup Saturday nights 22:00–02:30, with one-off covers in the changed
    hours; another person's shifts are around. At every quarter hour (and seven minutes past) of the weekend of the
    change, the feed's events covering the instant are exactly Fay's shifts that `who_is_on_call` shows then."""
    with app.app_context():
        chair = db.session.get(User, scene["ids"]["chair"])
        fay = db.session.get(User, scene["ids"]["fay"])
        sunday = (now + timedelta(days=3)).astimezone(CHICAGO).date()
        assert sunday.weekday() == SUNDAY
        weekly(chair, scene["north"], scene["case"], user=fay, days=(SUNDAY,), starts=time(1), ends=time(3))
        weekly(chair, scene["north"], scene["crisis"], user=fay, role="backup", days=(SATURDAY,), starts=time(22),
               ends=time(2, 30))
        once(chair, scene["north"], scene["crisis"], datetime.combine(sunday, time(0, 30), tzinfo=CHICAGO),
             datetime.combine(sunday, time(1, 30), tzinfo=CHICAGO), user=fay)
        once(chair, scene["north"], scene["case"], datetime.combine(sunday, time(2, 30), tzinfo=CHICAGO),
             datetime.combine(sunday, time(4), tzinfo=CHICAGO), user=fay, role="backup")
        weekly(chair, scene["south"], scene["crisis"], user=db.session.get(User, scene["ids"]["cora"]),
               days=(SATURDAY, SUNDAY), starts=time(1), ends=time(2))
        events = feed_events(fay.id, now)
        start = datetime.combine(sunday - timedelta(days=1), time(18), tzinfo=CHICAGO).astimezone(UTC)
        checked = 0
        for step in range(16 * 4):
            for offset in (timedelta(0), timedelta(minutes=7)):
                at = start + step * timedelta(minutes=15) + offset
                in_feed = sorted(int(uid.split("-")[2]) for uid, s, e in events if s <= at < e)
                on_call = sorted(on.shift.id for answer in ops.who_is_on_call(at)
                                 for on in answer.primaries + answer.backups if on.shift.user_id == fay.id)
                assert in_feed == on_call, at
                checked += bool(on_call)
        assert checked > 20
        db.session.rollback()


def test_the_feed_covers_the_past_week_and_the_next_eight_weeks_with_whole_occurrences(app, scene):
    """Fay daily 08:00–20:00: the feed holds every occurrence touching the week before and the eight weeks after,
    each whole (the ones cut by the window's edges keep their own start and end, so their UIDs do not move), and
    the same UIDs an hour later for the occurrences still in it."""
    now = datetime(2026, 11, 28, 15, tzinfo=UTC)  # 09:00 in Chicago: both edges fall inside an occurrence
    with app.app_context():
        chair = db.session.get(User, scene["ids"]["chair"])
        shift = weekly(chair, scene["north"], scene["case"], user=db.session.get(User, scene["ids"]["fay"]),
                       starts=time(8), ends=time(20))
        window = (now - timedelta(days=7), now + timedelta(weeks=8))
        occurrences = [(s, e) for s, e in engine.intervals(ops.schedule_of(shift, set()), now - timedelta(days=30),
                                                           now + timedelta(weeks=12), CHICAGO)
                       if e > window[0] and s < window[1]]
        events = feed_events(scene["ids"]["fay"], now)
        assert [(s, e) for _, s, e in events] == occurrences
        assert events[0][1] == datetime(2026, 11, 21, 8, tzinfo=CHICAGO) and len(events) == 7 + 56 + 1
        later = feed_events(scene["ids"]["fay"], now + timedelta(hours=1))
        assert {uid for uid, _, _ in later} == {uid for uid, _, _ in events}
        db.session.rollback()


def test_an_occurrence_keeps_its_uid_when_the_feed_is_fetched_again_later(app, scene):
    """Ana is on around the clock: the event covering a given instant keeps its UID an hour later."""
    with app.app_context():
        now = utcnow()
        at = now + timedelta(days=1)
        first, later = feed_events(scene["ids"]["ana"], now), feed_events(scene["ids"]["ana"], now + timedelta(hours=1))
        assert [uid for uid, s, e in first if s <= at < e] == [uid for uid, s, e in later if s <= at < e]
        db.session.rollback()


def test_no_client_data_in_a_feed(app, scene, client):
    """A referral with identifying details escalated to Fay, on call: neither her feed nor her agency's carries any
    of them."""
    with app.app_context():
        now = utcnow()
        chair = db.session.get(User, scene["ids"]["chair"])
        fay = db.session.get(User, scene["ids"]["fay"])
        weekly(chair, scene["north"], scene["case"], user=fay, phone="555-0600")
        provider = make_provider("Provider A", now=now)
        author = make_sender(name="Alder Police")
        referral = send_intake(author, now, receiver=provider.agency_id, urgency="emergency",
                               **consent_answers(with_=("receiver", "chairs")))
        referral_ops.escalation_pass(offers_of(referral.id)[0].deadline_at)
        assert db.session.scalar(select(ReferralContact.user_id).where(ReferralContact.user_id == fay.id))
        db.session.remove()
    browser = login(app, scene["emails"]["fay"])
    for purpose in ("oncall-mine", "oncall-agency"):
        body = client.get(make_feed(browser, purpose)).get_data(as_text=True)
        assert "BEGIN:VEVENT" in body and "Fay Feed" in body
        assert not any(sentinel in body for sentinel in SENTINELS)
        assert "Alder Police" not in body and "referral" not in body.lower()

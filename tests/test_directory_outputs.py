"""P5: a confidential address never leaves its agency: search, htmx fragments, print, PDF, CSV, profiles, mail.

A sentinel is put in the confidential location's name and street lines and searched for in every output;
the public front door is the positive control (it must appear where addresses are printed). Also V6 (CSV
cells) and the CSV's re-authentication.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from csrn.agencies.models import Agency
from csrn.auth.models import User, UserSession
from csrn.clock import utcnow
from csrn.directory import operations as ops
from csrn.directory.pdf import referral_list_pdf
from csrn.extensions import db
from csrn.hsds import export as hsds_export
from csrn.hsds.access import issue_token
from csrn.notify.models import OutboxMessage
from tests.directory_factories import (
    MEMBERS_ONLY,
    PUBLIC,
    SENTINEL,
    make_location_factory,
    make_service_factory,
    pdf_text,
    set_settings,
)

RESULTS = {"HX-Request": "true", "HX-Target": "results"}
FILTER_VARIANTS = [
    "", "q=harbor", "q=hidden", "q=hidden%20lane", "q=safe%20house", "q=%25", "q=_", "service_type=emergency_shelter",
    "county=Alder", "language=es", "age=minor", "gender=female", "citizenship=foreign", "trafficking=both",
    "open_now=1", "accepting=1", "twentyfour=1", "certified=1", "community=1", "page=2",
    "q=harbor&service_type=emergency_shelter&county=Alder&language=es&accepting=1&community=1",
]


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def world(app, create_agency, create_user, login_as):
    """A shelter with a confidential safe house, a members-only office and a public front door."""
    set_settings(app, counties=["Alder", "Birch"])
    services, locations = make_service_factory(app), make_location_factory(app)
    agency_id = create_agency(name="Harbor Refuge", poc_name="Pat Poc", poc_email="pat@harbor.example.org",
                              description="Safe shelter for survivors")
    services(agency_id, type_code="emergency_shelter", name="Harbor beds", description="Beds tonight",
             open_slots=2, is_24_7=True, confirmed_at=utcnow() - timedelta(days=45),
             facets={"county": ["Alder"], "language": ["es"], "age": ["minor", "18_24"]})
    services(agency_id, type_code="case_management", open_slots=1)
    locations(agency_id, "confidential", f"{SENTINEL} safe house", f"{SENTINEL} Hidden Lane",
              address_2=f"Unit {SENTINEL}", postal_code="62799", county="Alder")
    locations(agency_id, "members", "Office", f"{MEMBERS_ONLY} Back Street")
    locations(agency_id, "public", "Front door", f"{PUBLIC} Main Street")
    listed = create_agency(name="Harbor Pantry", membership_status="listed")
    services(listed, type_code="food_clothing")
    locations(listed, "confidential", f"{SENTINEL} pantry store", f"{SENTINEL} Store Room")
    return {
        "agency_id": agency_id,
        "own": login_as(roles=("agency_admin",), agency_id=agency_id),
        "other": login_as(roles=("agency_admin",)),
        "chair": login_as(roles=("chair",)),
    }


def _viewers(world):
    return [world["own"], world["other"], world["chair"]]


def test_search_pages_and_fragments_never_show_it(world):
    """Every filter variant, full page and htmx fragment, for every viewer, the agency's own included."""
    for b in _viewers(world):
        for query in FILTER_VARIANTS:
            for headers in ({}, RESULTS):
                response = b.get(f"/directory/?{query}", headers=headers)
                assert response.status_code == 200, query
                page = response.get_data(as_text=True)
                assert SENTINEL not in page, (query, headers)
        assert "Harbor Refuge" in b.get("/directory/?q=harbor").get_data(as_text=True)
        # Addresses are not searched: the sentinel itself finds nothing (it is only echoed in the search box).
        assert "0 services found." in b.get(f"/directory/?q={SENTINEL}").get_data(as_text=True)


def test_the_printable_list_shows_public_addresses_only(world):
    for b in _viewers(world):
        for query in FILTER_VARIANTS:
            page = b.get(f"/directory/print?{query}").get_data(as_text=True)
            assert SENTINEL not in page and MEMBERS_ONLY not in page, query
        page = b.get("/directory/print?q=harbor").get_data(as_text=True)
        assert PUBLIC in page and "Harbor Refuge" in page


def test_the_pdf_shows_public_addresses_only(world):
    """The PDF's text (inflated and decoded through its font maps) has the front door, never the others."""
    for b in _viewers(world):
        for query in ("", "q=harbor", f"q={SENTINEL}", "county=Alder&community=1", "twentyfour=1"):
            response = b.get(f"/directory/print.pdf?{query}")
            assert response.status_code == 200 and response.mimetype == "application/pdf"
            data = response.get_data()
            assert SENTINEL.encode() not in data
            text = compact(pdf_text(data))
            assert SENTINEL not in text and MEMBERS_ONLY not in text, query
        text = compact(pdf_text(b.get("/directory/print.pdf?q=harbor").get_data()))
        assert PUBLIC in text and "HarborRefuge" in text


def test_the_pdf_text_extraction_would_see_a_leak(app, world):
    """The check above can fail: render the PDF with every location, and the sentinel is found."""
    with app.app_context():
        agency = db.session.get(Agency, world["agency_id"])
        own_user = db.session.get(User, world["own"].user.id)
        assert [loc.name for loc in ops.visible_locations(agency, own_user, "print")] == ["Front door"]
        results = ops.all_results(ops.Filters(q="harbor refuge"), utcnow())
        everything = {agency.id: ops.visible_locations(agency, own_user, "profile")}
        leaked = referral_list_pdf("Task force", results, everything, {}, set(), utcnow(), ops.task_force_zone())
        assert SENTINEL in compact(pdf_text(bytes(leaked)))
        safe = referral_list_pdf("Task force", results, {agency.id: ops.visible_locations(agency, own_user, "print")},
                                 {}, set(), utcnow(), ops.task_force_zone())
        assert SENTINEL not in compact(pdf_text(bytes(safe)))


def test_the_pdf_prints_unicode_names(app, create_agency, login_as):
    make_service_factory(app)(create_agency(name="Lưu Trú An Toàn"), type_code="emergency_shelter")
    text = pdf_text(login_as().get("/directory/print.pdf?q=An%20To").get_data())
    assert "Lưu" in text and "Trú" in text


def _fresh(app, user_id: int, minutes_ago: int) -> None:
    with app.app_context():
        for row in db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)):
            row.reauthenticated_at = utcnow() - timedelta(minutes=minutes_ago)
        db.session.commit()


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


def test_the_csv_needs_fresh_reauthentication(app, world):
    b = world["other"]
    _fresh(app, b.user.id, minutes_ago=11)
    response = b.get("/directory/export.csv?q=harbor")
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/reauthenticate")
    _fresh(app, b.user.id, minutes_ago=0)
    response = b.get("/directory/export.csv?q=harbor")
    assert response.status_code == 200 and response.mimetype == "text/csv"


def test_the_csv_shows_public_addresses_only(app, world):
    for b in _viewers(world):
        _fresh(app, b.user.id, minutes_ago=0)
        for query in ("", "q=harbor", "community=1", f"q={SENTINEL}", "county=Alder"):
            text = b.get(f"/directory/export.csv?{query}").get_data(as_text=True)
            assert SENTINEL not in text and MEMBERS_ONLY not in text, query
        rows = _rows(b.get("/directory/export.csv?q=harbor%20beds"))
        assert len(rows) == 2 and PUBLIC in rows[1][rows[0].index("public_addresses")]


def test_profiles_show_confidential_addresses_to_the_agency_only(world):
    """Own users see all three; other agencies (a chair included) see public and members-only."""
    path = f"/agencies/{world['agency_id']}"
    own = world["own"].get(path).get_data(as_text=True)
    assert SENTINEL in own and MEMBERS_ONLY in own and PUBLIC in own
    for b in (world["other"], world["chair"]):
        page = b.get(path).get_data(as_text=True)
        assert SENTINEL not in page and MEMBERS_ONLY in page and PUBLIC in page


@pytest.mark.parametrize("path", ["/", "/agencies/", "/agencies/?q=harbor", "/directory/taxonomy"])
def test_other_pages_never_show_it(world, path):
    for b in _viewers(world):
        response = b.get(path)
        assert SENTINEL not in response.get_data(as_text=True), (path, response.status_code)


def test_mail_never_carries_it(app, world):
    """The daily confirmation link mail names the agency and carries a link, no address."""
    with app.app_context():
        assert ops.stale_reminders(utcnow()) == "1 confirmation link(s) queued"
        mail = db.session.scalars(select(OutboxMessage)).all()
        assert [m.to_addr for m in mail] == ["pat@harbor.example.org"]
        assert all(SENTINEL not in m.body + m.subject and MEMBERS_ONLY not in m.body for m in mail)
        link = re.search(r"/directory/confirm/\S+", mail[0].body).group(0)
    page = app.test_client().get(link).get_data(as_text=True)  # no login needed
    assert "Harbor Refuge" in page and SENTINEL not in page


# ----- V6: formula cells ---------------------------------------------------------------------------------

def test_csv_cells_that_start_a_formula_are_neutralised(app, create_agency, login_as):
    agency_id = create_agency(name="=HYPERLINK(\"http://evil.example\")", phone="+1 555 0100",
                              poc_name="@SUM(A1)", poc_email="-x@example.org")
    make_service_factory(app)(agency_id, name="-2+3", open_slots=1)
    make_location_factory(app)(agency_id, "public", "=cmd|' /C calc'!A0", "@1 Formula Street")
    b = login_as()
    rows = _rows(b.get("/directory/export.csv?q=HYPERLINK"))
    header, row = rows[0], rows[1]
    cells = dict(zip(header, row, strict=True))
    assert cells["agency"] == "'=HYPERLINK(\"http://evil.example\")"
    assert cells["service"] == "'-2+3"
    assert cells["phone"] == "'+1 555 0100"
    assert cells["point_of_contact"] == "'@SUM(A1)"
    assert cells["poc_email"] == "'-x@example.org"
    assert cells["public_addresses"].startswith("'=cmd")
    for value in row:
        assert not value.startswith(("=", "+", "-", "@", "\t")), value


def test_the_hsds_export_and_every_api_answer_show_public_addresses_only(app, world, tmp_path):
    """Issue 23: the sentinel searched for in every file of the HSDS package and in every answer of the HSDS API —
    each list, every page of it, each object by its id, with and without a search — the front door the control."""
    with app.app_context():
        hsds_export.write(hsds_export.build(utcnow()), tmp_path)
        raw, _ = issue_token(None, "Outputs sweep", utcnow())
    files = {path.name: path.read_text(encoding="utf-8") for path in tmp_path.iterdir()}
    for name, text in files.items():
        assert SENTINEL not in text and MEMBERS_ONLY not in text, name
    assert PUBLIC in files["addresses.csv"]

    client, headers = app.test_client(), {"Authorization": f"Bearer {raw}"}
    answers, seen_public = 0, False
    for listing in ("services", "organizations", "service_at_locations", "taxonomies", "taxonomy_terms"):
        for query in ("", "?search=harbor", "?search=hidden", f"?search={SENTINEL}", "?per_page=1&page=2"):
            response = client.get(f"/api/hsds/{listing}{query}", headers=headers)
            assert response.status_code == 200, (listing, query)
            text = response.get_data(as_text=True)
            assert SENTINEL not in text and MEMBERS_ONLY not in text, (listing, query)
            seen_public = seen_public or PUBLIC in text
            answers += 1
            for item in response.get_json()["contents"]:
                one = client.get(f"/api/hsds/{listing}/{item['id']}", headers=headers)
                assert one.status_code == 200
                body = one.get_data(as_text=True)
                assert SENTINEL not in body and MEMBERS_ONLY not in body, (listing, item["id"])
                seen_public = seen_public or PUBLIC in body
                answers += 1
    assert seen_public and answers > 25

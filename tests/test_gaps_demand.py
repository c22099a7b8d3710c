"""Demand against supply: counts against a brute-force count, percentiles as PostgreSQL's percentile_cont computes
them (on either database), small numbers hidden in tables, charts and CSV alike, drills never counted, and only
chairs and administrators."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest

from csrn.clock import utcnow
from csrn.extensions import db
from csrn.gaps import demand
from csrn.referrals import operations as referral_ops
from tests.conftest import NOW, Browser, logged_in
from tests.referral_factories import make_chair, make_provider, make_sender, new_user, send_intake

PERIOD = demand.Period((NOW - timedelta(days=30)).date(), (NOW + timedelta(days=30)).date())


def reference_percentile(values: list[float], fraction: float) -> float:
    """percentile_cont: the value at position f·(n−1) of the sorted values, interpolated."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = int(position)
    if below + 1 >= len(ordered):
        return ordered[below]
    return ordered[below] + (position - below) * (ordered[below + 1] - ordered[below])


def test_percentiles_are_percentile_cont_on_either_database(ctx):
    rng = random.Random(7)
    providers = [make_provider(f"P{n}", case_managers=1) for n in range(2)]
    sender = make_sender()
    taken = {p.agency_id: [] for p in providers}
    for n in range(23):
        provider = providers[n % 2]
        referral = send_intake(sender, NOW, receiver=provider.agency_id)
        minutes = rng.randint(1, 600)
        referral_ops.accept(provider.case_manager, referral, NOW + timedelta(minutes=minutes))
        taken[provider.agency_id].append(minutes)
    found = demand.percentiles("agency", PERIOD)
    for agency_id, values in taken.items():
        count, median, p90 = found[agency_id]
        assert count == len(values)
        assert median == pytest.approx(reference_percentile(values, 0.5), abs=0.01)
        assert p90 == pytest.approx(reference_percentile(values, 0.9), abs=0.01)


def test_needs_and_unmet_needs_are_counted_by_segment_and_drills_are_not(ctx):
    make_provider("Harbor")  # case management only: dental is never met
    sender = make_sender()
    answers = [("minor", ["case_management", "dental"])] * 7 + [("25_plus", ["case_management", "dental"])] * 2
    for age, needs in answers:
        send_intake(sender, NOW, age_group=age, needs=needs)
    drill = send_intake(sender, NOW, age_group="18_24", needs=["case_management", "dental"])
    drill.intake.is_drill = True
    from csrn.intake.models import UnmetNeed
    for unmet in db.session.query(UnmetNeed).filter_by(intake_id=drill.intake_id):
        unmet.is_drill = True
    db.session.commit()
    table = demand.needs_by("age_group", PERIOD)
    columns = table.columns
    row = table.rows.index("Case management")
    minor, adult, young = columns.index("Minor (under 18)"), columns.index("25 and over"), columns.index("18–24")
    assert table.counts[row][minor] == 7 and table.counts[row][adult] == 2 and table.counts[row][young] == 0
    shown = table.shown.cells[row]
    # The 2 is "<5"; alone in its row, it would be worked out from the row total: the 7 goes too.
    assert shown[minor].text == "*" and shown[adult].text == "<5" and shown[young].text == "0"
    unmet = demand.unmet_by("age_group", PERIOD)
    dental = unmet.rows.index(next(r for r in unmet.rows if r.startswith("Dental")))
    assert unmet.counts[dental][minor] == 7 and unmet.counts[dental][young] == 0
    header, rows = table.csv_rows()
    assert header[0] == "Service" and header[-1] == "Total"
    assert all("2" != cell for r in rows for cell in r[1:])  # the 2 never appears, only "<5"


@pytest.fixture
def people(app):
    with app.app_context():
        chair = make_chair()
        officer = make_sender()
        admin = new_user(None, ("admin",))
        cm = make_provider("Harbor", now=utcnow())
        db.session.commit()
        return {"chair": chair.email, "officer": officer.email, "admin": admin.email,
                "cm": cm.case_manager_emails[0]}


def as_(app, people, who: str) -> Browser:
    return logged_in(app, people[who])


def test_only_chairs_and_administrators_see_the_report(app, people):
    for who in ("officer", "cm"):
        browser = as_(app, people, who)
        for url in ("/gaps/demand", "/gaps/demand/chart.svg?name=unmet", "/gaps/demand.csv?table=declines"):
            assert browser.get(url).status_code == 403
    for who in ("chair", "admin"):
        page = as_(app, people, who).get("/gaps/demand")
        assert page.status_code == 200 and "Demand against supply" in page.get_data(as_text=True)


def test_charts_are_images_and_a_bad_period_says_so(app, people):
    chair = as_(app, people, "chair")
    svg = chair.get("/gaps/demand/chart.svg?name=needs")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and "<script" not in svg.get_data(as_text=True)
    assert chair.get("/gaps/demand/chart.svg?name=nothing").status_code == 404
    page = chair.get("/gaps/demand?from=yesterday").get_data(as_text=True)
    assert "Give the dates as YYYY-MM-DD" in page
    assert not re.search(r"<svg", page) and "style=" not in page.split("<main", 1)[1]


def test_acceptance_times_show_only_over_five(app, people):
    with app.app_context():
        from sqlalchemy import select

        from csrn.auth.models import User
        officer = db.session.scalar(select(User).where(User.email == people["officer"]))
        manager = db.session.scalar(select(User).where(User.email == people["cm"]))
        now = utcnow()
        for minutes in (10, 20, 30):
            referral = send_intake(officer, now - timedelta(hours=2), receiver=manager.agency_id)
            referral_ops.accept(manager, referral, now - timedelta(hours=2) + timedelta(minutes=minutes))
    page = as_(app, people, "chair").get("/gaps/demand")
    assert page.status_code == 200
    row = re.search(r"<th scope=\"row\" data-label=\"Agency\">Harbor</th>(.*?)</tr>", page.get_data(as_text=True), re.S)
    assert row and "&lt;5" in row.group(1) and "min" not in row.group(1)


def test_the_committee_review_page_and_pdf(app, people):
    with app.app_context():
        from sqlalchemy import select

        from csrn.auth.models import User
        officer = db.session.scalar(select(User).where(User.email == people["officer"]))
        for _ in range(6):
            send_intake(officer, utcnow() - timedelta(days=1), needs=["case_management", "dental"])
    for who in ("officer", "cm"):
        assert as_(app, people, who).get("/gaps/review").status_code == 403
        assert as_(app, people, who).get("/gaps/review.pdf").status_code == 403
    chair = as_(app, people, "chair")
    page = chair.get("/gaps/review")
    body = " ".join(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)).split())
    assert page.status_code == 200
    assert re.search(r"Dental[^0-9<]* 6 6 None: a gap", body)  # asked for 6 times, unmet 6 times, nobody offers it
    for heading in ("On-call gaps in the next four weeks", "Listings not confirmed in 30 days",
                    "Listings flagged by declines", "Protocols due for review", "Volunteers due for renewal",
                    "Open concerns"):
        assert heading in body
    document = chair.get("/gaps/review.pdf")
    assert document.status_code == 200 and document.mimetype == "application/pdf"
    assert document.get_data()[:5] == b"%PDF-"


def test_a_formula_in_an_agency_name_stays_text_in_the_csv(app, people):
    with app.app_context():
        from sqlalchemy import select

        from csrn.agencies.models import Agency
        from csrn.auth.models import User
        officer = db.session.scalar(select(User).where(User.email == people["officer"]))
        manager = db.session.scalar(select(User).where(User.email == people["cm"]))
        db.session.get(Agency, manager.agency_id).name = '=HYPERLINK("http://evil.example","x")'
        db.session.commit()
        now = utcnow()
        for minutes in range(5, 40, 5):
            referral = send_intake(officer, now - timedelta(hours=3), receiver=manager.agency_id)
            referral_ops.accept(manager, referral, now - timedelta(hours=3) + timedelta(minutes=minutes))
    chair = as_(app, people, "chair")
    body = chair.get("/gaps/demand.csv?table=acceptance-agency").get_data(as_text=True)
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body
    assert "20 min" in body  # seven acceptances: the median shows


def test_drills_change_no_gap_figure(app, people):
    """The map, every demand table, the timings and the review are the same before and after a drill that
    offers, escalates and ends in the queue."""
    chair = as_(app, people, "chair")

    def figures():
        # The pages' main content (the header counts the chair's notifications, which a drill does add to).
        return [chair.get(url).get_data(as_text=True).split("<main", 1)[1]
                for url in ("/gaps/", "/gaps/demand", "/gaps/review")] + [
            chair.get(f"/gaps/demand.csv?table={key}").get_data(as_text=True)
            for key in ("needs-age_group", "unmet-age_group", "declines", "escalations", "acceptance-agency")]

    before = figures()
    with app.app_context():
        from sqlalchemy import select

        from csrn.auth.models import User
        from csrn.drills import operations as drill_ops
        chair_user = db.session.scalar(select(User).where(User.email == people["chair"]))
        officer = db.session.scalar(select(User).where(User.email == people["officer"]))
        drill = drill_ops.start_drill(chair_user, {
            "sending_agency_id": officer.agency_id, "urgency": "emergency", "needs": ["dental"], "county": "",
            "note": "", "simulated_start": utcnow() - timedelta(days=2), "age_group": "minor"}, utcnow())
        drill_ops.jump_to_next_deadline(chair_user, drill, utcnow())
        assert db.session.get(type(drill), drill.id).state == "ended"
    assert figures() == before

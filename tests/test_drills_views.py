"""Drill pages over HTTP: chairs only (403 for everyone else), starting one with errors that keep what was typed,
DRILL on the receiver's inbox and the referral with deadlines in drill time, jump, stop and clean-up behind a
confirmation, the report kept after clean-up, and every report and export the same before and after drills.

The views read the wall clock, so everything here is made at `utcnow()`.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from csrn.clock import utcnow
from csrn.drills.models import Drill
from csrn.extensions import db
from csrn.settings.operations import task_force_zone
from tests.conftest import Browser, logged_in
from tests.conftest import page_text as text
from tests.referral_factories import make_chair, make_provider, make_sender, new_user


@pytest.fixture
def scene(app):
    with app.app_context():
        now = utcnow()
        provider = make_provider("Harbor House", now=now)
        police = make_sender(name="Alder Police")
        chair = make_chair()
        case_manager_only = new_user(police.agency_id, ("case_manager",))
        admin = new_user(police.agency_id, ("agency_admin",))
        db.session.commit()
        return {"provider": provider, "police": police.agency_id, "zone": task_force_zone(),
                "emails": {"chair": chair.email, "officer": police.email, "cm": provider.case_manager_emails[0],
                           "case_manager_only": case_manager_only.email, "admin": admin.email}}


def as_(app, scene, who: str) -> Browser:
    return logged_in(app, scene["emails"][who])


def drill_form(scene, **extra) -> dict:
    local = (utcnow() + timedelta(days=2)).astimezone(scene["zone"])
    return {"note": "Weekend night", "sending_agency_id": str(scene["police"]), "urgency": "emergency",
            "county": "", "age_group": "unknown", "citizenship": "unknown", "trafficking_type": "unknown",
            "simulated_date": local.date().isoformat(), "simulated_time": "02:00", **extra}


def start(app, scene) -> tuple[Browser, int]:
    chair = as_(app, scene, "chair")
    response = chair.post("/drills/new", data=drill_form(scene), page="/drills/new")
    assert response.status_code == 303, text(response)[:500]
    return chair, int(response.headers["Location"].rstrip("/").split("/")[-1])


@pytest.mark.parametrize("who", ["officer", "cm", "case_manager_only", "admin"])
def test_only_chairs_reach_drills(app, scene, who):
    browser = as_(app, scene, who)
    for url in ("/drills/", "/drills/new"):
        assert browser.get(url).status_code == 403
    assert browser.post("/drills/new", data=drill_form(scene), page="/").status_code == 403


def test_the_drills_page_says_when_there_is_none_and_offers_next_sunday_night(app, scene):
    chair = as_(app, scene, "chair")
    page = text(chair.get("/drills/"))
    assert "No drill is running." in page and "No drill has ended yet." in page
    form = chair.get("/drills/new").get_data(as_text=True)
    assert 'value="02:00"' in form
    choices = form.split('name="sending_agency_id"')[1].split("</select>")[0]
    assert "Alder Police" in choices and "Harbor House" in choices  # the members that may send one


def test_a_form_with_errors_keeps_what_was_typed_and_starts_nothing(app, scene):
    chair = as_(app, scene, "chair")
    response = chair.post("/drills/new", data=drill_form(scene, simulated_date=""), page="/drills/new")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Give the simulated date." in body and 'value="Weekend night"' in body
    with app.app_context():
        assert db.session.scalars(select(Drill)).all() == []


def test_a_suspended_sender_is_refused_with_a_reason(app, scene):
    with app.app_context():
        from csrn.agencies.models import Agency
        db.session.get(Agency, scene["police"]).membership_status = "suspended"
        db.session.commit()
    chair = as_(app, scene, "chair")
    response = chair.post("/drills/new", data=drill_form(scene), page="/drills/new")
    # A suspended agency is not among the choices at all.
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)


def test_a_drill_through_the_pages(app, scene):
    """The chair starts it; the provider's inbox and the referral say DRILL with the deadline in drill time; the
    chair jumps to the deadline (the offer expires: nobody else to offer, the queue), stops nothing left, cleans up
    after confirming; the report stays and the referral is gone."""
    chair, drill_id = start(app, scene)
    page = text(chair.get(f"/drills/{drill_id}"))
    assert "DRILL" in page and "Running" in page and "Jump to the next deadline" in page
    cm = as_(app, scene, "cm")
    inbox = text(cm.get("/referrals/inbox"))
    assert "DRILL" in inbox and "(drill time)" in inbox and re.search(r"due in \d+ min \(drill time\)", inbox)
    with app.app_context():
        referral_id = db.session.get(Drill, drill_id).referral_id
    shown = text(cm.get(f"/referrals/{referral_id}"))
    assert "This is a drill" in shown and "(drill time)" in shown

    jumped = chair.post(f"/drills/{drill_id}/jump", page=f"/drills/{drill_id}")
    assert jumped.status_code == 303
    report = text(chair.get(f"/drills/{drill_id}"))
    assert "No answer from Harbor House" in report and "committee queue" in report
    assert "Clean up its records" in report
    assert "DRILL" in text(chair.get("/referrals/queue"))

    confirm = chair.get(f"/drills/{drill_id}/clean-up")
    assert confirm.status_code == 200 and "Remove the drill's records" in text(confirm)
    done = chair.post(f"/drills/{drill_id}/clean-up", page=f"/drills/{drill_id}/clean-up")
    assert done.status_code == 303
    after = text(chair.get(f"/drills/{drill_id}"))
    assert "records cleaned up" in after and "No answer from Harbor House" in after
    assert cm.get(f"/referrals/{referral_id}").status_code == 404
    assert "Weekend night" in text(chair.get("/drills/"))


def test_stopping_asks_first_then_withdraws_the_offer(app, scene):
    chair, drill_id = start(app, scene)
    confirm = chair.get(f"/drills/{drill_id}/stop")
    assert confirm.status_code == 200 and "Stop drill" in text(confirm)
    assert chair.post(f"/drills/{drill_id}/stop", page=f"/drills/{drill_id}/stop").status_code == 303
    assert "DRILL" not in text(as_(app, scene, "cm").get("/referrals/inbox"))
    assert "Stopped by a chair" in text(chair.get(f"/drills/{drill_id}"))


def test_every_report_and_export_is_the_same_before_and_after_drills(app, scene):
    """The chair's dashboard figures, the agencies and directory exports: a drill that waits, one that ended in
    the queue and one cleaned up change none of them."""
    chair = as_(app, scene, "chair")

    def reports():
        dashboard = chair.get("/").get_data(as_text=True)
        queue = re.search(r"(\d+) referrals? unassigned or escalated", dashboard)
        return (queue.group(1) if queue else None, "Waiting for the committee" in dashboard,
                chair.get("/agencies/export.csv").get_data(as_text=True),
                chair.get("/directory/export.csv").get_data(as_text=True))

    before = reports()
    _, waiting = start(app, scene)
    _, queued = start(app, scene)
    chair.post(f"/drills/{queued}/jump", page=f"/drills/{queued}")
    _, cleaned = start(app, scene)
    chair.post(f"/drills/{cleaned}/stop", page=f"/drills/{cleaned}/stop")
    chair.post(f"/drills/{cleaned}/clean-up", page=f"/drills/{cleaned}/clean-up")
    assert reports() == before
    assert "drill referral" in chair.get("/").get_data(as_text=True)  # the queued drill is counted apart


def test_opening_a_drill_changes_nothing_and_tick_ends_it_after_acceptance(app, scene):
    """A GET changes no row (SECURITY AC5): the page says the drill is ending once its referral is accepted, and the
    next tick ends it and keeps the report."""
    from csrn.drills import operations as drill_ops
    from csrn.referrals import operations as referral_ops

    chair, drill_id = start(app, scene)
    with app.app_context():
        drill = db.session.get(Drill, drill_id)
        case = drill.referral
        manager = db.session.get(type(drill.started_by), scene["provider"].case_manager_ids[0])
        referral_ops.accept(manager, case, referral_ops.clock(case, utcnow()))
    page = text(chair.get(f"/drills/{drill_id}"))
    assert "ending: a provider accepted the referral" in page
    with app.app_context():
        assert db.session.get(Drill, drill_id).state == "running"
        assert drill_ops.tick_drills(utcnow()) == "1 drill(s) run, 1 ended"
        assert db.session.get(Drill, drill_id).end_reason == "accepted"
    assert "Accepted by Harbor House" in text(chair.get(f"/drills/{drill_id}"))

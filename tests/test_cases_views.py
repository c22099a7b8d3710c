"""Case pages over HTTP: a case worked by its case manager, what everyone else gets at every case URL (DESIGN §5:
the receiving agency's own records; 404 outside it), errors that keep what was typed, and audited views.

The views read the wall clock, so everything here is made at `utcnow()`.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.cases import operations as ops
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.pathways import operations as pathway_ops
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral
from tests.conftest import Browser
from tests.referral_factories import (
    ALIAS,
    SENTINELS,
    consent_answers,
    make_chair,
    make_provider,
    make_sender,
    new_user,
    send_intake,
    type_id,
)

GOALS = "GOALSENTINEL93 wants to work as a cook"
NOTE = "NEEDNOTESENTINEL48 afraid of the clinic"
REASON = "REOPENSENTINEL17 came back"
CASE_SENTINELS = (GOALS.split()[0], NOTE.split()[0], REASON.split()[0])


@pytest.fixture
def scene(app):
    """A case accepted by the holder's first case manager (consent: receiver and onward providers), a legal-aid
    provider and two counselling providers for onward referrals, the officer who wrote the intake, an outsider,
    a chair, and a pathway that fits the person."""
    with app.app_context():
        now = utcnow()
        holder = make_provider("Holder", now=now, case_managers=2, staff=True)
        legal = make_provider("Legal Aid", now=now, type_codes=("immigration_legal",))
        counsel1 = make_provider("Counsel One", now=now, type_codes=("mental_health",))
        counsel2 = make_provider("Counsel Two", now=now, type_codes=("mental_health",))
        officer = make_sender()
        outsider = make_provider("Outsider", now=now)
        chair = make_chair()
        case = send_intake(officer, now, receiver=holder.agency_id, citizenship="foreign",
                           needs=["case_management", "immigration_legal", "mental_health"],
                           **consent_answers(with_=("receiver", "onward")))
        referral_ops.accept(holder.case_manager, case, now)
        pathway = pathway_ops.save_pathway(
            None, None, {"name": "Foreign national adults", "description": ""}, {"citizenship": ["foreign"]},
            [(type_id("immigration_legal"), "T visa first."), (type_id("mental_health"), "Counselling.")], None, now)
        db.session.commit()
        types = {code: type_id(code) for code in ("immigration_legal", "mental_health", "employment", "dental")}
        return {"case": case.id, "pathway": pathway.id, "types": types, "holder": holder, "legal": legal,
                "counsel1": counsel1, "counsel2": counsel2,
                "emails": {"cm": holder.case_manager_emails[0], "cm2": holder.case_manager_emails[1],
                           "staff": db.session.get(User, holder.staff_id).email, "officer": officer.email,
                           "legal": legal.case_manager_emails[0], "counsel1": counsel1.case_manager_emails[0],
                           "counsel2": counsel2.case_manager_emails[0],
                           "outsider": outsider.case_manager_emails[0], "chair": chair.email}}


def as_(app, scene, who: str) -> Browser:
    browser = Browser(app.test_client())
    browser.login(scene["emails"][who])
    return browser


def flash_or_page(response) -> str:
    return response.get_data(as_text=True)


def work_the_case(app, scene) -> dict:
    """The case manager, through the pages: assessment, a plan from the pathway, two onward referrals."""
    cm = as_(app, scene, "cm")
    case_url = f"/cases/{scene['case']}"
    page = cm.get(case_url)
    assert page.status_code == 200 and "Start the needs assessment" in flash_or_page(page)
    start = cm.post(f"{case_url}/assessment/start", page=case_url)
    assert start.status_code == 303 and start.headers["Location"].endswith(f"{case_url}/assessment")
    form = cm.get(f"{case_url}/assessment").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form) or re.search(
        r'name="version"[^>]*value="(\d+)"', form)
    data = {"version": version.group(1), "goals": GOALS, "new_type": str(scene["types"]["employment"])}
    for index, need_id in enumerate(re.findall(r'name="needs-(\d+)-need_id"[^>]*value="(\d+)"', form)):
        data[f"needs-{need_id[0]}-need_id"] = need_id[1]
        data[f"needs-{need_id[0]}-status"] = "in_progress"
        data[f"needs-{need_id[0]}-notes"] = NOTE if index == 0 else ""
    saved = cm.post(f"{case_url}/assessment", data=data, page=f"{case_url}/assessment")
    assert saved.status_code == 303, saved.get_data(as_text=True)
    plan = cm.post(f"{case_url}/plan", data={"pathway_id": str(scene["pathway"])}, page=case_url)
    assert plan.status_code == 303
    with app.app_context():
        steps = ops.steps_of(db.session.get(Referral, scene["case"]))
        step_ids = [s.id for s in steps]
    # Step 1: legal aid. The form is found with GET, sent with POST.
    found = cm.get(f"{case_url}/onward?step={step_ids[0]}")
    assert found.status_code == 200 and "Legal Aid" in found.get_data(as_text=True)
    legal_id = scene["legal"].agency_id
    sent = cm.post(f"{case_url}/onward", data={"service_type_id": str(scene["types"]["immigration_legal"]),
                                               "urgency": "routine", "step_id": str(step_ids[0]),
                                               "receiver": str(legal_id)}, page=case_url)
    assert sent.status_code == 303
    sent2 = cm.post(f"{case_url}/onward", data={"service_type_id": str(scene["types"]["mental_health"]),
                                                "urgency": "urgent", "step_id": str(step_ids[1]),
                                                "receiver": str(scene["counsel1"].agency_id),
                                                "backups": [str(scene["counsel2"].agency_id)]}, page=case_url)
    assert sent2.status_code == 303
    with app.app_context():
        onward = [r.id for r in ops.onward_referrals(db.session.get(Referral, scene["case"]))]
    return {"cm": cm, "steps": step_ids, "onward": onward}


def test_a_case_worked_through_its_pages(app, scene):
    worked = work_the_case(app, scene)
    cm, case_url = worked["cm"], f"/cases/{scene['case']}"
    with app.app_context():
        case = db.session.get(Referral, scene["case"])
        assert case.state == "in_progress"
        assert ops.case_file(case).goals == GOALS
        assert [s.onward_id for s in ops.steps_of(case)] == worked["onward"]
        legal_offer, counsel_offer = (db.session.get(Referral, i).pending_offer for i in worked["onward"])
        assert legal_offer.agency_id == scene["legal"].agency_id
        assert counsel_offer.agency_id == scene["counsel1"].agency_id
        assert db.session.get(Referral, worked["onward"][1]).urgency == "urgent"
    page = cm.get(case_url).get_data(as_text=True)
    assert GOALS in page and NOTE in page and "Employment" in page
    assert page.count("Offered") >= 2 and "Foreign national adults" in page
    assert "2 onward offers pending" in page
    # The legal-aid provider answers from its inbox; the counsellor declines and the backup is offered.
    legal = as_(app, scene, "legal")
    assert f"/referrals/{worked['onward'][0]}" in legal.get("/referrals/inbox").get_data(as_text=True)
    assert legal.post(f"/referrals/{worked['onward'][0]}/accept", page=f"/referrals/{worked['onward'][0]}"
                      ).status_code == 303
    counsel = as_(app, scene, "counsel1")
    declined = counsel.post(f"/referrals/{worked['onward'][1]}/decline", data={"reason": "no_capacity"},
                            page=f"/referrals/{worked['onward'][1]}/decline")
    assert declined.status_code == 303
    page = cm.get(case_url).get_data(as_text=True)
    assert "Declined and re-offered" in page and "Counsel Two" in page
    assert f"Onward referral #{worked['onward'][1]} was declined and re-offered" in page
    # The dashboard panel says the same.
    assert f"Onward referral #{worked['onward'][1]} was declined and re-offered" in cm.get("/").get_data(as_text=True)
    # Close, then reopen with a reason.
    closed = cm.post(f"/referrals/{scene['case']}/close", data={"outcome": "engaged"},
                     page=f"/referrals/{scene['case']}/close")
    assert closed.status_code == 303
    assert "Reopen…" in cm.get(case_url).get_data(as_text=True)
    empty = cm.post(f"{case_url}/reopen", data={"reason": ""}, page=f"{case_url}/reopen")
    assert empty.status_code == 422 and "Say why the case is reopened." in empty.get_data(as_text=True)
    reopened = cm.post(f"{case_url}/reopen", data={"reason": REASON}, page=f"{case_url}/reopen")
    assert reopened.status_code == 303
    page = cm.get(case_url).get_data(as_text=True)
    assert REASON in page and "In progress" in page


def test_everyone_outside_the_accepting_agencys_case_managers_gets_404_at_every_case_url(app, scene):
    worked = work_the_case(app, scene)
    case_url = f"/cases/{scene['case']}"
    step = worked["steps"][0]
    urls = [case_url, f"{case_url}/assessment", f"{case_url}/onward", f"{case_url}/transfer", f"{case_url}/reopen",
            f"{case_url}/plan/steps/{step}/remove"]
    posts = [f"{case_url}/assessment/start", f"{case_url}/assessment", f"{case_url}/plan", f"{case_url}/plan/steps",
             f"{case_url}/plan/steps/{step}/move/up", f"{case_url}/plan/steps/{step}/remove", f"{case_url}/onward",
             f"{case_url}/transfer", f"{case_url}/reopen"]
    # Legal aid accepts its onward referral: an onward receiver still sees nothing of the case.
    legal = as_(app, scene, "legal")
    legal.post(f"/referrals/{worked['onward'][0]}/accept", page=f"/referrals/{worked['onward'][0]}")
    for who in ("officer", "staff", "outsider", "chair", "legal", "counsel1"):
        browser = as_(app, scene, who)
        token = browser.token("/")
        for url in urls:
            assert browser.get(url).status_code == 404, (who, url)
        for url in posts:
            answer = browser.client.post(url, data={"csrf_token": token, "reason": "x", "pathway_id": "",
                                                    "service_type_id": str(scene["types"]["dental"])})
            assert answer.status_code == 404, (who, "POST", url)
    with app.app_context():
        case = db.session.get(Referral, scene["case"])
        assert case.state == "in_progress" and len(ops.onward_referrals(case)) == 2
    # The colleague case manager of the holding agency works the case too.
    assert as_(app, scene, "cm2").get(case_url).status_code == 200


def test_what_the_officer_and_the_onward_receiver_see(app, scene):
    worked = work_the_case(app, scene)
    officer = as_(app, scene, "officer")
    page = officer.get(f"/referrals/{scene['case']}").get_data(as_text=True)
    assert "In progress" in page and ALIAS in page  # their own intake, and that the case is open
    assert not any(s in page for s in CASE_SENTINELS)
    assert "case record" not in page
    staff = as_(app, scene, "staff")  # of the holding agency: never assigned cases
    for onward_id in worked["onward"]:
        assert officer.get(f"/referrals/{onward_id}").status_code == 404
        assert staff.get(f"/referrals/{onward_id}").status_code == 404
        assert staff.post(f"/referrals/{onward_id}/withdraw", page="/").status_code == 404
    listing = officer.get("/referrals/").get_data(as_text=True)
    assert not any(f"/referrals/{i}\"" in listing for i in worked["onward"])
    # The onward receiver: its own referral, identifying details only as consent covers onward providers.
    legal = as_(app, scene, "legal")
    legal.post(f"/referrals/{worked['onward'][0]}/accept", page=f"/referrals/{worked['onward'][0]}")
    page = legal.get(f"/referrals/{worked['onward'][0]}").get_data(as_text=True)
    assert ALIAS in page
    assert not any(s in page for s in CASE_SENTINELS)
    assert f"/cases/{scene['case']}" not in page
    assert legal.get(f"/referrals/{worked['onward'][1]}").status_code == 404
    assert legal.get(f"/referrals/{scene['case']}").status_code == 404


def test_an_onward_receiver_sees_no_identifying_details_without_onward_consent(app, scene):
    with app.app_context():
        now = utcnow()
        holder = scene["holder"]
        officer = make_sender()
        case = send_intake(officer, now, receiver=holder.agency_id, citizenship="foreign",
                           **consent_answers(with_=("receiver",)))
        referral_ops.accept(holder.case_manager, case, now)
        ops.start_assessment(holder.case_manager, db.session.get(Referral, case.id), now)
        chosen = db.session.get(type(case.service_type), type_id("immigration_legal"))
        onward = ops.send_onward(holder.case_manager, db.session.get(Referral, case.id), chosen,
                                 scene["legal"].agency_id, [], "routine", now)
        onward_id = onward.id
    legal = as_(app, scene, "legal")
    legal.post(f"/referrals/{onward_id}/accept", page=f"/referrals/{onward_id}")
    page = legal.get(f"/referrals/{onward_id}").get_data(as_text=True)
    assert not any(s in page for s in SENTINELS)
    assert "No identifying information is shared with you" in page


def test_viewing_the_case_record_is_audited_by_field_name_only(app, scene):
    work_the_case(app, scene)
    cm2 = as_(app, scene, "cm2")
    with app.app_context():
        before = db.session.scalar(select(db.func.count()).select_from(AuditEvent))
    cm2.get(f"/cases/{scene['case']}")
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(
            db.session.scalar(select(db.func.count()).select_from(AuditEvent)) - before)).all()
        viewed = [e for e in events if e.action == "case.viewed"]
        assert viewed and "goals" in viewed[0].fields and "needs.notes" in viewed[0].fields
        dumped = " ".join(str(vars(e)) for e in events)
        assert not any(s in dumped for s in CASE_SENTINELS)


def test_bad_input_is_refused_with_what_was_typed_kept(app, scene):
    cm = as_(app, scene, "cm")
    case_url = f"/cases/{scene['case']}"
    cm.post(f"{case_url}/assessment/start", page=case_url)
    cm.post(f"{case_url}/plan", data={"pathway_id": ""}, page=case_url)
    # A step without a service: the case page again (422), the note kept.
    answer = cm.post(f"{case_url}/plan/steps", data={"service_type_id": "", "note": "NOTEKEPT11"}, page=case_url)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Choose a service." in page and "NOTEKEPT11" in page
    # An onward referral to a provider not in the list: refused, nothing sent.
    answer = cm.post(f"{case_url}/onward", data={"service_type_id": str(scene["types"]["immigration_legal"]),
                                                 "urgency": "routine", "receiver": str(scene["counsel1"].agency_id)},
                     page=f"{case_url}/onward")
    assert answer.status_code == 422 and "Choose a provider from the list." in answer.get_data(as_text=True)
    # A transfer without a reason.
    answer = cm.post(f"{case_url}/transfer", data={"reason": ""}, page=f"{case_url}/transfer")
    assert answer.status_code == 422 and "Say why the case is transferred." in answer.get_data(as_text=True)
    # A stale assessment form.
    form = cm.get(f"{case_url}/assessment").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', form).group(1)
    cm.post(f"{case_url}/assessment", data={"version": version, "goals": "first"}, page=f"{case_url}/assessment")
    stale = cm.post(f"{case_url}/assessment", data={"version": version, "goals": "GOALKEPT22"},
                    page=f"{case_url}/assessment")
    assert stale.status_code == 422
    assert "Someone else changed this record" in stale.get_data(as_text=True)
    assert "GOALKEPT22" in stale.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(Referral, scene["case"])
        assert ops.onward_referrals(case) == [] and ops.transfers_of(case) == []


def test_a_transfer_through_the_pages(app, scene):
    with app.app_context():
        other = make_provider("Other CM", now=utcnow())
        other_email = other.case_manager_emails[0]
    cm = as_(app, scene, "cm")
    case_url = f"/cases/{scene['case']}"
    page = cm.get(f"{case_url}/transfer").get_data(as_text=True)
    assert "Other CM" in page and "Outsider" in page and ">Holder<" not in page
    sent = cm.post(f"{case_url}/transfer", data={"receiver": str(other.agency_id), "reason": "Moving away"},
                   page=f"{case_url}/transfer")
    assert sent.status_code == 303
    assert "Transfer to another provider" not in cm.get(case_url).get_data(as_text=True)
    with app.app_context():
        moved = ops.transfers_of(db.session.get(Referral, scene["case"]))[0].id
    other_browser = Browser(app.test_client())
    other_browser.login(other_email)
    other_browser.post(f"/referrals/{moved}/accept", page=f"/referrals/{moved}")
    page = cm.get(case_url).get_data(as_text=True)
    assert "Transferred" in page and "Reopen…" not in page
    # The new holder has a case of its own, with an empty record.
    assert other_browser.get(f"/cases/{moved}").status_code == 200
    assert other_browser.get(case_url).status_code == 404


def test_the_case_list_pages_and_filters(app, scene):
    cm = as_(app, scene, "cm")
    page = cm.get("/cases/").get_data(as_text=True)
    assert f"Case #{scene['case']}" in page and "Start the needs assessment" in page
    assert f"Case #{scene['case']}" not in as_(app, scene, "cm2").get("/cases/").get_data(as_text=True)
    assert f"Case #{scene['case']}" in as_(app, scene, "cm2").get("/cases/?who=all").get_data(as_text=True)
    assert "No closed cases" in cm.get("/cases/?who=all&state=closed").get_data(as_text=True)
    assert as_(app, scene, "officer").get("/cases/").status_code == 403
    with app.app_context():
        staff = new_user(scene["holder"].agency_id, ("staff",))
        email = staff.email
        db.session.commit()
    staff_browser = Browser(app.test_client())
    staff_browser.login(email)
    assert staff_browser.get("/cases/").status_code == 403


def test_the_case_record_stays_with_the_accepting_agency_after_consent_is_revoked(app, scene):
    """DESIGN §5: consent governs what the sender shared; what the accepting agency recorded is its own."""
    work_the_case(app, scene)
    cm = as_(app, scene, "cm")
    assert ALIAS in cm.get(f"/referrals/{scene['case']}").get_data(as_text=True)
    with app.app_context():
        from csrn.referrals import consent as consent_ops

        case = db.session.get(Referral, scene["case"])
        officer = db.session.scalar(User.by_email(scene["emails"]["officer"]))
        consent_ops.revoke_consent(officer, case.intake, utcnow())
    assert ALIAS not in cm.get(f"/referrals/{scene['case']}").get_data(as_text=True)
    page = cm.get(f"/cases/{scene['case']}").get_data(as_text=True)
    assert GOALS in page and NOTE in page

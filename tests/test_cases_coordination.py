"""Coordinating a case over HTTP: appointments and the support around legal dates, the appointment feed (nothing
identifying, read by an independent iCalendar parser), messages, concerns — and who sees each (DESIGN §5).

The views read the wall clock, so everything here is made at `utcnow()`.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select, text

from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.cases import coordination
from csrn.cases import operations as ops
from csrn.cases.models import Appointment, Concern
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.notify.models import Notification, OutboxMessage
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Consent, Referral
from csrn.settings.operations import task_force_zone
from tests.conftest import Browser
from tests.referral_factories import (
    SENTINELS,
    consent_answers,
    make_chair,
    make_provider,
    make_sender,
    new_user,
    send_intake,
    type_id,
)

PLACE = "PLACESENTINEL 400 Courthouse Square, room 12"
BODY = "MESSAGESENTINEL55 she can come on Tuesday"
CONCERN = "CONCERNSENTINEL77 the interpreter did not come"


@pytest.fixture
def scene(app):
    """A case for a Vietnamese-speaking person held by Holder, an onward legal referral accepted by Legal Aid, an
    interpreter who speaks Vietnamese, a counsellor; the officer; an outsider; a chair."""
    with app.app_context():
        now = utcnow()
        holder = make_provider("Holder", now=now, case_managers=2, staff=True)
        legal = make_provider("Legal Aid", now=now, type_codes=("immigration_legal",))
        interpreter = make_provider("Vietnamese Interpreting", now=now, type_codes=("interpretation",),
                                    facets={"language": ["vi", "en"]})
        make_provider("Spanish Interpreting", now=now, type_codes=("interpretation",), facets={"language": ["es"]})
        counsel = make_provider("Counsel", now=now, type_codes=("mental_health",))
        officer = make_sender()
        outsider = make_provider("Outsider", now=now)
        chair = make_chair()
        legal_admin = new_user(legal.agency_id, ("agency_admin",))
        db.session.get(type(officer.agency), legal.agency_id).poc_email = "poc@legal.example.org"
        case = send_intake(officer, now, receiver=holder.agency_id, citizenship="foreign", languages=["vi"],
                           **consent_answers(with_=("receiver", "onward")))
        referral_ops.accept(holder.case_manager, case, now)
        case = db.session.get(Referral, case.id)
        ops.start_assessment(holder.case_manager, case, now)
        chosen = db.session.get(type(case.service_type), type_id("immigration_legal"))
        onward = ops.send_onward(holder.case_manager, case, chosen, legal.agency_id, [], "routine", now)
        referral_ops.accept(legal.case_manager, onward, now)
        db.session.commit()
        return {"zone": task_force_zone(), "case": case.id, "onward": onward.id, "holder": holder, "legal": legal,
                "interpreter": interpreter,
                "counsel": counsel, "types": {c: type_id(c) for c in ("interpretation", "mental_health")},
                "emails": {"cm": holder.case_manager_emails[0], "cm2": holder.case_manager_emails[1],
                           "staff": db.session.get(User, holder.staff_id).email, "officer": officer.email,
                           "legal": legal.case_manager_emails[0], "legal_admin": legal_admin.email,
                           "interpreter": interpreter.case_manager_emails[0], "counsel": counsel.case_manager_emails[0],
                           "outsider": outsider.case_manager_emails[0], "chair": chair.email}}


def as_(app, scene, who: str) -> Browser:
    browser = Browser(app.test_client())
    browser.login(scene["emails"][who])
    return browser


def local(moment, zone):
    value = moment.astimezone(zone)
    return {"day": value.date().isoformat(), "start": value.strftime("%H:%M")}


def add_appointment(browser, scene, kind: str, when, provider: int | str = "", minutes: int = 60, place: str = ""):
    url = f"/cases/{scene['case']}/appointments/new"
    answer = browser.post(url, data={"kind": kind, "provider_agency_id": str(provider), **local(when, scene["zone"]),
                                     "duration_minutes": str(minutes), "place": place}, page=url)
    assert answer.status_code == 303, answer.get_data(as_text=True)[-2000:]
    return int(re.search(r"appointment-(\d+)", answer.headers["Location"]).group(1))


def test_a_court_date_gets_its_checklist_and_the_checklist_closes_by_the_facts(app, scene):
    cm = as_(app, scene, "cm")
    soon = utcnow().replace(second=0, microsecond=0) + timedelta(days=5)
    court = add_appointment(cm, scene, "court", soon, place=PLACE)
    with app.app_context():
        raw = " ".join(db.session.execute(text("SELECT place FROM appointment")).scalars())
        assert "PLACESENTINEL" not in raw  # encrypted at rest
        appointment = db.session.get(Appointment, court)
        supports = {s.item: s for s in coordination.supports_of(appointment)}
        assert list(supports) == ["accompaniment", "interpreter", "counselling"]
        support_ids = {item: s.id for item, s in supports.items()}
    page = cm.get(f"/cases/{scene['case']}").get_data(as_text=True)
    assert PLACE in page and "Support around this date" in page
    assert "Vietnamese Interpreting" in page and "Spanish Interpreting" not in page  # speaks the person's language
    assert "Refer for counselling…" in page  # no accepted counselling provider yet
    # (1) Accompaniment: a colleague goes.
    with app.app_context():
        colleague = db.session.scalar(User.by_email(scene["emails"]["cm2"]))
        colleague_id = colleague.id
    cm.post(f"/cases/{scene['case']}/support/{support_ids['accompaniment']}",
            data={"status": "done", "accompanist_id": str(colleague_id)}, page=f"/cases/{scene['case']}")
    # (2) Interpreter: the button starts an onward referral, preselected; once accepted, the item is done.
    start = cm.get(f"/cases/{scene['case']}/onward?service_type_id={scene['types']['interpretation']}"
                   f"&receiver={scene['interpreter'].agency_id}&support={support_ids['interpreter']}")
    body = start.get_data(as_text=True)
    assert re.search(rf'value="{scene["interpreter"].agency_id}"[^>]*checked', body)
    sent = cm.post(f"/cases/{scene['case']}/onward",
                   data={"service_type_id": str(scene["types"]["interpretation"]), "urgency": "routine",
                         "support_id": str(support_ids["interpreter"]),
                         "receiver": str(scene["interpreter"].agency_id)}, page=f"/cases/{scene['case']}")
    assert sent.status_code == 303
    with app.app_context():
        appointment = db.session.get(Appointment, court)
        interpreter_item = next(s for s in coordination.supports_of(appointment) if s.item == "interpreter")
        assert interpreter_item.onward_id is not None
        assert coordination.support_status(interpreter_item, appointment, [appointment]) == "open"
        referral_ops.accept(db.session.scalar(User.by_email(scene["emails"]["interpreter"])),
                            db.session.get(Referral, interpreter_item.onward_id), utcnow())
    # (3) Counselling: a session within 48 hours closes it; the dashboard shows what is still open.
    assert "open: counselling" in cm.get("/").get_data(as_text=True)
    add_appointment(cm, scene, "counselling", soon - timedelta(hours=30))
    page = cm.get(f"/cases/{scene['case']}").get_data(as_text=True)
    assert page.count(">Done<") >= 3
    assert "open: " not in cm.get("/").get_data(as_text=True)


def test_clashing_appointments_are_flagged(app, scene):
    cm = as_(app, scene, "cm")
    base = utcnow().replace(second=0, microsecond=0) + timedelta(days=3)
    first = add_appointment(cm, scene, "medical", base, minutes=60)
    close_by = add_appointment(cm, scene, "immigration", base + timedelta(minutes=90))  # 30 minutes after
    apart = add_appointment(cm, scene, "housing", base + timedelta(hours=6))
    with app.app_context():
        flagged = coordination.conflicts(coordination.appointments_of(db.session.get(Referral, scene["case"])))
    assert flagged == {first, close_by} and apart not in flagged
    page = cm.get(f"/cases/{scene['case']}").get_data(as_text=True)
    assert page.count("Clash:") == 2


def test_the_appointment_feed_carries_nothing_identifying(app, scene):
    cm = as_(app, scene, "cm")
    soon = utcnow().replace(second=0, microsecond=0) + timedelta(days=2)
    add_appointment(cm, scene, "court", soon, place=PLACE)
    made = cm.post("/cases/feed", page="/cases/")
    url = re.search(r"(http://[^<\s]+\.ics)", made.get_data(as_text=True)).group(1)
    path = "/" + url.split("/", 3)[3]
    feed = Browser(app.test_client()).get(path)  # no session: a calendar service
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    calendar = Calendar.from_ical(feed.data)
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 1
    assert str(events[0]["SUMMARY"]) == f"Court appointment — case #{scene['case']}"
    assert events[0].decoded("DTSTART").astimezone(soon.tzinfo) == soon
    assert events[0].decoded("DURATION") == timedelta(minutes=60)
    text_of_feed = feed.get_data(as_text=True)
    for secret in (*SENTINELS, "PLACESENTINEL", "Courthouse"):
        assert secret not in text_of_feed
    # Stopped: the address answers 404.
    cm.post("/cases/feed/revoke", page="/cases/")
    assert Browser(app.test_client()).get(path).status_code == 404
    # An on-call feed's token is not an appointment feed's.
    assert Browser(app.test_client()).get("/cases/feed/not-a-token.ics").status_code == 404


def test_an_onward_receiver_sees_only_appointments_with_its_own_provider(app, scene):
    cm = as_(app, scene, "cm")
    soon = utcnow().replace(second=0, microsecond=0) + timedelta(days=4)
    add_appointment(cm, scene, "immigration", soon, provider=scene["legal"].agency_id, place=PLACE)
    add_appointment(cm, scene, "medical", soon + timedelta(days=1), place="CLINICSENTINEL")
    legal = as_(app, scene, "legal")
    page = legal.get(f"/cases/referrals/{scene['onward']}").get_data(as_text=True)
    assert "Appointments with your agency" in page and "Immigration" in page
    assert "Medical" not in page and "CLINICSENTINEL" not in page
    assert PLACE in page  # consent covers onward providers
    assert legal.get(f"/cases/{scene['case']}").status_code == 404


def test_messages_between_the_maker_and_the_receiving_case_managers(app, scene):
    legal = as_(app, scene, "legal")
    cm = as_(app, scene, "cm")
    onward_page = f"/cases/referrals/{scene['onward']}"
    sent = cm.post(f"{onward_page}/messages", data={"body": BODY}, page=onward_page)
    assert sent.status_code == 303
    assert BODY in legal.get(onward_page).get_data(as_text=True)
    answer = legal.post(f"{onward_page}/messages", data={"body": "Thanks, Tuesday works."}, page=onward_page)
    assert answer.status_code == 303
    empty = legal.post(f"{onward_page}/messages", data={"body": ""}, page=onward_page)
    assert empty.status_code == 422 and "Write a message." in empty.get_data(as_text=True)
    with app.app_context():
        maker = db.session.scalar(User.by_email(scene["emails"]["cm"]))
        texts = [n.text for n in db.session.scalars(select(Notification).where(Notification.user_id == maker.id))]
        assert f"New message on referral #{scene['onward']}" in texts
        mail = " ".join(m.body + m.subject for m in db.session.scalars(select(OutboxMessage)))
        assert "MESSAGESENTINEL" not in mail and "Tuesday" not in mail
        raw = " ".join(db.session.execute(text("SELECT body FROM referral_message")).scalars())
        assert "MESSAGESENTINEL" not in raw
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "referral.messages_read")) is not None
    # The colleague case manager of the sender's agency is not the maker: no thread for them, and no writing.
    cm2 = as_(app, scene, "cm2")
    assert BODY not in cm2.get(onward_page).get_data(as_text=True)
    assert cm2.post(f"{onward_page}/messages", data={"body": "x"}, page=onward_page).status_code == 422
    # Not before acceptance: a fresh onward offer has no thread.
    with app.app_context():
        case = db.session.get(Referral, scene["case"])
        chosen = db.session.get(type(case.service_type), scene["types"]["mental_health"])
        pending = ops.send_onward(db.session.scalar(User.by_email(scene["emails"]["cm"])), case, chosen,
                                  scene["counsel"].agency_id, [], "routine", utcnow())
        pending_id = pending.id
    counsel = as_(app, scene, "counsel")
    page = counsel.get(f"/cases/referrals/{pending_id}").get_data(as_text=True)
    assert "Messages are between the person who made this referral and the agency that accepts it" in page
    assert counsel.post(f"/cases/referrals/{pending_id}/messages", data={"body": "x"},
                        page=f"/cases/referrals/{pending_id}").status_code == 422
    # The officer and outsiders are not involved in the onward referral at all.
    for who in ("officer", "outsider", "staff"):
        assert as_(app, scene, who).get(onward_page).status_code == 404


def test_a_concern_reaches_the_right_people_and_no_one_else_reads_it(app, scene):
    cm = as_(app, scene, "cm")
    onward_page = f"/cases/referrals/{scene['onward']}"
    raised = cm.post(f"{onward_page}/concerns", data={"kind": "dispute", "text": CONCERN}, page=onward_page)
    assert raised.status_code == 303
    concern_url = raised.headers["Location"]
    with app.app_context():
        concern = db.session.scalar(select(Concern))
        assert concern.to_agency_id == scene["legal"].agency_id
        legal_admin = db.session.scalar(User.by_email(scene["emails"]["legal_admin"]))
        chair = db.session.scalar(User.by_email(scene["emails"]["chair"]))
        for user in (legal_admin, chair):
            texts = [n.text for n in db.session.scalars(select(Notification).where(Notification.user_id == user.id))]
            assert f"A dispute was raised about referral #{scene['onward']}" in texts
        poc = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_addr == "poc@legal.example.org"))
        assert poc is not None and f"/cases/concerns/{concern.id}" in poc.body and "CONCERNSENTINEL" not in poc.body
        raw = " ".join(db.session.execute(text("SELECT text FROM concern")).scalars())
        assert "CONCERNSENTINEL" not in raw
    # The other agency's admin and case manager read it; the chair sees its outline only.
    admin = as_(app, scene, "legal_admin")
    assert CONCERN in admin.get(concern_url).get_data(as_text=True)
    assert "Open concerns waiting for you" in admin.get("/").get_data(as_text=True)
    assert CONCERN in as_(app, scene, "legal").get(concern_url).get_data(as_text=True)
    chair_page = as_(app, scene, "chair").get(concern_url).get_data(as_text=True)
    assert "Dispute" in chair_page and "CONCERNSENTINEL" not in chair_page
    assert "Dispute about referral" in as_(app, scene, "chair").get("/cases/concerns/").get_data(as_text=True)
    for who in ("officer", "outsider", "staff", "interpreter"):
        assert as_(app, scene, who).get(concern_url).status_code == 404, who
    # Resolved with a note by the other agency's admin: off the dashboards.
    empty = admin.post(f"{concern_url}/resolve", data={"note": ""}, page=concern_url)
    assert empty.status_code == 422 and "Say how it was resolved." in empty.get_data(as_text=True)
    done = admin.post(f"{concern_url}/resolve", data={"note": "A new interpreter is booked."}, page=concern_url)
    assert done.status_code == 303
    assert "Open concerns waiting for you" not in admin.get("/").get_data(as_text=True)
    assert "A new interpreter is booked." in cm.get(concern_url).get_data(as_text=True)
    assert "A new interpreter is booked." not in as_(app, scene, "chair").get(concern_url).get_data(as_text=True)


def test_appointment_input_errors_keep_what_was_typed(app, scene):
    cm = as_(app, scene, "cm")
    url = f"/cases/{scene['case']}/appointments/new"
    answer = cm.post(url, data={"kind": "court", "day": "", "start": "10:00", "duration_minutes": "0",
                                "place": "KEPTPLACE"}, page=url)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Enter the date." in page and "Between 5 and 720 minutes." in page and "KEPTPLACE" in page
    tomorrow = local(utcnow() + timedelta(days=1), scene["zone"])
    foreign = cm.post(url, data={"kind": "court", **tomorrow, "duration_minutes": "60",
                                 "provider_agency_id": str(scene["counsel"].agency_id)}, page=url)
    assert foreign.status_code == 422  # not a provider of this case
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Appointment)) == 0


def test_the_demo_case_is_coordinated_and_its_feed_carries_none_of_its_identifying_values(app, monkeypatch,
                                                                                          tmp_path):
    """The demo: a court date partly supported (the interpreter referral accepted by the pro bono interpreter), a
    clash, a message thread, an open concern — and the case manager's feed, read by an iCalendar parser, holds no
    identifying value of the case."""
    import csrn.demo
    from csrn.auth import tokens
    from csrn.cases.models import CaseEvent, CaseFile, CaseNeed, Message, PlanStep
    from csrn.intake.models import Intake

    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    with app.app_context():
        csrn.demo.seed(password="demo password for tests", force=True, now=utcnow())
        holder = db.session.scalar(User.by_email("casemanager@demo.example"))
        case = next(line.case for line in ops.my_open_cases(holder) if ops.case_file(line.case) is not None)
        appointments = coordination.appointments_of(case)
        court = next(a for a in appointments if a.kind == "court")
        states = {s.item: coordination.support_status(s, court, appointments) for s in coordination.supports_of(court)}
        assert states == {"accompaniment": "done", "interpreter": "done", "counselling": "open"}
        interpreter = db.session.scalar(User.by_email("interpreter@demo.example"))
        item = next(s for s in coordination.supports_of(court) if s.item == "interpreter")
        assert item.onward.accepted_agency_id == interpreter.agency_id
        assert court.id in coordination.conflicts(appointments)
        legal = next(r for r in ops.onward_referrals(case) if r.service_type.code == "immigration_legal")
        assert len(coordination.messages_of(legal)) == 2
        assert [c.resolved_at for c in coordination.concerns_on(legal)] == [None]
        # Every identifying value of the case: the intake's, and everything the case and its coordination hold.
        intake = db.session.get(Intake, case.intake_id)
        values = [intake.alias, intake.contact_phone, intake.safe_channel, intake.narrative,
                  ops.case_file(case).goals]
        values += [a.place for a in appointments]
        values += [n.notes for n in db.session.scalars(select(CaseNeed).where(CaseNeed.referral_id == case.id))]
        values += [s.note for s in db.session.scalars(select(PlanStep).where(PlanStep.referral_id == case.id))]
        values += [e.text for e in db.session.scalars(select(CaseEvent).where(CaseEvent.referral_id == case.id))]
        values += [m.body for m in db.session.scalars(select(Message))]
        values += [c.text for c in db.session.scalars(select(Concern))]
        values = [v for v in values if v]
        assert len(values) >= 10 and db.session.scalar(select(CaseFile).where(CaseFile.referral_id == case.id))
        raw = tokens.issue_access("appointments-mine", holder, utcnow())
        db.session.commit()
    feed = app.test_client().get(f"/cases/feed/{raw}.ics")
    assert feed.status_code == 200
    events = list(Calendar.from_ical(feed.data).walk("VEVENT"))
    assert {str(e["SUMMARY"]).split(" appointment")[0] for e in events} == {"Court", "Legal", "Medical"}
    body = feed.get_data(as_text=True).replace("\r\n ", "")  # unfolded
    for value in values:
        for fragment in [value] + [word for word in value.split() if len(word) >= 6]:
            assert fragment not in body, fragment


def test_review_findings_on_who_reads_concerns_messages_and_places(app, scene):
    """Each would let identifying text reach someone DESIGN §5 keeps it from."""
    cm = as_(app, scene, "cm")
    case_page = f"/cases/referrals/{scene['case']}"
    # A concern on the case-management referral: the officer (its maker) reads it; a colleague of the officer
    # (another user of the sending agency) does not.
    raised = cm.post(f"{case_page}/concerns", data={"kind": "question", "text": CONCERN}, page=case_page)
    concern_url = raised.headers["Location"]
    assert CONCERN in as_(app, scene, "officer").get(concern_url).get_data(as_text=True)
    with app.app_context():
        officer = db.session.scalar(User.by_email(scene["emails"]["officer"]))
        colleague = new_user(officer.agency_id, ("staff",))
        colleague_email = colleague.email
        db.session.commit()
    colleague_browser = Browser(app.test_client())
    colleague_browser.login(colleague_email)
    assert colleague_browser.get(concern_url).status_code == 404
    # Before acceptance, a concern from the sending side goes to the chairs alone, not to the agency it is
    # offered to (which may decline); a provider whose offer was declined has no coordination page.
    with app.app_context():
        case = db.session.get(Referral, scene["case"])
        holder = db.session.scalar(User.by_email(scene["emails"]["cm"]))
        chosen = db.session.get(type(case.service_type), scene["types"]["mental_health"])
        pending = ops.send_onward(holder, case, chosen, scene["counsel"].agency_id, [], "routine", utcnow())
        concern = coordination.raise_concern(holder, pending, "request", CONCERN, utcnow())
        assert concern.to_agency_id is None
        pending_id, concern_id = pending.id, concern.id
    counsel = as_(app, scene, "counsel")
    assert counsel.get(f"/cases/concerns/{concern_id}").status_code == 404
    assert counsel.get(f"/cases/referrals/{pending_id}").status_code == 200  # offered: it may ask
    with app.app_context():
        referral_ops.decline(db.session.scalar(User.by_email(scene["emails"]["counsel"])),
                             db.session.get(Referral, pending_id), "no_capacity", "", utcnow())
    assert counsel.get(f"/cases/referrals/{pending_id}").status_code == 404
    # Places reach an onward receiver only when consent shares the person's contact details with it.
    with app.app_context():
        onward = db.session.get(Referral, scene["onward"])
        legal = db.session.scalar(User.by_email(scene["emails"]["legal"]))
        assert coordination.shares_place(onward, legal, utcnow())
        record = db.session.scalar(select(Consent).where(Consent.intake_id == onward.intake_id))
        record.categories_json = '["health"]'
        db.session.commit()
        assert not coordination.shares_place(db.session.get(Referral, scene["onward"]), legal, utcnow())
        # ... and messages cross only while consent covers the receiver: revoked, the thread is hidden.
        assert coordination.consent_allows_messages(db.session.get(Referral, scene["onward"]), utcnow())
        record.revoked_at = utcnow()
        db.session.commit()
    page = as_(app, scene, "legal").get(f"/cases/referrals/{scene['onward']}").get_data(as_text=True)
    assert "no messages about them cross agencies" in page
    refused = cm.post(f"/cases/referrals/{scene['onward']}/messages", data={"body": "x"},
                      page=f"/cases/referrals/{scene['onward']}")
    assert refused.status_code == 422


def test_a_closed_case_keeps_its_appointments_and_a_checklist_item_follows_only_its_own_service(app, scene):
    cm = as_(app, scene, "cm")
    court = add_appointment(cm, scene, "court", utcnow().replace(second=0, microsecond=0) + timedelta(days=2))
    with app.app_context():
        appointment = db.session.get(Appointment, court)
        interpreter_item = next(s for s in coordination.supports_of(appointment) if s.item == "interpreter")
        item_id = interpreter_item.id
    # A counselling referral sent with the interpreter item's id does not close the interpreter item.
    cm.post(f"/cases/{scene['case']}/onward", data={"service_type_id": str(scene["types"]["mental_health"]),
                                                    "urgency": "routine", "support_id": str(item_id),
                                                    "receiver": str(scene["counsel"].agency_id)},
            page=f"/cases/{scene['case']}")
    with app.app_context():
        assert db.session.get(type(interpreter_item), item_id).onward_id is None
        referral_ops.close(db.session.scalar(User.by_email(scene["emails"]["cm"])),
                           db.session.get(Referral, scene["case"]), "engaged", utcnow())
    delete_url = f"/cases/{scene['case']}/appointments/{court}/delete"
    assert cm.post(delete_url, page=f"/cases/{scene['case']}").status_code == 303
    with app.app_context():
        assert db.session.get(Appointment, court) is not None

"""Referral pages: what each viewer sees (DESIGN §5; SECURITY P1, P2, P3, L1), the actions and who may take them
(AC4), overdue offers before the pass, the inbox and the queue, and a 404 sweep for uninvolved agencies (AC1).

The views read the wall clock, so everything here is made at `utcnow()`.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from csrn.agencies.operations import local_date
from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.notify.models import Notification
from csrn.referrals import consent as consent_ops
from csrn.referrals import operations as ops
from csrn.referrals.models import Referral
from tests.conftest import Browser
from tests.referral_factories import (
    ALIAS,
    CODE_WORD,
    HEALTH,
    IMMIGRATION,
    NARRATIVE,
    PHONE,
    SAFE_CHANNEL,
    SENTINELS,
    consent_answers,
    events_of,
    make_chair,
    make_provider,
    make_sender,
    new_user,
    offers_of,
    send_intake,
)

REFERRAL_RULE = "/referrals/<int:referral_id>"


@pytest.fixture
def scene(app):
    """Providers A (the receiver, two case managers and a staff member), B (the backup) and C (a match never
    offered); the author and a colleague at a police department; a chair; an admin; an outsider agency."""
    with app.app_context():
        now = utcnow()
        a = make_provider("Receiver A", now=now, case_managers=2, staff=True)
        b = make_provider("Backup B", now=now)
        c = make_provider("Candidate C", now=now)
        author = make_sender()
        colleague = new_user(author.agency_id, ("staff",))
        sender_admin = new_user(author.agency_id, ("agency_admin",))
        chair = make_chair()
        admin = new_user(None, ("admin",))
        outsider = make_sender(roles=("case_manager",))
        outsider_admin = new_user(outsider.agency_id, ("agency_admin",))
        db.session.commit()
        return {
            "A": a, "B": b, "C": c,
            "emails": {
                "author": author.email, "colleague": colleague.email, "sender_admin": sender_admin.email,
                "chair": chair.email, "admin": admin.email, "outsider": outsider.email,
                "outsider_admin": outsider_admin.email, "a_cm": a.case_manager_emails[0],
                "a_cm2": a.case_manager_emails[1], "b_cm": b.case_manager_emails[0],
                "c_cm": c.case_manager_emails[0],
            },
            "ids": {"author": author.id, "chair": chair.id, "a_staff": a.staff_id},
        }


def login(app, email: str) -> Browser:
    b = Browser(app.test_client())
    b.login(email)
    return b


def as_(app, scene, who: str) -> Browser:
    return login(app, scene["emails"][who])


def send(app, scene, when=None, urgency="routine", backups=("B",), **answers) -> int:
    """The author's referral to A (backups B by default), sent at `when` (now)."""
    with app.app_context():
        author = db.session.get(User, scene["ids"]["author"])
        referral = send_intake(author, when or utcnow(), receiver=scene["A"].agency_id,
                               backups=[scene[name].agency_id for name in backups], urgency=urgency,
                               **answers)
        return referral.id


def act(app, fn, email: str, referral_id: int, *args):
    """Run an operation as the user with this e-mail, now."""
    with app.app_context():
        actor = db.session.scalar(User.by_email(email))
        return fn(actor, db.session.get(Referral, referral_id), *args, utcnow())


def decline_all(app, referral_id: int) -> None:
    """Every candidate in turn declines, until the referral is in the committee queue."""
    with app.app_context():
        while True:
            referral = db.session.get(Referral, referral_id)
            offer = referral.pending_offer
            if offer is None:
                return
            manager = next(u for u in db.session.scalars(select(User).where(User.agency_id == offer.agency_id))
                           if u.has_role("case_manager"))
            ops.decline(manager, referral, "no_capacity", "", utcnow())
            db.session.expire_all()


def page(b: Browser, referral_id: int) -> str:
    response = b.get(f"/referrals/{referral_id}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def shown(html: str) -> set[str]:
    return {s for s in SENTINELS if s in html}


def visible(b: Browser, referral_id: int) -> set[str]:
    """Every sentinel the viewer can reach: the referral page and, when it may be opened, the contact page."""
    html = page(b, referral_id)
    contact = b.get(f"/referrals/{referral_id}/contact")
    assert contact.status_code in (200, 404)
    return shown(html + (contact.get_data(as_text=True) if contact.status_code == 200 else ""))


def state(app, referral_id: int) -> str:
    with app.app_context():
        return db.session.get(Referral, referral_id).state


def follow(b: Browser, response) -> str:
    assert response.status_code == 303, response.status_code
    return b.get(response.headers["Location"]).get_data(as_text=True)


# ----- P2 and P3: what the receiver sees before and after accepting -------------------------------------

def test_without_consent_the_receiver_never_sees_identifying_information(app, scene):
    """P2: the referral routes; the receiver sees the summary only, before and after acceptance."""
    rid = send(app, scene, consent="no", alias=ALIAS, contact_phone=PHONE, narrative=NARRATIVE)
    receiver = as_(app, scene, "a_cm")
    before = page(receiver, rid)
    assert "Female" in before and "Case management" in before and visible(receiver, rid) == set()
    assert "Accepted." in follow(receiver, receiver.post(f"/referrals/{rid}/accept", {}, page=f"/referrals/{rid}"))
    assert visible(receiver, rid) == set()
    assert "No identifying information is shared with you" in page(receiver, rid)
    assert receiver.get(f"/referrals/{rid}/contact").status_code == 404
    assert {ALIAS, PHONE, NARRATIVE} <= visible(as_(app, scene, "author"), rid)  # the author sees all


def test_with_consent_identity_and_contact_unlock_after_acceptance_only(app, scene):
    """P3: pending, nothing; accepted, the alias, phone and safe-contact plan (above the phone), not the
    narrative, immigration or health; each view audited with category names, never values."""
    rid = send(app, scene, **consent_answers(with_=("receiver",), categories=("identity", "contact")))
    receiver = as_(app, scene, "a_cm")
    assert visible(receiver, rid) == set()
    assert receiver.get(f"/referrals/{rid}/contact").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action.like("referral.%"),
                                                          AuditEvent.action != "referral.accepted",
                                                          AuditEvent.actor_email == scene["emails"]["a_cm"])) is None
    receiver.post(f"/referrals/{rid}/accept", {}, page=f"/referrals/{rid}")
    after = page(receiver, rid)
    assert shown(after) == {ALIAS, CODE_WORD, SAFE_CHANNEL}  # the phone stays folded until opened
    contact = receiver.get(f"/referrals/{rid}/contact").get_data(as_text=True)
    assert PHONE in contact and NARRATIVE not in contact
    assert contact.index(SAFE_CHANNEL) < contact.index(PHONE)  # the safe-contact plan stands above the phone
    assert visible(receiver, rid) == {ALIAS, PHONE, CODE_WORD, SAFE_CHANNEL}
    with app.app_context():
        viewed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.viewed_identifying",
                                                             AuditEvent.actor_email == scene["emails"]["a_cm"])).all()
        assert {(e.object_id, e.fields) for e in viewed} == {(str(rid), "contact,identity")}
        opened = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.contact_opened",
                                                             AuditEvent.actor_email == scene["emails"]["a_cm"])).all()
        assert opened and {e.fields for e in opened} == {"contact_other,contact_phone"}
        for event in db.session.scalars(select(AuditEvent)):
            row = " ".join(str(v) for v in (event.fields, event.object_id, event.action, event.actor_email))
            assert not any(s in row for s in SENTINELS)


@pytest.mark.parametrize(("with_", "who_accepts", "sees"), [
    (("receiver",), "B", False),
    (("receiver", "backups"), "B", True),
    (("receiver", "backups"), "C", False),  # a later match is not a backup the sender chose
])
def test_a_backup_sees_identifying_information_only_if_the_consent_covers_backups(app, scene, with_, who_accepts,
                                                                                   sees):
    """A declines; the backup (or, after B declines too, the next match) accepts."""
    rid = send(app, scene, **consent_answers(with_=with_))
    act(app, ops.decline, scene["emails"]["a_cm"], rid, "no_capacity", "")
    if who_accepts == "C":
        act(app, ops.decline, scene["emails"]["b_cm"], rid, "no_capacity", "")
    accepter = as_(app, scene, f"{who_accepts.lower()}_cm")
    assert visible(accepter, rid) == set()
    assert "Accepted." in follow(accepter, accepter.post(f"/referrals/{rid}/accept", {}, page=f"/referrals/{rid}"))
    assert visible(accepter, rid) == ({ALIAS, PHONE, CODE_WORD, SAFE_CHANNEL} if sees else set())
    former = as_(app, scene, "a_cm")  # A's declined offer: its own record only
    html = page(former, rid)
    assert "Your agency's offer" in html and "Timeline" not in html and visible(former, rid) == set()


def test_revocation_masks_the_alias_at_once(app, scene):
    """P1: the sender records the revocation; the receiver's next page shows the alias masked. The receiver
    itself may not revoke (404)."""
    rid = send(app, scene, **consent_answers(with_=("receiver",)))
    act(app, ops.accept, scene["emails"]["a_cm"], rid)
    receiver = as_(app, scene, "a_cm")
    assert visible(receiver, rid) == {ALIAS, PHONE, CODE_WORD, SAFE_CHANNEL}
    assert receiver.post(f"/referrals/{rid}/consent/revoke", {}, page=f"/referrals/{rid}").status_code == 404
    assert ALIAS in page(receiver, rid)
    author = as_(app, scene, "author")
    assert author.get(f"/referrals/{rid}/consent/revoke").status_code == 200
    assert ALIAS in page(receiver, rid)  # the GET asks, it does not revoke
    assert "Consent revoked" in follow(author, author.post(f"/referrals/{rid}/consent/revoke", {}))
    assert "revoked or has expired" in page(receiver, rid)
    assert visible(receiver, rid) == set()
    assert receiver.get(f"/referrals/{rid}/contact").status_code == 404
    assert ALIAS in page(author, rid)  # the author still sees what they wrote


def test_expired_consent_masks_the_alias(app, scene):
    """P1: the day after the expiry date, nothing identifying is shown to the receiver."""
    with app.app_context():
        today = local_date(utcnow())
    rid = send(app, scene, **consent_answers(with_=("receiver",), expires=today.isoformat()))
    act(app, ops.accept, scene["emails"]["a_cm"], rid)
    receiver = as_(app, scene, "a_cm")
    assert ALIAS in page(receiver, rid)  # valid through its expiry day
    with app.app_context():
        consent = consent_ops.consent_of(db.session.get(Referral, rid).intake)
        consent.expires_on = today - timedelta(days=1)
        db.session.commit()
    assert visible(receiver, rid) == set()


def test_what_the_sending_agency_and_chairs_see(app, scene):
    """The author sees everything; a colleague of the sending agency, the summary only; a chair, an escalated
    referral's summary, and identifying details only when the consent names the chairs."""
    everything = ("identity", "contact", "immigration", "health", "narrative")
    rid = send(app, scene, **consent_answers(with_=("receiver",), categories=everything))
    assert visible(as_(app, scene, "author"), rid) == set(SENTINELS)
    assert visible(as_(app, scene, "colleague"), rid) == set()
    assert as_(app, scene, "chair").get(f"/referrals/{rid}").status_code == 404  # not escalated: not the chairs'
    act(app, ops.decline, scene["emails"]["a_cm"], rid, "safety", "")
    assert visible(as_(app, scene, "chair"), rid) == set()
    named = send(app, scene, **consent_answers(with_=("chairs",), categories=everything))
    act(app, ops.decline, scene["emails"]["a_cm"], named, "safety", "")
    assert visible(as_(app, scene, "chair"), named) == {ALIAS, PHONE, CODE_WORD, SAFE_CHANNEL, NARRATIVE,
                                                              IMMIGRATION, HEALTH}


@pytest.mark.parametrize("who", ["outsider", "outsider_admin", "c_cm", "admin", "chair", "a_staff"])
def test_uninvolved_users_and_admins_get_404(app, scene, who):
    """An uninvolved agency, a match never offered, an admin, a chair (not escalated) and the offered agency's
    staff (not a case manager) get 404, before and after acceptance."""
    rid = send(app, scene, **consent_answers(with_=("receiver", "backups", "chairs")))
    if who == "a_staff":
        with app.app_context():
            b = login(app, db.session.get(User, scene["ids"]["a_staff"]).email)
    else:
        b = as_(app, scene, who)
    assert b.get(f"/referrals/{rid}").status_code == 404
    act(app, ops.accept, scene["emails"]["a_cm"], rid)
    assert b.get(f"/referrals/{rid}").status_code == 404
    assert f"/referrals/{rid}" not in b.get("/referrals/").get_data(as_text=True)


# ----- actions and who may take them (AC4) ---------------------------------------------------------------

def test_accept_once_and_the_second_is_told_someone_else_answered(app, scene):
    """The first case manager accepts; a colleague a moment later is told; one accepted event."""
    rid = send(app, scene)
    first, second = as_(app, scene, "a_cm"), as_(app, scene, "a_cm2")
    token = second.token(f"/referrals/{rid}")  # the second loaded the page before the first clicked
    assert "Accepted." in follow(first, first.post(f"/referrals/{rid}/accept", {}, page=f"/referrals/{rid}"))
    late = second.client.post(f"/referrals/{rid}/accept", data={"csrf_token": token})
    assert "Someone else answered this offer first." in follow(second, late)
    with app.app_context():
        referral = db.session.get(Referral, rid)
        assert [e.kind for e in events_of(rid)].count("accepted") == 1
        assert referral.accepted_agency_id == scene["A"].agency_id


@pytest.mark.parametrize(("who", "status"), [("author", 303), ("sender_admin", 303), ("b_cm", 404),
                                             ("outsider", 404)])
def test_only_the_offered_agency_accepts_or_declines(app, scene, who, status):
    """The sender is refused with a message; a provider not offered and an outsider get 404; nothing changes."""
    rid = send(app, scene)
    b = as_(app, scene, who)
    assert b.post(f"/referrals/{rid}/accept", {}, page="/").status_code == status
    assert b.post(f"/referrals/{rid}/decline", {"reason": "no_capacity"}, page="/").status_code == status
    with app.app_context():
        assert [(o.agency_id, o.state) for o in offers_of(rid)] == [(scene["A"].agency_id, "pending")]
    assert state(app, rid) == "offered"


def test_decline_with_a_reason_offers_the_next_at_once_and_tells_chairs_and_sender(app, scene):
    """No reason: 422. With a reason: back to the inbox, B offered, chairs and the sender notified."""
    rid = send(app, scene)
    receiver = as_(app, scene, "a_cm")
    assert receiver.get(f"/referrals/{rid}/decline").status_code == 200
    missing = receiver.post(f"/referrals/{rid}/decline", {"reason": "", "text": "Full"})
    assert missing.status_code == 422 and "Choose a reason." in missing.get_data(as_text=True)
    done = receiver.post(f"/referrals/{rid}/decline", {"reason": "no_capacity", "text": "Full this week."})
    assert done.status_code == 303 and done.headers["Location"].endswith("/referrals/inbox")
    with app.app_context():
        assert [(o.agency_id, o.state) for o in offers_of(rid)] == [(scene["A"].agency_id, "declined"),
                                                                   (scene["B"].agency_id, "pending")]
        for user_id in (scene["ids"]["chair"], scene["ids"]["author"]):
            texts = db.session.scalars(select(Notification.text).where(Notification.user_id == user_id)).all()
            assert any(f"Referral #{rid} escalated" in t for t in texts)
    assert f"/referrals/{rid}" in as_(app, scene, "b_cm").get("/referrals/inbox").get_data(as_text=True)


@pytest.mark.parametrize("who", ["a_cm", "b_cm"])
def test_only_the_sender_withdraws(app, scene, who):
    """The receiver is refused (its page says so); another provider gets 404; the author withdraws."""
    rid = send(app, scene)
    b = as_(app, scene, who)
    response = b.post(f"/referrals/{rid}/withdraw", {}, page="/")
    if who == "a_cm":
        assert "Only the sending agency may withdraw" in follow(b, response)
    else:
        assert response.status_code == 404
    assert state(app, rid) == "offered"
    author = as_(app, scene, "author")
    assert author.get(f"/referrals/{rid}/withdraw").status_code == 200 and state(app, rid) == "offered"
    assert "Referral withdrawn." in follow(author, author.post(f"/referrals/{rid}/withdraw", {}))
    assert state(app, rid) == "withdrawn"


def test_only_the_accepting_agency_closes_with_an_outcome(app, scene):
    """The sender's close is refused (422); the receiver's without an outcome too; with one, closed."""
    rid = send(app, scene)
    act(app, ops.accept, scene["emails"]["a_cm"], rid)
    author = as_(app, scene, "author")
    refused = author.post(f"/referrals/{rid}/close", {"outcome": "engaged"}, page="/")
    assert refused.status_code == 422 and "Only the accepting agency" in refused.get_data(as_text=True)
    receiver = as_(app, scene, "a_cm")
    assert receiver.post(f"/referrals/{rid}/close", {"outcome": ""}).status_code == 422
    assert state(app, rid) == "accepted"
    assert "Referral closed." in follow(receiver, receiver.post(f"/referrals/{rid}/close", {"outcome": "engaged"}))
    with app.app_context():
        assert db.session.get(Referral, rid).outcome == "engaged"


# ----- overdue offers, the inbox and the queue -----------------------------------------------------------

def test_pages_show_an_overdue_offer_before_the_pass(app, scene):
    """An emergency offered 31 minutes ago, no pass yet: still pending, and shown as overdue everywhere."""
    rid = send(app, scene, when=utcnow() - timedelta(minutes=31), urgency="emergency")
    assert "overdue since" in page(as_(app, scene, "author"), rid)
    assert "overdue since" in as_(app, scene, "author").get("/referrals/").get_data(as_text=True)
    assert re.search(r"Overdue since \w{3} \d\d:\d\d \w+ — escalating",
                     as_(app, scene, "a_cm").get("/referrals/inbox").get_data(as_text=True))
    with app.app_context():
        assert offers_of(rid)[0].state == "pending"
    fresh = send(app, scene, urgency="emergency")
    assert "answer due by" in page(as_(app, scene, "author"), fresh)


def test_the_inbox_shows_time_left_and_polls_in_the_background(app, scene):
    """Pending offers to my agency with time left; the fragment polls every 20 s marked as background."""
    rid = send(app, scene, urgency="urgent")
    receiver = as_(app, scene, "a_cm")
    html = receiver.get("/referrals/inbox").get_data(as_text=True)
    assert f'href="/referrals/{rid}"' in html
    assert re.search(r"\b3 h (59|58) min\b", html)
    polling = re.search(r'<div id="inbox"[^>]*>', html).group(0)
    assert 'hx-trigger="every 20s"' in polling
    assert "hx-headers='{\"X-CSRN-Background\": \"1\"}'" in polling
    fragment = receiver.get("/referrals/inbox", headers={"HX-Request": "true", "X-CSRN-Background": "1"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and f'href="/referrals/{rid}"' in body
    assert f'href="/referrals/{rid}"' not in as_(app, scene, "b_cm").get("/referrals/inbox").get_data(as_text=True)
    assert as_(app, scene, "colleague").get("/referrals/inbox").status_code == 403


@pytest.mark.parametrize("who", ["a_cm", "author", "sender_admin", "admin"])
def test_the_committee_queue_is_for_chairs_only(app, scene, who):
    """Chairs see the unassigned referral as a summary; everyone else gets 403."""
    rid = send(app, scene, backups=(), **consent_answers(with_=("receiver",)))
    decline_all(app, rid)
    assert state(app, rid) == "unassigned"
    queue = as_(app, scene, "chair").get("/referrals/queue")
    assert queue.status_code == 200
    html = queue.get_data(as_text=True)
    assert f'href="/referrals/{rid}"' in html and shown(html) == set()
    assert as_(app, scene, who).get("/referrals/queue").status_code == 403


def test_the_committee_queue_comes_a_page_at_a_time(app, scene, monkeypatch):
    """Two to a page here: the first page holds the two first in the queue and a link on; the second the third."""
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    queued = []
    for urgency in ("emergency", "urgent", "routine"):
        rid = send(app, scene, urgency=urgency)
        decline_all(app, rid)
        queued.append(rid)
    chair = as_(app, scene, "chair")
    first = chair.get("/referrals/queue").get_data(as_text=True)
    assert [f'href="/referrals/{rid}"' in first for rid in queued] == [True, True, False]
    assert 'href="/referrals/queue?page=2" rel="next"' in first and "Page 1 of 2 (3 in all)" in first
    second = chair.get("/referrals/queue?page=2").get_data(as_text=True)
    assert [f'href="/referrals/{rid}"' in second for rid in queued] == [False, False, True]
    assert 'href="/referrals/queue?page=1" rel="prev"' in second
    assert "The queue is empty." in chair.get("/referrals/queue?page=3").get_data(as_text=True)


def test_a_chair_offers_by_hand_only_to_receivable_providers(app, scene):
    """The form lists receivable providers only; an uncertified one is refused; a receivable one is offered."""
    with app.app_context():
        uncertified = make_provider("Uncertified D", now=utcnow(), certified=False)
    rid = send(app, scene, backups=())
    decline_all(app, rid)
    assert as_(app, scene, "a_cm").get(f"/referrals/{rid}/offer").status_code == 403
    chair = as_(app, scene, "chair")
    form = chair.get(f"/referrals/{rid}/offer").get_data(as_text=True)
    assert "Receiver A" in form and "Uncertified D" not in form
    assert chair.post(f"/referrals/{rid}/offer", {"agency_id": uncertified.agency_id}).status_code == 422
    assert state(app, rid) == "unassigned"
    assert chair.post(f"/referrals/{rid}/offer", {"agency_id": scene["B"].agency_id}).status_code == 303
    with app.app_context():
        assert offers_of(rid)[-1].agency_id == scene["B"].agency_id and offers_of(rid)[-1].state == "pending"
    assert state(app, rid) == "offered"


# ----- AC1: the 404 sweep -------------------------------------------------------------------------------

def referral_rules(app):
    return sorted((rule for rule in app.url_map.iter_rules() if rule.rule.startswith(REFERRAL_RULE)),
                  key=lambda rule: rule.rule)


SWEEP = [(stage, who) for stage in ("offered", "accepted", "escalated")
         for who in ("outsider", "outsider_admin", "c_cm", "admin", "chair")
         if (stage, who) != ("escalated", "chair")]  # an escalated referral is the chairs' business


@pytest.mark.parametrize(("stage", "who"), SWEEP)
def test_every_referral_url_answers_404_to_the_uninvolved(app, scene, stage, who):
    """Every /referrals/<id>… rule, by GET and POST, as an uninvolved agency's user (or an admin, or a chair
    while the referral is not escalated): 404 (the chairs' offer page may say 403 to non-chairs); nothing changes."""
    rid = send(app, scene, **consent_answers(with_=("receiver", "backups", "chairs")))
    if stage == "accepted":
        act(app, ops.accept, scene["emails"]["a_cm"], rid)
    if stage == "escalated":
        act(app, ops.decline, scene["emails"]["a_cm"], rid, "no_capacity", "")  # B, the backup, is offered
    rules = referral_rules(app)
    endpoints = {rule.endpoint for rule in rules}
    assert {"referrals.show", "referrals.sent", "referrals.accept", "referrals.decline", "referrals.withdraw",
            "referrals.offer_by_hand", "referrals.close", "referrals.revoke_consent"} <= endpoints
    b = as_(app, scene, who)
    token = b.token("/")
    with app.app_context():
        before = (db.session.get(Referral, rid).state, [(o.id, o.state) for o in offers_of(rid)])
    problems = []
    for rule in rules:
        url = rule.build({"referral_id": rid}, append_unknown=False)[1]
        for method in ("GET", "POST"):
            if method not in rule.methods:
                continue
            data = {"csrf_token": token, "reason": "no_capacity", "outcome": "engaged",
                    "agency_id": scene["C"].agency_id} if method == "POST" else None
            status = b.client.open(url, method=method, data=data).status_code
            allowed = {403, 404} if rule.endpoint == "referrals.offer_by_hand" and who != "chair" else {404}
            if status not in allowed:
                problems.append(f"{method} {url}: {status}")
    assert not problems, problems
    with app.app_context():
        assert (db.session.get(Referral, rid).state, [(o.id, o.state) for o in offers_of(rid)]) == before


def test_action_pages_send_the_wrong_side_back_to_the_referral_saying_why(app, scene):
    """Decline, withdraw and close pages are offered only to who may act: others land on the referral with a
    message instead of a form whose POST would be refused."""
    rid = send(app, scene)
    author, receiver = as_(app, scene, "author"), as_(app, scene, "a_cm")
    refused = author.get(f"/referrals/{rid}/decline")
    assert refused.status_code == 303 and refused.headers["Location"].endswith(f"/referrals/{rid}")
    assert "Only the agency this referral is offered to can decline it." in follow(author, refused)
    assert "Only the sending agency can withdraw" in follow(receiver, receiver.get(f"/referrals/{rid}/withdraw"))
    assert "Only the accepting agency can close" in follow(receiver, receiver.get(f"/referrals/{rid}/close"))
    assert receiver.get(f"/referrals/{rid}/decline").status_code == 200
    act(app, ops.accept, scene["emails"]["a_cm"], rid)
    assert receiver.get(f"/referrals/{rid}/close").status_code == 200
    assert author.get(f"/referrals/{rid}/close").status_code == 303
    assert "before it is accepted" in follow(author, author.get(f"/referrals/{rid}/withdraw"))
    assert state(app, rid) == "accepted"


# ----- a former receiver sees its own offer record only (DESIGN §5; issue 14, item 10) ------------------

def test_a_provider_whose_offer_was_declined_sees_only_its_own_offer(app, scene):
    """A declines: its list and the referral page show its own offer (declined), never the referral's state since,
    the next provider's name, the acceptance or the outcome; filtering its list by state does not find it either."""
    rid = send(app, scene)
    act(app, ops.decline, scene["emails"]["a_cm"], rid, "no_capacity", "")
    act(app, ops.accept, scene["emails"]["b_cm"], rid)
    act(app, ops.close, scene["emails"]["b_cm"], rid, "engaged")
    former = as_(app, scene, "a_cm")
    listing = former.get("/referrals/").get_data(as_text=True)
    assert f"/referrals/{rid}" in listing
    row = listing.split(f"/referrals/{rid}", 1)[1].split("</tr>", 1)[0]
    assert "Your agency's offer: declined" in row
    assert "Backup B" not in listing and "Closed" not in row and "Accepted" not in row
    html = page(former, rid)
    assert "Your agency" in html and "Declined" in html
    for leak in ("Backup B", "Closed", "Services engaged", "Accepted", "Offered to"):
        assert leak not in html, leak
    for state_ in ("closed", "accepted", "offered"):
        filtered = former.get(f"/referrals/?state={state_}").get_data(as_text=True)
        assert f"/referrals/{rid}" not in filtered, state_
    # The sender and the new receiver still see the state and the receiver's name.
    assert "Backup B" in page(as_(app, scene, "author"), rid)
    assert "Closed" in page(as_(app, scene, "b_cm"), rid)


def test_a_provider_whose_offer_expired_sees_only_its_own_offer(app, scene):
    """A lets the offer expire: the escalation pass offers B; A's list and page name neither B nor the state."""
    rid = send(app, scene, urgency="emergency")
    with app.app_context():
        ops.escalation_pass(utcnow() + timedelta(hours=2))
        assert [o.state for o in offers_of(rid)] == ["expired", "pending"]
    former = as_(app, scene, "a_cm")
    listing = former.get("/referrals/").get_data(as_text=True)
    row = listing.split(f"/referrals/{rid}", 1)[1].split("</tr>", 1)[0]
    assert "Your agency's offer: expired" in row and "Backup B" not in listing and "Offered" not in row
    html = page(former, rid)
    assert "Backup B" not in html and "Offered to" not in html and "Expired" in html
    assert f"/referrals/{rid}" not in former.get("/referrals/?state=offered").get_data(as_text=True)


def test_the_chairs_dashboard_leads_with_what_waits_for_the_committee(app, scene):
    """The urgent made loud: unassigned and escalated referrals head a chair's dashboard, most urgent first, in a
    warning style, each with how long it has waited; nobody else sees the panel."""
    routine = send(app, scene, when=utcnow() - timedelta(hours=3))
    emergency = send(app, scene, when=utcnow() - timedelta(minutes=50), urgency="emergency")
    decline_all(app, routine)
    decline_all(app, emergency)
    page = as_(app, scene, "chair").get("/").get_data(as_text=True)
    panel = page.split('class="urgent-queue banner banner-danger"', 1)[1].split("</section>", 1)[0]
    assert "Waiting for the committee: 2 referrals" in panel
    assert panel.index(f"#{emergency}") < panel.index(f"#{routine}")  # emergencies first
    assert re.search(rf"#{emergency} · Case management</a> —\s*<strong>unassigned</strong>, nobody has it;\s*"
                     r"waiting \d+ min", panel)
    assert "urgent-queue" not in as_(app, scene, "a_cm").get("/").get_data(as_text=True)

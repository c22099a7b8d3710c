"""The intake through the test client: six steps validated on the server, drafts, the emergency fast path, the
preview, who may start one and see a draft (AC1), extra fields ignored (AC3), double sends (R4), failures (R5).

The views read the wall clock, so the providers here are made for `utcnow()`.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from csrn.agencies.models import Agency
from csrn.audit.models import AuditEvent
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.intake.models import Intake, IntakeDraft
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Consent, Referral
from tests.directory_factories import set_settings
from tests.referral_factories import (
    ALIAS,
    NARRATIVE,
    PHONE,
    counts,
    make_provider,
    new_agency,
    offers_of,
)

STEP1 = {"urgency": "routine", "county": "Cedar"}
STEP2 = {"alias": ALIAS, "age_group": "25_plus", "gender": "female", "citizenship": "foreign",
         "trafficking_type": "labour", "languages": ["es"]}
STEP3 = {"needs": ["case_management", "dental"]}
STEP5 = {"consent": "yes", "consent_how": "verbal", "consent_with": ["receiver"],
         "consent_categories": ["identity", "contact"], "consent_date": "2026-11-01", "contact_phone": PHONE,
         "narrative": NARRATIVE, "safe_channel": "Through the clinic only"}
DRAFT_URL = re.compile(r"/intake/(\d+)/(\d+)$")


@pytest.fixture
def providers(app):
    """Two receivable case-management providers: Best (Spanish, open slots) ranks above Second."""
    set_settings(app, counties=["Alder", "Cedar"])
    with app.app_context():
        now = utcnow()
        second = make_provider("Second Provider", now=now, open_slots=0)
        best = make_provider("Best Provider", now=now, open_slots=4, facets={"language": ["es"]},
                             phone="+1 555 010 7000")
        return best, second


@pytest.fixture
def sender(app, login_as, create_agency):
    """A police officer, logged in."""
    agency_id = create_agency(name="Riverton Police", agency_type="law_enforcement")
    return login_as(roles=("staff",), agency_id=agency_id)


def start(b, step1=None) -> int:
    """Post step 1 and return the new draft's id."""
    response = b.post("/intake/new", step1 or STEP1)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    found = DRAFT_URL.search(response.headers["Location"])
    assert found and found.group(2) == "2"
    return int(found.group(1))


def post_step(b, draft_id: int, number: int, data: dict, expect: int = 303):
    response = b.post(f"/intake/{draft_id}/{number}", data)
    assert response.status_code == expect, response.get_data(as_text=True)[:3000]
    return response


def walk(b, providers, through: int = 5, step1=None, step5=None) -> int:
    """Fill the steps up to `through` (the top match chosen); return the draft id."""
    draft_id = start(b, step1)
    post_step(b, draft_id, 2, STEP2)
    if through >= 3:
        post_step(b, draft_id, 3, STEP3)
    if through >= 4:
        post_step(b, draft_id, 4, {"receiver": providers[0].agency_id, "backups": [providers[1].agency_id]})
    if through >= 5:
        post_step(b, draft_id, 5, step5 or STEP5)
    return draft_id


def answers(app, draft_id: int) -> dict:
    with app.app_context():
        return db.session.get(IntakeDraft, draft_id).answers


def send(b, app, draft_id: int, **extra):
    with app.app_context():
        key = db.session.get(IntakeDraft, draft_id).submission_key
    return b.post(f"/intake/{draft_id}/send", {"submission_key": key, **extra}, page="/intake/drafts")


def referral_id_from(response) -> int:
    found = re.search(r"/referrals/(\d+)/sent$", response.headers["Location"])
    assert found, response.headers.get("Location")
    return int(found.group(1))


# ----- each step validates on the server and keeps the answers -------------------------------------

def test_step_one_without_urgency_answers_422_and_keeps_the_county(app, providers, sender):
    """No urgency: 422, the error shown, the county still chosen, no draft created."""
    with app.app_context():
        before = counts()
    response = sender.post("/intake/new", {"county": "Cedar"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose how urgent it is." in html
    assert re.search(r'<option[^>]*selected[^>]*value="Cedar"|<option[^>]*value="Cedar"[^>]*selected', html)
    with app.app_context():
        assert counts() == before


@pytest.mark.parametrize(("number", "data", "message", "kept"), [
    (2, {**STEP2, "alias": "A" * 81}, "Field cannot be longer than 80 characters", "labour"),
    (2, {**STEP2, "age_group": "ancient"}, "Not a valid choice", ALIAS),
    (5, {"consent": "yes", "narrative": NARRATIVE}, "Say how consent was given.", NARRATIVE),
    (5, {"narrative": NARRATIVE}, "Say whether the person agreed.", NARRATIVE),
    (5, {**STEP5, "consent_categories": []}, "Choose which information may be shared.", PHONE),
    (5, {**STEP5, "consent_expires": "2026-10-01"}, "on or after the date consent was given", NARRATIVE),
])
def test_later_steps_validate_on_the_server(app, providers, sender, number, data, message, kept):
    """An invalid step answers 422 with the message and the answers kept; the draft is not changed."""
    draft_id = walk(sender, providers, through=number - 1)
    saved = answers(app, draft_id)
    response = post_step(sender, draft_id, number, data, expect=422)
    html = response.get_data(as_text=True)
    assert message in html
    if kept:
        assert kept in html
    assert answers(app, draft_id) == saved


def test_gets_change_no_rows(app, providers, sender):
    """Every intake page requested with GET leaves every business table as it was, the draft untouched."""
    draft_id = walk(sender, providers, through=5)
    with app.app_context():
        before = counts()
        touched = db.session.get(IntakeDraft, draft_id).updated_at
    pages = ["/intake/new", "/intake/drafts", f"/intake/{draft_id}/unmet?needs=dental",
             f"/intake/{draft_id}/discard"] + [f"/intake/{draft_id}/{n}" for n in range(1, 7)]
    for page in pages:
        assert sender.get(page).status_code == 200, page
    with app.app_context():
        assert counts() == before
        assert db.session.get(IntakeDraft, draft_id).updated_at == touched


def test_the_draft_is_saved_between_steps_and_resumes_after_a_new_login(app, providers, sender, browser):
    """Each step is saved; a closed tab (a new client, logged in again) finds the draft and its answers."""
    draft_id = walk(sender, providers, through=2)
    saved = answers(app, draft_id)
    assert saved["urgency"] == "routine" and saved["county"] == "Cedar"
    assert saved["alias"] == ALIAS and saved["languages"] == ["es"] and saved["trafficking_type"] == "labour"
    with app.app_context():
        assert db.session.get(IntakeDraft, draft_id).step == 2

    browser.login(sender.user.email)  # another tab, another session
    listing = browser.get("/intake/drafts").get_data(as_text=True)
    assert f'href="/intake/{draft_id}/3"' in listing
    step2 = browser.get(f"/intake/{draft_id}/2").get_data(as_text=True)
    assert f'value="{ALIAS}"' in step2
    assert re.search(r'value="labour"[^>]*checked|checked[^>]*value="labour"', step2)


def test_the_top_match_is_preselected_with_reasons(app, providers, sender):
    """Step 4 lists the matches best first, the best one checked, each with why and what it misses."""
    best, second = providers
    draft_id = walk(sender, providers, through=3)
    html = sender.get(f"/intake/{draft_id}/4").get_data(as_text=True)
    assert html.index("Best Provider") < html.index("Second Provider")
    checked = re.findall(r'<input type="radio"[^>]*name="receiver" value="(\d+)" checked', html)
    assert checked == [str(best.agency_id)]
    assert "speaks the person&#39;s language" in html and "4 open slots" in html
    assert "Does not meet: no open slots" in html
    assert "Dental care" in html  # no dentist: an unmet need, said before sending


def test_choosing_another_receiver_and_backups(app, providers, sender):
    """The user may choose the second match and order backups; the first offer goes to the choice."""
    best, second = providers
    draft_id = walk(sender, providers, through=3)
    post_step(sender, draft_id, 4, {"receiver": second.agency_id, "backups": [best.agency_id]})
    post_step(sender, draft_id, 5, {"consent": "no"})
    referral_id = referral_id_from(send(sender, app, draft_id))
    with app.app_context():
        assert db.session.get(Referral, referral_id).candidates == [second.agency_id, best.agency_id]
        assert offers_of(referral_id)[0].agency_id == second.agency_id


def test_a_receiver_that_is_not_a_match_is_refused(app, providers, sender):
    """The receiver must be one of the matches (an uncertified agency's id is not a valid choice)."""
    with app.app_context():
        outsider = make_provider("Uncertified", now=utcnow(), certified=False)
    draft_id = walk(sender, providers, through=3)
    response = post_step(sender, draft_id, 4, {"receiver": outsider.agency_id}, expect=422)
    assert "Not a valid choice" in response.get_data(as_text=True)


# ----- the emergency fast path and the preview ------------------------------------------------------

def test_emergency_fast_path_sends_from_step_four_without_consent(app, providers, sender):
    """Urgency, county, the person, needs and the match: sent from step 4, no consent, who to phone shown."""
    best, _ = providers
    draft_id = walk(sender, providers, through=3, step1={"urgency": "emergency", "county": "Cedar"})
    page = sender.get(f"/intake/{draft_id}/4").get_data(as_text=True)
    assert "Send now (emergency)" in page
    with app.app_context():
        key = db.session.get(IntakeDraft, draft_id).submission_key
    response = post_step(sender, draft_id, 4, {"receiver": best.agency_id, "send_now": "1", "submission_key": key})
    referral_id = referral_id_from(response)
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        assert referral.urgency == "emergency" and referral.state == "offered"
        assert referral.pending_offer.agency_id == best.agency_id
        consent = db.session.scalar(select(Consent).where(Consent.intake_id == referral.intake_id))
        assert not consent.given and consent.categories == []
        assert db.session.get(IntakeDraft, draft_id) is None
    sent = sender.get(response.headers["Location"]).get_data(as_text=True)
    assert "Phone them now" in sent and "+1 555 010 7000" in sent and "Best Provider" in sent


def test_send_now_is_only_for_emergencies(app, providers, sender):
    """A routine intake posting `send_now` at step 4 just goes on to step 5."""
    draft_id = walk(sender, providers, through=3)
    response = post_step(sender, draft_id, 4, {"receiver": providers[0].agency_id, "send_now": "1"})
    assert response.headers["Location"].endswith(f"/intake/{draft_id}/5")
    with app.app_context():
        assert db.session.scalar(select(Intake.id)) is None


def test_emergency_with_no_match_goes_to_the_committee_queue(app, sender):
    """Nobody open now: step 4 says so and still sends; the referral is unassigned and the page says so."""
    set_settings(app, counties=["Alder", "Cedar"])
    with app.app_context():
        make_provider("Daytime only", now=utcnow(), is_24_7=False)
    draft_id = walk(sender, None, through=3, step1={"urgency": "emergency", "county": "Cedar"})
    page = sender.get(f"/intake/{draft_id}/4").get_data(as_text=True)
    assert "No case manager in the network can take this referral right now" in page
    with app.app_context():
        key = db.session.get(IntakeDraft, draft_id).submission_key
    response = post_step(sender, draft_id, 4, {"send_now": "1", "submission_key": key})
    referral_id = referral_id_from(response)
    with app.app_context():
        assert db.session.get(Referral, referral_id).state == "unassigned"
    assert "committee queue" in sender.get(response.headers["Location"]).get_data(as_text=True)


def _section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.index("</section>", start)
    return html[start:end]


def test_preview_shows_the_receivers_view_before_and_after_acceptance(app, providers, sender):
    """Before accepting: the summary only. After: alias and contact (the consent's categories), no narrative."""
    draft_id = walk(sender, providers, through=5)
    html = sender.get(f"/intake/{draft_id}/6").get_data(as_text=True)
    before, after = _section(html, "before-title"), _section(html, "after-title")
    for part in (before, after):
        assert "Foreign national" in part and "Labour trafficking" in part and "Case management" in part
        assert NARRATIVE not in part
    assert ALIAS not in before and PHONE not in before and "Through the clinic only" not in before
    assert ALIAS in after and PHONE in after and "Through the clinic only" in after
    assert "Best Provider" in html


def test_preview_without_consent_hides_everything_after_acceptance_too(app, providers, sender):
    """P2 in the preview: no consent, nothing identifying on either side."""
    draft_id = walk(sender, providers, through=5, step5={"consent": "no", "contact_phone": PHONE,
                                                         "narrative": NARRATIVE})
    html = sender.get(f"/intake/{draft_id}/6").get_data(as_text=True)
    after = _section(html, "after-title")
    assert ALIAS not in after and PHONE not in after and NARRATIVE not in after


# ----- who may start an intake and see a draft --------------------------------------------------------

def test_a_suspended_agencys_user_gets_403(app, providers, login_as):
    """Starting, continuing and sending are all refused to a suspended agency's user."""
    with app.app_context():
        agency_id = new_agency("Suspended Clinic").id
        db.session.commit()
    b = login_as(roles=("staff",), agency_id=agency_id)
    draft_id = walk(b, providers, through=5)
    with app.app_context():
        db.session.get(Agency, agency_id).membership_status = "suspended"
        db.session.commit()
        before = counts()
    assert b.get("/intake/new").status_code == 403
    assert b.post("/intake/new", STEP1, page="/").status_code == 403
    assert b.get(f"/intake/{draft_id}/2").status_code == 403
    assert b.post(f"/intake/{draft_id}/2", STEP2, page="/").status_code == 403
    assert send(b, app, draft_id).status_code == 403
    with app.app_context():
        assert counts() == before


def test_drafts_are_listed_only_to_their_owner(app, providers, sender, login_as):
    """Another user, even of the same agency, sees no draft and gets 404 for each of its routes."""
    draft_id = walk(sender, providers, through=5)
    colleague = login_as(roles=("staff",), agency_id=sender.user.agency_id)
    assert f"/intake/{draft_id}/" not in colleague.get("/intake/drafts").get_data(as_text=True)
    with app.app_context():
        before = counts()
    for url in [f"/intake/{draft_id}/{n}" for n in range(1, 7)] + [f"/intake/{draft_id}/unmet",
                                                                  f"/intake/{draft_id}/discard"]:
        assert colleague.get(url).status_code == 404, url
    for number, data in ((2, STEP2), (5, STEP5)):
        assert colleague.post(f"/intake/{draft_id}/{number}", data, page="/").status_code == 404
    assert colleague.post(f"/intake/{draft_id}/discard", {}, page="/").status_code == 404
    assert send(colleague, app, draft_id).status_code == 404
    with app.app_context():
        assert counts() == before
    assert f"/intake/{draft_id}/" in sender.get("/intake/drafts").get_data(as_text=True)


def test_discarding_a_draft_needs_a_post(app, providers, sender):
    """GET asks; POST deletes."""
    draft_id = walk(sender, providers, through=2)
    assert sender.get(f"/intake/{draft_id}/discard").status_code == 200
    assert answers(app, draft_id)
    assert sender.post(f"/intake/{draft_id}/discard", {}).status_code == 303
    with app.app_context():
        assert db.session.get(IntakeDraft, draft_id) is None


# ----- AC3: only declared fields bind ------------------------------------------------------------------

def test_extra_fields_posted_change_nothing(app, providers, sender, create_agency):
    """agency_id, state, sending_agency_id, created_by_id, is_drill, and consent flags on other steps are
    ignored; the intake and referral belong to the sender and carry no consent."""
    other_agency = create_agency(name="Someone Else")
    extra = {"agency_id": other_agency, "state": "accepted", "sending_agency_id": other_agency,
             "created_by_id": 1, "is_drill": "y", "user_id": 1, "step": 6, "submission_key": "attacker-key",
             "consent": "yes", "consent_how": "written", "consent_with": ["receiver", "backups", "chairs"],
             "consent_categories": ["identity", "contact", "narrative"], "consent_agencies": [other_agency]}
    response = sender.post("/intake/new", {**STEP1, **extra})
    draft_id = int(DRAFT_URL.search(response.headers["Location"]).group(1))
    post_step(sender, draft_id, 2, {**STEP2, **extra})
    post_step(sender, draft_id, 3, {**STEP3, **extra})
    post_step(sender, draft_id, 4, {"receiver": providers[0].agency_id, **extra})
    stored = answers(app, draft_id)
    for key in ("agency_id", "state", "sending_agency_id", "created_by_id", "is_drill", "user_id", "step",
                "submission_key", "consent", "consent_with", "consent_categories", "consent_agencies"):
        assert key not in stored, key
    with app.app_context():
        draft = db.session.get(IntakeDraft, draft_id)
        assert (draft.user_id, draft.agency_id, draft.step) == (sender.user.id, sender.user.agency_id, 4)
    post_step(sender, draft_id, 5, {"consent": "no", "narrative": NARRATIVE, **{
        k: v for k, v in extra.items() if not k.startswith("consent")}})
    referral_id = referral_id_from(send(sender, app, draft_id, **{k: v for k, v in extra.items()
                                                                   if k != "submission_key"}))
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        assert (referral.sending_agency_id, referral.created_by_id, referral.state, referral.is_drill) == (
            sender.user.agency_id, sender.user.id, "offered", False)
        assert (referral.intake.agency_id, referral.intake.is_drill) == (sender.user.agency_id, False)
        consent = db.session.scalar(select(Consent).where(Consent.intake_id == referral.intake_id))
        assert not consent.given and consent.named_agencies == [] and consent.categories == []


def test_a_forged_submission_key_is_refused(app, providers, sender):
    """The send form's key must be the draft's own."""
    draft_id = walk(sender, providers, through=5)
    response = sender.post(f"/intake/{draft_id}/send", {"submission_key": "0" * 32}, page="/intake/drafts")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Intake.id)) is None


# ----- R4 and R5 ------------------------------------------------------------------------------------------

def test_the_same_send_posted_twice_creates_one_intake_and_one_referral(app, providers, sender):
    """A double click: the second POST redirects to the same referral and creates nothing."""
    draft_id = walk(sender, providers, through=5)
    with app.app_context():
        key = db.session.get(IntakeDraft, draft_id).submission_key
    token = sender.token("/intake/drafts")
    first = sender.client.post(f"/intake/{draft_id}/send", data={"submission_key": key, "csrf_token": token})
    with app.app_context():
        after_first = counts()
    second = sender.client.post(f"/intake/{draft_id}/send", data={"submission_key": key, "csrf_token": token})
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    with app.app_context():
        assert counts() == after_first
        assert after_first["intake"] == 1 and after_first["referral"] == 1 and after_first["offer"] == 1


def test_a_failure_in_the_middle_of_sending_leaves_nothing_and_keeps_the_draft(app, providers, sender,
                                                                                 monkeypatch):
    """R5 through HTTP: create_referral does its work and then fails; nothing of the send remains (intake,
    consent, referral, offer, unmet need, notification, outbox, audit) and the draft is intact."""
    draft_id = walk(sender, providers, through=5)
    with app.app_context():
        before = counts()
        audit_before = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    real = referral_ops.create_referral

    def create_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        db.session.flush()
        raise RuntimeError("connection lost")

    monkeypatch.setattr(referral_ops, "create_referral", create_then_fail)
    assert send(sender, app, draft_id).status_code == 500
    with app.app_context():
        assert counts() == before
        assert db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) == audit_before
        assert answers(app, draft_id)["alias"] == ALIAS
    monkeypatch.undo()
    assert send(sender, app, draft_id).status_code == 303  # the draft still sends afterwards


# ----- labels that say what the form does; controls that work by touch and keyboard (issue 18) ---------

def test_case_management_is_ticked_fixed_and_always_sent(app, providers, sender):
    """Step 3 shows case management ticked and disabled (a hidden field submits it), and it is saved and
    previewed even when only another need is posted, or none."""
    draft_id = walk(sender, providers, through=2)
    html = sender.get(f"/intake/{draft_id}/3").get_data(as_text=True)
    box = re.search(r'<input[^>]*value="case_management"[^>]*>', html).group(0)
    assert "checked" in box and "disabled" in box
    assert '<input type="hidden" name="needs" value="case_management">' in html
    assert "Case management is always requested" in html
    post_step(sender, draft_id, 3, {"needs": ["dental"]})
    assert answers(app, draft_id)["needs"] == ["case_management", "dental"]
    post_step(sender, draft_id, 3, {})  # nothing ticked: case management alone, as the page says
    assert answers(app, draft_id)["needs"] == ["case_management"]
    post_step(sender, draft_id, 3, {"needs": ["dental"]})
    post_step(sender, draft_id, 4, {"receiver": providers[0].agency_id})
    post_step(sender, draft_id, 5, STEP5)
    preview = sender.get(f"/intake/{draft_id}/6").get_data(as_text=True)
    for part in (_section(preview, "before-title"), _section(preview, "after-title")):
        assert re.search(r"<dt>Needs</dt><dd>Case management, Dental", part), part


def test_languages_are_checkboxes_with_the_common_ones_first(app, providers, sender):
    """Step 2's languages: checkboxes (no Ctrl/⌘ multi-select, no desktop-only hint), the common languages before
    "Other languages"; the answers are saved and kept, and a ticked other language opens its group."""
    draft_id = walk(sender, providers, through=1)
    html = sender.get(f"/intake/{draft_id}/2").get_data(as_text=True)
    assert "Hold Ctrl" not in html and "<select multiple" not in html
    assert re.search(r'<fieldset class="field language-picker" id="languages"', html)
    assert len(re.findall(r'<input[^>]*name="languages" type="checkbox"', html)) == 65
    common, other = html.split('<details class="more-choices"', 1)
    assert "Spanish" in common and "Vietnamese" in common and "Somali" not in common
    assert "Somali" in other and "Other languages (55)" in other
    post_step(sender, draft_id, 2, {**STEP2, "languages": ["es", "so"]})
    assert answers(app, draft_id)["languages"] == ["es", "so"]
    again = sender.get(f"/intake/{draft_id}/2").get_data(as_text=True)
    assert '<details class="more-choices" open>' in again and "Somali ticked" in again
    assert re.search(r'<input[^>]*checked[^>]*value="es"', again)


def test_the_step_indicator_says_step_n_of_6(app, providers, sender):
    """"Step n of 6" in words and a progress bar, a back link, the other steps behind "All steps"."""
    assert "Step 1 of 6" in sender.get("/intake/new").get_data(as_text=True)
    draft_id = walk(sender, providers, through=3)
    html = sender.get(f"/intake/{draft_id}/4").get_data(as_text=True)
    assert "Step 4 of 6" in html and '<progress value="4" max="6"' in html
    assert f'class="step-back" href="/intake/{draft_id}/3"' in html
    assert "<summary>All steps</summary>" in html and f'href="/intake/{draft_id}/1"' in html


def test_named_agencies_for_consent_are_checkboxes(app, providers, sender):
    """Step 5's named agencies: checkboxes too (behind a disclosure that opens on what is ticked), saved."""
    draft_id = walk(sender, providers, through=4)
    html = sender.get(f"/intake/{draft_id}/5").get_data(as_text=True)
    assert "<select multiple" not in html
    assert re.search(rf'<input[^>]*name="consent_agencies" type="checkbox" value="{providers[1].agency_id}"', html)
    post_step(sender, draft_id, 5, {**STEP5, "consent_agencies": [str(providers[1].agency_id)]})
    assert answers(app, draft_id)["consent_agencies"] == [providers[1].agency_id]
    again = sender.get(f"/intake/{draft_id}/5").get_data(as_text=True)
    assert '<details class="more-choices" open>' in again and "Second Provider ticked" in again

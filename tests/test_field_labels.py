"""Pages that say what they do (issue 18, item 6), where no module's own test file fits: the pending offer's one
sentence about identifying details, and a volunteer's account page without "your agency" or their name twice.

The intake's, the volunteer form's, the protocols' and the directory's labels are tested beside their views."""

from __future__ import annotations

import re

from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.referrals import operations as referral_ops
from csrn.referrals.models import Referral
from tests.referral_factories import consent_answers, make_provider, make_sender, send_intake

PENDING = ("Nothing identifying is shown until the offer is accepted; after acceptance, identity and contact "
           "details are shown only as far as the person's consent allows.")


def main_of(html: str) -> str:
    """The page's <main>, without the header (which names the user and their agency for every page)."""
    return html[html.index("<main"):html.index("</main>")]


def test_a_pending_offer_says_one_thing_about_identifying_details(app, login_as):
    """Before acceptance the receiver reads one sentence (hidden now; after acceptance, as consent allows), never
    also "No identifying information is shared with you"; after acceptance without consent, only the latter."""
    with app.app_context():
        now = utcnow()
        provider = make_provider("Pending Receiver", now=now)
        author = db.session.get(User, make_sender().id)
        referral_id = send_intake(author, now, receiver=provider.agency_id, consent="no").id
        db.session.remove()
    receiver = login_as(roles=("case_manager",), agency_id=provider.agency_id)
    before = main_of(receiver.get(f"/referrals/{referral_id}").get_data(as_text=True))
    assert before.count(PENDING) == 1
    assert "No identifying information is shared with you" not in before
    assert "unlock after acceptance" not in before
    with app.app_context():
        referral_ops.accept(db.session.get(User, receiver.user.id), db.session.get(Referral, referral_id), utcnow())
        db.session.remove()
    after = main_of(receiver.get(f"/referrals/{referral_id}").get_data(as_text=True))
    assert "No identifying information is shared with you" in after and PENDING not in after


def test_a_pending_offer_with_consent_says_the_same_sentence(app, login_as):
    """With consent covering the receiver, the pending offer still promises nothing before acceptance."""
    with app.app_context():
        now = utcnow()
        provider = make_provider("Consented Receiver", now=now)
        author = db.session.get(User, make_sender().id)
        referral_id = send_intake(author, now, receiver=provider.agency_id,
                                  **consent_answers(with_=("receiver",))).id
        db.session.remove()
    receiver = login_as(roles=("case_manager",), agency_id=provider.agency_id)
    before = main_of(receiver.get(f"/referrals/{referral_id}").get_data(as_text=True))
    assert before.count(PENDING) == 1 and "No identifying information is shared with you" not in before


def test_a_volunteers_account_names_them_once_and_never_your_agency(login_as, create_agency):
    """A pro bono volunteer's provider bears their own name: the account page shows the name once, calls the
    provider their directory listing, and speaks of no agency; a staff member's page still names the agency."""
    listing = create_agency(name="Test User")  # create_user names every user "Test User"
    volunteer = login_as(roles=("volunteer",), agency_id=listing)
    page = main_of(volunteer.get("/account/").get_data(as_text=True))
    assert page.count("Test User") == 1
    assert re.search(rf'<dt>In the directory</dt><dd><a href="/agencies/{listing}">Your pro bono listing</a>', page)
    assert "<dt>Agency</dt>" not in page and "your agency" not in page.lower()
    staff = login_as(roles=("staff",), agency_id=create_agency(name="Riverton Police"))
    staff_page = main_of(staff.get("/account/").get_data(as_text=True))
    assert "<dt>Agency</dt><dd>Riverton Police</dd>" in staff_page and "your agency's roster" in staff_page


def test_a_volunteers_dashboard_and_header_speak_to_them(app, login_as, create_agency):
    """A pro bono volunteer is their own one-person provider: no "your agency", and their name once in the header."""
    provider = create_agency(name="Pat Volunteer")
    volunteer = login_as(roles=("volunteer",), agency_id=provider)
    html = volunteer.get("/").get_data(as_text=True)
    page = main_of(html)
    assert "Your directory listing" in page and "Your pro bono listing" in page
    assert "your agency" not in page.lower()
    header = html[html.index("<header"):html.index("</header>")]
    assert "Pat Volunteer ·" not in header  # never "name · name · Volunteer"


def test_the_protocol_editors_preview_can_be_reached_by_keyboard(login_as):
    """A scrolling region must take the focus to be read by keyboard (axe scrollable-region-focusable)."""
    chair = login_as(roles=("chair",))
    html = chair.get("/protocols/new").get_data(as_text=True)
    assert re.search(r'<div id="preview" class="preview-frame" tabindex="0" role="region" aria-label="[^"]+">', html)

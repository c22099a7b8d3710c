"""The consent step's named agencies in a browser: a filter by name narrows the long list (issue 24: every member
agency is listed), ticked boxes stay shown, the filter is never sent; without JavaScript there is only the list."""

from __future__ import annotations

from playwright.sync_api import expect

from csrn.agencies.models import Agency
from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from tests.e2e.conftest import PERSON, login


def draft_at_consent(live_app) -> tuple[int, list[tuple[int, str]]]:
    """An officer's draft filled through step 4; the member agencies the step lists."""
    with live_app.app_context(), live_app.test_request_context("/"):
        officer = db.session.scalar(User.by_email("officer@demo.example"))
        receiver = db.session.scalar(User.by_email("casemanager@demo.example")).agency_id
        now = utcnow()
        draft = intake_ops.start_draft(officer, {}, now)
        answers = {key: value for key, value in PERSON.items() if not key.startswith("consent")}
        intake_ops.save_draft(draft, {**answers, "receiver": receiver}, 4, now)
        members = [(a.id, a.name) for a in db.session.scalars(
            db.select(Agency).where(Agency.membership_status == "member").order_by(Agency.name))]
        draft_id = draft.id
        db.session.remove()
    return draft_id, members


def test_the_filter_narrows_the_named_agencies_and_keeps_ticked_ones(page, live_app):
    """Typing a name shows that agency and the ticked one only; Enter does not send the step; emptied, all return."""
    draft_id, members = draft_at_consent(live_app)
    assert len(members) >= 3
    (first_id, first), (_, second) = members[0], members[-1]
    login(page, "officer@demo.example")
    page.goto(f"/intake/{draft_id}/5")
    page.locator("#consent_agencies summary").click()
    page.locator(f"#consent_agencies input[value='{first_id}']").check()
    search = page.get_by_label("Find an agency by name")
    expect(search).to_be_visible()
    search.fill(second.lower())
    shown = page.locator("#consent_agencies-list label:visible")
    expect(shown).to_have_count(2)  # the match, and the ticked one
    expect(shown.filter(has_text=second)).to_have_count(1)
    expect(shown.filter(has_text=first)).to_have_count(1)
    expect(page.locator("#consent_agencies-filter-status")).to_have_text(f"2 of {len(members)} shown")
    search.press("Enter")  # narrows; does not send the step
    assert page.url.endswith(f"/intake/{draft_id}/5")
    search.fill("")
    expect(page.locator("#consent_agencies-list label:visible")).to_have_count(len(members))


def test_without_javascript_there_is_the_whole_list_and_no_filter(chromium, live_server, live_app):
    """With JavaScript off the filter stays hidden (it could do nothing) and every agency is there."""
    draft_id, members = draft_at_consent(live_app)
    context = chromium.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    login(page, "officer@demo.example")
    page.goto(f"/intake/{draft_id}/5")
    page.locator("#consent_agencies summary").click()
    expect(page.get_by_label("Find an agency by name")).to_be_hidden()
    expect(page.locator("#consent_agencies-list label:visible")).to_have_count(len(members))
    context.close()

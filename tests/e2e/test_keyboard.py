"""By keyboard alone: where focus is after each htmx swap and after a refused submit (422). The emergency intake,
accepting an offer, and the volunteer application, with Tab, Space, arrows and Enter only."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_PASSWORD, new_referral_to_safe_harbor


def tab_to(page, predicate_js: str, limit: int = 80) -> None:
    """Press Tab until the focused element satisfies the predicate (a function of the element, in JavaScript)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!e && ({predicate_js})(e); }}"):
            return
    raise AssertionError(f"Tab never reached an element where {predicate_js}")


def keyboard_login(page, email: str) -> None:
    page.goto("/login")
    tab_to(page, "e => e.id === 'email'")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/")


def test_a_case_manager_accepts_an_offer_by_keyboard(chromium, live_server, live_app):
    referral_id = new_referral_to_safe_harbor(live_app)
    context = chromium.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    keyboard_login(page, "casemanager@demo.example")
    page.goto("/referrals/inbox")
    tab_to(page, f"e => e.getAttribute('href') === '/referrals/{referral_id}'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/referrals/{referral_id}")
    tab_to(page, "e => e.tagName === 'BUTTON' && e.textContent.trim() === 'Accept'")
    # The focus is drawn: at least 2 px of outline.
    assert page.evaluate("() => parseFloat(getComputedStyle(document.activeElement).outlineWidth)") >= 2
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("Accepted.")
    context.close()


def test_a_refused_htmx_submit_moves_focus_to_the_error_summary(chromium, live_server):
    """The agency form is sent by htmx; answered 422, the error summary takes the focus and is in view."""
    context = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    keyboard_login(page, "agencyadmin@demo.example")
    page.goto("/")
    href = page.locator("a", has_text="Safe Harbor Advocacy Center").first.get_attribute("href")
    page.goto(f"{href}/edit", wait_until="load")
    tab_to(page, "e => e.id === 'website'")
    page.keyboard.press("Control+A")
    page.keyboard.type("javascript:alert(1)")
    page.keyboard.press("Enter")
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.evaluate("() => { const r = document.querySelector('.error-summary').getBoundingClientRect();"
                         " return r.top >= 0 && r.top < window.innerHeight; }")
    context.close()

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


def key_to(page, css: str, limit: int = 120) -> None:
    """Tab (forward) until the focused element matches the CSS selector."""
    tab_to(page, f"e => e.matches({css!r})", limit)


def choose_radio(page, name: str, value: str) -> None:
    """Reach a radio group by Tab, then choose a value with Space and the arrow keys."""
    key_to(page, f"input[type=radio][name={name}]")
    page.keyboard.press("Space")
    for _ in range(12):
        if page.evaluate("() => document.activeElement.value") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no radio {name}={value}")


def test_the_emergency_intake_by_keyboard(chromium, live_server):
    context = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    keyboard_login(page, "detective@demo.example")
    page.goto("/intake/new", wait_until="load")
    # Step 1 sent empty: refused, and the focus is on the error summary.
    key_to(page, "#step-area button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator(".error-summary")).to_be_focused()
    choose_radio(page, "urgency", "emergency")
    key_to(page, "#county")
    page.keyboard.type("Alder")
    key_to(page, "#step-area button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#step-count")).to_contain_text("Step 2 of 6")
    expect(page.locator("h1[data-focus-on-load]")).to_be_focused()  # not left on <body> after the step change
    choose_radio(page, "age_group", "25_plus")
    key_to(page, "#gender")
    page.keyboard.type("Female")
    choose_radio(page, "trafficking_type", "sex")
    key_to(page, "#step-area button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#step-count")).to_contain_text("Step 3 of 6")
    expect(page.locator("h1[data-focus-on-load]")).to_be_focused()
    key_to(page, "input[name=needs][value=emergency_shelter]")
    page.keyboard.press("Space")
    key_to(page, "#step-area button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#step-count")).to_contain_text("Step 4 of 6")
    expect(page.locator("h1[data-focus-on-load]")).to_be_focused()
    tab_to(page, "e => e.tagName === 'BUTTON' && e.textContent.includes('Send now (emergency)')")
    page.keyboard.press("Enter")
    page.wait_for_url("**/sent")
    expect(page.locator("h1")).to_contain_text("sent")
    context.close()


def test_the_volunteer_application_by_keyboard(chromium, live_server):
    context = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/volunteer/apply", wait_until="load")
    key_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    # The summary's first link takes the focus to its field.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement.tagName) ||"
                         " document.activeElement.tagName === 'FIELDSET'")
    page.goto("/volunteer/apply", wait_until="load")
    for css, text in (("#name", "Keyboard Applicant"), ("#email", "keyboard.applicant@example.org"),
                      ("#phone", "+1 555 0177 3000")):
        key_to(page, css)
        page.keyboard.type(text)
    choose_radio(page, "profession", "interpreter")
    for value in ("en", "vi"):
        key_to(page, f"input[name=languages][value={value}]")
        page.keyboard.press("Space")
    for css, text in (("#language_pairs", "Vietnamese ↔ English"), ("#hours_per_month", "4"),
                      ("#reference1_name", "Judge Ellen Park"), ("#reference1_contact", "epark@example.org"),
                      ("#reference2_name", "Omar Said"), ("#reference2_contact", "+1 555 0177 2000")):
        key_to(page, css)
        page.keyboard.press("Control+A")
        page.keyboard.type(text)
    for css in ("#background_check_consent", "#confidentiality_acknowledged"):
        key_to(page, css)
        page.keyboard.press("Space")
    key_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("Thank you")
    context.close()

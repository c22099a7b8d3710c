"""The core flow in a real browser: an officer sends an emergency intake on a phone; the case manager accepts."""

from playwright.sync_api import expect

from tests.e2e.conftest import DEMO_PASSWORD, nav_link, screenshot


def _login(page, email):
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/")


def _emergency_intake(page) -> str:
    """Fill steps 1-4 as an officer would and send from the match step; return the referral's URL."""
    nav_link(page, "New intake").click()
    page.check("label:has-text('Emergency — needs someone now') input")
    page.select_option("#county", "Alder")
    page.click("text=Save and continue")
    page.check("label:has-text('25 and over') input")
    page.select_option("#gender", "female")
    page.check("label:has-text('Sex trafficking') input")
    page.click("text=Save and continue")
    page.check("label:has-text('Case management') input")
    page.check("label:has-text('Emergency shelter') input")
    page.click("text=Save and continue")
    expect(page.locator("input[name=receiver]:checked")).to_have_count(1)  # the top match is preselected
    page.click("text=Send now (emergency)")
    page.wait_for_url("**/sent")
    return page.url.removesuffix("/sent")


def test_officer_sends_an_emergency_on_a_phone_and_the_case_manager_accepts(chromium, live_server):
    """390×844: the emergency fast path in four steps, who to phone, then acceptance by the receiver."""
    phone = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = phone.new_page()
    _login(page, "officer@demo.example")
    referral_url = _emergency_intake(page)
    assert "Phone them now" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "emergency-sent-phone")
    receiver = page.inner_text("main strong")
    phone.close()

    desk = chromium.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    accepting = {"Midstate Anti-Trafficking Hotline": "hotline@demo.example",
                 "New Dawn Survivor Services": "newdawn.cm@demo.example",
                 "Safe Harbor Advocacy Center": "casemanager@demo.example",
                 "Open Door Women's Shelter": "opendoor@demo.example"}[receiver]
    _login(page, accepting)
    page.goto(referral_url)
    page.click("main button:has-text('Accept')")
    page.wait_for_selector("text=Accepted.")
    assert "Accepted" in page.inner_text(".timeline")
    screenshot(page, "referral-accepted")
    desk.close()


def test_the_intake_works_with_javascript_off(chromium, live_server):
    """Every step is a plain form: the same emergency intake with JavaScript disabled."""
    context = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                   java_script_enabled=False)
    page = context.new_page()
    _login(page, "detective@demo.example")
    _emergency_intake(page)
    assert "sent" in page.inner_text("h1")
    context.close()

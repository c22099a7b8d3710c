"""A person clicks through the skeleton: login, navigation by role, editing, errors shown."""

from playwright.sync_api import expect

from tests.e2e.conftest import log_out, login, nav_link, screenshot


def test_chair_edits_an_agency_and_sees_inline_errors(page):
    """A 422 from an htmx form swaps in errors with the answers kept; a valid save lands on the profile."""
    login(page, "chair@demo.example")
    nav_link(page, "Agencies").click()
    # Wait for the page's load event (deferred scripts have run): type only once htmx listens.
    page.wait_for_url("**/agencies/", wait_until="load")
    page.fill("#q", "Lakeshore")
    expect(page.locator("#agency-list tbody tr")).to_have_count(1)  # active search, no submit
    page.click("#agency-list >> text=Lakeshore Legal Aid")
    page.click("text=Edit this agency")
    page.fill("#description", "Civil legal aid, now with a Saturday clinic.")
    page.fill("#website", "javascript:alert(1)")
    page.click("main button[type=submit]")
    page.wait_for_selector(".error-summary")
    assert "There is a problem" in page.inner_text(".error-summary")
    # The answers are kept after the error.
    assert page.input_value("#description") == "Civil legal aid, now with a Saturday clinic."
    screenshot(page, "agency-edit-422")
    page.fill("#website", "https://lakeshore-legal.example.org")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Agency saved.")
    assert "Saturday clinic" in page.inner_text("main")


def test_htmx_server_error_is_shown_not_swallowed(page):
    """A 500 answering an htmx request shows an error banner and leaves the page as it was."""
    login(page, "admin@demo.example")
    page.goto("/__e2e__/errors")
    page.click("#boom")
    banner = page.wait_for_selector("#htmx-error:not([hidden])")
    assert "not saved" in banner.inner_text()
    assert page.inner_text("#target") == "unchanged"


def test_navigation_follows_roles(page):
    """The officer sees no admin links; the admin sees settings, outbox and audit."""
    login(page, "officer@demo.example")
    nav = page.text_content("header nav")  # the menus' contents too, open or not
    assert "Settings" not in nav and "Audit log" not in nav
    log_out(page)
    login(page, "admin@demo.example")
    nav = page.text_content("header nav")
    assert "Settings" in nav and "Outbox" in nav and "Audit log" in nav
    nav_link(page, "Audit log").click()
    page.wait_for_url("**/admin/audit/")


def test_phone_width_has_no_horizontal_scroll(chromium, live_server):
    """At 390 px wide the agency list fits the screen."""
    context = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    login(page, "officer@demo.example")
    page.goto("/agencies/")
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "agencies-phone")
    context.close()
    assert width <= 390

"""The audit log in a real browser: an administrator opens it from the Admin menu and narrows it by what happened —
the results change in place (htmx) and the address bar holds the search, so the link can be shared; an agency
admin opens their agency's log from the same menu."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import log_out, login, nav_link, screenshot


def test_an_administrator_narrows_the_log_in_place_and_an_agency_admin_reads_theirs(chromium, live_server):
    context = chromium.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, "admin@demo.example")
    nav_link(page, "Audit log").click()
    page.wait_for_url("**/admin/audit/")
    page.select_option("select[name=action]", "auth.login")
    page.click("form[aria-label='Search the audit log'] button[type=submit]")
    page.wait_for_url("**/admin/audit/?**action=auth.login**")
    results = page.locator("#audit-results")
    expect(results).to_contain_text("Logged in")
    expect(results.locator("td[data-label=What]").first).to_have_text("Logged in")
    expect(page.locator("h1")).to_have_text("Audit log")  # the page stayed: only the results were swapped
    screenshot(page, "audit-log-search")
    log_out(page)
    login(page, "agencyadmin@demo.example")
    nav_link(page, "Agency audit log").click()
    page.wait_for_url("**/admin/audit/agency")
    expect(page.locator("h1")).to_contain_text("Audit log of")
    context.close()

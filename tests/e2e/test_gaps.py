"""The resource map in a real browser: an officer opens it from the Network menu, a gap cell opens its detail in
place (htmx) and links to the directory search; the chair reads the committee review and the demand report."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import login, nav_link, screenshot


def test_the_map_opens_a_gap_in_place_and_the_chair_reviews(chromium, live_server):
    context = chromium.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, "officer@demo.example")
    nav_link(page, "Resource map").click()
    page.wait_for_url("**/gaps/")
    gap = page.locator("td.cell-gap a").first
    expect(gap).to_contain_text("Gap")
    gap.click()
    detail = page.locator("#cell-detail")
    expect(detail).to_contain_text("no provider can receive")
    expect(page).to_have_url(f"{live_server}/gaps/")  # in place: the map stays
    screenshot(page, "resource-map-gap")
    detail.locator("a:has-text('Search the directory for it')").click()
    page.wait_for_url("**/directory/**")
    context.close()

    context = chromium.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, "chair@demo.example")
    nav_link(page, "Committee review").click()
    page.wait_for_url("**/gaps/review")
    expect(page.locator("h2#r-gaps")).to_be_visible()
    expect(page.locator("#r-oncall + ul, section[aria-labelledby=r-oncall]").first).to_contain_text("Crisis response")
    screenshot(page, "committee-review")
    page.click("a:has-text('demand against supply')")
    page.wait_for_url("**/gaps/demand**")
    expect(page.locator("img[src*='chart.svg']").first).to_be_visible()
    context.close()

"""An officer on a phone finds who to call now; a chair covers the demo roster's gap through the shift form (a
wrong phone first, nothing typed lost) and the coverage check turns green."""

import re
from datetime import datetime

from playwright.sync_api import expect

from tests.e2e.conftest import login, nav_link, screenshot


def test_officer_reads_who_to_call_on_a_phone(chromium, live_server):
    """At 390 px: every kind with a tap-to-call link, one column, no horizontal scroll."""
    context = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    login(page, "officer@demo.example")
    nav_link(page, "On call").click()
    page.wait_for_url("**/oncall/now")
    expect(page.locator("main h1")).to_have_text("Who to call now")
    for kind in ("Crisis response", "Case management"):
        section = page.locator("section.oncall-kind", has_text=kind)
        expect(section.locator("a.call").first).to_have_attribute("href", re.compile(r"^tel:\+\d{6,15}$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "oncall-now-phone")
    context.close()


def test_chair_covers_the_gap(page):
    """The demo's deliberate gap is listed; a one-off cover shift saved through the form closes it."""
    login(page, "chair@demo.example")
    page.goto("/oncall/coverage")
    crisis = page.locator("section", has_text="Crisis response").first
    expect(crisis).to_contain_text("gap with no primary on call")
    gap_row = crisis.locator("tbody tr").first
    start_text = gap_row.locator("td").nth(0).inner_text()  # e.g. "Mon 7 Dec 2026 16:00 CST"
    end_text = gap_row.locator("td").nth(1).inner_text()
    screenshot(page, "oncall-coverage-gap")

    page.goto("/oncall/shifts/new")
    page.select_option("#agency_id", label="Safe Harbor Advocacy Center")
    page.select_option("#kind_id", label="Crisis response (24/7)")
    page.fill("#display_name", "Safe Harbor duty phone")
    page.fill("#phone", "call me maybe")
    page.check("input[name=pattern][value=once]")
    day = " ".join(start_text.split()[1:4])  # "7 Dec 2026"
    start_day = datetime.strptime(day, "%d %b %Y").date()
    page.fill("#start_date", start_day.isoformat())
    page.fill("#start_time", re.search(r"\d\d:\d\d", start_text).group(0))  # "16:00" of "… 16:00 CST"
    page.fill("#end_date", datetime.strptime(" ".join(end_text.split()[1:4]), "%d %b %Y").date().isoformat())
    page.fill("#end_time", re.search(r"\d\d:\d\d", end_text).group(0))
    page.click("main form button[type=submit]")
    expect(page.locator(".error-summary")).to_contain_text("phone")
    expect(page.locator("#display_name")).to_have_value("Safe Harbor duty phone")  # nothing typed is lost
    page.fill("#phone", "+1 555 0100 2099")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/oncall/?kind=*")
    expect(page.locator("main")).to_contain_text("Safe Harbor duty phone")
    page.goto("/oncall/coverage")
    crisis = page.locator("section", has_text="Crisis response").first
    expect(crisis).to_contain_text("A primary is on call at every minute")
    screenshot(page, "oncall-coverage-covered")

"""A drill in a real browser: the chair starts one at the hour of the demo roster's gap, jumps its clock to the
deadline nobody met, reads the report naming the gap, stops it and cleans it up (the shared demo data is left as it
was)."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.oncall import operations as oncall_ops
from csrn.settings.operations import task_force_zone
from tests.e2e.conftest import login, nav_link, screenshot


def test_a_drill_at_the_rosters_gap_names_it(chromium, live_server, live_app):
    with live_app.app_context():
        kind, gap_start, _ = oncall_ops.next_gap(utcnow())
        kind_name = kind.name
        simulated = (gap_start + timedelta(minutes=30)).astimezone(task_force_zone())
        sender = db.session.scalar(User.by_email("officer@demo.example")).agency.name
    context = chromium.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, "chair@demo.example")
    nav_link(page, "Drills").click()
    page.wait_for_url("**/drills/")
    expect(page.locator("text=No drill is running.")).to_be_visible()
    page.click("a:has-text('Start a drill')")
    page.fill("#note", "The roster's gap")
    page.select_option("#sending_agency_id", label=sender)
    page.check("input[name=urgency][value=emergency]")
    page.check("input[name=needs][value=emergency_shelter]")
    page.fill("#simulated_date", simulated.date().isoformat())
    page.fill("#simulated_time", simulated.strftime("%H:%M"))
    page.click("button:has-text('Start the drill')")
    page.wait_for_selector("text=(drill time).")
    expect(page.locator("h1 .drill-mark")).to_have_text("DRILL")
    expect(page.locator("dd", has_text="Running")).to_be_visible()

    page.click("button:has-text('Jump to the next deadline')")
    page.wait_for_selector("text=The drill's clock moved to the next deadline")
    findings = page.locator("ul.findings")
    expect(findings).to_contain_text(f"Nobody was on call for {kind_name}")
    expect(findings).to_contain_text("No answer from")
    expect(page.locator("table", has_text="Offers against their deadlines").or_(page.locator("#offers-title"))
           .first).to_be_visible()
    screenshot(page, "drill-report-gap")

    page.click("a:has-text('Stop the drill…')")
    page.click("button:has-text('Stop the drill')")
    page.wait_for_selector("text=stopped. Its report is kept below.")
    page.click("a:has-text('Clean up its records…')")
    page.click("button:has-text('Remove the drill')")
    page.wait_for_selector("text=cleaned up:")
    expect(findings).to_contain_text(f"Nobody was on call for {kind_name}")  # the report stays
    screenshot(page, "drill-report-kept")
    context.close()

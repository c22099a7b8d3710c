"""Coordinating a case in a real browser, on a phone: a court date, its checklist completed with an onward referral
to a pro bono interpreter, a message exchanged with the interpreter, and a concern raised and resolved."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from csrn.clock import utcnow
from csrn.settings.operations import task_force_zone
from tests.e2e.conftest import login, new_referral_to_safe_harbor, screenshot

PHONE = {"width": 390, "height": 844}


def _context(chromium, live_server):
    return chromium.new_context(base_url=live_server, viewport=PHONE)


def _support(page, name: str):
    return page.locator("li[id^=support-]", has_text=name)


def test_a_court_date_supported_a_message_exchanged_and_a_concern_resolved(chromium, live_server, live_app):
    referral_id = new_referral_to_safe_harbor(live_app)
    with live_app.app_context():
        day = (utcnow() + timedelta(days=6)).astimezone(task_force_zone()).date().isoformat()
    manager = _context(chromium, live_server)
    page = manager.new_page()
    login(page, "casemanager@demo.example")
    page.goto(f"/referrals/{referral_id}")
    page.click("main button:has-text('Accept')")
    page.wait_for_selector("text=Accepted.")
    case_url = f"/cases/{referral_id}"

    # A court date.
    page.goto(case_url)
    page.click("a:has-text('Add an appointment…')")
    page.select_option("#kind", "court")
    page.fill("#day", day)
    page.fill("#start", "10:00")
    page.fill("#duration_minutes", "90")
    page.fill("#place", "Immigration Court, room 4")
    page.click("button:has-text('Add the appointment')")
    page.wait_for_selector("text=Appointment added.")
    expect(page.locator("li[id^=support-]")).to_have_count(3)

    # (1) Accompaniment: a colleague goes.
    accompaniment = _support(page, "Accompaniment")
    accompaniment.locator("select[name=accompanist_id]").select_option(label="Priya Natarajan")
    accompaniment.locator("button:has-text('Record')").click()
    page.wait_for_selector("text=Accompaniment: done.")
    # (2) Interpreter: refer to the pro bono interpreter who speaks Vietnamese, from the checklist.
    tran = _support(page, "Interpreter").locator("li", has_text="Tran Van Minh")
    tran.locator("a:has-text('Refer to them…')").click()
    page.wait_for_url("**/onward?*")
    expect(page.locator("li.match", has_text="Tran Van Minh").locator("input[name=receiver]")).to_be_checked()
    page.click("button:has-text('Send the onward referral')")
    page.wait_for_selector("text=Onward referral #")
    interpreter_link = _support(page, "Interpreter").locator("a[href^='/referrals/']")
    onward_url = interpreter_link.get_attribute("href")
    # (3) Counselling: the person declines it.
    counselling = _support(page, "Counselling")
    counselling.locator("select[name=status]").select_option("declined")
    counselling.locator("button:has-text('Record')").click()
    page.wait_for_selector("text=Counselling within 48 hours: declined by the person.")

    # The interpreter accepts, and answers a message.
    other = _context(chromium, live_server)
    interpreter = other.new_page()
    login(interpreter, "interpreter@demo.example")
    interpreter.goto(onward_url)
    interpreter.click("main button:has-text('Accept')")
    interpreter.wait_for_selector("text=Accepted.")

    page.goto(case_url)
    expect(_support(page, "Accompaniment")).to_contain_text("Priya Natarajan")
    expect(_support(page, "Interpreter")).to_contain_text("Done")
    expect(_support(page, "Counselling")).to_contain_text("Declined by the person")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "court-date-checklist-phone")

    coordination_url = onward_url.replace("/referrals/", "/cases/referrals/")
    page.goto(coordination_url)
    page.fill("#body", "The hearing is in room 4; please arrive at 09:30.")
    page.click("button:has-text('Send the message')")
    page.wait_for_selector("text=Message sent.")
    interpreter.goto(coordination_url)
    expect(interpreter.locator(".thread")).to_contain_text("please arrive at 09:30")
    interpreter.fill("#body", "I will be there at 09:30.")
    interpreter.click("button:has-text('Send the message')")
    interpreter.wait_for_selector("text=Message sent.")
    page.goto(coordination_url)
    expect(page.locator(".thread")).to_contain_text("I will be there at 09:30.")

    # The interpreter asks for something; the case holder's admin resolves it.
    interpreter.click("summary:has-text('Raise a question, dispute or request')")
    interpreter.select_option("#kind", "request")
    interpreter.fill("#text", "Please send the case number of the hearing.")
    interpreter.click("button:has-text('Raise the concern')")
    interpreter.wait_for_selector("text=Concern raised.")
    concern_url = interpreter.url
    other.close()

    admin_context = _context(chromium, live_server)
    admin = admin_context.new_page()
    login(admin, "agencyadmin@demo.example")
    expect(admin.locator("#panel-concerns")).to_be_visible()
    admin.goto(concern_url)
    expect(admin.locator("main")).to_contain_text("Please send the case number of the hearing.")
    admin.fill("#note", "Sent by message: A-123 docket, room 4.")
    admin.click("button:has-text('Mark resolved')")
    admin.wait_for_selector("text=Concern resolved.")
    expect(admin.locator("main")).to_contain_text("Resolved")
    admin_context.close()
    manager.close()

"""Case work in a real browser, on a phone: a case manager takes a case from acceptance through the needs
assessment, a plan from a pathway and two onward referrals — one accepted from the pro bono attorney's inbox, one
declined and escalated to its backup — then closes and reopens it; and the key steps with JavaScript off."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import login, new_referral_to_safe_harbor, screenshot

PHONE = {"width": 390, "height": 844}


def _context(chromium, live_server, javascript: bool = True):
    return chromium.new_context(base_url=live_server, viewport=PHONE, java_script_enabled=javascript)


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def _accept_and_assess(page, referral_id: int) -> str:
    """Accept the offer, open the case record, start and save the assessment; return the case's URL."""
    page.goto(f"/referrals/{referral_id}")
    page.click("main button:has-text('Accept')")
    page.wait_for_selector("text=Accepted.")
    page.click(f"a:has-text('the case record of case #{referral_id}')")
    page.wait_for_url(f"**/cases/{referral_id}")
    case_url = page.url
    page.click("button:has-text('Start the needs assessment')")
    page.wait_for_url("**/assessment")
    page.select_option("select[name='needs-0-status']", "met")
    page.fill("#goals", "To stay in the country and work legally.")
    page.click("button:has-text('Save the assessment')")
    page.wait_for_url(f"**/cases/{referral_id}#assessment")
    assessment = page.locator("section[aria-labelledby=assessment]")
    expect(assessment).to_contain_text("To stay in the country and work legally.")
    return case_url


def _plan_from_pathway(page) -> None:
    pathway = page.locator("#pathway_id option", has_text="Foreign-national adults").get_attribute("value")
    page.select_option("#pathway_id", pathway)
    page.click("button:has-text('Start the plan')")
    page.wait_for_selector("text=Service plan started.")
    expect(page.locator(".plan-step")).to_have_count(3)


def _send_step(page, index: int, receiver: str, backup: str | None = None) -> None:
    page.locator(".plan-step").nth(index).locator("a:has-text('Send…')").click()
    page.wait_for_url("**/onward?step=*")
    _fits(page)
    page.check(f"label.choice:has-text('{receiver}') input")
    if backup:
        page.locator("li.match", has_text=backup).locator("input[name=backups]").check()
    page.click("button:has-text('Send the onward referral')")
    page.wait_for_selector("text=Onward referral #")


def _onward_ids(page) -> list[int]:
    return [int(href.rsplit("/", 1)[1]) for href in
            page.locator(".onward-list a").evaluate_all("links => links.map(a => a.getAttribute('href'))")]


def test_a_case_from_acceptance_to_reopening_on_a_phone(chromium, live_server, live_app):
    referral_id = new_referral_to_safe_harbor(live_app)
    manager = _context(chromium, live_server)
    page = manager.new_page()
    login(page, "casemanager@demo.example")
    case_url = _accept_and_assess(page, referral_id)
    _plan_from_pathway(page)
    _send_step(page, 0, "Maria Delgado")
    _send_step(page, 1, "Language Bridge Interpreters", backup="Tran Van Minh")
    legal_id, interpreting_id = _onward_ids(page)
    expect(page.locator("#next-step")).to_contain_text("1 plan step waiting to be sent")
    _fits(page)

    # The interpreting agency declines: the offer goes to the backup at once.
    other = _context(chromium, live_server)
    agency_page = other.new_page()
    login(agency_page, "interpreters@demo.example")
    agency_page.goto(f"/referrals/{interpreting_id}/decline")
    agency_page.select_option("#reason", "no_capacity")
    agency_page.click("main button[type=submit]")
    agency_page.wait_for_selector("text=Declined.")
    other.close()

    # The pro bono attorney accepts from the inbox.
    attorney = _context(chromium, live_server)
    inbox = attorney.new_page()
    login(inbox, "volunteer@demo.example")
    inbox.goto("/referrals/inbox")
    inbox.click(f"a[href='/referrals/{legal_id}']")
    inbox.click("main button:has-text('Accept')")
    inbox.wait_for_selector("text=Accepted.")
    expect(inbox.locator("main")).to_contain_text("E2E person")  # consent covers onward providers
    expect(inbox.locator("main")).not_to_contain_text("To stay in the country")  # never the case record
    attorney.close()

    page.goto(case_url)
    steps = page.locator(".plan-step")
    expect(steps.nth(0)).to_contain_text("Accepted")
    expect(steps.nth(1)).to_contain_text("Declined and re-offered")
    expect(steps.nth(1)).to_contain_text("Tran Van Minh")
    expect(page.locator("#next-step")).to_contain_text(
        f"Onward referral #{interpreting_id} was declined and re-offered")
    _fits(page)
    screenshot(page, "case-phone")

    # Close with an outcome, then reopen with a reason.
    page.click("a:has-text('Close with an outcome…')")
    page.select_option("#outcome", "engaged")
    page.click("main button:has-text('Close referral')")
    page.wait_for_selector("text=Referral closed.")
    page.goto(case_url)
    page.click("a:has-text('Reopen…')")
    page.fill("#reason", "She came back after a week: a new court date.")
    page.click("main button:has-text('Reopen the case')")
    page.wait_for_selector("text=Case reopened.")
    expect(page.locator("main")).to_contain_text("In progress")
    expect(page.locator("section[aria-labelledby=case-timeline]")).to_contain_text("She came back after a week")
    manager.close()


def test_the_key_steps_of_case_work_with_javascript_off(chromium, live_server, live_app):
    referral_id = new_referral_to_safe_harbor(live_app)
    context = _context(chromium, live_server, javascript=False)
    page = context.new_page()
    login(page, "agencyadmin@demo.example")
    case_url = _accept_and_assess(page, referral_id)
    _plan_from_pathway(page)
    _send_step(page, 0, "Maria Delgado")
    assert len(_onward_ids(page)) == 1
    # A step added by hand, with an error first: what was typed stays.
    page.click("summary:has-text('Add a step')")
    page.fill("#note", "Ask about evening hours.")
    page.click("button:has-text('Add the step')")
    expect(page.locator(".error-summary")).to_contain_text("Choose a service.")
    expect(page.locator("#note")).to_have_value("Ask about evening hours.")
    page.select_option("#service_type_id", label="Employment")
    page.click("button:has-text('Add the step')")
    page.wait_for_selector("text=Step added.")
    expect(page.locator(".plan-step")).to_have_count(4)
    page.click("a:has-text('Close with an outcome…')")
    page.select_option("#outcome", "client_declined")
    page.click("main button:has-text('Close referral')")
    page.wait_for_selector("text=Referral closed.")
    page.goto(case_url)
    page.click("a:has-text('Reopen…')")
    page.click("main button:has-text('Reopen the case')")
    expect(page.locator(".error-summary")).to_contain_text("Say why the case is reopened.")
    page.fill("#reason", "Phoned the hotline again.")
    page.click("main button:has-text('Reopen the case')")
    page.wait_for_selector("text=Case reopened.")
    context.close()

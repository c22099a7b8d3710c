"""A pro bono attorney applies on a phone (wrong, then right) and follows the private link; a chair
vets the checklist in place with htmx, is refused approval while an item is missing, approves, and
the volunteer appears in the directory as a one-person provider."""

from datetime import date

from playwright.sync_api import expect

from tests.e2e.conftest import login, nav_link, screenshot

NAME = "Noor Haddad"


def _apply(page) -> str:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/volunteer/apply")  # waits for the load event: htmx (a deferred script) listens by then
    page.fill("#name", NAME)
    page.check("input[name=profession][value=attorney]")
    page.fill("#hours_per_month", "500")
    page.click("main button[type=submit]")
    expect(page.locator(".error-summary")).to_contain_text("Licence or bar number")
    expect(page.locator(".error-summary")).to_contain_text("from 1 to 200")
    expect(page.locator("#name")).to_have_value(NAME)  # nothing typed is lost
    expect(page.locator("input[name=profession][value=attorney]")).to_be_checked()
    screenshot(page, "volunteer-apply-errors")
    page.fill("#email", "noor.haddad@example.org")
    page.fill("#phone", "+1 555 0177 1000")
    page.fill("#licence_number", "SB-300912")
    page.fill("#licence_jurisdiction", "State Bar")
    page.check("input[name=languages][value=ar]")
    page.check("input[name=languages][value=en]")
    page.check("input[name=practice_areas][value=immigration]")
    page.fill("#hours_per_month", "6")
    page.fill("#reference1_name", "Judge Ellen Park")
    page.fill("#reference1_contact", "epark@example.org")
    page.fill("#reference2_name", "Omar Said")
    page.fill("#reference2_contact", "+1 555 0177 2000")
    page.check("#background_check_consent")
    page.check("#confidentiality_acknowledged")
    page.click("main button[type=submit]")
    page.wait_for_url("**/volunteer/status/**")
    expect(page.locator("main")).to_contain_text("Applied")
    expect(page.locator("main")).to_contain_text("Licence or bar membership verified")
    screenshot(page, "volunteer-status-link")
    return page.url


def test_apply_vet_approve_and_join_the_directory(page, today):
    status_url = _apply(page)

    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "chair@demo.example")
    nav_link(page, "Volunteers").click()
    page.click(f".board-column >> text={NAME}")
    panel = page.locator("#application-panel")
    items = panel.locator(".checklist > li")
    count = items.count()
    assert count == 8  # identity, licence, background, references, two trainings, confidentiality, interview
    for index in range(count):
        item = panel.locator(".checklist > li").nth(index)
        label = item.locator("h3").inner_text().split("\n")[0]
        if label.startswith("Interview"):
            continue  # left for later: approval must be refused without it
        item.locator("summary").click()
        item.locator("input[type=date]").first.fill(today.isoformat())
        course = item.locator("select")
        if course.count():
            course.select_option(index=1)
        elif item.locator("input[name$=expires_on]").count():
            item.locator("input[name$=expires_on]").fill(date(today.year + 1, 12, 31).isoformat())
        item.locator("textarea").fill(f"Checked: {label}")
        item.locator("button[type=submit]").first.click()
        # The panel is swapped in place: wait for this item to show as done before the next one.
        expect(page.locator("#application-panel .checklist > li").nth(index).locator(".tag-good")).to_be_visible()
    # Every item but the interview: approval is not offered, and the panel names what is missing.
    page.select_option("#to_status", "in_review")
    page.click("#application-panel >> text=Change status")
    expect(page.locator("#application-panel h2").first).to_contain_text("In review")
    expect(page.locator("#to_status option[value=approved]")).to_have_count(0)
    expect(page.locator("#application-panel")).to_contain_text("Still needed before approval: Interview")
    interview = page.locator("#application-panel .checklist > li", has_text="Interview")
    interview.locator("summary").click()
    interview.locator("input[type=date]").first.fill(today.isoformat())
    interview.locator("button[type=submit]").first.click()
    interview_done = page.locator("#application-panel .checklist > li", has_text="Interview").locator(".tag-good")
    expect(interview_done).to_be_visible()
    page.select_option("#to_status", "approved")
    page.click("#application-panel >> text=Change status")
    # No mail server in the test: as with every invitation, the chair sees the single-use link once.
    expect(page.locator("main h1")).to_contain_text(f"{NAME} has been invited")
    expect(page.locator("main code.secret")).to_contain_text("/invitation/")
    screenshot(page, "volunteer-invited")
    page.click("text=Back to the application")
    expect(page.locator("#application-panel h2").first).to_contain_text("Approved")
    expect(page.locator("#application-panel .timeline")).to_contain_text("In review → Approved")
    screenshot(page, "volunteer-approved")

    # The volunteer is now a provider in the directory.
    page.goto("/directory?q=Haddad")
    expect(page.locator("main")).to_contain_text(NAME)

    # The applicant's private link shows the new stage, and none of the committee's notes.
    page.goto(status_url)
    expect(page.locator("main")).to_contain_text("approved volunteer")
    expect(page.locator("main")).not_to_contain_text("Checked:")

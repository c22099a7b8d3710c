"""A chair edits a protocol with the live preview and publishes it; an officer acknowledges it;
the chair compares versions, restores one, and sees who has acknowledged; a protocol prints cleanly."""

from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, log_out, login, nav_link, screenshot

FIRST_RESPONSE = "/protocols/law-enforcement-first-response-who-to-call"
NEW_LINE = "Write the advocate's arrival time in your report."


def test_chair_edits_with_live_preview_publishes_and_officer_acknowledges(page):
    """The preview follows the typing; the published version asks the officer to acknowledge it."""
    login(page, "chair@demo.example")
    nav_link(page, "Protocols").click()
    page.click("main >> text=Law enforcement first response: who to call")
    expect(page.locator(".protocol-body .live-block")).to_have_count(2)  # [[oncall-now]] and [[oncall-week]]
    page.click("main >> text=Edit")
    body = page.locator("#body")
    body.fill(body.input_value() + f"\n\n## After the call\n\n{NEW_LINE}\n")
    # The live preview (htmx) renders the new text without a page load.
    expect(page.locator("#preview h2", has_text="After the call")).to_be_visible()
    expect(page.locator("#preview")).to_contain_text(NEW_LINE)
    page.fill("#change_note", "Added the arrival-time note")
    screenshot(page, "protocol-edit-live-preview")
    page.click("button[value=publish]")
    expect(page.locator("main > .banner-success")).to_contain_text("published")
    number = page.locator(".protocol-meta dd").first.inner_text().split(",")[0]
    expect(page.locator(".protocol-body")).to_contain_text(NEW_LINE)

    log_out(page)
    login(page, "officer@demo.example")
    nav_link(page, "Protocols").click()
    expect(page.locator("main")).to_contain_text("Waiting for you to read and acknowledge")
    page.click(".protocol-list >> text=Law enforcement first response: who to call")
    expect(page.locator(".protocol-body")).to_contain_text(NEW_LINE)
    expect(page.locator(".chair-tools")).to_have_count(0)  # no chair tools for an officer
    screenshot(page, "protocol-officer-reads")
    page.click(f"text=I have read version {number}")
    expect(page.locator("main > .banner-success")).to_contain_text(f"you acknowledged version {number}")
    expect(page.locator(".acknowledge")).to_contain_text(f"You acknowledged version {number}")
    screenshot(page, "protocol-officer-acknowledged")

    # The chair sees the officer's agency as done, compares the versions and restores an old one.
    log_out(page)
    login(page, "chair@demo.example")
    page.goto(f"{FIRST_RESPONSE}/acknowledgements")
    row = page.locator("tr", has=page.locator("th", has_text="Riverton Police Department"))
    expect(row).to_contain_text("1 of 1")
    expect(row).to_contain_text("Officer Dana Reyes")
    screenshot(page, "protocol-acknowledgements")
    page.goto(f"{FIRST_RESPONSE}/versions")
    page.click(f"text=Compare with version {int(number) - 1}")
    expect(page.locator(".diff-added").first).to_contain_text("+")
    expect(page.locator(".diff")).to_contain_text(NEW_LINE)
    screenshot(page, "protocol-compare")
    page.goto(f"{FIRST_RESPONSE}/versions")
    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm asks first
    page.click("text=Restore…")
    expect(page.locator("main > .banner-success")).to_contain_text("restored as version")
    expect(page.locator("main")).to_contain_text("only chairs see this version")


def test_a_protocol_prints_with_its_version_in_the_footer(page):
    """Print media hides navigation and buttons and shows the footer with version and date."""
    login(page, "officer@demo.example")
    page.goto("/protocols/referral-and-acceptance")
    page.emulate_media(media="print")
    expect(page.locator(".print-footer")).to_be_visible()
    expect(page.locator(".print-footer")).to_contain_text("version 1, published")
    expect(page.locator("header nav")).to_be_hidden()
    expect(page.locator(".acknowledge-form")).to_be_hidden()
    screenshot(page, "protocol-print")
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "protocol-print.pdf"), format="Letter")

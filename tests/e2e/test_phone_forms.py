"""Phone-width forms (issue 18): at 390×844 the intake's six steps and the volunteer application fit without
horizontal scrolling, every control is a tap target of at least 44 px, the step indicator says "Step n of 6", and
languages are chosen by tapping checkboxes or with the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot

WIDTH = 390

# What a person taps in the form and the step indicator. A hidden control (the honeypot, the inside of a closed
# <details>) has no box and is skipped; a checkbox or radio is measured with its label, which is what is tapped.
TARGETS = ("main form input:not([type=hidden]), main form select, main form textarea, main form button, "
           "main form a, main form summary, .steps a, .steps summary")
SMALL_TARGETS = """(selector) => {
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const own = el.getBoundingClientRect();
    if (own.width === 0 && own.height === 0) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    const choice = el.type === "checkbox" || el.type === "radio";
    const target = choice ? (el.closest("label") || document.querySelector(`label[for="${el.id}"]`) || el) : el;
    const box = target.getBoundingClientRect();
    if (box.height < 44 || (choice && box.width < 44)) {
      const name = el.id || el.name || el.textContent.trim().slice(0, 40);
      small.push(`${el.tagName.toLowerCase()} ${name}: ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""


@pytest.fixture
def phone(chromium, live_server):
    """A touch phone, 390×844."""
    context = chromium.new_context(base_url=live_server, viewport={"width": WIDTH, "height": 844}, has_touch=True,
                                   is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def assert_fits_a_phone(page) -> None:
    """No horizontal scroll at 390 px, and no control smaller than a 44 px tap target."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url
    assert page.evaluate(SMALL_TARGETS, TARGETS) == [], page.url


def assert_step(page, number: int) -> None:
    """The page is intake step `number`, and its indicator says so in words."""
    page.wait_for_url(f"**/{number}" if number > 1 else "**/intake/new")
    expect(page.locator(".steps .step-count")).to_contain_text(f"Step {number} of 6")
    expect(page.locator(".steps progress")).to_have_attribute("value", str(number))


def save_and_continue(page, next_step: int) -> None:
    page.locator("main form button", has_text="Save and continue").tap()
    assert_step(page, next_step)


def pick_languages(page, tap: str, space: str, other: str) -> None:
    """The shared language control: one common language by tap, one by Space, one from "Other languages"."""
    def box(name):
        return page.locator("#languages label", has_text=name).locator("input")
    page.locator("#languages label", has_text=tap).tap()
    box(space).focus()
    page.keyboard.press("Space")
    expect(box(space)).to_be_checked()
    page.locator("#languages summary", has_text="Other languages").tap()
    page.locator("#languages label", has_text=other).tap()
    expect(box(other)).to_be_checked()
    expect(box(tap)).to_be_checked()


def test_the_intake_fits_a_phone_and_languages_are_ticked_by_touch_and_keyboard(phone):
    """Steps 1–6 at 390 px: no sideways scroll, 44 px targets, "Step n of 6"; languages by tap and by Space."""
    page = phone
    login(page, "officer@demo.example")
    page.goto("/intake/new")
    assert_step(page, 1)
    assert_fits_a_phone(page)
    page.locator("label", has_text="Routine").tap()
    page.select_option("#county", "Alder")
    save_and_continue(page, 2)

    expect(page.locator("#languages")).to_have_js_property("tagName", "FIELDSET")  # checkboxes, not a <select>
    assert_fits_a_phone(page)
    page.locator("label", has_text="25 and over").tap()
    pick_languages(page, tap="Spanish", space="Vietnamese", other="Somali")
    assert_fits_a_phone(page)  # with "Other languages" open
    screenshot(page, "phone-intake-step-2")
    save_and_continue(page, 3)

    case_management = page.locator("label", has_text="Case management").locator("input")
    expect(case_management).to_be_checked()
    expect(case_management).to_be_disabled()
    assert_fits_a_phone(page)
    page.locator("label", has_text="Medical").first.tap()
    save_and_continue(page, 4)

    assert_fits_a_phone(page)
    save_and_continue(page, 5)

    assert_fits_a_phone(page)
    page.locator("label", has_text="No — send without identifying information").tap()
    save_and_continue(page, 6)

    assert_fits_a_phone(page)
    summary = page.locator("#before-title + dl")
    expect(summary).to_contain_text("Spanish")
    expect(summary).to_contain_text("Vietnamese")
    expect(summary).to_contain_text("Somali")
    expect(summary).to_contain_text("Case management")  # always requested, and the preview says so
    page.locator(".steps summary", has_text="All steps").tap()
    assert_fits_a_phone(page)
    page.locator(".steps a", has_text="2. The person").tap()
    assert_step(page, 2)
    expect(page.locator("#languages summary")).to_contain_text("Somali ticked")


def test_the_volunteer_application_fits_a_phone_and_languages_are_ticked_by_touch_and_keyboard(phone):
    """The public form at 390 px: no sideways scroll, 44 px targets, languages by tap and by Space."""
    page = phone
    page.goto("/volunteer/apply")
    expect(page.locator("#languages")).to_have_js_property("tagName", "FIELDSET")
    assert_fits_a_phone(page)
    page.locator("label", has_text="Interpreter / translator").tap()
    pick_languages(page, tap="English", space="Arabic", other="Tigrinya")
    assert_fits_a_phone(page)
    screenshot(page, "phone-volunteer-form")

    page.locator("main form button[type=submit]").tap()  # nothing else filled in: the errors, kept answers
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#languages label", has_text="Tigrinya").locator("input")).to_be_checked()
    expect(page.locator("#languages summary")).to_contain_text("Tigrinya ticked")
    assert_fits_a_phone(page)

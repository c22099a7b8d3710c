"""Accessibility and fit, over every main page of every role: axe-core (no serious or critical violation) at desktop
and phone width, the header on one row at 1280 px and under 120 px on a phone, and no horizontal scroll.

The pages are the ones each role's header links to, plus the pages a person opens from them (MORE_PAGES): the
list lives here, in one place, and a page added to the navigation joins it by itself.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.conftest import login, screenshot

ROLES = ("officer@demo.example", "casemanager@demo.example", "agencyadmin@demo.example", "chair@demo.example",
         "admin@demo.example", "volunteer@demo.example")
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# Pages opened from the header's pages rather than linked by it (paths; a role that cannot open one skips it).
MORE_PAGES = {
    "casemanager@demo.example": ["/referrals/1", "/cases/7", "/cases/7/assessment", "/cases/7/onward",
                                 "/cases/referrals/8", "/intake/new"],
    "chair@demo.example": ["/referrals/4", "/protocols/new",
                           "/protocols/law-enforcement-first-response-who-to-call/edit", "/pathways/new",
                           "/cases/concerns/1", "/volunteers/1"],
    "officer@demo.example": ["/intake/new", "/account/"],
    "volunteer@demo.example": ["/referrals/8", "/cases/referrals/8"],
}
SERIOUS = ("serious", "critical")


def _header_links(page) -> list[str]:
    """Every page the header links to, its menus included (relative paths, in order, once each)."""
    hrefs = page.locator("header nav .nav-wide a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return list(dict.fromkeys(h for h in hrefs if h and h.startswith("/")))


@pytest.fixture(scope="module")
def pages_by_role(chromium, live_server):
    """Each role's pages, read from its header at desktop width (each URL checked once, by the first role)."""
    seen, result = set(), {}
    for email in ROLES:
        context = chromium.new_context(base_url=live_server, viewport=WIDTHS["desktop"])
        page = context.new_page()
        login(page, email)
        paths = [p for p in _header_links(page) + MORE_PAGES.get(email, []) if p not in seen]
        seen.update(paths)
        result[email] = paths
        context.close()
    assert sum(len(paths) for paths in result.values()) >= 30, result
    return result


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_serious_accessibility_violation_on_any_main_page(chromium, live_server, pages_by_role, width):
    axe = Axe()
    problems = []
    for email, paths in pages_by_role.items():
        context = chromium.new_context(base_url=live_server, viewport=WIDTHS[width])
        page = context.new_page()
        login(page, email)
        for path in paths:
            response = page.goto(path)
            if response is None or response.status in (403, 404):
                continue
            for violation in axe.run(page).response["violations"]:
                if violation["impact"] in SERIOUS:
                    targets = [node["target"] for node in violation["nodes"]][:3]
                    problems.append(f"{width} {email} {path}: {violation['id']} ({violation['impact']}) {targets}")
        context.close()
    assert not problems, "\n".join(problems)


PUBLIC_PAGES = ["/login", "/reset", "/volunteer/apply", "/volunteer/status"]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_serious_accessibility_violation_on_the_public_pages(chromium, live_server, width):
    axe = Axe()
    context = chromium.new_context(base_url=live_server, viewport=WIDTHS[width])
    page = context.new_page()
    problems = []
    for path in PUBLIC_PAGES:
        page.goto(path)
        problems += [f"{width} {path}: {v['id']} ({v['impact']})" for v in axe.run(page).response["violations"]
                     if v["impact"] in SERIOUS]
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width]["width"], path
    context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("email", ROLES)
def test_the_header_fits_one_row_on_a_desktop_and_stays_small_on_a_phone(chromium, live_server, email):
    for width, viewport in WIDTHS.items():
        context = chromium.new_context(base_url=live_server, viewport=viewport)
        page = context.new_page()
        login(page, email)
        header = page.locator("header").bounding_box()
        links = page.locator("header nav a:visible, header nav summary:visible")
        tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(links.count())) if box}
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (email, width)
        if width == "desktop":
            assert max(tops) - min(tops) <= 12, f"{email}: the header wraps onto several rows at 1280 px: {tops}"
        else:
            assert header["height"] <= 120, f"{email}: the header is {header['height']} px tall on a phone"
        screenshot(page, f"header-{email.split('@')[0]}-{width}")
        context.close()


@pytest.mark.parametrize("email", ROLES)
def test_main_pages_fit_a_phone(chromium, live_server, pages_by_role, email):
    """No horizontal scroll at 390 px on any of the role's pages; a screenshot of each for a person to look at."""
    context = chromium.new_context(base_url=live_server, viewport=WIDTHS["phone"])
    page = context.new_page()
    login(page, email)
    wide = []
    for path in pages_by_role[email]:
        response = page.goto(path)
        if response is None or response.status in (403, 404):
            continue
        if page.evaluate("document.documentElement.scrollWidth") > WIDTHS["phone"]["width"]:
            wide.append(path)
        # Every body cell of a list keeps its column's name on a phone (the printed on-call grid is a calendar).
        unlabelled = page.locator("main table:not(.oncall-card-grid) tbody :is(td, th):not([data-label])").count()
        if unlabelled:
            wide.append(f"{path} ({unlabelled} cells without their column's name)")
        screenshot(page, "phone" + path.replace("/", "_").rstrip("_"))
    context.close()
    assert not wide, f"{email}: horizontal scroll, or cells without labels, at 390 px on {wide}"

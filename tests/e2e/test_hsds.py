"""HSDS in a real browser: a chair uploads the official example package from the Committee menu and reads the
report, then finds the imported resource in the directory; an administrator issues an API token from the Admin
menu, an outside system reads the API over real HTTP with it, and once it is revoked (after a confirmation) it is
refused."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import log_out, login, nav_link, screenshot

PACKAGE = Path(__file__).parents[1] / "data" / "hsds" / "csv"


def _zip(tmp_path: Path) -> Path:
    target = tmp_path / "hsds-example.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(PACKAGE.iterdir()):
            archive.write(path, path.name)
    return target


def _api(base: str, path: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the live server, http://127.0.0.1
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_chair_imports_a_package_and_finds_it_in_the_directory(page, tmp_path):
    login(page, "chair@demo.example")
    nav_link(page, "Import HSDS package").click()
    page.wait_for_url("**/hsds/import")
    page.set_input_files("input[type=file]", str(_zip(tmp_path)))
    page.click("main form button[type=submit]")
    expect(page.locator("main h2").first).to_contain_text("Imported hsds-example.zip")
    expect(page.locator("main")).to_contain_text("Warnings")  # the official example's dangling optional references
    screenshot(page, "hsds-import-report")
    page.goto("/directory/?q=counseling&community=1")  # the example's "Community Counselling", American spelling
    expect(page.locator("main")).to_contain_text("Example Organization Inc.")
    expect(page.locator("main")).to_contain_text("not in the network")


def test_an_administrator_issues_a_token_an_outside_system_uses_it_and_it_is_revoked(page, live_server):
    login(page, "admin@demo.example")
    nav_link(page, "API tokens").click()
    page.wait_for_url("**/admin/api-tokens/")
    page.fill("input[name=name]", "County 211 (browser test)")
    page.click("form:has(input[name=name]) button[type=submit]")
    secret = page.locator("code.secret").first
    expect(secret).to_be_visible()
    token = secret.inner_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    screenshot(page, "hsds-api-token-issued")

    status, body = _api(live_server, "/api/hsds/services?per_page=5", token)
    assert status == 200 and body["contents"] and body["page_number"] == 1

    page.goto("/admin/api-tokens/")
    expect(page.locator("code.secret")).to_have_count(0)  # shown once, never again
    row = page.locator("tr", has_text="County 211 (browser test)")
    expect(row).not_to_contain_text("never")  # its last use is recorded
    page.on("dialog", lambda dialog: dialog.accept())
    row.get_by_role("link", name="Revoke…").click()
    page.click("main form button[type=submit]")
    page.wait_for_url("**/admin/api-tokens/")
    expect(page.locator("main")).to_contain_text("is revoked")

    status, body = _api(live_server, "/api/hsds/services", token)
    assert status == 401 and body["status"] == 401
    log_out(page)

"""The admin settings page: what an operator changes at run time."""

import pytest

from csrn.extensions import db
from csrn.settings.models import TaskForceSettings

VALID = {
    "name": "Lake County Task Force",
    "timezone": "America/New_York",
    "counties": "Lake\nPorter\n\nLake\n",
    "fallback_phone": "+1 555 010 9999",
    "emergency_minutes": "20",
    "urgent_hours": "3",
    "routine_business_hours": "40",
    "retention_days": "730",
}


def test_admin_saves_settings(login_as, app):
    """An admin saves; counties are de-duplicated; the name appears in the layout."""
    b = login_as(roles=("admin",), agency_id=None)
    response = b.post("/admin/settings/", {**VALID, "version": "0"})
    assert response.status_code == 303
    with app.app_context():
        settings = db.session.get(TaskForceSettings, 1)
        assert settings.counties == ["Lake", "Porter"]
        assert settings.timezone == "America/New_York" and settings.emergency_minutes == 20
    assert "Lake County Task Force" in b.get("/").get_data(as_text=True)


@pytest.mark.parametrize("roles", [("staff",), ("case_manager",), ("agency_admin",), ("chair",)])
def test_settings_are_for_admins_only(login_as, roles):
    """Everyone else gets 403."""
    b = login_as(roles=roles)
    assert b.get("/admin/settings/").status_code == 403


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "time zone name"),
        ("emergency_minutes", "0", "between"),
        ("retention_days", "abc", "Not a valid integer"),
        ("name", "", "This field is required"),
    ],
)
def test_invalid_settings_answer_422_and_keep_answers(login_as, field, value, message):
    """Bad values are explained beside the field; everything else typed is kept."""
    b = login_as(roles=("admin",), agency_id=None)
    response = b.post("/admin/settings/", {**VALID, "version": "0", field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert "+1 555 010 9999" in html


def test_stale_settings_form_is_refused(login_as, app):
    """Two admins: the second save of the same version is told to reload."""
    first, second = login_as(roles=("admin",), agency_id=None), login_as(roles=("admin",), agency_id=None)
    assert first.post("/admin/settings/", {**VALID, "version": "0"}).status_code == 303
    response = second.post("/admin/settings/", {**VALID, "name": "Overwrite", "version": "0"})
    assert response.status_code == 422
    assert "Someone else changed this record" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(TaskForceSettings, 1).name == "Lake County Task Force"

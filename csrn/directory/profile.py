"""The directory's section of an agency's page: its services (hours, capacity, eligibility) and locations."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from flask import Flask

from csrn.agencies.profile import register_profile_section
from csrn.directory import operations as ops
from csrn.forms import EmptyForm
from csrn.schedules import operations as schedule_ops
from csrn.settings.operations import task_force_zone


def section_context(agency, viewer, now: datetime) -> SimpleNamespace:
    """What `directory/_agency_profile.html` shows of the agency to this viewer."""
    can_edit = ops.can_edit_directory(viewer, agency)
    services = ops.service_rows_of(agency, include_inactive=can_edit)  # plain rows: the page changes nothing
    holiday_days, zone = schedule_ops.holiday_set(), task_force_zone()
    return SimpleNamespace(
        services=services,
        opening={s.id: ops.opening_status(s, now, holiday_days, zone) for s in services},
        hours={s.id: ops.hours_lines(s, holiday_days) for s in services},
        locations=ops.visible_locations(agency, viewer, "profile"),
        can_edit=can_edit,
        can_update_capacity=ops.can_update_capacity(viewer, agency),
        confirm_form=EmptyForm(),
    )


def register(app: Flask) -> None:
    """Add the directory's section to every agency page."""
    register_profile_section(app, "directory", "directory/_agency_profile.html", section_context)

"""Sections other modules add to an agency's page, registered at start-up.

The pattern for a lower module showing a higher one's data without importing it (docs/new-module.md): `agencies`
sits below `directory`, yet an agency's page shows its services and locations. At start-up the directory registers
a section — a partial template of its own and a function building that partial's context — and the agency page
renders every registered section in order. `agencies` knows only this small interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app

EXTENSION_KEY = "csrn.agency_profile_sections"


@dataclass(frozen=True)
class ProfileSection:
    """A partial template and the function that builds its context for (agency, viewer, now)."""

    template: str
    context: Callable[..., object]


def register_profile_section(app: Flask, name: str, template: str, context: Callable[..., object]) -> None:
    """Add (or replace) a named section of the agency page; called by a module while the app is built."""
    app.extensions.setdefault(EXTENSION_KEY, {})[name] = ProfileSection(template, context)


def profile_sections(agency, viewer, now: datetime) -> list[tuple[str, object]]:
    """Each registered section's template and its context for this agency and viewer, in registration order."""
    sections = current_app.extensions.get(EXTENSION_KEY, {})
    return [(section.template, section.context(agency, viewer, now)) for section in sections.values()]

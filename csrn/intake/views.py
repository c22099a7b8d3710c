"""Intake pages."""

from csrn.intake import bp  # noqa: F401

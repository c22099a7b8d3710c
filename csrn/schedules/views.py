"""The holiday list."""

from csrn.schedules import bp  # noqa: F401

"""Directory pages: search, services, locations, capacity, print and confirmation links."""

from csrn.directory import bp  # noqa: F401

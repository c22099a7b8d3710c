"""Optimistic concurrency: the version a form was loaded with must still be current."""

from __future__ import annotations


class StaleEdit(Exception):
    """Someone else saved the record after this form was loaded."""

    message = "Someone else changed this record while you were editing. Reload to see their changes."


def check_version(obj, seen_version: int | None) -> None:
    """Raise StaleEdit unless the submitted version matches the record's current one."""
    if seen_version is None or int(seen_version) != obj.version:
        raise StaleEdit(StaleEdit.message)

"""The one place that reads the wall clock; operations take `now` as an argument."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def parse_now(value: str | None) -> datetime:
    """Parse an ISO time given to a CLI job (`--now`), defaulting to the wall clock."""
    if not value:
        return utcnow()
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("--now needs a time zone offset, e.g. 2026-03-08T02:30:00+00:00")
    return parsed.astimezone(UTC)

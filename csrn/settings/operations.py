"""Read and change the run-time settings."""

from __future__ import annotations

from datetime import datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from flask import g, has_request_context
from sqlalchemy import select

from csrn.audit import operations as audit
from csrn.concurrency import check_version
from csrn.extensions import db
from csrn.settings.models import TaskForceSettings


def get_settings() -> TaskForceSettings:
    """Return the settings row (read once per request), or unsaved defaults when none has been written yet."""
    cached = g.get("csrn_settings") if has_request_context() else None
    if cached is not None:
        return cached if cached.version else _defaults()  # the defaults fresh each time: nobody shares them
    settings = _load_settings()
    if has_request_context():  # a stored row, or that there is none (its defaults are cheap; the query is not)
        g.csrn_settings = settings
    return settings


def _load_settings() -> TaskForceSettings:
    return db.session.scalar(_settings_query()) or _defaults()


@cache
def _settings_query():
    # Built once per process (every page asks): session.get builds its statement anew each time, which costs more
    # than SQLite takes to answer it.
    return select(TaskForceSettings).where(TaskForceSettings.id == 1)


def _defaults() -> TaskForceSettings:
    return TaskForceSettings(
        id=1,
        name="Anti-Trafficking Task Force",
        timezone="UTC",
        counties_json="[]",
        fallback_phone="",
        emergency_minutes=30,
        urgent_hours=4,
        routine_business_hours=48,
        retention_days=1095,
        version=0,
    )


def task_force_zone() -> ZoneInfo:
    """The task force's time zone."""
    return _zone(get_settings().timezone)


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    # ZoneInfo keeps its own cache, but a page asks a dozen times; this is a dict lookup.
    return ZoneInfo(name)


def update_settings(actor, values: dict, seen_version: int | None, now: datetime) -> TaskForceSettings:
    """Save the settings; refuse if someone else saved since the form was loaded."""
    settings = db.session.get(TaskForceSettings, 1)
    if settings is None:
        settings = TaskForceSettings(id=1)
        db.session.add(settings)
    else:
        check_version(settings, seen_version)
    changed = [key for key, value in values.items() if getattr(settings, key, None) != value]
    for key, value in values.items():
        setattr(settings, key, value)
    settings.updated_at = now
    audit.record(actor, "settings.update", settings, fields=changed, now=now)
    db.session.commit()
    if has_request_context():
        g.pop("csrn_settings", None)
    return settings

"""Write and verify the audit log; called in the same transaction as the change it records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace

from flask import has_request_context, request
from sqlalchemy import select, text

from csrn.audit.models import AuditEvent
from csrn.clock import utcnow
from csrn.extensions import db

GENESIS = "0" * 64
# Any constant works: it names the one advisory lock that serialises writers of the chain.
CHAIN_LOCK_KEY = 7_261_001


def _digest(prev_hash: str, event: AuditEvent) -> str:
    payload = json.dumps(
        [
            prev_hash,
            event.at.isoformat(),
            event.actor_id,
            event.actor_email,
            event.actor_agency_id,
            event.action,
            event.object_type,
            event.object_id,
            event.fields,
            event.ip,
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _lock_chain_head() -> None:
    """Serialise chain writers: an advisory lock on PostgreSQL; SQLite writes are IMMEDIATE."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


def record(
    actor,
    action: str,
    obj=None,
    fields: Iterable[str] = (),
    now: datetime | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
) -> AuditEvent:
    """Append an audit event for `actor` doing `action` to `obj` (field names, never values)."""
    _lock_chain_head()
    prev = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        at=now or utcnow(),
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", "") or "",
        actor_agency_id=getattr(actor, "agency_id", None),
        action=action,
        object_type=object_type or (type(obj).__name__.lower() if obj is not None else ""),
        object_id=str(object_id if object_id is not None else getattr(obj, "id", "") or ""),
        fields=",".join(sorted(set(fields)))[:1000],
        ip=(request.remote_addr or "")[:64] if has_request_context() else "",
        prev_hash=prev or GENESIS,
    )
    event.hash = _digest(event.prev_hash, event)
    db.session.add(event)
    db.session.flush()
    return event


def record_many(action: str, object_type: str, object_ids, fields: Iterable[str] = (),
                now: datetime | None = None) -> None:
    """Append the events `record(None, action, ...)` would, one per object id, chained alike — with one lock,
    one read of the chain's head and one INSERT (rows written in order, so their ids follow the chain)."""
    _lock_chain_head()
    prev = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    ip = (request.remote_addr or "")[:64] if has_request_context() else ""
    at = now or utcnow()
    field_text = ",".join(sorted(set(fields)))[:1000]
    rows = []
    for object_id in object_ids:
        row = dict(at=at, actor_id=None, actor_email="", actor_agency_id=None, action=action,
                   object_type=object_type, object_id=str(object_id), fields=field_text, ip=ip, prev_hash=prev)
        row["hash"] = prev = _digest(prev, SimpleNamespace(**row))
        rows.append(row)
    if rows:
        db.session.execute(AuditEvent.__table__.insert(), rows)


def verify_chain() -> tuple[bool, int | None]:
    """Walk the log in order; return (intact, id of the first broken event or None)."""
    prev = GENESIS
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != prev or event.hash != _digest(prev, event):
            return False, event.id
        prev = event.hash
    return True, None

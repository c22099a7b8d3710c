"""Create and edit pathways (chairs)."""

from __future__ import annotations

import json
from datetime import datetime

from flask import abort
from sqlalchemy import select

from csrn.audit import operations as audit
from csrn.concurrency import check_version
from csrn.extensions import db
from csrn.pathways.models import Pathway, PathwayStep

TARGETS = ("age_groups", "genders", "citizenship", "trafficking")


def all_pathways() -> list[Pathway]:
    """Every pathway, active first, by name."""
    return db.session.scalars(select(Pathway).order_by(Pathway.active.desc(), Pathway.name)).all()


def get_pathway_or_404(pathway_id: int) -> Pathway:
    """A pathway (shared: every logged-in user may read it)."""
    pathway = db.session.get(Pathway, pathway_id)
    if pathway is None:
        abort(404)
    return pathway


def save_pathway(actor, pathway: Pathway | None, values: dict, targets: dict[str, list[str]],
                 steps: list[tuple[int, str]], seen_version: int | None, now: datetime) -> Pathway:
    """Create or update a pathway with its target population and ordered steps (R7 on update)."""
    creating = pathway is None
    if creating:
        pathway = Pathway(created_at=now, updated_at=now)
        db.session.add(pathway)
    else:
        check_version(pathway, seen_version)
    for key, value in values.items():
        setattr(pathway, key, value)
    for dimension in TARGETS:
        setattr(pathway, f"{dimension}_json", json.dumps(sorted(targets.get(dimension) or [])))
    pathway.steps = [PathwayStep(position=index, service_type_id=type_id, guidance=guidance)
                     for index, (type_id, guidance) in enumerate(steps, start=1)]
    pathway.updated_at = now
    db.session.flush()
    audit.record(actor, "pathway." + ("created" if creating else "updated"), pathway,
                 fields=[*values.keys(), *TARGETS, "steps"], now=now)
    db.session.commit()
    return pathway

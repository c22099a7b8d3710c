"""Demo pathways: named sequences of services for two populations (DESIGN §4.5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from csrn.directory.models import ServiceType
from csrn.extensions import db
from csrn.pathways import operations as ops

# (name, description, targets, [(service type code, guidance)])
PATHWAYS = [
    ("Foreign-national adults: immigration relief first",
     "For adults who are not U.S. citizens: legal status before anything that depends on it.",
     {"citizenship": ["foreign"], "age_groups": ["18_24", "25_plus"]},
     [("immigration_legal", "T-visa screening and continued presence, before any interview with investigators."),
      ("interpretation", "For legal and medical appointments, in the person's own language."),
      ("mental_health", "Trauma-focused counselling, timed around legal dates.")]),
    ("Minors: child welfare first",
     "For anyone under 18: the mandated child-welfare response, then a safe bed and counselling.",
     {"age_groups": ["minor"]},
     [("child_welfare", "Mandated report and response; the case manager stays with the young person."),
      ("emergency_shelter", "A youth bed, never an adult shelter."),
      ("mental_health", "Counselling for adolescents.")]),
]


def seed_pathways(chair, now: datetime) -> None:
    """Create the demo pathways through the real operation."""
    types = dict(db.session.execute(select(ServiceType.code, ServiceType.id)).tuples().all())
    for name, description, targets, steps in PATHWAYS:
        ops.save_pathway(chair, None, {"name": name, "description": description}, targets,
                         [(types[code], guidance) for code, guidance in steps], None, now)

"""Demo volunteer applications: every stage across professions, and two approved volunteers who can log in."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from csrn.agencies.models import TrainingCourse
from csrn.auth.models import User
from csrn.auth.operations import hash_password
from csrn.extensions import db
from csrn.volunteers import operations as ops

BASE = {
    "phone": "+1 555 0150 2000", "profession_other": "", "licence_number": "", "licence_jurisdiction": "",
    "languages": ["en"], "language_pairs": "", "practice_areas": [], "hours_per_month": 4, "availability": "",
    "reference1_name": "Dana Reyes", "reference1_contact": "dana.reyes@example.org",
    "reference2_name": "Sam Okafor", "reference2_contact": "+1 555 0150 3000",
    "background_check_consent": True, "confidentiality_acknowledged": True,
}
# (name, e-mail, profession, extra answers, days ago applied, final status, items done, reason)
APPLICATIONS = [
    ("Maria Delgado", "volunteer@demo.example", "attorney",
     {"licence_number": "SB-204518", "licence_jurisdiction": "State Bar", "languages": ["en", "es"],
      "practice_areas": ["immigration", "family_law"], "hours_per_month": 8,
      "availability": "Weekday evenings; T-visa applications and certification requests."},
     60, "approved", "all", ""),
    ("Tran Van Minh", "interpreter@demo.example", "interpreter",
     {"languages": ["en", "vi"], "language_pairs": "Vietnamese ↔ English, consecutive; sight translation",
      "practice_areas": ["interpreting", "translation"], "hours_per_month": 10,
      "availability": "On call most weekends."},
     45, "approved", "all", ""),
    ("Dr. Priya Raman", "priya.raman@example.org", "physician",
     {"licence_number": "MD-77120", "licence_jurisdiction": "State Medical Board", "languages": ["en", "hi"],
      "practice_areas": ["primary_care", "womens_health"]}, 3, "applied", 0, ""),
    ("Joel Whitaker", "joel.whitaker@example.org", "dentist",
     {"licence_number": "DDS-5521", "licence_jurisdiction": "State Dental Board", "practice_areas": ["dental_care"]},
     12, "in_review", 4, ""),
    ("Amina Yusuf", "amina.yusuf@example.org", "interpreter",
     {"languages": ["en", "so", "ar"], "language_pairs": "Somali ↔ English; Arabic ↔ English",
      "practice_areas": ["interpreting"]}, 20, "in_review", 2, ""),
    ("Grace Holloway", "grace.holloway@example.org", "nurse",
     {"licence_number": "RN-33019", "licence_jurisdiction": "State Board of Nursing",
      "practice_areas": ["womens_health"]}, 30, "on_hold", 3, "Waiting for the background check provider."),
    ("Peter Lindqvist", "peter.lindqvist@example.org", "mental_health",
     {"licence_number": "LPC-9034", "licence_jurisdiction": "State Counseling Board",
      "practice_areas": ["trauma_therapy"]}, 50, "declined", 2, "Licence not in good standing."),
    ("Rosa Chávez", "rosa.chavez@example.org", "attorney",
     {"licence_number": "SB-118230", "licence_jurisdiction": "State Bar", "languages": ["en", "es"],
      "practice_areas": ["employment_law"], "hours_per_month": 6}, 400, "renewal_due", "all", ""),
    ("Ken Adebayo", "ken.adebayo@example.org", "other",
     {"profession_other": "Financial counsellor", "practice_areas": ["other"], "hours_per_month": 2},
     1, "applied", 0, ""),
]


def seed_volunteers(now: datetime, password: str | None, make_password) -> list[tuple[str, str, str]]:
    """Create the demo applications; return the logins of the approved volunteers."""
    chair = db.session.scalar(select(User).where(User.email == "chair@demo.example"))
    courses = db.session.scalars(select(TrainingCourse).where(TrainingCourse.active.is_(True))).all()
    core = next(c for c in courses if c.is_core)
    trauma = next((c for c in courses if "trauma" in c.name.lower()), core)
    logins = []
    for name, email, profession, extra, days_ago, status, done, reason in APPLICATIONS:
        applied = now - timedelta(days=days_ago)
        submitted = ops.submit_application({**BASE, **extra, "name": name, "email": email,
                                            "profession": profession}, applied)
        application = submitted.application
        items = application.items if done == "all" else application.items[:done]
        for item in items:
            done_on = (applied + timedelta(days=7)).date()
            course = core if item.course_kind == "core" else trauma if item.course_kind else None
            expires = now.date() + timedelta(days=365 - days_ago % 300) if item.expires and not course else None
            ops.record_item(chair, application, item, {"done_on": min(done_on, now.date()),
                                                       "notes": "Checked by the demo chair.",
                                                       "expires_on": expires,
                                                       "course_id": course.id if course else None}, None, now)
        if status == "applied":
            continue
        ops.change_status(chair, application, "in_review", "", application.version, now)
        if status in ("approved", "renewal_due"):
            ops.change_status(chair, application, "approved", "", application.version, now)
            if status == "approved":
                secret = password or make_password()
                user = application.user
                user.password_hash = hash_password(secret)
                user.password_changed_at = now
                db.session.commit()
                logins.append((email, secret, "volunteer"))
            else:
                licence = next(item for item in application.items if item.code in ("licence", "background_check"))
                licence.expires_on = now.date() - timedelta(days=5)
                db.session.commit()
                ops.renewal_pass(now)
        elif status in ("on_hold", "declined"):
            ops.change_status(chair, application, status, reason, application.version, now)
    return logins
